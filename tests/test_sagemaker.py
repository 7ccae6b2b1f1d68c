"""The SageMaker backend against a local moto server: real boto3 and SDK HTTP on 127.0.0.1."""
import json
import logging
import tarfile
import urllib.request
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.scoring.predict import predict
from reviewcat.train import sagemaker_backend as sm
from reviewcat.train.commands import train
from reviewcat.train.data import read_labeled
from reviewcat.train.space import EarlyStopping, build_space

from conftest import BLAZINGTEXT, BUCKET, REGION, ROLE


def test_tuning_request_is_exactly_the_search_space(aws_env):
    space = build_space(static=["min_count=2"], max_jobs=12, max_parallel=3)
    target = sm.AwsTarget(REGION, ROLE, f"s3://{BUCKET}/run1", True)
    captured = []
    session = boto3.Session(region_name=REGION)
    session.events.register("provide-client-params.sagemaker.CreateHyperParameterTuningJob",
                            lambda params, **_: captured.append(params))
    channels = {s: f"s3://{BUCKET}/data/{s}/" for s in ("train", "validation", "test")}
    sm.start_tuning(space, target, channels, "ml.c5.4xlarge", "rc-request-1", boto_session=session)
    request = captured[0]
    assert request["HyperParameterTuningJobName"] == "rc-request-1"
    config = request["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:accuracy"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 12, "MaxParallelTrainingJobs": 3}
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.08", "ScalingType": "Linear"}]
    assert sorted(config["ParameterRanges"]["IntegerParameterRanges"], key=lambda r: r["Name"]) == [
        {"Name": "epochs", "MinValue": "5", "MaxValue": "15", "ScalingType": "Linear"},
        {"Name": "vector_dim", "MinValue": "100", "MaxValue": "200", "ScalingType": "Linear"},
        {"Name": "word_ngrams", "MinValue": "1", "MaxValue": "3", "ScalingType": "Linear"}]
    definition = request["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"] == {"TrainingImage": BLAZINGTEXT, "TrainingInputMode": "File"}
    assert definition["StaticHyperParameters"] == {"mode": "supervised", "min_count": "2", "buckets": "2000000"}
    assert definition["RoleArn"] == ROLE
    assert definition["ResourceConfig"] == {"InstanceType": "ml.c5.4xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert definition["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/run1/tuning"
    assert definition["InputDataConfig"] == [
        {"ChannelName": name, "ContentType": "text/plain", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/{name}/", "S3DataDistributionType": "FullyReplicated"}}}
        for name in ("train", "validation")]


def _sent_ranges(config: dict) -> dict:
    ranges = config["ParameterRanges"]
    return {r["Name"]: (float(r["MinValue"]), float(r["MaxValue"]), r["ScalingType"])
            for kind in ("ContinuousParameterRanges", "IntegerParameterRanges") for r in ranges.get(kind, [])}


def _expected_ranges(space) -> dict:
    return {n: (float(r.low), float(r.high), "Logarithmic" if r.log else "Linear")
            for n, r in space.ranges.items() if n != "subwords"}


def test_the_tuner_gets_the_space_derived_from_the_data(aws_env, prepared_dir):
    """Small data: large learning rates and many epochs, on a log scale, and no local-only subwords."""
    stats = read_labeled(Path(prepared_dir) / "train" / "train.txt", keep_text=False).stats()
    # As if the lines were short (10 tokens), so the derived space has the local-only subwords too.
    space = build_space(stats=replace(stats, tokens=stats.lines * 10))
    assert "subwords" in space.ranges and space.ranges["learning_rate"].high > 1
    captured = []
    session = boto3.Session(region_name=REGION)
    session.events.register("provide-client-params.sagemaker.CreateHyperParameterTuningJob",
                            lambda params, **_: captured.append(params))
    channels = {s: f"s3://{BUCKET}/data/{s}/" for s in ("train", "validation", "test")}
    sm.start_tuning(space, sm.AwsTarget(REGION, ROLE, f"s3://{BUCKET}/run4", True), channels, "ml.c5.4xlarge",
                    "rc-derived-1", boto_session=session)
    config = captured[0]["HyperParameterTuningJobConfig"]
    assert _sent_ranges(config) == _expected_ranges(space)
    assert _sent_ranges(config)["learning_rate"][2] == _sent_ranges(config)["epochs"][2] == "Logarithmic"
    static = captured[0]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"mode": "supervised", "min_count": "1", "buckets": "100000"}


def test_train_on_sagemaker_end_to_end(aws_env, best_job, prepared_dir, trained, tmp_path, caplog):
    """Upload, tune, follow, fetch the best model, evaluate it and deploy an endpoint."""
    client = boto3.client("sagemaker", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    out = tmp_path / "sm-model"
    with caplog.at_level(logging.INFO):
        train(data=prepared_dir, output_path=str(out), backend="auto", role=ROLE, region=REGION,
              s3_output=f"s3://{BUCKET}/run2", wait=True, deploy=True, job_name="rc-e2e-1",
              endpoint_name="reviewcat-test", register="rc-e2e-group")
    assert "backend: sagemaker (AWS credentials, region us-east-1, role and s3://reviewcat-test/run2 are set)" \
        in caplog.text
    assert "tuning job rc-e2e-1: Completed" in caplog.text
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="run2/data/")["Contents"]}
    assert keys == {f"run2/data/prepared/{s}/{s}.txt" for s in ("train", "validation", "test")} | \
        {"run2/data/prepared/manifest.json"}
    job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="rc-e2e-1")
    assert [c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["TrainingJobDefinition"]["InputDataConfig"]] == \
        [f"s3://{BUCKET}/run2/data/prepared/train/", f"s3://{BUCKET}/run2/data/prepared/validation/"]
    search = json.loads((out / "search.json").read_text())
    assert search["best"]["name"] == "FakeTrainingJobName" and search["endpoint"] == "reviewcat-test"
    # The local search would search the same ranges: derived from the same training split.
    stats = read_labeled(Path(prepared_dir) / "train" / "train.txt", keep_text=False).stats()
    assert _sent_ranges(job["HyperParameterTuningJobConfig"]) == _expected_ranges(build_space(stats=stats))
    assert search["space"]["derived_from"]["lines"] == stats.lines
    metrics = json.loads((out / "metrics.json").read_text())
    local = json.loads((trained / "metrics.json").read_text())
    assert metrics["accuracy"] == local["accuracy"]  # the downloaded model.tar.gz is the one we uploaded
    assert (out / "report.md").read_text().count("backend: sagemaker") == 1
    assert client.describe_endpoint(EndpointName="reviewcat-test")["EndpointStatus"] == "InService"
    assert client.describe_model(ModelName="reviewcat-test")["PrimaryContainer"]["ModelDataUrl"] == \
        f"s3://{BUCKET}/best/FakeTrainingJobName/output/model.tar.gz"
    # Registered with the tuning job's own artifact, not a copy; and described in its model card.
    package = client.list_model_packages(ModelPackageGroupName="rc-e2e-group")["ModelPackageSummaryList"][0]
    container = client.describe_model_package(ModelPackageName=package["ModelPackageArn"])[
        "InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == f"s3://{BUCKET}/best/FakeTrainingJobName/output/model.tar.gz"
    card = (out / "model_card.md").read_text()
    assert "## Intended use and limits" in card and "tuning job rc-e2e-1" in card


def test_auto_falls_back_to_local_and_explicit_sagemaker_names_what_is_missing(aws_env, monkeypatch):
    monkeypatch.delenv(sm.ROLE_ENV, raising=False)
    target = sm.AwsTarget.detect(None, None, f"s3://{BUCKET}/x")
    assert sm.choose_backend("auto", target) == ("local", "SageMaker needs a role (--role or REVIEWCAT_SAGEMAKER_ROLE)")
    with pytest.raises(ReviewcatError, match="--backend sagemaker needs a role .--role or REVIEWCAT_SAGEMAKER_ROLE"):
        sm.choose_backend("sagemaker", target)
    monkeypatch.setenv(sm.ROLE_ENV, ROLE)
    assert sm.choose_backend("auto", sm.AwsTarget.detect(None, None, f"s3://{BUCKET}/x"))[0] == "sagemaker"
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    no_credentials = sm.AwsTarget.detect(None, None, None)
    with pytest.raises(ReviewcatError, match="needs AWS credentials, an S3 prefix .--s3-output."):
        sm.choose_backend("sagemaker", no_credentials)


def test_deploy_needs_wait(prepared_dir, tmp_path):
    with pytest.raises(ReviewcatError, match="--deploy needs --wait"):
        train(data=prepared_dir, output_path=str(tmp_path / "m"), deploy=True)


@pytest.mark.parametrize("flags, message", [
    (dict(time_budget=60), "--time-budget is for the local search: SageMaker's budget is --max-jobs"),
    (dict(loss="ova"), "--loss ova is for the local search: BlazingText's supervised mode trains softmax only"),
    (dict(threads=4), "--threads is for the local search: BlazingText uses every core of its instance"),
])
def test_local_only_flags_are_refused_on_sagemaker(aws_env, prepared_dir, tmp_path, flags, message):
    with pytest.raises(ReviewcatError, match=message):
        train(data=prepared_dir, output_path=str(tmp_path / "m"), backend="sagemaker", role=ROLE,
              region=REGION, s3_output=f"s3://{BUCKET}/run5", **flags)
    assert not list(tmp_path.iterdir())


def test_early_stopping_reaches_blazingtext_as_its_static_hyperparameters(aws_env):
    captured = []
    session = boto3.Session(region_name=REGION)
    session.events.register("provide-client-params.sagemaker.CreateHyperParameterTuningJob",
                            lambda params, **_: captured.append(params))
    channels = {s: f"s3://{BUCKET}/data/{s}/" for s in ("train", "validation", "test")}
    space = build_space(early_stopping=EarlyStopping(patience=3, min_epochs=6))
    sm.start_tuning(space, sm.AwsTarget(REGION, ROLE, f"s3://{BUCKET}/run6", True), channels, "ml.c5.4xlarge",
                    "rc-early-1", boto_session=session)
    static = captured[0]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"mode": "supervised", "min_count": "5", "buckets": "2000000", "early_stopping": "True",
                      "patience": "3", "min_epochs": "6"}
    # The tuning job moto keeps has them as sent.
    job = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="rc-early-1")
    assert job["TrainingJobDefinition"]["StaticHyperParameters"]["early_stopping"] == "True"
    with pytest.raises(ReviewcatError, match=r"--min-epochs is 16, above the most epochs the search trains \(15\)"):
        build_space(early_stopping=EarlyStopping(min_epochs=16))


