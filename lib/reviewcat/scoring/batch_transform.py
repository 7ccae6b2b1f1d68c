"""Scoring a table with a SageMaker model: a Batch Transform job on the table's tokenized text.

``predict-table`` scores on Spark's executors with a local fastText. A model that lives in SageMaker
(the best training job of a tuning job, or one training job) can instead score where it was
trained, on BlazingText's own inference image: no model download and no fastText on the cluster.

BlazingText's batch format is JSON Lines only: ``{"source": "<tokens>", "k": K}`` in,
``{"prob": [...], "label": ["__label__..."]}`` out (its documentation's "Model Artifacts and
Inference"). So Spark writes one request line per row with the same ``clean`` and NLTK tokens as
training, and the row's id and the columns it keeps (as one JSON text) beside the request. The
transform job reads only ``$.request`` (``InputFilter``), joins each answer to its whole input line
(``JoinSource: Input``, as ``SageMakerOutput``) and keeps id, kept columns and answer
(``OutputFilter``): answers need no join with the table, and no order of lines in the files.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Callable, Mapping, Sequence

from pyspark.sql import Column, DataFrame, functions as F
from pyspark.sql.types import ArrayType, DoubleType, MapType, StringType, StructField, StructType

from reviewcat.prep.text import LABEL_PREFIX, review_tokens
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.tables.columns import lookup
from reviewcat.tables.table_files import quoted
from reviewcat.train.sagemaker_backend import JOB_PREFIX, best_job, trained_model

log = logging.getLogger(__name__)

REQUEST = "request"
ANSWER = "SageMakerOutput"  # where Batch Transform puts the answer in a joined JSON line
CONTENT_TYPE = "application/jsonlines"  # BlazingText's only batch format, for input and output alike
TERMINAL = ("Completed", "Failed", "Stopped")
KEPT = "keep"  # the row's kept columns, as a JSON object in a string
_LINE = StructType([StructField("id", StringType()), StructField(KEPT, StringType()),
                    StructField(ANSWER, StructType([StructField("label", ArrayType(StringType())),
                                                    StructField("prob", ArrayType(DoubleType()))]))])


def job_name() -> str:
    """A transform job (and model) name: the tuning jobs' prefix, ``score``, the UTC time and a random
    tail (names are unique per account and region; two runs may start in the same second)."""
    return time.strftime(f"{JOB_PREFIX}-score-%Y%m%d-%H%M%S-{uuid.uuid4().hex[:4]}", time.gmtime())


# JSON's default timestamps end at milliseconds: kept columns travel with every digit Spark has.
_JSON = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"}


def check_round_trip(fields: Sequence[StructField]) -> None:
    """Refuse, before any job is paid for, an id or kept column that cannot come back from JSON as
    it went: bytes, maps and, for the id (which travels as text), anything but a plain value."""
    for i, field in enumerate(fields):
        kind = field.dataType.simpleString()
        nested = isinstance(field.dataType, (ArrayType, StructType, MapType))
        if "binary" in kind or "map<" in kind or (i == 0 and nested):
            what = "the id column" if i == 0 else "kept column"
            raise ReviewcatError(f"{what} {field.name} ({kind}) cannot travel through the transform job's JSON "
                                 "lines and come back the same: leave it out of --keep-columns, or score with --model")


def requests(frame: DataFrame, k: int, text: str, id_column: str, keep: Sequence[str]) -> DataFrame:
    """One JSON request line per row (column ``value``, for ``DataFrame.write.text``)."""
    request = F.struct(review_tokens(text, 0).alias("source"), F.lit(int(k)).alias("k"))
    kept = F.to_json(F.struct(*[quoted(c) for c in keep]), _JSON) if keep else F.lit("{}")
    return frame.select(F.to_json(F.struct(quoted(id_column).cast("string").alias("id"), kept.alias(KEPT),
                                           request.alias(REQUEST))).alias("value"))


def _category(label: Column, categories: Mapping[str, str]) -> Column:
    bare = F.regexp_replace(label, f"^{LABEL_PREFIX}", "")
    return F.coalesce(lookup(categories, label), bare) if categories else bare


def answers(lines: DataFrame, categories: Mapping[str, str], id_field: StructField, keep: StructType) -> DataFrame:
    """The transform job's output lines (column ``value``) as predict-table's rows: the id and the
    kept columns (``id_field`` and ``keep``: their names and types in the table), category names
    and probabilities, best first.

    Probabilities are clipped at 1 as ``model.top_k`` clips them: fastText adds 1e-5 before its log.
    """
    line = F.from_json("value", _LINE)
    parsed = lines.select(line.alias("line")).select("line.*")
    kept = [F.from_json(KEPT, keep, _JSON)[f.name].alias(f.name) for f in keep.fields]
    return parsed.select(F.col("id").cast(id_field.dataType).alias(id_field.name), *kept,
                         F.transform(f"{ANSWER}.label", lambda label: _category(label, categories)).alias("labels"),
                         F.transform(f"{ANSWER}.prob", lambda p: F.least(p, F.lit(1.0))).alias("probabilities"))


def model_of(client: Any, job: str) -> dict:
    """Image, model artifact and role of a tuning job's best training job, or of a training job."""
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        return best_job(client, client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job))
    except ClientError:
        pass  # not a tuning job: perhaps a training job
    except BotoCoreError as exc:
        raise ReviewcatError(f"cannot ask SageMaker for job {job}: {exc} (set AWS credentials and --region)") from None
    try:
        training = client.describe_training_job(TrainingJobName=job)
    except ClientError as exc:
        raise ReviewcatError(f"no SageMaker tuning or training job named {job}: "
                             f"{exc.response['Error'].get('Message', exc)}") from None
    if training.get("TrainingJobStatus") not in (None, "Completed"):
        raise ReviewcatError(f"training job {job} is {training['TrainingJobStatus']}: score with a completed one")
    return trained_model(training)


