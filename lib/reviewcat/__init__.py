"""reviewcat: turn a partitioned lake of product reviews into a text classifier.

The stages, as the jobs run them, with typed keyword arguments named as their command-line flags;
each returns what it wrote (a result object, or a path):

- ``import_table(rt, format=..., input_path=..., output_path=...)``: dumps or a table of your own
  into the partitioned review table;
- ``balance(rt, input_path=... or database=..., table=..., output_path=...)``: an equal sample per
  class, read through partition push-down;
- ``prepare(rt, input_path=..., output_path=...)``: the shuffled train, validation and test files;
- ``bias(rt, input_path=..., output_path=...)``: Clarify's pre-training bias metrics;
- ``train_model(data=..., output_path=...)`` and ``evaluate(model=..., data=..., output_path=...)``
  (``reviewcat.train`` is the training subpackage, hence the name);
- ``predict_table(rt, input_path=..., model=..., output_path=...)`` and ``measure_drift(rt, ...)``.

``rt`` is a ``Runtime(spark)``; ``spark_session()`` makes a local session with reviewcat's settings.
The same steps as functions of DataFrames, for notebooks and Glue interactive sessions:

- ``balanced(frame, label="category", within=None, per_class=None, min_class_size=None, seed=42)``;
- ``fasttext_lines(frame, label="category", text_column="review_body", min_chars=20, group_column=None)``;
- ``split_lines(lines, split="0.6,0.2,0.2", seed=42)`` (by group when the lines carry one);
- ``bias_table(frame, facet="product_category", label="sentiment")``;
- ``predicted(frame, model, k=3, text_column="review_body")``.

They are imported on first use, so ``import reviewcat`` (and every CLI start) stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what the names below are, for IDEs and type checkers
    from reviewcat.ingest.importer import import_table
    from reviewcat.prep.balance import balance, balanced
    from reviewcat.prep.bias import bias, frame_bias as bias_table
    from reviewcat.prep.prepare import fasttext_lines, prepare
    from reviewcat.prep.splits import split_lines
    from reviewcat.runtime.context import Runtime
    from reviewcat.runtime.session import spark_session
    from reviewcat.scoring.drift_job import measure_drift
    from reviewcat.scoring.predict_table import predict_table
    from reviewcat.scoring.predictions import predicted
    from reviewcat.train.commands import evaluate, train as train_model

_API = {
    "import_table": ("reviewcat.ingest.importer", "import_table"),
    "balance": ("reviewcat.prep.balance", "balance"),
    "prepare": ("reviewcat.prep.prepare", "prepare"),
    "bias": ("reviewcat.prep.bias", "bias"),
    "train_model": ("reviewcat.train.commands", "train"),
    "evaluate": ("reviewcat.train.commands", "evaluate"),
    "predict_table": ("reviewcat.scoring.predict_table", "predict_table"),
    "measure_drift": ("reviewcat.scoring.drift_job", "measure_drift"),
    "Runtime": ("reviewcat.runtime.context", "Runtime"),
    "spark_session": ("reviewcat.runtime.session", "spark_session"),
    "balanced": ("reviewcat.prep.balance", "balanced"),
    "fasttext_lines": ("reviewcat.prep.prepare", "fasttext_lines"),
    "split_lines": ("reviewcat.prep.splits", "split_lines"),
    "bias_table": ("reviewcat.prep.bias", "frame_bias"),
    "predicted": ("reviewcat.scoring.predictions", "predicted"),
}
__all__ = ["__version__", "import_table", "balance", "prepare", "bias", "train_model", "evaluate", "predict_table",
           "measure_drift", "Runtime", "spark_session", "balanced", "fasttext_lines", "split_lines", "bias_table",
           "predicted"]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'reviewcat' has no attribute {name!r}")
    import importlib
    module, attribute = _API[name]
    return getattr(importlib.import_module(module), attribute)
