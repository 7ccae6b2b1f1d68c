"""``reviewcat train`` and ``evaluate``: the training side's command-line edges."""
from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.object_store import S3Files, fetch_prepared, split_uri, staged_output
from reviewcat.runtime.options import Option, positive_float, positive_int
from reviewcat.runtime.publishing import check_apart, check_finished
from reviewcat.runtime.s3a import is_s3
from reviewcat.runtime.storage import json_text
from reviewcat.schema import LABELS_FILE, REPORT_FILE, SEARCH_FILE
from reviewcat.train.data import Prepared, beside_json, open_prepared, parse_json, read_labeled
from reviewcat.train import evaluate as evaluation
from reviewcat.train.early_stopping import applied, stop_early
from reviewcat.train.local_search import run_search
from reviewcat.train.model_card import write_model_card
from reviewcat.train.model_file import describe
from reviewcat.train.quantize import quantize as quantized_model
from reviewcat.train import sagemaker_backend as sm
from reviewcat.train.sagemaker_backend import ROLE_ENV, AwsTarget, choose_backend
from reviewcat.train.space import LOSSES, DataStats, EarlyStopping, build_space, load_space_file

log = logging.getLogger(__name__)

# Without --max-jobs or --time-budget the local search stops after this many seconds even when its
# 10 full-training equivalents would take longer (fastText's autotune defaults to 300 s too): on
# small and mid-sized data it ends well before, on millions of lines it keeps a run interactive.
DEFAULT_TIME_BUDGET = 300.0
# Bytes per token of a prepared line, measured on docstrings (7.3) and generated reviews (5.7): the
# token count of a split that is only on S3, without downloading it.
BYTES_PER_TOKEN = 6

SEARCH_OPTIONS = [
    Option("max-jobs", "training budget: trainings (SageMaker) or full-training equivalents (local); "
           "default 10", positive_int),
    Option("time-budget", "local search: seconds the search may take; it plans as many trials as fit and "
           f"stops at the budget (default: {DEFAULT_TIME_BUDGET:g} s unless --max-jobs is given)", positive_float),
    Option("max-parallel", "trials running at once (default: 2, or the --search-config's)", positive_int),
    Option("range", "tune a hyperparameter over min:max[:log], e.g. learning_rate=0.01:0.08 (repeatable; "
           "default: ranges derived from the training data)", repeat=True),
    Option("static", "fix a hyperparameter, e.g. min_count=2 (repeatable; default: the search's own)", repeat=True),
    Option("search-config", "JSON or YAML file with ranges, static, max_jobs, max_parallel"),
    Option("early-stopping", "stop training when validation accuracy has not improved for --patience epochs after "
           "--min-epochs (SageMaker: BlazingText's own; local: the best configuration trained again for fewer "
           "epochs, see the docs)", switch=True),
    Option("patience", "--early-stopping: epochs without improvement before it stops (default "
           f"{EarlyStopping.patience})", positive_int),
    Option("min-epochs", f"--early-stopping: epochs trained before it may stop (default {EarlyStopping.min_epochs})",
           positive_int),
]

TRAIN = [
    Option("data", "the --output-path of `reviewcat prepare` (an s3:// prefix for SageMaker is used as is)",
           required=True),
    Option("output-path", "folder (local, or s3:// with the local backend) for the model, trials, metrics and "
           "report", default="model"),
    Option("backend", "auto: SageMaker when credentials, region, role and --s3-output are set, else local",
           default="auto", choices=("auto", "local", "sagemaker")),
    Option("strategy", "local search: successive halving or plain random", default="halving",
           choices=("halving", "random")),
    Option("no-refine", "local search: end without the refine rung (the best configuration again at a lower "
           "learning rate for more epochs)", switch=True),
    Option("quantize", "local search: also write model.ftz, the chosen model quantized (a few MB), kept when it "
           "loses at most 0.005 validation accuracy", switch=True),
    Option("loss", "local search: fastText's loss: softmax, ova (one-vs-all: every label scored on its own, for "
           "texts with several labels) or hs (hierarchical softmax, for thousands of labels); BlazingText trains "
           "softmax", default="softmax", choices=LOSSES),
    Option("threads", "local search: threads of each training; above 1 it is faster but the same seed no longer "
           "gives the same model", positive_int, 1),
    Option("seed", "random seed of the search", int, 42),
    Option("overwrite", "replace --output-path if it exists", switch=True),
    Option("role", f"SageMaker execution role ARN (default ${ROLE_ENV})"),
    Option("region", "AWS region (default: the AWS configuration's)"),
    Option("s3-output", "s3:// prefix for uploaded splits, tuning output and models"),
    Option("instance-type", "training instance (CPU trains best below 2 GB of data)", default="ml.c5.4xlarge"),
    Option("job-name", "tuning job name (default reviewcat-<UTC time>)"),
    Option("wait", "SageMaker: follow the tuning job, then evaluate the best model", switch=True),
    Option("attach", "SageMaker: instead of starting a tuning job, pick up this one (started without --wait, or "
           "from another machine): wait while it runs, then fetch and evaluate its best model as --wait does"),
    Option("deploy", "SageMaker: create an endpoint from the best training job (needs --wait or --attach)",
           switch=True),
    Option("endpoint-name", "name of the endpoint --deploy creates (default: the tuning job's)"),
    Option("register", "then register the model as a new version of this SageMaker model package group, pending "
           "approval, its metrics uploaded under --s3-output (as `reviewcat register` does)"),
] + SEARCH_OPTIONS

