"""The predict-table job: every row of a table scored by a trained model, written as parquet.

The input is any table (``score_input``): an export of new tickets as CSV, JSON Lines or parquet,
or a catalog table, labelled or not. The output holds each row's id, the columns the user keeps
and the model's top-k category names and probabilities, best first; unpartitioned, or partitioned
by the best category (``prediction``) so that each queue's rows are a folder of their own. The model is
``model.bin`` or a BlazingText ``model.tar.gz`` on any file system Spark reads (a local path, s3://,
hdfs://), scored on the executors; category names come from ``labels.json`` beside it, as for
``reviewcat predict``. Or it is a SageMaker job's model (``--sagemaker-job``), scored by a Batch
Transform job on SageMaker (``batch_transform``) into the same output.
"""
from __future__ import annotations

import logging
from argparse import Namespace
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from pyspark.sql import DataFrame, functions as F
from pyspark.sql.types import StructType

from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.object_store import split_uri
from reviewcat.runtime.options import OUTPUT, Option, positive_int, stage_arguments
from reviewcat.runtime.publishing import check_apart
from reviewcat.runtime.storage import json_text, plain_path
from reviewcat.schema import DRIFT_REFERENCE, PREDICT_FILE as SUMMARY
from reviewcat.scoring import batch_transform, drift, drift_job, model_location, score_input
from reviewcat.scoring.predictions import LABELS, PREDICTION, PREDICTION_FIELDS, PROBABILITIES
from reviewcat.tables import sources
from reviewcat.tables.table_files import quoted

log = logging.getLogger(__name__)


OPTIONS = score_input.OPTIONS + [o for o in OUTPUT if o.name != "seed"] + [
    Option("model", "model.bin or a BlazingText model.tar.gz (local, s3:// or hdfs://), labels.json beside it"),
    Option("sagemaker-job", "instead of --model: a SageMaker tuning job (its best model) or training job, "
           "scored by a Batch Transform job"),
    Option("labels", "labels.json or a prepare manifest.json naming the categories (default: labels.json "
           "beside --model)"),
    Option("top-k", "how many categories per row", positive_int, 3, short="-k"),
    Option("partition-by-prediction", f"partition the output by each row's best category ({PREDICTION}=<name>/)",
           switch=True),
    Option("s3-output", "--sagemaker-job with a local --output-path: s3:// prefix for the transform job's "
           "requests and answers"),
    Option("instance-type", "--sagemaker-job: transform instance type", default="ml.m5.large"),
    Option("instance-count", "--sagemaker-job: transform instances", positive_int, 1),
    Option("region", "--sagemaker-job: AWS region (default: the AWS configuration's)"),
    Option("drift-reference", f"the {DRIFT_REFERENCE} training wrote, for the drift summary in {SUMMARY} "
           "(default: the one beside --model)"),
]


def _sagemaker(region: str | None) -> tuple[Any, Any]:
    import boto3
    from botocore.exceptions import BotoCoreError
    session = boto3.Session(region_name=region) if region else boto3.Session()
    try:
        return session.client("sagemaker"), session.client("s3")
    except BotoCoreError as exc:
        raise ReviewcatError(f"cannot reach SageMaker: {exc} (pass --region)") from None