def test_a_failed_tuning_job_shows_sagemakers_reason(caplog):
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    base = {"HyperParameterTuningJobName": "rc-fail", "HyperParameterTuningJobArn": "arn:x",
            "HyperParameterTuningJobConfig": {"Strategy": "Bayesian", "ResourceLimits": {
                "MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1}},
            "CreationTime": "2026-11-21T00:00:00Z", "ObjectiveStatusCounters": {"Succeeded": 1, "Pending": 0, "Failed": 0}}
    counters = {"Completed": 1, "InProgress": 1, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    with Stubber(client) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", {
            **base, "HyperParameterTuningJobStatus": "InProgress", "TrainingJobStatusCounters": counters})
        stub.add_response("describe_hyper_parameter_tuning_job", {
            **base, "HyperParameterTuningJobStatus": "Failed", "FailureReason": "ClientError: No data in channel train",
            "TrainingJobStatusCounters": {**counters, "InProgress": 0, "NonRetryableError": 1}})
        with caplog.at_level(logging.INFO), pytest.raises(
                ReviewcatError, match="tuning job rc-fail failed: ClientError: No data in channel train"):
            sm.follow(client, "rc-fail", sleep=lambda _: None)
    assert "rc-fail: InProgress, 1 done, 1 running, 0 failed" in caplog.text
    assert "rc-fail: Failed, 1 done, 0 running, 1 failed" in caplog.text


def test_predict_through_an_endpoint_sends_blazingtext_json(aws_env, trained):
    answer = [{"label": ["__label__pet_products", "__label__books"], "prob": [0.9, 0.05]}]
    canned = json.dumps({"results": [{"Body": json.dumps(answer), "ContentType": "application/json"}]}).encode()
    request = urllib.request.Request(f"{aws_env}/moto-api/static/sagemaker/endpoint-results", data=canned,
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=10).close()  # moto's documented way to set InvokeEndpoint's reply
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    sent = []
    runtime.meta.events.register("provide-client-params.sagemaker-runtime.InvokeEndpoint",
                                 lambda params, **_: sent.append(params))
    result = predict(None, "reviewcat-test", ["My <b>dog</b> loves the treats!"], 2,
                     labels=str(trained / "labels.json"), client=runtime)
    assert result == [[("Pet_Products", 0.9), ("Books", 0.05)]]
    assert json.loads(sent[0]["Body"]) == {"instances": ["my dog loves the treats !"], "configuration": {"k": 2}}
    assert sent[0]["ContentType"] == "application/json"


def test_an_s3_prepare_output_is_used_as_is(aws_env, best_job, prepared_dir, tmp_path):
    """What `reviewcat aws run --train` does: the Glue workflow's prepared prefix goes straight in."""
    s3 = boto3.client("s3", region_name=REGION)
    root = Path(prepared_dir)
    for name in ["train/train.txt", "validation/validation.txt", "test/test.txt", "manifest.json"]:
        s3.upload_file(str(root / name), BUCKET, f"glue/prepared/{name}")
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    out = tmp_path / "from-s3"
    train(data=f"s3://{BUCKET}/glue/prepared/", output_path=str(out), backend="sagemaker", role=ROLE,
          region=REGION, s3_output=f"s3://{BUCKET}/run3", wait=True, job_name="rc-s3-1")
    job = boto3.client("sagemaker", region_name=REGION).describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="rc-s3-1")
    assert [c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["TrainingJobDefinition"]["InputDataConfig"]] == \
        [f"s3://{BUCKET}/glue/prepared/train/", f"s3://{BUCKET}/glue/prepared/validation/"]
    after = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert not any(key.startswith("run3/data/") for key in after - before)  # nothing uploaded again
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["examples"] > 0
    # Where the test split is, not the copy evaluation read (a staging folder's, gone once published).
    assert metrics["test_file"] == f"s3://{BUCKET}/glue/prepared/test/test.txt"
    assert json.loads((out / "labels.json").read_text())["__label__books"] == "Books"
    # Lines and labels from the manifest on S3, tokens from the train file's size: the same space.
    local = read_labeled(root / "train" / "train.txt", keep_text=False).stats()
    derived = json.loads((out / "search.json").read_text())["space"]["derived_from"]
    assert (derived["lines"], derived["labels"]) == (local.lines, local.labels)
    assert _sent_ranges(job["HyperParameterTuningJobConfig"]) == _expected_ranges(build_space(stats=local))


