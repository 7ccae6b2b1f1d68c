"""The drift job: new data scored by the model and compared with what it was trained on (``drift``).

``reviewcat drift --model M --input-path NEW`` reads any table as predict-table does, scores every
row on the executors (top-1 only, with each text's tokens counted against the model's vocabulary)
and sums it all in one aggregation: nothing is written. predict-table puts the same summary in
its ``_predict.json``, from the rows it writes.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from argparse import Namespace
from typing import Sequence

from pyspark.sql import DataFrame, Observation, functions as F

from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import Option, stage_arguments
from reviewcat.schema import DRIFT_REFERENCE
from reviewcat.scoring import drift, model_location, score_input
from reviewcat.scoring.predictions import LABELS, PROBABILITIES, TOKENS, UNSEEN
from reviewcat.tables import sources
from reviewcat.tables.code_counts import metrics

log = logging.getLogger(__name__)

# What the rows are called does not matter here: nothing is written.
OPTIONS = [o for o in score_input.OPTIONS if o.name not in ("keep-columns", "id-column")] + [
    Option("model", "model.bin or a BlazingText model.tar.gz (local, s3:// or hdfs://), with labels.json and "
           f"{DRIFT_REFERENCE} beside it", required=True),
    Option("labels", "labels.json or a prepare manifest.json naming the categories (default: labels.json "
           "beside --model)"),
    Option("drift-reference", f"the {DRIFT_REFERENCE} training wrote (default: the one beside --model)"),
    Option("json", "print the summary as one JSON object instead of lines", switch=True),
]


def observe_tokens(frame: DataFrame) -> tuple[DataFrame, Observation]:
    """``frame`` (scored with token counts) with its tokens summed by whatever action runs it."""
    observation = Observation("tokens")
    return frame.observe(observation, F.sum(TOKENS).alias("tokens"), F.sum(UNSEEN).alias("unseen")), observation


def summed(scored: DataFrame, tokens: Observation | None = None) -> drift.Observed:
    """Rows per best category and their top-1 probabilities, in one aggregation of ``scored``; its
    tokens from the same aggregation when it has them, else from ``tokens`` (observed while it was
    written; unknown when that cannot be read)."""
    counted = TOKENS in scored.columns
    sums = [F.count(F.lit(1)).alias("rows"), F.sum(F.get(PROBABILITIES, 0)).alias("top1")]
    if counted:
        sums += [F.sum(TOKENS).alias("tokens"), F.sum(UNSEEN).alias("unseen")]
    rows = scored.groupBy(F.get(LABELS, 0).alias("best")).agg(*sums).collect()
    observed = drift.Observed({r["best"]: int(r["rows"]) for r in rows if r["best"] is not None},
                              float(sum(r["top1"] or 0.0 for r in rows)),
                              without_category=sum(int(r["rows"]) for r in rows if r["best"] is None))
    if counted:
        return dataclasses.replace(observed, tokens=int(sum(r["tokens"] or 0 for r in rows)),
                                   unseen_tokens=int(sum(r["unseen"] or 0 for r in rows)))
    seen = metrics(tokens) if tokens is not None else {}
    if seen.get("tokens") is None:
        return observed
    return dataclasses.replace(observed, tokens=int(seen["tokens"]), unseen_tokens=int(seen["unseen"] or 0))


def measure_drift(rt: Runtime, *, model: str, input_path: str | None = None, database: str | None = None,
                  table: str | None = None, text_column: Sequence[str] | str = "review_body",
                  labels: str | None = None, drift_reference: str | None = None, encoding: str | None = None,
                  delimiter: str | None = None, skip_corrupt_files: bool = False) -> dict:
    """Whether a table has drifted from what ``model`` was trained on: its predicted category mix, unseen
    words and confidence against the reference training left beside the model. The keywords are
    ``reviewcat drift``'s flags, but ``--json``, which only chooses how ``run`` prints the result."""
    source = sources.Source.of(input_path, database, table)
    if not model:
        raise ReviewcatError("--model is required: the model.bin or model.tar.gz whose training data new data is "
                             "compared with")
    score_input.locations(rt, source)
    reference = model_location.drift_reference(rt, model, drift_reference)
    if reference is None:
        raise ReviewcatError(f"no {DRIFT_REFERENCE} beside {model}: train or evaluate the model with this "
                             "reviewcat to write one, or pass --drift-reference")
    rows = score_input.open_input(rt, source, text_columns=text_column, keep_columns=[],
                                  encoding=encoding, delimiter=delimiter,
                                  skip_corrupt_files=skip_corrupt_files)
    names = model_location.categories(rt, model, labels, reference)
    log.info("comparing %s with the training data of %s", source.describe(), model)
    scored = model_location.scored(rt, rows.frame, model, 1, score_input.TEXT, names, count_tokens=True)
    summary = drift.compare(reference, summed(scored))
    malformed = rows.malformed_rows()
    if malformed:
        summary["malformed_rows"] = malformed
        log.warning("left out %d records the reader could not parse (malformed CSV or JSON)", malformed)
    return {"source": source.describe(), "model": model, **summary}


def run(rt: Runtime, args: Namespace) -> dict:
    values = stage_arguments(OPTIONS, args)
    as_json = values.pop("json")
    summary = measure_drift(rt, **values)
    print(json.dumps(summary, ensure_ascii=False) if as_json else "\n".join(drift.lines(summary)))
    return summary
