"""Lines of a stream in batches, as they arrive: for ``reviewcat predict`` in a pipe.

A script may write one line and wait for its answer, or pour in a million. Lines are read from the
file descriptor itself and handed on as soon as nothing more is waiting, so the first gets its
answer at once; while more keep coming, a batch grows to a number of lines or of characters (an
endpoint request must stay under SageMaker's payload limit). Each line keeps its number, counted
from 1 over every line, blank ones included, so an answer can be traced to its line.
"""
from __future__ import annotations

import os
import select
from typing import Iterator

from reviewcat.runtime.errors import ReviewcatError

_CHUNK = 1 << 16


def _decoded(raw: bytes, number: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise ReviewcatError(f"line {number} of stdin is not UTF-8 ({raw[:40]!r}): convert the input first, "
                             "e.g. iconv -f windows-1252 -t UTF-8") from None


def _waiting(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def line_batches(fd: int, max_lines: int, max_chars: int) -> Iterator[list[tuple[int, str]]]:
    """(number, text) of each non-blank line read from ``fd``, in batches of at most ``max_lines``
    lines and about ``max_chars`` characters, each handed on once nothing more is waiting."""
    pending, number, batch, size = b"", 0, [], 0
    while True:
        chunk = os.read(fd, _CHUNK)
        if chunk:
            *complete, pending = (pending + chunk).split(b"\n")
        else:  # the end: a last line without a newline is a line too
            complete, pending = ([pending] if pending else []), b""
        for raw in complete:
            number += 1
            text = _decoded(raw, number)
            if not text.strip():
                continue
            batch.append((number, text))
            size += len(text)
            if len(batch) >= max_lines or size >= max_chars:
                yield batch
                batch, size = [], 0
        if batch and (not chunk or not _waiting(fd)):
            yield batch
            batch, size = [], 0
        if not chunk:
            return
