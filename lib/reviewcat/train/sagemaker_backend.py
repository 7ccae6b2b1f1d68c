"""The SageMaker backend: BlazingText hyperparameter tuning through the SageMaker Python SDK v3.

The SDK starts the tuning job (``ModelTrainer`` on the BlazingText image + ``HyperparameterTuner``);
following it, reading the best job and deploying an endpoint are single API calls made with boto3.
Channels are passed as ``InputData`` with ``text/plain``: v3 drops the content type of the dict
form and turns a bare string into a channel named "training".
"""
from __future__ import annotations

import importlib.util
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.object_store import split_uri
from reviewcat.schema import SPLITS
from reviewcat.train.space import LOCAL_ONLY, SearchSpace

log = logging.getLogger(__name__)

ROLE_ENV = "REVIEWCAT_SAGEMAKER_ROLE"
CHANNELS = ("train", "validation")
TERMINAL = ("Completed", "Failed", "Stopped")
# Tuning and training jobs are named reviewcat-...: `reviewcat aws status` finds a run's tuning job by it.
JOB_PREFIX = "reviewcat"
# What an endpoint serves on unless told otherwise (train --deploy, reviewcat endpoint deploy).
ENDPOINT_INSTANCE = "ml.m5.large"


def tuning_job_name() -> str:
    """The default name of a tuning job: the prefix and the UTC time it starts."""
    return time.strftime(f"{JOB_PREFIX}-%Y%m%d-%H%M%S", time.gmtime())


@dataclass(frozen=True)
class AwsTarget:
    region: str | None
    role: str | None
    output: str | None  # s3:// prefix for uploaded data, models and tuning output
    has_credentials: bool
    has_sdk: bool = True

    @classmethod
    def detect(cls, region: str | None, role: str | None, output: str | None) -> "AwsTarget":
        role = role or os.environ.get(ROLE_ENV)
        if not all(importlib.util.find_spec(m) for m in ("boto3", "sagemaker")):
            return cls(region, role, output, has_credentials=False, has_sdk=False)
        import boto3
        session = boto3.Session(region_name=region) if region else boto3.Session()
        return cls(region=session.region_name, role=role, output=output,
                   has_credentials=session.get_credentials() is not None)

    def missing(self) -> list[str]:
        if not self.has_sdk:
            return ["the SageMaker SDK (pip install 'reviewcat[aws]')"]
        needs = [("AWS credentials", self.has_credentials), ("a region (--region or AWS_REGION)", self.region),
                 (f"a role (--role or {ROLE_ENV})", self.role), ("an S3 prefix (--s3-output)", self.output)]
        return [what for what, present in needs if not present]


def choose_backend(requested: str, target: AwsTarget) -> tuple[str, str]:
    """(backend, reason): explicit choices are checked, ``auto`` uses SageMaker when it can."""
    missing = target.missing()
    if requested == "local":
        return "local", "--backend local"
    if requested == "sagemaker":
        if missing:
            raise ReviewcatError(f"--backend sagemaker needs {', '.join(missing)}")
        return "sagemaker", "--backend sagemaker"
    if missing:
        return "local", f"SageMaker needs {', '.join(missing)}"
    return "sagemaker", f"AWS credentials, region {target.region}, role and {target.output} are set"


def stage_channels(data: str, output: str, s3: Any) -> dict[str, str]:
    """S3 prefix per channel: an ``s3://`` prepare output is used as is, a local one is uploaded."""
    if data.startswith("s3://"):
        return {split: f"{data.rstrip('/')}/{split}/" for split in SPLITS}
    bucket, key = split_uri(output)
    root = Path(data.removeprefix("file:"))
    prefix = f"{key}/data/{root.name}" if key else f"data/{root.name}"
    for name in [f"{split}/{split}.txt" for split in SPLITS] + ["manifest.json"]:
        if (root / name).is_file():
            log.info("uploading %s to s3://%s/%s/%s", root / name, bucket, prefix, name)
            s3.upload_file(str(root / name), bucket, f"{prefix}/{name}")
    return {split: f"s3://{bucket}/{prefix}/{split}/" for split in SPLITS}


