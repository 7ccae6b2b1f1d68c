"""Scoring a whole table: the top-k categories of every row, in one Spark job.

The talk ends with a model that should triage every new ticket; ``reviewcat predict`` answers one
text at a time. Here the model file travels to the executors with ``SparkContext.addFile`` (once per
executor, not per task), each Python worker loads it once (Spark reuses workers across tasks), and a
pandas UDF cleans, tokenizes and predicts whole Arrow batches with the functions training and
``reviewcat predict`` use (``text.clean``, ``tokens.tokenize_batch``, ``model.top_k``), so a row is
scored exactly as ``reviewcat predict`` would score its text.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, functions as F
from pyspark.sql.types import ArrayType, DoubleType, StringType, StructField, StructType

from .text import clean
from .train.data import category_name, parse_labels
from .train.model import load_model, top_k

LABELS = "labels"
PROBABILITIES = "probabilities"
PREDICTION = StructType([StructField(LABELS, ArrayType(StringType())),
                         StructField(PROBABILITIES, ArrayType(DoubleType()))])

_LOADED: dict[str, Any] = {}  # in each Python worker: shipped file name -> model


def ship_model(spark: SparkSession, local_model: str) -> str:
    """Send a local model file to every executor; returns the name workers find it by.

    The name carries the file's digest: two models of the same file name in one session (a
    notebook scoring with two runs' ``model.bin``) would otherwise clash in ``addFile``.
    """
    digest = hashlib.sha256()
    with open(local_model, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    name = f"{digest.hexdigest()[:16]}-{Path(local_model).name}"
    shipped = Path(tempfile.gettempdir()) / "reviewcat-models" / name
    if not shipped.exists():
        shipped.parent.mkdir(parents=True, exist_ok=True)
        partial = shipped.with_name(f".{name}.partial")
        shutil.copyfile(local_model, partial)
        partial.replace(shipped)
    spark.sparkContext.addFile(str(shipped))  # the same file added again is a no-op
    return name


def _model(name: str) -> Any:
    if name not in _LOADED:
        from pyspark import SparkFiles
        _LOADED[name] = load_model(SparkFiles.get(name))
    return _LOADED[name]


def top_k_column(text: Column | str, shipped: str, k: int, categories: Mapping[str, str]) -> Column:
    """The ``k`` best categories of each row's raw text and their probabilities, best first, as a
    struct of two arrays (``labels``, ``probabilities``); ``shipped`` is ``ship_model``'s name.

    A text with no words left after cleaning still gets the model's answer for an empty line, as
    ``reviewcat predict`` gives it: every row is scored.
    """
    names = dict(categories)

    def batch(texts: pd.Series) -> pd.DataFrame:
        from .tokens import tokenize_batch  # in the Python worker only: see tokens.py
        answers = top_k(_model(shipped), tokenize_batch([clean(t) for t in texts]), k)
        return pd.DataFrame({LABELS: [[category_name(label, names) for label, _ in a] for a in answers],
                             PROBABILITIES: [[p for _, p in a] for a in answers]})

    return F.pandas_udf(batch, PREDICTION)(F.col(text) if isinstance(text, str) else text)


def predicted(frame: DataFrame, model: str, k: int = 3, text_column: str = "review_body",
              categories: Mapping[str, str] | None = None) -> DataFrame:
    """``frame`` with the model's ``k`` best categories of its text (all of them when it has fewer) and
    their probabilities, best first (``labels``, ``probabilities``), as ``reviewcat predict`` gives them.

    ``model`` is a local ``model.bin`` or BlazingText ``model.tar.gz``; it is loaded here first, so a
    bad file fails at once, not in a task. ``categories`` maps labels to names (``labels.json``
    beside the model when not given).
    """
    load_model(model)
    if categories is None:
        beside = Path(model).with_name("labels.json")
        categories = parse_labels(beside.read_text()) if beside.is_file() else {}
    shipped = ship_model(frame.sparkSession, model)
    scored = frame.withColumn("__prediction", top_k_column(text_column, shipped, k, categories))
    return (scored.withColumn(LABELS, F.col(f"__prediction.{LABELS}"))
            .withColumn(PROBABILITIES, F.col(f"__prediction.{PROBABILITIES}")).drop("__prediction"))