EVALUATE = [
    Option("model", "model.bin or a BlazingText model.tar.gz", required=True),
    Option("data", "the --output-path of `reviewcat prepare` (its test split is scored)", required=True),
    Option("output-path", "folder for metrics.json, confusion_matrix.png/.csv and report.md", default="evaluation"),
    Option("top-k", "the top-k accuracy counts the true category among the model's k best guesses", positive_int,
           evaluation.TOP_K, short="-k"),
    Option("overwrite", "replace --output-path if it exists", switch=True),
]

def train(*, data: str, output_path: str = "model", backend: str = "auto", strategy: str = "halving",
          no_refine: bool = False, quantize: bool = False, seed: int = 42, max_jobs: int | None = None,
          time_budget: float | None = None,
          max_parallel: int | None = None, range: Sequence[str] | None = None, static: Sequence[str] | None = None,
          search_config: str | None = None, role: str | None = None, region: str | None = None,
          s3_output: str | None = None, instance_type: str = "ml.c5.4xlarge", job_name: str | None = None,
          wait: bool = False, attach: str | None = None, deploy: bool = False, endpoint_name: str | None = None,
          register: str | None = None, loss: str = "softmax", threads: int = 1, early_stopping: bool = False,
          patience: int | None = None, min_epochs: int | None = None, overwrite: bool = False) -> Path | str:
    """Searches hyperparameters on the chosen backend (local fastText, or SageMaker BlazingText tuning),
    keeps the best model, evaluates it on the test split and writes the report into ``output_path``,
    which it returns. ``data`` is ``prepare``'s output; the keywords are ``reviewcat train``'s flags."""
    if not data:
        raise ReviewcatError("--data is required: the --output-path of `reviewcat prepare`")
    data = str(data)
    if register:
        from reviewcat.train.registry import check_request
        check_request(register, s3_output)
    if register and is_s3(output_path):
        raise ReviewcatError("--register reads the model folder it registers: give a local --output-path")
    if deploy and not (wait or attach):
        raise ReviewcatError("--deploy needs --wait (or --attach): the endpoint is made from the finished tuning "
                             "job's best model")
    stopping = early_stopping_of(early_stopping, patience, min_epochs)
    if attach:
        given = [flag for flag, value in (("--job-name", job_name), ("--max-jobs", max_jobs), ("--range", range),
                                          ("--static", static), ("--search-config", search_config),
                                          ("--time-budget", time_budget), ("--max-parallel", max_parallel),
                                          ("--quantize", quantize), ("--loss", loss != "softmax"),
                                          ("--threads", threads != 1), ("--early-stopping", early_stopping))
                 if value]
        if given or backend == "local":
            raise ReviewcatError(f"--attach picks up a SageMaker tuning job as it was started: leave out "
                                 f"{', '.join(given) or '--backend local'}")
        return _registered(_attach(attach, data, output_path, region, overwrite, deploy, endpoint_name), register,
                           s3_output, region)
    target = AwsTarget.detect(region, role, s3_output)
    chosen, reason = choose_backend(backend, target)
    if quantize and chosen == "sagemaker":
        raise ReviewcatError("--quantize is for the local search: BlazingText trains and serves its own model.tar.gz")
    if chosen == "sagemaker" and loss != "softmax":
        raise ReviewcatError(f"--loss {loss} is for the local search: BlazingText's supervised mode trains softmax "
                             "only (use --backend local)")
    if chosen == "sagemaker" and threads != 1:
        raise ReviewcatError("--threads is for the local search: BlazingText uses every core of its instance")
    if register and chosen == "sagemaker" and not wait:
        raise ReviewcatError("--register needs --wait (or --attach later): a tuning job's model is known once it ends")
    if chosen == "sagemaker" and target.output:  # the tuning job writes its models there
        check_apart(target.output, {"--data": data}, "--s3-output")
    log.info("backend: %s (%s)", chosen, reason)
    output = _final(output_path)
    if chosen == "sagemaker" and time_budget:
        raise ReviewcatError("--time-budget is for the local search: SageMaker's budget is --max-jobs")
    with staged_output(str(output), overwrite, {"--data": data, "--s3-output": s3_output}) as staging, \
            tempfile.TemporaryDirectory(prefix="reviewcat-data-") as scratch:
        if is_s3(data) and chosen == "local":  # fastText reads local files
            prepared = replace(open_prepared(str(fetch_prepared(data, Path(scratch)))), source=data)
        elif is_s3(data):  # SageMaker reads the channels where they are
            check_finished(S3Files(), data.rstrip("/"))
            prepared = None
        else:
            prepared = open_prepared(data)
        stats = _data_stats(data, prepared, target)
        space = build_space(search_config, range or (), static or (), max_jobs, max_parallel, stats, loss, stopping)
        if space.derived_from:
            log.info("search space from the data: %s", space.derived_from["reason"])
        jobs_given = bool(max_jobs or (search_config and load_space_file(search_config).get("max_jobs")))
        budget = time_budget or (None if jobs_given else DEFAULT_TIME_BUDGET)
        if chosen == "local" and ((prepared.manifest or {}).get("label") or {}).get("several") and loss == "softmax":
            log.warning("the training lines carry several labels: --loss ova learns each on its own (softmax "
                        "learns one of a line's labels at random per pass)")
        if chosen == "local":
            result = run_search(prepared, space, staging, seed, strategy, budget,
                                budget_caps_jobs=jobs_given or not time_budget, refine=not no_refine,
                                threads=threads)
            if stopping:
                stopped = stop_early(result, prepared, space, stopping, seed, threads)
                search = parse_json((staging / SEARCH_FILE).read_text(), staging / SEARCH_FILE)
                (staging / SEARCH_FILE).write_text(json_text(applied(search, stopped)))
            if quantize:
                _record(staging, "quantized", quantized_model(result.model_path, prepared, staging))
            _evaluate_into(staging, result.model_path, prepared, output)
        else:
            _train_on_sagemaker(data, prepared, space, target, staging, job_name=job_name,
                                instance_type=instance_type, wait=wait, deploy=deploy,
                                endpoint_name=endpoint_name, output_path=output_path)
    log.info("results in %s", output)
    return _registered(output, register, s3_output, region)