def _as_text(value: Any) -> str:
    """BlazingText reads every hyperparameter as a string; booleans as "True"/"False"."""
    return str(value) if not isinstance(value, bool) else ("True" if value else "False")


def start_tuning(space: SearchSpace, target: AwsTarget, channels: dict[str, str], instance_type: str,
                 job_name: str, boto_session: Any = None) -> str:
    """Create the tuning job through the SDK; returns its name."""
    import boto3
    from sagemaker.core import image_uris
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, StoppingCondition
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    boto_session = boto_session or boto3.Session(region_name=target.region)
    bucket, _ = split_uri(target.output)
    session = Session(boto_session=boto_session, default_bucket=bucket)
    trainer = ModelTrainer(
        sagemaker_session=session, role=target.role, base_job_name=JOB_PREFIX,
        training_image=image_uris.retrieve("blazingtext", target.region), training_input_mode="File",
        compute=Compute(instance_type=instance_type, instance_count=1, volume_size_in_gb=30),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=4 * 3600),
        output_data_config=OutputDataConfig(s3_output_path=f"{target.output.rstrip('/')}/tuning"),
        hyperparameters={"mode": "supervised", **{k: _as_text(v) for k, v in space.fixed().items()
                                                  if k not in LOCAL_ONLY}})
    # The local search's own scale for each range, so both backends sample the same space.
    ranges = {name: (IntegerParameter if r.integer else ContinuousParameter)(
                  r.low, r.high, "Logarithmic" if r.log else "Linear")
              for name, r in space.sagemaker_ranges.items()}
    local_only = sorted(set(space.ranges) - set(ranges))
    if local_only:
        log.info("not tuned on SageMaker (BlazingText's supervised mode has no such hyperparameter): %s",
                 ", ".join(local_only))
    tuner = HyperparameterTuner(
        model_trainer=trainer, objective_metric_name=space.objective, objective_type="Maximize",
        hyperparameter_ranges=ranges, max_jobs=space.max_jobs, max_parallel_jobs=space.max_parallel)
    inputs = [InputData(channel_name=name, data_source=channels[name], content_type="text/plain")
              for name in CHANNELS]
    try:
        tuner.tune(inputs=inputs, job_name=job_name, wait=False)
    except Exception as exc:
        raise ReviewcatError(f"SageMaker refused the tuning job: {str(exc).splitlines()[0]}") from None
    log.info("started tuning job %s: %d jobs, %d at a time, on %s", job_name, space.max_jobs,
             space.max_parallel, instance_type)
    return job_name


def follow(client: Any, job_name: str, poll_seconds: float = 30.0,
           sleep: Callable[[float], None] = time.sleep) -> dict:
    """Report progress until the tuning job ends; a failed job raises with SageMaker's reason."""
    shown = None
    while True:
        job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job_name)
        status, counters = job["HyperParameterTuningJobStatus"], job.get("TrainingJobStatusCounters", {})
        best = job.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        line = (f"tuning job {job_name}: {status}, {counters.get('Completed', 0)} done, "
                f"{counters.get('InProgress', 0)} running, "
                f"{counters.get('NonRetryableError', 0) + counters.get('RetryableError', 0)} failed"
                + (f", best {best:.4f}" if best is not None else ""))
        if line != shown:
            log.info("%s", line)
            shown = line
        if status == "Failed":
            raise ReviewcatError(f"tuning job {job_name} failed: {job.get('FailureReason', 'no reason given')}")
        if status in TERMINAL:
            return job
        sleep(poll_seconds)


def trained_model(training: dict) -> dict:
    """What a SageMaker model of a training job needs, from its DescribeTrainingJob answer: the job's
    name, model artifact, image and role."""
    return {"name": training["TrainingJobName"], "model_data": training["ModelArtifacts"]["S3ModelArtifacts"],
            "image": training["AlgorithmSpecification"]["TrainingImage"], "role": training["RoleArn"]}


