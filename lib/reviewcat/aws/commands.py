"""The subcommands of ``reviewcat aws`` and ``reviewcat endpoint``: each one's flags, and what it runs.

Each subcommand declares only its own flags, so ``reviewcat aws deploy --help`` lists what deploy
takes; the bodies parse nothing and hand the values to ``deploy``, ``teardown`` and ``endpoints``.
"""
from __future__ import annotations

from argparse import Namespace
from dataclasses import replace
from pathlib import Path

from reviewcat.aws import costs
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import Command, Option, positive_int
from reviewcat.train.commands import SEARCH_OPTIONS, TRAIN, early_stopping_of, train
from reviewcat.train.sagemaker_backend import ENDPOINT_INSTANCE


STACK = [Option("stack", "CloudFormation stack name", default="reviewcat"),
         Option("region", "AWS region (default: the AWS configuration's)")]
PRICE = Option("price", "a price in USD per hour, name=value: glue-dpu-hour or a SageMaker instance type "
               "(default: us-east-1 on-demand list prices; repeatable)", repeat=True)
# `aws run --train` tunes on SageMaker: training's flags that mean something there, passed through.
_TUNING = [replace(o, help=f"--train: {o.help}") for o in SEARCH_OPTIONS if o.name != "time-budget"] + \
    [replace(o, help=f"--train: {o.help}") for o in TRAIN if o.name in ("instance-type", "job-name")]


def _deploy(args: Namespace) -> None:
    from reviewcat.aws import deploy as aws
    template = Path(args.template) if args.template else aws.TEMPLATE
    parameters = aws.parse_parameters(args.parameter)
    if args.glue_version:
        parameters["GlueVersion"] = args.glue_version
    outputs = aws.deploy(args.stack, args.region, parameters, template)
    print("\n".join(f"{key}: {value}" for key, value in sorted(outputs.items())))


def _run(args: Namespace) -> None:
    from reviewcat.aws import deploy as aws
    from reviewcat.train.sagemaker_backend import tuning_job_name
    prices = costs.parse_prices(args.price)
    tuning = {o.dest: getattr(args, o.dest) for o in _TUNING}
    given = [f"--{o.name}" for o in _TUNING if tuning[o.dest] not in (None, False if o.switch else o.default)]
    if given and not args.train:
        raise ReviewcatError(f"{', '.join(given)} go with --train: add it, or leave them out")
    if args.train and args.no_follow:
        raise ReviewcatError("--train needs the workflow to finish: drop --no-follow")
    job = tuning.pop("job_name") or tuning_job_name()
    if args.train:
        _check_training(args, tuning, job)
    run_id, outputs = aws.run(args.stack, args.region, follow=not args.no_follow, poll_seconds=args.poll_seconds)
    prepared = outputs.get("PreparedPath")
    if not args.train:
        print(f"workflow run {run_id}; train with:\n  reviewcat train --backend sagemaker --data {prepared} "
              f"--s3-output {outputs.get('TrainingOutputPath')} --role {outputs.get('SageMakerRoleArn')} --wait")
        if not args.no_follow:
            print("\n".join(aws.run_cost(args.region, outputs["WorkflowName"], run_id, prices)))
        return
    train(data=prepared, backend="sagemaker", role=outputs.get("SageMakerRoleArn"), region=args.region,
          s3_output=outputs.get("TrainingOutputPath"), wait=True, output_path=args.output_path, job_name=job,
          overwrite=args.overwrite, **{k: v for k, v in tuning.items() if v is not None})
    print("\n".join(aws.run_cost(args.region, outputs["WorkflowName"], run_id, prices, job)))


def _check_training(args: Namespace, tuning: dict, job: str) -> None:
    """What would stop ``--train`` after the workflow, refused before it runs (and is paid for)."""
    from reviewcat.aws import deploy as aws
    from reviewcat.train import sagemaker_backend as sm
    from reviewcat.train.space import build_space
    if Path(args.output_path).exists() and not args.overwrite:
        raise ReviewcatError(f"{args.output_path} already exists: choose another --output-path or pass --overwrite")
    # A bad range, value, file or early stopping setting is its one line now (--min-epochs is checked
    # against the epochs the user gave; the derived ones come from the data the workflow makes).
    stopping = early_stopping_of(tuning["early_stopping"], tuning["patience"], tuning["min_epochs"])
    epochs_given = any(text.startswith("epochs=") for text in [*(tuning["range"] or ()), *(tuning["static"] or ())])
    build_space(tuning["search_config"], tuning["range"] or (), tuning["static"] or (), tuning["max_jobs"],
                tuning["max_parallel"], early_stopping=stopping if epochs_given else None)
    client = aws.session_of(args.region).client("sagemaker")
    if sm.existing(lambda: client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job)):
        raise ReviewcatError(f"tuning job {job} already exists: choose another --job-name")