def early_stopping_of(on: bool, patience: int | None, min_epochs: int | None) -> EarlyStopping | None:
    """``--early-stopping`` with its settings (BlazingText's defaults for those not given)."""
    if not on:
        given = [flag for flag, value in (("--patience", patience), ("--min-epochs", min_epochs)) if value]
        if given:
            raise ReviewcatError(f"{' and '.join(given)} go with --early-stopping: add it, or leave them out")
        return None
    return EarlyStopping(patience or EarlyStopping.patience, min_epochs or EarlyStopping.min_epochs)


def _registered(output: Path | str, group: str | None, s3_output: str | None, region: str | None) -> Path | str:
    """``--register``: the published model folder registered in ``group``."""
    if group:
        from reviewcat.train.registry import register
        register(model_dir=str(output), group=group, s3_output=s3_output, region=region)
    return output


def _final(path: str) -> Path | str:
    """An output path as it is recorded: a local one resolved, an ``s3://`` one as given."""
    return path.rstrip("/") if is_s3(path) else Path(path).resolve()


def _data_stats(data: str, prepared: Prepared | None, target: AwsTarget) -> DataStats:
    """Lines, tokens and labels of the training split: counted locally, or from the manifest on S3."""
    if prepared is not None:
        return read_labeled(prepared.file("train"), keep_text=False).stats()
    import boto3
    s3 = boto3.client("s3", region_name=target.region)
    bucket, key = split_uri(data)
    try:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/manifest.json")["Body"].read())
        size = s3.head_object(Bucket=bucket, Key=f"{key}/train/train.txt")["ContentLength"]
    except Exception as exc:
        raise ReviewcatError(f"cannot read {data}/manifest.json and train/train.txt: "
                             f"{str(exc).splitlines()[0]}") from None
    train = manifest["files"]["train"]
    return DataStats(lines=train["rows"], tokens=size // BYTES_PER_TOKEN, labels=len(train["labels"]))


def _record(folder: Path, key: str, value: object) -> None:
    """One more entry in the staged ``search.json``."""
    search = parse_json((folder / SEARCH_FILE).read_text(), folder / SEARCH_FILE)
    (folder / SEARCH_FILE).write_text(json_text({**search, key: value}))


def _evaluate_into(folder: Path, model: Path, prepared: Prepared, output: Path | str) -> None:
    """The trained model in the staging ``folder`` evaluated, recorded where it will be (in ``output``),
    and described in its model card."""
    search = parse_json((folder / SEARCH_FILE).read_text(), folder / SEARCH_FILE)
    metrics = evaluation.write_evaluation(str(model), prepared, folder, prepared.categories, search,
                                          f"{output}/{model.name}")
    write_model_card(folder, model.name, metrics, prepared.categories, prepared.manifest, search)


def _train_on_sagemaker(data: str, prepared: Prepared | None, space, target: AwsTarget, staging: Path, *,
                        job_name: str | None, instance_type: str, wait: bool, deploy: bool,
                        endpoint_name: str | None, output_path: str) -> None:
    import boto3
    s3 = boto3.client("s3", region_name=target.region)
    job = job_name or sm.tuning_job_name()
    if deploy:  # before hours of tuning, not after them
        sm.check_endpoint_free(boto3.client("sagemaker", region_name=target.region), endpoint_name or job,
                               "--endpoint-name")
    channels = sm.stage_channels(data, target.output, s3)
    sm.start_tuning(space, target, channels, instance_type, job)
    search = {"backend": "sagemaker", "tuning_job": job, "region": target.region, "channels": channels,
              "instance_type": instance_type, "space": space.to_dict()}
    (staging / SEARCH_FILE).write_text(json_text(search))
    if not wait:
        log.info("tuning job %s started; follow it in the SageMaker console, or pick it up with "
                 "`reviewcat train --attach %s --data %s --output-path ...`", job, job, data)
        return
    _finish_tuning(search, space.fixed(), data, prepared, staging, deploy=deploy, endpoint_name=endpoint_name,
                   output_path=output_path)


def _attach(job: str, data: str, output_path: str, region: str | None, overwrite: bool, deploy: bool,
            endpoint_name: str | None) -> Path | str:
    """``--attach``: an existing tuning job followed to its end, its best model fetched and evaluated."""
    import boto3
    session = boto3.Session(region_name=region) if region else boto3.Session()
    if session.region_name is None or session.get_credentials() is None:
        raise ReviewcatError("--attach needs AWS credentials and a region (--region or AWS_REGION)")
    client = session.client("sagemaker")
    tuning = sm.existing(lambda: client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job))
    if tuning is None:
        raise ReviewcatError(f"tuning job {job} does not exist in {session.region_name}: check the name and --region")
    if deploy:
        sm.check_endpoint_free(client, endpoint_name or job, "--endpoint-name")
    definition = tuning.get("TrainingJobDefinition", {})
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in definition.get("InputDataConfig", [])}
    _check_same_data(job, data, channels.get("train", ""))
    # What the search fixed, as --wait records it: without BlazingText's mode and the SDK's own (_...).
    static = {k: v for k, v in definition.get("StaticHyperParameters", {}).items()
              if not k.startswith("_") and k != "mode"}
    search = {"backend": "sagemaker", "tuning_job": job, "region": session.region_name, "channels": channels,
              "instance_type": definition.get("ResourceConfig", {}).get("InstanceType"), "attached": True,
              "static": static}
    output = _final(output_path)
    with staged_output(str(output), overwrite, {"--data": data}) as staging:
        if is_s3(data):  # its test split is fetched when needed, from a finished prepare only
            check_finished(S3Files(), data.rstrip("/"))
        prepared = None if is_s3(data) else open_prepared(data)
        _finish_tuning(search, static, data, prepared, staging, deploy=deploy, endpoint_name=endpoint_name,
                       output_path=output_path, session=session)
    log.info("results in %s", output)
    return output