def best_job(client: Any, tuning: dict) -> dict:
    """Name, tuned hyperparameters, objective and model artifact of the tuning job's best training job."""
    best = tuning.get("BestTrainingJob")
    if not best:
        raise ReviewcatError(f"tuning job {tuning['HyperParameterTuningJobName']} has no completed training job")
    model = trained_model(client.describe_training_job(TrainingJobName=best["TrainingJobName"]))
    return {"name": model["name"], "hyperparameters": best.get("TunedHyperParameters", {}),
            "objective": best.get("FinalHyperParameterTuningJobObjectiveMetric", {}), **model}


def download(s3: Any, uri: str, target: Path) -> Path:
    bucket, key = split_uri(uri)
    try:
        s3.download_file(bucket, key, str(target))
    except Exception as exc:
        raise ReviewcatError(f"cannot download {uri}: {str(exc).splitlines()[0]}") from None
    return target


def existing(describe: Callable[[], dict]) -> dict | None:
    """A Describe* call's answer, or None when the resource does not exist (SageMaker says so with
    ResourceNotFound, or a ValidationException whose message says it); other refusals raise."""
    from botocore.exceptions import ClientError
    try:
        return describe()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFound", "ResourceNotFoundException") or any(
                words in str(exc) for words in ("Could not find", "does not exist", "can't find")):
            return None
        raise


def check_endpoint_free(client: Any, name: str, flag: str) -> None:
    """Refuses an endpoint name in use, before anything is made (or, for training, tuned)."""
    if existing(lambda: client.describe_endpoint(EndpointName=name)) is None:
        return
    raise ReviewcatError(f"endpoint {name} already exists: choose another {flag}, or delete it first "
                         f"(reviewcat endpoint delete --name {name})")


def deploy(client: Any, best: dict, endpoint: str, instance_type: str = ENDPOINT_INSTANCE) -> str:
    """A real-time endpoint serving the best model (BlazingText's own inference on the same image).

    A refused step removes what the steps before it made, and an endpoint that fails to come into
    service is removed with them (its reason in the error), so a failed deploy leaves nothing behind
    to bill or to collide with the next attempt."""
    from botocore.exceptions import WaiterError
    steps = [(lambda: client.create_model(ModelName=endpoint, ExecutionRoleArn=best["role"], PrimaryContainer={
                  "Image": best["image"], "ModelDataUrl": best["model_data"]}),
              lambda: client.delete_model(ModelName=endpoint)),
             (lambda: client.create_endpoint_config(EndpointConfigName=endpoint, ProductionVariants=[{
                  "VariantName": "AllTraffic", "ModelName": endpoint, "InitialInstanceCount": 1,
                  "InstanceType": instance_type}]),
              lambda: client.delete_endpoint_config(EndpointConfigName=endpoint)),
             (lambda: client.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint),
              lambda: client.delete_endpoint(EndpointName=endpoint))]
    made = []
    try:
        for create, undo in steps:
            create()
            made.append(undo)
        log.info("creating endpoint %s (instance %s); waiting until it is in service", endpoint, instance_type)
        try:
            client.get_waiter("endpoint_in_service").wait(EndpointName=endpoint)
        except WaiterError:
            answer = existing(lambda: client.describe_endpoint(EndpointName=endpoint)) or {}
            raise ReviewcatError(f"endpoint {endpoint} did not come into service "
                                 f"({answer.get('EndpointStatus', 'gone')}: "
                                 f"{answer.get('FailureReason', 'no reason given')}); it was removed") from None
    except BaseException:
        for undo in reversed(made):
            try:
                undo()
            except Exception as exc:  # the refusal is what the user needs to see; this is logged
                log.warning("could not remove what the failed deploy made: %s", exc)
        raise
    return endpoint
