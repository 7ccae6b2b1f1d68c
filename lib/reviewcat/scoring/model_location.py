"""A model a user names on any file system, and the files training left beside it.

Jobs that score take ``--model`` as a local path, ``s3://`` or ``hdfs://``: the model file is
copied to the driver once, and ``labels.json`` (category names), ``search.json`` (training's
record of the file) and ``drift_reference.json`` are read where they are.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pyspark.sql import DataFrame

from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import DRIFT_REFERENCE, LABELS_FILE, SEARCH_FILE
from reviewcat.scoring.predictions import predicted
from reviewcat.train.data import parse_json, parse_labels
from reviewcat.train.model_file import recorded

log = logging.getLogger(__name__)


def fetch(rt: Runtime, path: str, scratch: str) -> str:
    """A local copy of a file on any file system, or the file itself when it is local."""
    if Path(path).is_file():
        return path
    qualified = rt.storage.qualify(path)
    if not rt.storage.exists(qualified):
        raise ReviewcatError(f"model {path} not found: give a model.bin or a BlazingText model.tar.gz")
    local = str(Path(scratch) / Path(path).name)
    rt.storage.copy_to_local(qualified, local)
    return local


def beside(model: str, name: str) -> str:
    """The path of the file ``name`` beside ``model``, on whatever file system the model is."""
    return f"{model.rsplit('/', 1)[0]}/{name}" if "/" in model else name


def record(rt: Runtime, model: str) -> dict | None:
    """Training's record of the model file (its size and SHA-256), from ``search.json`` beside it."""
    path = beside(model, SEARCH_FILE)
    return recorded(parse_json(rt.storage.read_text(path), path), model.rsplit("/", 1)[-1]) if rt.storage.exists(path) \
        else None


def categories(rt: Runtime, model: str | None, labels: str | None, reference: dict | None = None) -> dict[str, str]:
    """Label -> category from --labels, else labels.json beside the model, else the drift
    reference's (which names categories as training did), else none (label names)."""
    path = labels or (beside(model, LABELS_FILE) if model else None)
    if not path or not rt.storage.exists(path):
        if labels:
            raise ReviewcatError(f"labels file {labels} not found")
        if (reference or {}).get("labels"):
            return dict(reference["labels"])
        log.warning("no %s beside %s: the output names labels, not categories (pass --labels)", LABELS_FILE,
                    model or "a SageMaker model")
        return {}
    return parse_labels(rt.storage.read_text(path), path)


def drift_reference(rt: Runtime, model: str | None, given: str | None) -> dict | None:
    """The training-side reference of drift: ``given`` (--drift-reference), else the one beside the
    model; None when there is none (a model trained before references were written)."""
    path = given or (beside(model, DRIFT_REFERENCE) if model else None)
    if not path or not rt.storage.exists(path):
        if given:
            raise ReviewcatError(f"drift reference {given} not found: give the {DRIFT_REFERENCE} that training "
                                 "wrote beside the model")
        log.info("no %s beside %s: no drift summary (train or evaluate the model again to get one)",
                 DRIFT_REFERENCE, model or "a SageMaker model (pass --drift-reference)")
        return None
    return parse_json(rt.storage.read_text(path), path)


def scored(rt: Runtime, frame: DataFrame, model: str, k: int, text: str, names: dict[str, str],
           count_tokens: bool = False) -> DataFrame:
    """``frame`` scored with ``model`` on the executors (``scoring.predicted``): the model is copied
    to the driver, checked against training's record and shipped from a copy of its own, so the
    copy's scratch folder goes as soon as scoring is planned."""
    with tempfile.TemporaryDirectory(prefix="reviewcat-model-") as scratch:
        return predicted(frame, fetch(rt, model, scratch), k, text, names, record(rt, model), model,
                         count_tokens=count_tokens)
