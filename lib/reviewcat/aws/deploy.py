"""``reviewcat aws deploy | run | status | logs``: the AWS side of the pipeline, driven with boto3.

deploy: create or update the CloudFormation stack in ``infra/``, then upload the library zip and
the two job scripts where the Glue jobs look for them. run: start the Glue workflow (crawl raw ->
balance -> crawl balanced -> prepare), follow it, and optionally hand the prepared S3 prefix to
``reviewcat train --backend sagemaker``. status: the stack, its outputs, the last workflow run and
what it cost (``costs``). logs: what the failed jobs of a workflow run said, from CloudWatch.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from reviewcat.aws import costs, glue_runs
from reviewcat.aws.packaging import build_zip
from reviewcat.runtime.errors import ReviewcatError

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
SHIPPED = Path(__file__).resolve().parents[1] / "shipped"  # infra/ and glue_jobs/, as the wheel carries them


def _deploy_file(name: str) -> Path:
    """A file of the project's infra/ or glue_jobs/: the checkout's own, else the copy an installed
    wheel carries."""
    checkout = REPO / name
    return checkout if checkout.is_file() else SHIPPED / name


TEMPLATE = _deploy_file("infra/reviewcat.yaml")
JOB_SCRIPTS = [_deploy_file(f"glue_jobs/{name}") for name in ("import_reviews.py", "balance_reviews.py",
                                                              "prepare_splits.py", "bias_report.py", "predict_table.py")]
DEFAULT_LIBRARY_KEY = "artifacts/reviewcat.zip"
STACK_FAILED = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
                "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE")


def session_of(region: str | None) -> Any:
    import boto3
    session = boto3.Session(region_name=region) if region else boto3.Session()
    if session.region_name is None:
        raise ReviewcatError("no AWS region: pass --region or set AWS_REGION")
    if session.get_credentials() is None:
        raise ReviewcatError("no AWS credentials: configure them (aws configure, AWS_PROFILE or the environment)")
    return session


def _clients(region: str | None) -> tuple[Any, Any, Any]:
    session = session_of(region)
    return session.client("cloudformation"), session.client("s3"), session.client("glue")


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    try:
        description = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            raise ReviewcatError(f"stack {stack} does not exist: run `reviewcat aws deploy` first") from None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def failure_reason(cloudformation: Any, stack: str) -> str:
    for event in cloudformation.describe_stack_events(StackName=stack)["StackEvents"]:
        if event.get("ResourceStatus", "").endswith("FAILED") and event.get("ResourceStatusReason"):
            return f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
    return "no reason given"


def parse_parameters(pairs: list[str] | None) -> dict[str, str]:
    parameters = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ReviewcatError(f"--parameter {pair!r}: write Name=value, e.g. GlueNumberOfWorkers=20")
        parameters[key] = value
    return parameters


def deploy(stack: str, region: str | None, parameters: dict[str, str], template: Path = TEMPLATE,
           workdir: Path = Path("dist")) -> dict[str, str]:
    """Create or update the stack, wait for it, upload library and job scripts; returns the outputs."""
    if not template.is_file():
        raise ReviewcatError(f"CloudFormation template {template} not found: pass --template")
    cloudformation, s3, _ = _clients(region)
    arguments = dict(StackName=stack, TemplateBody=template.read_text(),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    try:
        cloudformation.describe_stacks(StackName=stack)
        exists = True
    except cloudformation.exceptions.ClientError:
        exists = False
    try:
        if exists:
            log.info("updating stack %s", stack)
            cloudformation.update_stack(**arguments)
            cloudformation.get_waiter("stack_update_complete").wait(StackName=stack)
        else:
            log.info("creating stack %s", stack)
            cloudformation.create_stack(**arguments)
            cloudformation.get_waiter("stack_create_complete").wait(StackName=stack)
    except cloudformation.exceptions.ClientError as exc:
        if "No updates are to be performed" not in str(exc):
            raise ReviewcatError(f"stack {stack} was refused: {str(exc).splitlines()[0]}") from None
        log.info("stack %s is up to date", stack)
    except Exception as exc:  # a waiter gives up when the stack fails
        raise ReviewcatError(f"stack {stack} failed: {failure_reason(cloudformation, stack)} ({exc})") from None
    outputs = stack_outputs(cloudformation, stack)
    bucket = outputs.get("BucketName")
    if not bucket:
        raise ReviewcatError(f"stack {stack} has no BucketName output: is {template} the reviewcat template?")
    library_key = parameters.get("LibraryKey", DEFAULT_LIBRARY_KEY)
    library = build_zip(workdir / "reviewcat.zip")
    s3.upload_file(str(library), bucket, library_key)
    for script in JOB_SCRIPTS:
        s3.upload_file(str(script), bucket, f"artifacts/glue_jobs/{script.name}")
    log.info("uploaded s3://%s/%s and the job scripts to s3://%s/artifacts/glue_jobs/", bucket, library_key, bucket)
    return outputs


def follow_workflow(glue: Any, workflow: str, run_id: str, poll_seconds: float = 30.0,
                    sleep: Callable[[float], None] = time.sleep) -> dict:
    """Log the run's progress until it ends; a failed action or an error status raises."""
    shown = None
    while True:
        run = glue.get_workflow_run(Name=workflow, RunId=run_id)["Run"]
        stats, status = run.get("Statistics", {}), run["Status"]
        line = (f"workflow {workflow} run {run_id}: {status}, {stats.get('SucceededActions', 0)}/"
                f"{stats.get('TotalActions', 0)} actions done, {stats.get('RunningActions', 0)} running, "
                f"{stats.get('FailedActions', 0) + stats.get('TimeoutActions', 0)} failed")
        if line != shown:
            log.info("%s", line)
            shown = line
        if status in ("ERROR", "STOPPED") or (status == "COMPLETED" and any(stats.get(name, 0) for name in (
                "FailedActions", "TimeoutActions", "StoppedActions", "ErroredActions"))):
            try:
                failed = [failure.line() for failure in glue_runs.failures(glue, workflow, run_id)]
            except glue.exceptions.ClientError as exc:  # the run's own message is still worth its line
                log.warning("cannot read the run's failed jobs: %s", exc)
                failed = []
            reason = "; ".join(failed) or run.get("ErrorMessage") or "Glue names no failed job or crawler"
            raise ReviewcatError(f"workflow {workflow} run {run_id} ended {status} with failures: {reason}; their "
                                 f"logs: reviewcat aws logs --run-id {run_id}")
        if status == "COMPLETED":
            return run
        sleep(poll_seconds)


