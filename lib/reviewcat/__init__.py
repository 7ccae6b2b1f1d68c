"""reviewcat: turn a partitioned lake of product reviews into a text classifier.

Each stage is also a function of DataFrames, for notebooks and Glue interactive sessions; the jobs
call the same functions:

- ``balanced(frame, label="category", within=None, per_class=None, min_class_size=None, seed=42)``:
  an exact, seeded, equal sample per class (``.rows``, ``.plan``);
- ``fasttext_lines(frame, label="category", text_column="review_body", min_chars=20)``: cleaned,
  NLTK-tokenized ``(review_id, label, tokens)`` rows;
- ``split_lines(lines, split="0.6,0.2,0.2", seed=42)``: train, validation and test ``line`` frames,
  de-duplicated and shuffled as the split files are;
- ``bias_table(frame, facet="product_category", label="sentiment")``: SageMaker Clarify's
  pre-training bias metrics of each facet value against the rest;
- ``predicted(frame, model, k=3, text_column="review_body")``: the frame with the model's top-k
  ``labels`` and ``probabilities``.

They are imported on first use, so ``import reviewcat`` (and every CLI start) stays cheap.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {"balanced": ("reviewcat.prep.balance", "balanced"),
        "fasttext_lines": ("reviewcat.prep.prepare", "fasttext_lines"),
        "split_lines": ("reviewcat.prep.splits", "split_lines"),
        "bias_table": ("reviewcat.prep.bias", "frame_bias"),
        "predicted": ("reviewcat.scoring.predictions", "predicted")}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'reviewcat' has no attribute {name!r}")
    import importlib
    module, attribute = _API[name]
    return getattr(importlib.import_module(module), attribute)