def _check_same_data(job: str, data: str, trained_on: str) -> None:
    """The test split scored must be the one beside the training split the tuning job read: an
    ``s3://`` prepare output is read where it is, a local one was uploaded under its folder's name."""
    if is_s3(data):
        if trained_on.rstrip("/") != f"{data.rstrip('/')}/train":
            raise ReviewcatError(f"tuning job {job} trained on {trained_on}, not on {data}: give the --data it "
                                 "was started with")
    elif not trained_on.rstrip("/").endswith(f"/{Path(data).name}/train"):
        log.warning("tuning job %s trained on %s; the test split scored is that of %s: make sure it is the same "
                    "prepare output", job, trained_on, data)


def _finish_tuning(search: dict, fixed: dict, data: str, prepared: Prepared | None, staging: Path, *,
                   deploy: bool, endpoint_name: str | None, output_path: str, session=None) -> None:
    """A tuning job followed to its end; its best model fetched, evaluated and (``deploy``) served."""
    import boto3
    session = session or boto3.Session(region_name=search["region"])
    s3, client = session.client("s3"), session.client("sagemaker")
    job = search["tuning_job"]
    best = sm.best_job(client, sm.follow(client, job))
    log.info("best training job %s: %s %s with %s", best["name"], best["objective"].get("MetricName"),
             best["objective"].get("Value"), best["hyperparameters"])
    search["best"] = {"name": best["name"], "accuracy": best["objective"].get("Value"),
                      "hyperparameters": {**fixed, **best["hyperparameters"]}, "model_data": best["model_data"]}
    (staging / SEARCH_FILE).write_text(json_text(search))
    model = sm.download(s3, best["model_data"], staging / "model.tar.gz")
    search["model_file"] = {"name": model.name, **describe(str(model))}
    (staging / SEARCH_FILE).write_text(json_text(search))
    if prepared is None:  # an s3:// prepare output: fetch what evaluation and the drift reference read
        local = staging / "data"
        for split in ("validation", "test"):
            (local / split).mkdir(parents=True)
            sm.download(s3, f"{data.rstrip('/')}/{split}/{split}.txt", local / split / f"{split}.txt")
        sm.download(s3, f"{data.rstrip('/')}/manifest.json", local / "manifest.json")
        prepared = Prepared(local, json.loads((local / "manifest.json").read_text()), source=data)
    (staging / LABELS_FILE).write_text(json_text(prepared.categories))
    _evaluate_into(staging, model, prepared, _final(output_path))
    if deploy:
        endpoint = sm.deploy(client, best, endpoint_name or job)
        search["endpoint"] = endpoint
        (staging / SEARCH_FILE).write_text(json_text(search))
        log.info("endpoint %s is in service: reviewcat predict --endpoint %s \"some review\"", endpoint, endpoint)


def evaluate(*, model: str, data: str, output_path: str = "evaluation", top_k: int = evaluation.TOP_K,
             overwrite: bool = False) -> str:
    """Scores ``model`` (a ``model.bin`` or BlazingText ``model.tar.gz``) on the test split of ``data``
    (``prepare``'s output) and writes the metrics, the confusion matrix and the report into
    ``output_path``; returns the report's path. The keywords are ``reviewcat evaluate``'s flags."""
    if not model or not data:
        raise ReviewcatError("evaluate needs --model and --data")
    output = _final(output_path)
    with tempfile.TemporaryDirectory(prefix="reviewcat-data-") as scratch:
        with staged_output(str(output), overwrite, {"--model": model, "--data": data}) as staging:
            prepared = replace(open_prepared(str(fetch_prepared(data, Path(scratch)))), source=data) \
                if is_s3(data) else open_prepared(data)
            categories = prepared.categories or (beside_json(model, LABELS_FILE) or {})
            search = beside_json(model, SEARCH_FILE)
            evaluation.write_evaluation(model, prepared, staging, categories, search, k=top_k)
    return f"{output}/{REPORT_FILE}"