@contextmanager
def _s3_problems(what: str) -> Iterator[None]:
    """An S3 refusal (access, missing bucket, credentials) as one line saying what could not be done."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        yield
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise ReviewcatError(f"{what}: {str(exc).splitlines()[0]}") from None


def _transformed(rt: Runtime, rows: score_input.ScoreInput, model: dict, names: dict[str, str], work: str,
                 clients: tuple[Any, Any], top_k: int, s3_output: str | None, instance_type: str,
                 instance_count: int) -> tuple[DataFrame, str | None]:
    """The rows scored by a Batch Transform job, and the job's name; its requests and answers pass
    through ``work``.

    An s3:// ``work`` is the transform job's input and output itself (on Glue: nothing moves
    through the driver); a local one is uploaded to and downloaded from ``--s3-output``.
    """
    sagemaker, s3 = clients
    name = batch_transform.job_name()
    batch_transform.requests(rows.frame, top_k, score_input.TEXT, rows.id_column,
                             rows.keep).write.text(f"{work}/requests")
    # The transform job reads every object under its prefix: only the non-empty part files stay
    # (no _SUCCESS marker, no empty part of an empty partition).
    parts = []
    for entry in rt.storage.list(f"{work}/requests"):
        if entry.name.startswith("part-") and entry.size:
            parts.append(entry)
        else:
            rt.storage.delete(entry.path)
    schema = StructType([rows.frame.schema[c] for c in [rows.id_column, *rows.keep]] + list(PREDICTION_FIELDS))
    if not parts:  # no rows: no transform job, an empty output as local scoring writes
        return rt.spark.createDataFrame([], schema), None
    remote = work.startswith("s3")
    prefix = f"s3://{work.split('://', 1)[1]}" if remote else f"{s3_output.rstrip('/')}/{name}"
    if not remote:
        bucket, key = split_uri(prefix)
        with _s3_problems(f"cannot upload the requests to {prefix}/requests/"):
            for part in parts:
                s3.upload_file(plain_path(part.path), bucket, f"{key}/requests/{part.name}")
    batch_transform.start(sagemaker, model, name, f"{prefix}/requests/", f"{prefix}/answers/",
                          instance_type, instance_count)
    batch_transform.follow(sagemaker, name)
    if not remote:
        bucket, key = split_uri(f"{prefix}/answers")
        folder = Path(plain_path(work), "answers")
        folder.mkdir(parents=True)
        with _s3_problems(f"cannot download the answers from {prefix}/answers/"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{key}/"):
                for item in page.get("Contents", []):
                    if item["Key"].endswith(".out"):
                        s3.download_file(bucket, item["Key"], str(folder / Path(item["Key"]).name))
    if not rt.storage.has_files(f"{work}/answers", ".out"):
        raise ReviewcatError(f"transform job {name} wrote no answers under {prefix}/answers/")
    answered = batch_transform.answers(rt.spark.read.text(f"{work}/answers"), names, schema[rows.id_column],
                                       StructType([schema[c] for c in rows.keep]))
    return answered, name


def predict_table(rt: Runtime, *, output_path: str, model: str | None = None, sagemaker_job: str | None = None,
                  input_path: str | None = None, database: str | None = None,
                  table: str | None = None, text_column: Sequence[str] | str = "review_body",
                  id_column: str | None = None, keep_columns: Sequence[str] | None = None, labels: str | None = None,
                  top_k: int = 3, partition_by_prediction: bool = False, encoding: str | None = None,
                  delimiter: str | None = None, drift_reference: str | None = None, s3_output: str | None = None,
                  instance_type: str = "ml.m5.large", instance_count: int = 1, region: str | None = None,
                  overwrite: bool = False, skip_corrupt_files: bool = False) -> dict:
    """Scores every row of a table (files or a catalog table) with ``model`` in Spark, or with a SageMaker
    job's model by Batch Transform, writes each row's id, kept columns and top-k categories with their
    probabilities as parquet to ``output_path``, and returns the summary (with drift). The keywords are
    ``reviewcat predict-table``'s flags."""
    source = sources.Source.of(input_path, database, table)
    if bool(model) == bool(sagemaker_job):
        raise ReviewcatError("give --model (a model.bin or model.tar.gz to score with) or --sagemaker-job "
                             "(a SageMaker tuning or training job), one of them")
    inputs = {**score_input.locations(rt, source), "--model": model, "--labels": labels}
    claimed = rt.storage.claim_output(output_path, overwrite, "where to write the scored rows", inputs)
    output = claimed.path
    if sagemaker_job and s3_output:  # the transform job's requests and answers go there
        check_apart(s3_output.rstrip("/"), {k: rt.storage.qualify(v) for k, v in inputs.items() if v},
                    "--s3-output")
    if sagemaker_job and not output.startswith(("s3", "file:")):
        raise ReviewcatError("--sagemaker-job writes to an s3:// or local --output-path")
    if sagemaker_job and not output.startswith("s3") and not (s3_output or "").startswith("s3://"):
        raise ReviewcatError("--sagemaker-job with a local --output-path needs --s3-output s3://bucket/prefix "
                             "for the transform job's requests and answers")
    rows = score_input.open_input(rt, source, text_columns=text_column, id_column=id_column,
                                  keep_columns=keep_columns, encoding=encoding, delimiter=delimiter,
                                  skip_corrupt_files=skip_corrupt_files)
    if sagemaker_job:
        batch_transform.check_round_trip([rows.frame.schema[c] for c in [rows.id_column, *rows.keep]])
    clients = _sagemaker(region) if sagemaker_job else None
    job_model = batch_transform.model_of(clients[0], sagemaker_job) if clients else None
    reference = model_location.drift_reference(rt, model, drift_reference)
    names = model_location.categories(rt, model, labels, reference)
    scoring_with = model or f"{job_model['name']}'s model {job_model['model_data']}"
    log.info("scoring %s with %s, top %d -> %s", source.describe(), scoring_with, top_k, output)
    job, tokens = {}, None
    with rt.storage.staged(claimed) as staging:
        if job_model:
            work = f"{staging}/_transform"  # deleted once the scored rows are written
            scored, transform_job = _transformed(rt, rows, job_model, names, work, clients, top_k, s3_output,
                                                 instance_type, instance_count)
            job = {"transform_job": transform_job} if transform_job else {}
        else:
            scored = model_location.scored(rt, rows.frame, model, top_k, score_input.TEXT, names,
                                           count_tokens=reference is not None)
            if reference is not None:
                scored, tokens = drift_job.observe_tokens(scored)
        scored = scored.select(*[quoted(c) for c in [rows.id_column, *rows.keep]], LABELS, PROBABILITIES)
        if partition_by_prediction:
            scored = scored.withColumn(PREDICTION, F.get(LABELS, 0))
        # append: the staging folder is this run's own, and already holds the transform's work folder
        writer = scored.write.mode("append")
        (writer.partitionBy(PREDICTION) if partition_by_prediction else writer).parquet(staging)
        if job_model:
            rt.storage.delete(work)
        # read with the schema written: a partitioned write of no rows leaves no file to infer it from
        observed = drift_job.summed(rt.spark.read.schema(scored.schema).parquet(staging), tokens)
        if not observed.rows and partition_by_prediction:  # one empty file that names the columns
            scored.limit(0).coalesce(1).write.mode("append").parquet(staging)
        rows_written = observed.rows
        malformed = rows.malformed_rows()
        found = drift.compare(reference, observed) if reference is not None else None
        summary = {"source": source.describe(), "model": scoring_with, "top_k": top_k, "rows": rows_written,
                   "id_column": rows.id_column, "text_columns": rows.text_columns, "kept_columns": rows.keep,
                   "partitioned_by": PREDICTION if partition_by_prediction else None, **job,
                   **({"malformed_rows": malformed} if malformed else {}),
                   **({"skipped_files": rows.skipped} if rows.skipped else {}), "drift": found}
        rt.storage.write_text(f"{staging}/{SUMMARY}", json_text(summary))
    if malformed:
        log.warning("left out %d records the reader could not parse (malformed CSV or JSON)", malformed)
    log.info("scored %d rows -> %s", rows_written, output)
    for line in drift.lines(found) if found else []:
        (log.warning if found["retrain"] and line.startswith("retraining") else log.info)("%s", line)
    return summary


def run(rt: Runtime, args: Namespace) -> dict:
    return predict_table(rt, **stage_arguments(OPTIONS, args))
