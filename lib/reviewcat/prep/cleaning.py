"""Review HTML to plain text, the first step of everything a model reads.

Apart from ``text`` so that the Python workers' UDF (``text_batches``) and ``reviewcat predict``
import it without Spark's column functions.
"""
from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^<>]{0,300}>")
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def clean(text: str | None) -> str:
    """Review HTML to plain text: tags out, entities decoded, all whitespace runs one space."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    text = html.unescape(_TAG.sub(" ", str(text)))
    return _SPACE.sub(" ", text).strip()