def run(stack: str, region: str | None, follow: bool = True, poll_seconds: float = 30.0) -> tuple[str, dict]:
    """Start the workflow (and follow it); returns the run id and the stack outputs."""
    cloudformation, _, glue = _clients(region)
    outputs = stack_outputs(cloudformation, stack)
    workflow = _workflow(cloudformation, stack)
    run_id = glue.start_workflow_run(Name=workflow)["RunId"]
    log.info("started workflow %s, run %s", workflow, run_id)
    if follow:
        follow_workflow(glue, workflow, run_id, poll_seconds)
        log.info("prepared data: %s", outputs.get("PreparedPath"))
    return run_id, outputs


def run_cost(region: str | None, workflow: str, run_id: str, prices: dict[str, float],
             tuning_job: str | None = None) -> list[str]:
    """What a workflow run cost: its Glue job runs, and the tuning job that trained on its output
    (``tuning_job``, else the newest reviewcat-* tuning job started after the run)."""
    session = session_of(region)
    glue = session.client("glue")
    run = glue.get_workflow_run(Name=workflow, RunId=run_id, IncludeGraph=True)["Run"]
    charges = costs.workflow_charges(glue, run)
    sagemaker = session.client("sagemaker")
    tuning_job = tuning_job or costs.latest_tuning_job(sagemaker, run["StartedOn"])
    if tuning_job:
        charges += costs.tuning_charges(sagemaker, tuning_job)
    trained = f" and tuning job {tuning_job}" if tuning_job else " (no tuning job after it)"
    return [f"cost of run {run['WorkflowRunId']}{trained}:", *costs.report(charges, prices)]


def status(stack: str, region: str | None, prices: dict[str, float] | None = None,
           tuning_job: str | None = None) -> list[str]:
    """Lines describing the stack, its outputs, the last workflow run and what that run cost."""
    cloudformation, _, glue = _clients(region)
    outputs = stack_outputs(cloudformation, stack)
    description = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    lines = [f"stack {stack}: {description['StackStatus']}"]
    lines += [f"  {key}: {value}" for key, value in sorted(outputs.items())]
    workflow = outputs.get("WorkflowName")
    if workflow:
        runs = glue.get_workflow_runs(Name=workflow, MaxResults=1).get("Runs", [])
        if runs:
            stats = runs[0].get("Statistics", {})
            lines.append(f"last run {runs[0]['WorkflowRunId']}: {runs[0]['Status']}, "
                         f"{stats.get('SucceededActions', 0)}/{stats.get('TotalActions', 0)} actions done")
            lines += run_cost(region, workflow, runs[0]["WorkflowRunId"], prices or costs.PRICES, tuning_job)
        else:
            lines.append(f"workflow {workflow} has not run yet: reviewcat aws run")
    return lines


def _workflow(cloudformation: Any, stack: str) -> str:
    workflow = stack_outputs(cloudformation, stack).get("WorkflowName")
    if not workflow:
        raise ReviewcatError(f"stack {stack} has no WorkflowName output: redeploy with `reviewcat aws deploy`")
    return workflow


def logs(stack: str, region: str | None, run_id: str | None = None, limit: int = 30) -> list[str]:
    """The failed jobs and crawls of a workflow run (default: the last), each with its error message,
    CloudWatch log group and stream, and the last ``limit`` lines of its logs."""
    session = session_of(region)
    glue = session.client("glue")
    workflow = _workflow(session.client("cloudformation"), stack)
    if not run_id:
        runs = glue.get_workflow_runs(Name=workflow, MaxResults=1).get("Runs", [])
        if not runs:
            raise ReviewcatError(f"workflow {workflow} has not run yet: reviewcat aws run")
        run_id = runs[0]["WorkflowRunId"]
    status = glue.get_workflow_run(Name=workflow, RunId=run_id)["Run"]["Status"]
    failed = glue_runs.failures(glue, workflow, run_id)
    if not failed:
        return [f"workflow {workflow} run {run_id}: {status}, no failed job or crawler"]
    cloudwatch = session.client("logs")
    lines = [f"workflow {workflow} run {run_id}: {status}, {len(failed)} failed"]
    for failure in failed:
        lines.append(failure.line())
        shown = glue_runs.log_lines(cloudwatch, failure, limit)
        lines += [f"  {line}" for line in shown] or ["  (no log lines found)"]
    return lines