def test_attach_picks_up_a_tuning_job_started_without_wait(aws_env, best_job, prepared_dir, tmp_path):
    started = tmp_path / "started"
    train(data=prepared_dir, output_path=str(started), backend="sagemaker", role=ROLE, region=REGION,
          s3_output=f"s3://{BUCKET}/attach", job_name="rc-attach-1", static=["min_count=3"])
    assert "best" not in json.loads((started / "search.json").read_text())
    attached = tmp_path / "attached"
    assert train(data=prepared_dir, output_path=str(attached), attach="rc-attach-1") == attached
    search = json.loads((attached / "search.json").read_text())
    assert search["attached"] and search["tuning_job"] == "rc-attach-1" and search["best"]["name"] == best_job
    assert search["best"]["hyperparameters"]["min_count"] == "3"  # as the tuning job stored it
    assert search["channels"]["train"] == f"s3://{BUCKET}/attach/data/prepared/train/"
    metrics = json.loads((attached / "metrics.json").read_text())
    assert metrics["model"] == str(attached / "model.tar.gz") and metrics["examples"] > 0
    with pytest.raises(ReviewcatError, match="tuning job rc-nope does not exist in us-east-1: check the name"):
        train(data=prepared_dir, output_path=str(tmp_path / "none"), attach="rc-nope")
    with pytest.raises(ReviewcatError, match="--attach picks up a SageMaker tuning job as it was started: leave out "
                                             "--max-jobs, --range"):
        train(data=prepared_dir, output_path=str(tmp_path / "none"), attach="rc-attach-1", max_jobs=3,
              range=["learning_rate=0.1:0.2"])
    with pytest.raises(ReviewcatError, match=f"tuning job rc-attach-1 trained on s3://{BUCKET}/attach/data/prepared/"
                                             f"train/, not on s3://{BUCKET}/elsewhere: give the --data"):
        train(data=f"s3://{BUCKET}/elsewhere", output_path=str(tmp_path / "none"), attach="rc-attach-1")
    assert not (tmp_path / "none").exists()



