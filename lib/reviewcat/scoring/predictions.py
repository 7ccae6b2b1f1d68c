"""Scoring a whole table: the top-k categories of every row, in one Spark job.

The talk ends with a model that should triage every new ticket; ``reviewcat predict`` answers one
text at a time. Here the model file travels to the executors with ``SparkContext.addFile`` (once per
executor, not per task), each Python worker loads it once (Spark reuses workers across tasks), and a
pandas UDF cleans, tokenizes and predicts whole Arrow batches with the functions training and
``reviewcat predict`` use (``cleaning.clean``, ``tokens.tokenize_batch``, ``model.top_k``), so a row is
scored exactly as ``reviewcat predict`` would score its text.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, functions as F
from pyspark.sql.types import ArrayType, DoubleType, IntegerType, StringType, StructField, StructType

from reviewcat.prep.cleaning import clean
from reviewcat.schema import LABELS_FILE
from reviewcat.train.data import category_name, model_record, parse_labels
from reviewcat.train.model import load_model, model_vocabulary, top_k, unseen_tokens
from reviewcat.train.model_file import describe, match_record

LABELS = "labels"
PROBABILITIES = "probabilities"
TOKENS = "tokens"                # with count_tokens: each row's tokens
UNSEEN = "unseen_tokens"         # and how many of them the model never saw (drift's signal)
PREDICTION = "prediction"        # predict-table's partition column with --partition-by-prediction: the best category
_STRUCT = "__prediction"
ADDED = (LABELS, PROBABILITIES, TOKENS, UNSEEN, PREDICTION, _STRUCT)  # the columns scoring may add to a table
PREDICTION_FIELDS = (StructField(LABELS, ArrayType(StringType())), StructField(PROBABILITIES, ArrayType(DoubleType())))
_ANSWER = StructType(list(PREDICTION_FIELDS))
COUNTED = StructType(list(PREDICTION_FIELDS) + [StructField(TOKENS, IntegerType()), StructField(UNSEEN, IntegerType())])

_LOADED: dict[tuple[str, str, bool], Any] = {}  # in each Python worker: (shipped file, SHA-256, words?) -> loaded


def ship_model(spark: SparkSession, local_model: str, digest: str) -> str:
    """Send a local model file to every executor; returns the name workers find it by.

    The name carries the file's digest: two models of the same file name in one session (a
    notebook scoring with two runs' ``model.bin``) would otherwise clash in ``addFile``.
    """
    name = f"{digest[:16]}-{Path(local_model).name}"
    shipped = Path(tempfile.gettempdir()) / "reviewcat-models" / name
    if not shipped.exists():
        shipped.parent.mkdir(parents=True, exist_ok=True)
        partial = shipped.with_name(f".{name}.partial")
        shutil.copyfile(local_model, partial)
        partial.replace(shipped)
    spark.sparkContext.addFile(str(shipped))  # the same file added again is a no-op
    return name


def _loaded(name: str, record: Mapping[str, Any], shown: str, words: bool = False) -> Any:
    """The shipped model (or, with ``words``, its vocabulary), loaded once per Python worker, after
    checking that the copy this executor received is the file the driver checked."""
    key = (name, str(record.get("sha256")), words)
    if key not in _LOADED:
        from pyspark import SparkFiles
        load = model_vocabulary if words else load_model
        _LOADED[key] = load(SparkFiles.get(name), record, shown)
    return _LOADED[key]


def top_k_column(text: Column | str, shipped: str, k: int, categories: Mapping[str, str],
                 record: Mapping[str, Any], shown: str, count_tokens: bool = False) -> Column:
    """The ``k`` best categories of each row's raw text and their probabilities, best first, as a
    struct of two arrays (``labels``, ``probabilities``); ``shipped`` is ``ship_model``'s name,
    ``record`` the shipped file's size and SHA-256 and ``shown`` its name in messages. With
    ``count_tokens`` the struct also holds the text's tokens and how many the model never saw.

    A text with no words left after cleaning still gets the model's answer for an empty line, as
    ``reviewcat predict`` gives it: every row is scored.
    """
    names, record = dict(categories), dict(record)

    def batch(texts: pd.Series) -> pd.DataFrame:
        from reviewcat.prep.tokens import tokenize_batch  # in the Python worker only: see tokens.py
        tokenized = tokenize_batch([clean(t) for t in texts])
        answers = top_k(_loaded(shipped, record, shown), tokenized, k)
        columns = {LABELS: [[category_name(label, names) for label, _ in a] for a in answers],
                   PROBABILITIES: [[p for _, p in a] for a in answers]}
        if count_tokens:
            vocabulary = _loaded(shipped, record, shown, words=True)
            counted = [unseen_tokens(t, vocabulary) for t in tokenized]
            columns.update({TOKENS: [n for n, _ in counted], UNSEEN: [u for _, u in counted]})
        return pd.DataFrame(columns)

    return F.pandas_udf(batch, COUNTED if count_tokens else _ANSWER)(F.col(text) if isinstance(text, str) else text)


def predicted(frame: DataFrame, model: str, k: int = 3, text_column: str = "review_body",
              categories: Mapping[str, str] | None = None, record: Mapping[str, Any] | None = None,
              shown: str | None = None, count_tokens: bool = False) -> DataFrame:
    """``frame`` with the model's ``k`` best categories of its text (all of them when it has fewer) and
    their probabilities, best first (``labels``, ``probabilities``), as ``reviewcat predict`` gives them.

    ``model`` is a local ``model.bin`` or BlazingText ``model.tar.gz``; it is checked and loaded
    here first, so a bad file fails at once, not in a task. ``categories`` maps labels to names and
    ``record`` is training's record of the file (``labels.json`` and ``search.json`` beside the
    model when not given); ``shown`` names the model in messages (a remote model's own path).
    """
    beside = Path(model).parent
    if categories is None:
        labels = beside / LABELS_FILE
        categories = parse_labels(labels.read_text(), labels) if labels.is_file() else {}
    record = record if record is not None else model_record(model)
    shown = shown or model
    measured = match_record(model, record, shown) or describe(model)
    load_model(model, None, shown)
    shipped = ship_model(frame.sparkSession, model, measured["sha256"])
    scored = frame.withColumn(_STRUCT, top_k_column(text_column, shipped, k, categories, measured, shown,
                                                           count_tokens))
    for field in (COUNTED if count_tokens else _ANSWER).fieldNames():
        scored = scored.withColumn(field, F.col(f"{_STRUCT}.{field}"))
    return scored.drop(_STRUCT)
