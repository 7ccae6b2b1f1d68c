"""The predict-table job: every row of a review table scored by a trained model, written as parquet.

The output holds each row's id, its partition (``product_category``, so the output is partitioned
like the input) and the model's top-k category names and probabilities, best first. The model is
``model.bin`` or a BlazingText ``model.tar.gz`` on any file system Spark reads (a local path, s3://,
hdfs://); category names come from ``labels.json`` beside it, as for ``reviewcat predict``.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from . import sources
from .errors import ReviewcatError
from .options import OUTPUT, READING, SOURCE, Option, positive_int
from .runtime import Runtime
from .scoring import LABELS, PROBABILITIES, predicted
from .storage import json_text
from .train.data import parse_labels

log = logging.getLogger(__name__)

SUMMARY = "_predict.json"
LABELS_FILE = "labels.json"

OPTIONS = SOURCE + READING + [o for o in OUTPUT if o.name != "seed"] + [
    Option("model", "model.bin or a BlazingText model.tar.gz (local, s3:// or hdfs://), labels.json beside it"),
    Option("labels", "labels.json or a prepare manifest.json naming the categories (default: labels.json "
           "beside --model)"),
    Option("top-k", "how many categories per row", positive_int, 3, short="-k"),
    Option("text-column", "column with the text to score", default="review_body"),
    Option("id-column", "column that identifies a row in the output", default="review_id"),
]


def _fetch(rt: Runtime, path: str, scratch: str) -> str:
    """A local copy of a file on any file system, or the file itself when it is local."""
    if Path(path).is_file():
        return path
    qualified = rt.storage.qualify(path)
    if not rt.storage.exists(qualified):
        raise ReviewcatError(f"model {path} not found: give a model.bin or a BlazingText model.tar.gz")
    local = str(Path(scratch) / Path(path).name)
    rt.storage.copy_to_local(qualified, local)
    return local


def _categories(rt: Runtime, model: str, labels: str | None) -> dict[str, str]:
    """Label -> category from --labels, else labels.json beside the model, else none (label names)."""
    beside = f"{model.rsplit('/', 1)[0]}/{LABELS_FILE}" if "/" in model else LABELS_FILE
    path = labels or beside
    if not rt.storage.exists(path):
        if labels:
            raise ReviewcatError(f"labels file {labels} not found")
        log.warning("no %s beside %s: the output names labels, not categories (pass --labels)", LABELS_FILE, model)
        return {}
    return parse_labels(rt.storage.read_text(path))


def run(rt: Runtime, args: Any) -> dict:
    source = sources.Source.from_args(args)
    if not args.model:
        raise ReviewcatError("--model is required: the model.bin or model.tar.gz to score with")
    output = rt.storage.claim_output(args.output_path, args.overwrite, "where to write the scored rows")
    categories, skipped = sources.readable_categories(rt, source, skip_corrupt_files=args.skip_corrupt_files)
    frame = sources.read(rt, source, categories)
    sources.require_columns(frame, [args.id_column, args.text_column], source)

    names = _categories(rt, args.model, args.labels)
    log.info("scoring %s with %s, top %d -> %s", source.describe(), args.model, args.top_k, output)
    with tempfile.TemporaryDirectory(prefix="reviewcat-model-") as scratch:
        # Loaded here once, so a bad model fails in one line before any task, and shipped from a copy
        # of its own: the scratch folder may go.
        scored = predicted(frame.select(args.id_column, sources.CATEGORY, args.text_column),
                           _fetch(rt, args.model, scratch), args.top_k, args.text_column, names)
    scored = scored.select(args.id_column, sources.CATEGORY, LABELS, PROBABILITIES)
    with rt.storage.staged(output) as staging:
        scored.write.partitionBy(sources.CATEGORY).parquet(staging)
        rows = rt.spark.read.parquet(staging).count()
        summary = {"source": source.describe(), "model": args.model, "top_k": args.top_k, "rows": rows,
                   "text_column": args.text_column, **({"skipped_files": skipped} if skipped else {})}
        rt.storage.write_text(f"{staging}/{SUMMARY}", json_text(summary))
    log.info("scored %d rows -> %s", rows, output)
    return summary