def test_an_endpoint_is_deployed_listed_and_deleted(aws_env, best_job, prepared_dir, tmp_path, cli):
    client = boto3.client("sagemaker", region_name=REGION)
    code, out, err = cli("endpoint", "deploy", "--training-job", best_job, "--name", "rc-ep-1")
    assert code == 0, err
    assert out.startswith("endpoint rc-ep-1 is in service; it bills by the hour until `reviewcat endpoint delete")
    assert client.describe_model(ModelName="rc-ep-1")["PrimaryContainer"]["ModelDataUrl"] == \
        f"s3://{BUCKET}/best/{best_job}/output/model.tar.gz"
    code, out, err = cli("endpoint", "deploy", "--training-job", best_job, "--name", "rc-ep-1")
    assert (code, err) == (2, "reviewcat endpoint deploy: error: endpoint rc-ep-1 already exists: choose another "
                              "--name, or delete it first (reviewcat endpoint delete --name rc-ep-1)\n")
    tunings = client.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    with pytest.raises(ReviewcatError, match="endpoint rc-ep-1 already exists: choose another --endpoint-name"):
        train(data=prepared_dir, output_path=str(tmp_path / "m"), backend="sagemaker", role=ROLE, region=REGION,
              s3_output=f"s3://{BUCKET}/taken", wait=True, deploy=True, endpoint_name="rc-ep-1")
    assert client.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == tunings  # none started
    code, out, err = cli("endpoint", "list")
    assert code == 0 and any(line.startswith("rc-ep-1: InService, 1 x ml.m5.large, $0.115/hour, created ")
                             for line in out.splitlines()), out
    code, out, err = cli("endpoint", "deploy", "--training-job", best_job, "--name", "rc-ep-3")
    client.delete_endpoint_config(EndpointConfigName="rc-ep-3")  # allowed while the endpoint serves (and bills)
    code, out, err = cli("endpoint", "list")
    assert code == 0 and any(line.startswith("rc-ep-3: InService, configuration unknown, created ")
                             for line in out.splitlines()), out
    code, out, err = cli("endpoint", "delete", "--name", "rc-ep-3")
    assert code == 0 and out.splitlines() == ["deleted endpoint rc-ep-3", "endpoint configuration rc-ep-3 was "
                                              "already gone"], err
    code, out, err = cli("endpoint", "delete", "--name", "rc-ep-1")
    assert code == 0, err
    assert out.splitlines() == ["deleted endpoint rc-ep-1", "deleted endpoint configuration rc-ep-1",
                                "deleted model rc-ep-1"]
    assert "rc-ep-1" not in [e["EndpointName"] for e in client.list_endpoints()["Endpoints"]]
    assert "rc-ep-1" not in [m["ModelName"] for m in client.list_models()["Models"]]
    code, out, err = cli("endpoint", "delete", "--name", "rc-ep-1")
    assert (code, err) == (2, "reviewcat endpoint delete: error: endpoint rc-ep-1 does not exist: `reviewcat "
                              "endpoint list` shows those that do (check --region)\n")
    code, out, err = cli("endpoint", "deploy", "--tuning-job", "rc-nope")
    assert code == 2 and err.startswith(
        "reviewcat endpoint deploy: error: AWS refused DescribeHyperParameterTuningJob (ResourceNotFound: Could not "
        "find hyper parameter tuning job 'rc-nope'.): check the name and the region (--region)")
    code, out, err = cli("endpoint", "deploy", "--training-job", best_job, "--name", "rc-ep-2",
                         "--instance-type", "ml.bogus")
    assert code == 2 and len(err.splitlines()) == 1
    assert "AWS refused CreateEndpointConfig (ValidationException: Value 'ml.bogus' at 'instanceType'" in err
    assert err.rstrip().endswith("...): check the value the message names")
    assert "rc-ep-2" not in [m["ModelName"] for m in client.list_models()["Models"]]  # the model made first is gone