def _status(args: Namespace) -> None:
    from reviewcat.aws import deploy as aws
    print("\n".join(aws.status(args.stack, args.region, costs.parse_prices(args.price), args.tuning_job)))


def _logs(args: Namespace) -> None:
    from reviewcat.aws import deploy as aws
    print("\n".join(aws.logs(args.stack, args.region, args.run_id, args.lines)))


def _destroy(args: Namespace) -> None:
    from reviewcat.aws import deploy as aws, endpoints, teardown
    from botocore.exceptions import ClientError
    session = aws.session_of(args.region)
    print("\n".join(teardown.destroy(session, args.stack, args.yes, aws.failure_reason)))
    try:  # what is left that bills: a Glue-only user may not list endpoints, which is said, not fatal
        serving = [line for line in endpoints.listing(session.client("sagemaker")) if line != endpoints.NONE]
    except ClientError as exc:
        print(f"could not list the region's endpoints ({exc.response.get('Error', {}).get('Code')}): "
              "`reviewcat endpoint list` shows them")
        return
    if serving:
        print("endpoints in the region, not part of the stack (one in service bills by the hour; `reviewcat "
              "endpoint delete --name NAME` removes it):\n" + "\n".join(f"  {line}" for line in serving))


AWS: dict[str, Command] = {
    "deploy": Command("create or update the CloudFormation stack, then upload the library and job scripts", STACK + [
        Option("template", "the CloudFormation template (default: infra/reviewcat.yaml of this checkout, or the "
               "copy an installed wheel carries)"),
        Option("parameter", "a stack parameter, Name=value (repeatable; default: the template's)", repeat=True),
        Option("glue-version", "the jobs' Glue runtime, 5.0 (Spark 3.5) or 6.0 (Spark 4.1) (default: the "
               "template's, 5.0)", choices=("5.0", "6.0")),
    ], _deploy),
    "run": Command("start the Glue workflow (import is yours; crawl, balance, crawl, prepare), follow it, and "
                   "optionally tune BlazingText on its output", STACK + [
        Option("no-follow", "return once the workflow has started", switch=True),
        Option("poll-seconds", "seconds between progress checks", positive_int, 30),
        Option("train", "then tune BlazingText on SageMaker with the prepared data, evaluate and fetch the best "
               "model", switch=True),
        Option("output-path", "--train: local folder for the model, metrics and report", default="model"),
        Option("overwrite", "--train: replace --output-path if it exists", switch=True),
        PRICE,
    ] + _TUNING, _run),
    "status": Command("the stack, its outputs, the last workflow run and what it cost", STACK + [
        PRICE,
        Option("tuning-job", "the tuning job to price with the last workflow run (default: the newest reviewcat-* "
               "tuning job started after it)"),
    ], _status),
    "logs": Command("what the failed jobs and crawlers of a workflow run said: error, CloudWatch log group and "
                    "stream, last log lines", STACK + [
        Option("run-id", "the workflow run (default: the last)"),
        Option("lines", "log lines to show per failed job", positive_int, 30),
    ], _logs),
    "destroy": Command("delete the stack and everything in the buckets it made (asks for --yes)", STACK + [
        Option("yes", "confirm: the buckets' data is deleted for good", switch=True),
    ], _destroy),
}


def _endpoint_client(region: str | None):
    from reviewcat.aws import deploy as aws
    return aws.session_of(region).client("sagemaker")


def _endpoint_deploy(args: Namespace) -> None:
    from reviewcat.aws import endpoints
    name = endpoints.deploy(_endpoint_client(args.region), args.name, args.tuning_job, args.training_job,
                            args.instance_type)
    print(f"endpoint {name} is in service; it bills by the hour until `reviewcat endpoint delete --name {name}`\n"
          f"  reviewcat predict --endpoint {name} \"some review\"")


def _endpoint_delete(args: Namespace) -> None:
    from reviewcat.aws import endpoints
    print("\n".join(endpoints.delete(_endpoint_client(args.region), args.name)))


def _endpoint_list(args: Namespace) -> None:
    from reviewcat.aws import endpoints
    print("\n".join(endpoints.listing(_endpoint_client(args.region), costs.parse_prices(args.price))))


REGION = STACK[1]
ENDPOINT: dict[str, Command] = {
    "deploy": Command("serve the best model of a tuning job (or a training job's model) on a real-time endpoint", [
        Option("tuning-job", "the tuning job whose best model to serve"),
        Option("training-job", "instead of --tuning-job: the training job whose model to serve"),
        Option("name", "the endpoint's name (default: the job's)"),
        Option("instance-type", "the endpoint's instance type", default=ENDPOINT_INSTANCE),
        REGION,
    ], _endpoint_deploy),
    "delete": Command("delete an endpoint, with the configuration and model `endpoint deploy` made for it", [
        Option("name", "the endpoint to delete", required=True), REGION,
    ], _endpoint_delete),
    "list": Command("the region's endpoints: status, instances, price per hour", [REGION, PRICE], _endpoint_list),
}