def transform_request(name: str, input_uri: str, output_uri: str, instance_type: str, instance_count: int) -> dict:
    """The CreateTransformJob request: JSON Lines in and out, one line per record, answers joined."""
    return {
        "TransformJobName": name, "ModelName": name,
        "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                           "ContentType": CONTENT_TYPE, "SplitType": "Line", "CompressionType": "None"},
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": CONTENT_TYPE, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
        "DataProcessing": {"InputFilter": f"$.{REQUEST}", "JoinSource": "Input",
                           "OutputFilter": f"$['id','{KEPT}','{ANSWER}']"},
    }


def start(client: Any, model: dict, name: str, input_uri: str, output_uri: str, instance_type: str,
          instance_count: int) -> str:
    """A SageMaker model of the job's artifact, and the transform job scoring ``input_uri`` with it."""
    try:
        client.create_model(ModelName=name, ExecutionRoleArn=model["role"],
                            PrimaryContainer={"Image": model["image"], "ModelDataUrl": model["model_data"]})
        client.create_transform_job(**transform_request(name, input_uri, output_uri, instance_type, instance_count))
    except Exception as exc:
        raise ReviewcatError(f"SageMaker refused the transform job: {str(exc).splitlines()[0]}") from None
    log.info("started transform job %s: %s -> %s on %d x %s", name, input_uri, output_uri, instance_count,
             instance_type)
    return name


def follow(client: Any, name: str, poll_seconds: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Report the transform job's status until it ends; one that did not complete raises with its reason."""
    shown = None
    while True:
        job = client.describe_transform_job(TransformJobName=name)
        status = job["TransformJobStatus"]
        if status != shown:
            log.info("transform job %s: %s", name, status)
            shown = status
        if status in TERMINAL:
            if status != "Completed":
                raise ReviewcatError(f"transform job {name} {status.lower()}: "
                                     f"{job.get('FailureReason', 'no reason given')}")
            return job
        sleep(poll_seconds)