def test_aws_run_train_passes_the_search_flags_on(aws_env, best_job, prepared_dir, monkeypatch, tmp_path, cli):
    from helpers import moto_lists_a_tuning_jobs_training_jobs, moto_workflow_runs_end, outputs_stack
    boto3.client("cloudformation").create_stack(StackName="rc-train", TemplateBody=outputs_stack({
        "WorkflowName": "rc-train-flow", "PreparedPath": f"s3://{BUCKET}/glue2/prepared/",
        "TrainingOutputPath": f"s3://{BUCKET}/train2/", "SageMakerRoleArn": ROLE}))
    boto3.client("glue").create_workflow(Name="rc-train-flow")
    for name in ["train/train.txt", "validation/validation.txt", "test/test.txt", "manifest.json"]:
        boto3.client("s3").upload_file(str(Path(prepared_dir) / name), BUCKET, f"glue2/prepared/{name}")
    moto_workflow_runs_end(monkeypatch)
    moto_lists_a_tuning_jobs_training_jobs(monkeypatch)
    code, out, err = cli("aws", "run", "--stack", "rc-train", "--max-jobs", "3")
    assert (code, err) == (2, "reviewcat aws run: error: --max-jobs go with --train: add it, or leave them out\n")
    model = tmp_path / "model"
    model.mkdir()
    runs = boto3.client("glue").get_workflow_runs(Name="rc-train-flow")["Runs"]
    code, out, err = cli("aws", "run", "--stack", "rc-train", "--train", "--output-path", str(model))
    assert (code, err) == (2, f"reviewcat aws run: error: {model} already exists: choose another --output-path or "
                              "pass --overwrite\n")
    code, out, err = cli("aws", "run", "--stack", "rc-train", "--train", "--output-path", str(tmp_path / "m2"),
                         "--range", "learning_rate=abc")
    assert code == 2 and "learning_rate" in err and not (tmp_path / "m2").exists()
    code, out, err = cli("aws", "run", "--stack", "rc-train", "--train", "--output-path", str(tmp_path / "m2"),
                         "--range", "epochs=3:8", "--early-stopping", "--min-epochs", "9")
    assert code == 2 and "--min-epochs is 9, above the most epochs the search trains (8)" in err
    assert boto3.client("glue").get_workflow_runs(Name="rc-train-flow")["Runs"] == runs  # refused before it ran
    model.rmdir()
    code, out, err = cli("aws", "run", "--stack", "rc-train", "--train", "--output-path", str(model),
                         "--max-jobs", "3", "--max-parallel", "1", "--range", "learning_rate=0.02:0.04",
                         "--static", "min_count=3", "--job-name", "rc-run-train-1", "--poll-seconds", "1",
                         "--early-stopping", "--patience", "2")
    assert code == 0, err
    job = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="rc-run-train-1")
    config = job["HyperParameterTuningJobConfig"]
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1}
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "learning_rate", "MinValue": "0.02", "MaxValue": "0.04", "ScalingType": "Linear"}]
    static = job["TrainingJobDefinition"]["StaticHyperParameters"]
    assert (static["min_count"], static["early_stopping"], static["patience"], static["min_epochs"]) == \
        ("3", "True", "2", "5")
    assert (model / "metrics.json").is_file() and "and tuning job rc-run-train-1:" in out


