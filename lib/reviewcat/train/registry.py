"""``reviewcat register`` (and ``train --register``): a trained model as a SageMaker model package,
for someone to approve before it is deployed.

The package is a version in a model package group. It carries what hosting needs (BlazingText's
image and the model artifact on S3), the test metrics and the bias report as ``ModelMetrics``
(ModelQuality statistics and the pre-training bias report, JSON files on S3), and starts as
``PendingManualApproval``. A model trained on SageMaker is registered with its own artifact; a
local one is uploaded as BlazingText's ``model.tar.gz`` (its ``model.bin`` inside), which BlazingText
hosting serves as it serves its own.
"""
from __future__ import annotations

import io
import logging
import re
import tarfile
from pathlib import Path
from typing import Any

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.object_store import split_uri
from reviewcat.runtime.options import Option
from reviewcat.schema import METRICS_FILE, SEARCH_FILE
from reviewcat.train.data import parse_json
from reviewcat.train.evaluate import BIAS_FILE
from reviewcat.train.model_card import MODEL_CARD
from reviewcat.train.sagemaker_backend import existing

log = logging.getLogger(__name__)

APPROVAL = "PendingManualApproval"
# What BlazingText's hosting answers and takes (its JSON request, as `predict --endpoint` sends).
CONTENT_TYPES = ["application/json"]
INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.c5.2xlarge"]
# SageMaker's limits: a group's name, a metadata value (length and characters), a description.
GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
METADATA_VALUE = re.compile(r"[\w\s.:/=+\-@]{0,256}")
DESCRIPTION_CHARS = 1024

REGISTER = [
    Option("model-dir", "the --output-path of `reviewcat train`: model.bin (or model.tar.gz), metrics.json, "
           "model_card.md", required=True),
    Option("group", "the model package group (created when missing)", required=True),
    Option("s3-output", "s3:// prefix the metrics, the model card and a local model are uploaded to", required=True),
    Option("description", "the model package's description (default: its test accuracy and data)"),
    Option("region", "AWS region (default: the AWS configuration's)"),
]


def check_request(group: str, s3_output: str | None) -> None:
    """What SageMaker would refuse of a registration, refused before anything is trained or uploaded."""
    if not GROUP_NAME.fullmatch(group):
        raise ReviewcatError(f"model package group {group!r}: SageMaker takes letters, digits and single hyphens "
                             "inside, up to 63 characters")
    if not s3_output or not s3_output.startswith("s3://"):
        raise ReviewcatError("registering needs --s3-output s3://bucket/prefix: its metrics (and a local model) "
                             "are uploaded there")


def _model_file(folder: Path) -> Path:
    for name in ("model.bin", "model.tar.gz"):
        if (folder / name).is_file():
            return folder / name
    raise ReviewcatError(f"{folder} holds no model.bin or model.tar.gz: give the --output-path of `reviewcat train`")


def _archive(model: Path) -> bytes:
    """BlazingText's artifact layout: a gzipped tar with ``model.bin`` at its root."""
    if model.name == "model.tar.gz":
        return model.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(model, arcname="model.bin")
    return buffer.getvalue()


def register(*, model_dir: str, group: str, s3_output: str, description: str | None = None,
             region: str | None = None, session: Any = None) -> str:
    """Registers the model in ``model_dir`` as a new version of ``group``; returns its ARN. The
    keywords are ``reviewcat register``'s flags."""
    import boto3
    from sagemaker.core import image_uris
    check_request(group, s3_output)
    folder = Path(model_dir)
    if not (folder / METRICS_FILE).is_file():
        raise ReviewcatError(f"{folder} has no {METRICS_FILE}: give the --output-path of `reviewcat train`")
    metrics = parse_json((folder / METRICS_FILE).read_text(), folder / METRICS_FILE)
    search = parse_json((folder / SEARCH_FILE).read_text(), folder / SEARCH_FILE) \
        if (folder / SEARCH_FILE).is_file() else {}
    session = session or (boto3.Session(region_name=region) if region else boto3.Session())
    if session.region_name is None:
        raise ReviewcatError("no AWS region: pass --region or set AWS_REGION")
    try:
        image = image_uris.retrieve("blazingtext", session.region_name)
    except ValueError as exc:
        raise ReviewcatError(f"BlazingText has no image in {session.region_name} ({exc}): choose another "
                             "--region") from None
    s3, sagemaker = session.client("s3"), session.client("sagemaker")
    bucket, prefix = split_uri(s3_output.rstrip("/"))
    # Named by the model's digest: a package version's files are never replaced by a later registration.
    digest = ((metrics.get("model_file") or {}).get("sha256") or "unrecorded")[:16]
    base = f"{prefix}/registry/{group}/{digest}".lstrip("/")

    def upload(name: str, body: bytes, content_type: str) -> str:
        s3.put_object(Bucket=bucket, Key=f"{base}/{name}", Body=body, ContentType=content_type)
        return f"s3://{bucket}/{base}/{name}"

    model_data = (search.get("best") or {}).get("model_data")  # trained on SageMaker: its own artifact
    if not model_data:
        model_data = upload("model.tar.gz", _archive(_model_file(folder)), "application/x-gzip")
    quality = upload(METRICS_FILE, (folder / METRICS_FILE).read_bytes(), "application/json")
    model_metrics: dict[str, Any] = {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                                     "S3Uri": quality}}}
    if (folder / BIAS_FILE).is_file():  # the data's pre-training bias, which evaluation keeps beside the model
        report = upload(BIAS_FILE, (folder / BIAS_FILE).read_bytes(), "application/json")
        model_metrics["Bias"] = {"PreTrainingReport": {"ContentType": "application/json", "S3Uri": report}}
    properties = {"accuracy": f"{metrics['accuracy']:.4f}", "examples": str(metrics["examples"])}
    if (folder / MODEL_CARD).is_file():
        card = upload(MODEL_CARD, (folder / MODEL_CARD).read_bytes(), "text/markdown")
        if METADATA_VALUE.fullmatch(card):  # else the card is still there, beside the metrics
            properties["model_card"] = card
    if existing(lambda: sagemaker.describe_model_package_group(ModelPackageGroupName=group)) is None:
        sagemaker.create_model_package_group(ModelPackageGroupName=group,
                                             ModelPackageGroupDescription="reviewcat text classifiers")
        log.info("created model package group %s", group)
    answer = sagemaker.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus=APPROVAL,
        ModelPackageDescription=(description or (
            f"test accuracy {metrics['accuracy']:.4f} on {metrics['examples']:,} texts; backend "
            f"{search.get('backend', 'unknown')}"))[:DESCRIPTION_CHARS],
        InferenceSpecification={
            "Containers": [{"Image": image, "ModelDataUrl": model_data}],
            "SupportedContentTypes": CONTENT_TYPES, "SupportedResponseMIMETypes": CONTENT_TYPES,
            "SupportedRealtimeInferenceInstanceTypes": INSTANCE_TYPES,
            "SupportedTransformInstanceTypes": INSTANCE_TYPES},
        ModelMetrics=model_metrics, CustomerMetadataProperties=properties)
    arn = answer["ModelPackageArn"]
    log.info("registered %s as %s (%s)", folder, arn, APPROVAL)
    return arn