def test_a_refused_upload_is_one_line_and_leaves_nothing(aws_env, prepared_dir, cli, tmp_path):
    out = tmp_path / "model"
    code, _, err = cli("train", "--backend", "sagemaker", "--data", prepared_dir, "--output-path", out, "--role", ROLE,
                       "--s3-output", "s3://rc-no-such-bucket/run")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("reviewcat train: error: AWS refused PutObject on s3://rc-no-such-bucket/run/data/prepared/")
    assert "(NoSuchBucket: The specified bucket does not exist): check the name and the region (--region)" in err
    assert not out.exists() and not list(tmp_path.glob("model*"))


def test_a_model_is_registered_pending_approval_with_its_metrics(aws_env, trained, cli, tmp_path):
    client, s3 = boto3.client("sagemaker"), boto3.client("s3")
    code, out, err = cli("register", "--model-dir", trained, "--group", "rc-group", "--s3-output",
                         f"s3://{BUCKET}/reg")
    assert code == 0, err
    arn = out.strip().removeprefix("registered: ").removesuffix(" (pending manual approval)")
    package = client.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == BLAZINGTEXT
    metrics = json.loads((trained / "metrics.json").read_text())
    base = f"reg/registry/rc-group/{metrics['model_file']['sha256'][:16]}"  # a version's files, by its model
    assert container["ModelDataUrl"] == f"s3://{BUCKET}/{base}/model.tar.gz"
    s3.download_file(BUCKET, f"{base}/model.tar.gz", str(tmp_path / "model.tar.gz"))
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        assert tar.getnames() == ["model.bin"]
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{base}/metrics.json"}
    assert s3.get_object(Bucket=BUCKET, Key=f"{base}/metrics.json")["Body"].read() == \
        (trained / "metrics.json").read_bytes()
    assert package["CustomerMetadataProperties"]["model_card"] == f"s3://{BUCKET}/{base}/model_card.md"
    assert cli("register", "--model-dir", trained, "--group", "rc-group", "--s3-output", f"s3://{BUCKET}/reg")[0] == 0
    versions = client.list_model_packages(ModelPackageGroupName="rc-group")["ModelPackageSummaryList"]
    assert len(versions) == 2  # a second registration is the group's next version
    code, out, err = cli("register", "--model-dir", trained, "--group", "rc_group", "--s3-output",
                         f"s3://{BUCKET}/reg")
    assert code == 2 and "model package group 'rc_group': SageMaker takes letters, digits and single hyphens" in err
    code, out, err = cli("register", "--model-dir", tmp_path, "--group", "rc-group", "--s3-output",
                         f"s3://{BUCKET}/reg")
    assert (code, err) == (2, f"reviewcat register: error: {tmp_path} has no metrics.json: give the --output-path "
                              "of `reviewcat train`\n")
