"""reviewcat aws deploy / run / status against a local moto server (real boto3 HTTP on 127.0.0.1).

moto's CloudFormation builds the bucket and IAM roles of the real template but not Glue resources,
so the workflow run is exercised on a stack whose outputs name a workflow made through moto's Glue
API; the end of a run (which moto never reaches) is checked with stubbed responses.
"""
import json
import logging
import re
import subprocess
import sys
import time
import zipfile

import boto3
import pytest
from botocore.stub import Stubber

from reviewcat.aws import deploy as aws
from reviewcat.runtime.errors import ReviewcatError

from conftest import REGION, cli_env
from helpers import moto_workflow_runs_end, outputs_stack

# moto's CloudFormation skips what it cannot build (Glue, bucket policies) with a warning each: expected.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.*not supported by moto:UserWarning")

OUTPUTS_ONLY = outputs_stack({"WorkflowName": "reviewcat-pipeline", "PreparedPath": "s3://reviewcat-data/prepared/",
                              "TrainingOutputPath": "s3://reviewcat-data/training/",
                              "SageMakerRoleArn": "arn:aws:iam::123456789012:role/reviewcat-sagemaker"})


def test_deploy_creates_the_stack_and_uploads_library_and_scripts(aws_env, tmp_path):
    outputs = aws.deploy("rc-deploy", REGION, {"GlueNumberOfWorkers": "4"}, workdir=tmp_path)
    cloudformation, s3 = boto3.client("cloudformation"), boto3.client("s3")
    stack = cloudformation.describe_stacks(StackName="rc-deploy")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"ParameterKey": "GlueNumberOfWorkers", "ParameterValue": "4"} in stack["Parameters"]
    bucket = outputs["BucketName"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"artifacts/reviewcat.zip", "artifacts/glue_jobs/import_reviews.py", "artifacts/glue_jobs/balance_reviews.py",
                    "artifacts/glue_jobs/prepare_splits.py", "artifacts/glue_jobs/bias_report.py",
                    "artifacts/glue_jobs/predict_table.py"}
    s3.download_file(bucket, "artifacts/reviewcat.zip", str(tmp_path / "lib.zip"))
    names = zipfile.ZipFile(tmp_path / "lib.zip").namelist()
    assert "reviewcat/prep/balance.py" in names and "reviewcat/data/category_counts.csv" in names
    # A second deploy, from the CLI, updates the same stack to Glue 6 and uploads again.
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "aws", "deploy", "--stack", "rc-deploy",
                           "--glue-version", "6.0", "--parameter", "GlueNumberOfWorkers=4"],
                          env=cli_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"BucketName: {bucket}" in proc.stdout
    stack = cloudformation.describe_stacks(StackName="rc-deploy")["Stacks"][0]
    assert {"ParameterKey": "GlueVersion", "ParameterValue": "6.0"} in stack["Parameters"]


def test_run_starts_the_workflow_and_status_reports_it(aws_env, tmp_path):
    boto3.client("cloudformation").create_stack(StackName="rc-run", TemplateBody=OUTPUTS_ONLY)
    boto3.client("glue").create_workflow(Name="reviewcat-pipeline")
    run_id, outputs = aws.run("rc-run", REGION, follow=False)
    assert outputs["PreparedPath"] == "s3://reviewcat-data/prepared/"
    run = boto3.client("glue").get_workflow_run(Name="reviewcat-pipeline", RunId=run_id)["Run"]
    assert run["Status"] == "RUNNING"
    lines = aws.status("rc-run", REGION)
    assert lines[0] == "stack rc-run: CREATE_COMPLETE"
    assert "  WorkflowName: reviewcat-pipeline" in lines and lines[-3].startswith(f"last run {run_id}: RUNNING")
    assert lines[-2:] == [f"cost of run {run_id} (no tuning job after it):", "  total: $0.00"]  # no job ran yet


def test_following_a_run_reports_progress_and_failures(caplog):
    glue = boto3.client("glue", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")

    def answer(status, succeeded, running, failed=0, **extra):
        return {"Run": {"Name": "wf", "WorkflowRunId": "r1", "Status": status, **extra, "Statistics": {
            "TotalActions": 4, "SucceededActions": succeeded, "RunningActions": running, "FailedActions": failed,
            "TimeoutActions": 0, "StoppedActions": 0}}}
    with Stubber(glue) as stub:
        stub.add_response("get_workflow_run", answer("RUNNING", 1, 1))
        stub.add_response("get_workflow_run", answer("COMPLETED", 4, 0))
        with caplog.at_level(logging.INFO):
            assert aws.follow_workflow(glue, "wf", "r1", sleep=lambda _: None)["Status"] == "COMPLETED"
    assert "workflow wf run r1: RUNNING, 1/4 actions done, 1 running, 0 failed" in caplog.text



def test_a_failed_run_names_the_job_its_error_and_its_logs(aws_env, monkeypatch, cli):
    """GetWorkflowRun's graph names the failed job run; GetJobRun its error and log group; CloudWatch
    holds its log lines in streams named after the run."""
    boto3.client("cloudformation").create_stack(StackName="rc-fail", TemplateBody=outputs_stack(
        {"WorkflowName": "rc-fail-flow"}))
    glue = boto3.client("glue")
    glue.create_workflow(Name="rc-fail-flow")
    glue.create_job(Name="rc-balance", Role="arn:aws:iam::123456789012:role/glue",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://x/balance_reviews.py"})
    said = "reviewcat balance: error: no category has 100 reviews: lower --min-class-size"
    moto_workflow_runs_end(monkeypatch, failed_job="rc-balance", message=said)
    code, out, err = cli("aws", "run", "--stack", "rc-fail", "--poll-seconds", "1")
    assert code == 2 and len(err.splitlines()) == 1, err
    job_run = re.search(r"run (jr_\w+) FAILED", err).group(1)
    run_id = re.search(r"run (wr_\w+) ended", err).group(1)
    assert err == (f"reviewcat aws run: error: workflow rc-fail-flow run {run_id} ended COMPLETED with failures: "
                   f"job rc-balance run {job_run} FAILED: {said} (CloudWatch logs: group /aws-glue/jobs*, stream "
                   f"{job_run}*); their logs: reviewcat aws logs --run-id {run_id}\n")
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/aws-glue/jobs/error")
    logs.create_log_stream(logGroupName="/aws-glue/jobs/error", logStreamName=f"{job_run}-driver")
    logs.put_log_events(logGroupName="/aws-glue/jobs/error", logStreamName=f"{job_run}-driver", logEvents=[
        {"timestamp": int(time.time() * 1000) + i, "message": f"line {i}"} for i in range(5)])
    code, out, err = cli("aws", "logs", "--stack", "rc-fail", "--lines", "2")
    assert code == 0, err
    assert out.splitlines() == [
        f"workflow rc-fail-flow run {run_id}: COMPLETED, 1 failed",
        f"job rc-balance run {job_run} FAILED: {said} (CloudWatch logs: group /aws-glue/jobs*, stream {job_run}*)",
        f"  /aws-glue/jobs/error {job_run}-driver: line 3", f"  /aws-glue/jobs/error {job_run}-driver: line 4"]
    code, out, err = cli("aws", "logs", "--stack", "rc-fail", "--run-id", "wr_nope")
    assert (code, err) == (2, "reviewcat aws logs: error: AWS refused GetWorkflowRun (EntityNotFoundException: "
                              "Entity not found): check the name and the region (--region)\n")


def test_destroy_asks_then_empties_the_buckets_and_deletes_the_stack(aws_env, cli):
    cloudformation, s3 = boto3.client("cloudformation"), boto3.client("s3")
    template = "Resources:\n  Data:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n" \
               "    Properties: {BucketName: rc-destroy-data}\n"
    cloudformation.create_stack(StackName="rc-destroy", TemplateBody=template)
    # As the template's buckets are (moto's CloudFormation leaves VersioningConfiguration out).
    s3.put_bucket_versioning(Bucket="rc-destroy-data", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):  # two versions of a key, and a delete marker after them
        s3.put_object(Bucket="rc-destroy-data", Key="prepared/train/train.txt", Body=body)
    s3.delete_object(Bucket="rc-destroy-data", Key="prepared/train/train.txt")
    cloudformation.create_stack(StackName="rc-protected", TemplateBody=template.replace("rc-destroy", "rc-protected"),
                                EnableTerminationProtection=True)
    s3.put_object(Bucket="rc-protected-data", Key="kept.txt", Body=b"kept")
    code, out, err = cli("aws", "destroy", "--stack", "rc-protected", "--yes")
    assert code == 2 and "stack rc-protected has termination protection: turn it off" in err
    assert s3.get_object(Bucket="rc-protected-data", Key="kept.txt")["Body"].read() == b"kept"  # nothing deleted
    code, out, err = cli("aws", "destroy", "--stack", "rc-destroy")
    assert (code, err) == (2, "reviewcat aws destroy: error: aws destroy deletes stack rc-destroy and everything in "
                              "its buckets: s3://rc-destroy-data (3 object versions); this cannot be undone: run "
                              "again with --yes\n")
    assert cloudformation.describe_stacks(StackName="rc-destroy")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    code, out, err = cli("aws", "destroy", "--stack", "rc-destroy", "--yes")
    assert code == 0, err
    assert out.splitlines()[:3] == ["emptied s3://rc-destroy-data: 3 object versions deleted",
                                    "deleted stack rc-destroy", "deleted bucket rc-destroy-data"]
    assert "rc-destroy-data" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    code, out, err = cli("aws", "destroy", "--stack", "rc-destroy", "--yes")
    assert (code, err) == (2, "reviewcat aws destroy: error: stack rc-destroy does not exist: nothing to destroy "
                              "(check --stack and --region)\n")


def test_aws_refusals_are_one_line_with_the_services_message(aws_env, monkeypatch, cli):
    """Each error code the moto server gives, through a real command: access denied and unknown keys
    (moto enforcing IAM), a missing bucket on upload; throttling, which moto never answers, stubbed."""
    from moto import settings
    from moto.core.responses import ActionAuthenticatorMixin
    iam = boto3.client("iam")
    iam.create_user(UserName="rc-viewer")
    iam.put_user_policy(UserName="rc-viewer", PolicyName="list-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="rc-viewer")["AccessKey"]
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    code, out, err = cli("aws", "status", "--stack", "rc-any")
    assert code == 2 and len(err.splitlines()) == 1
    assert err == ("reviewcat aws status: error: AWS refused DescribeStacks (AccessDenied: User: "
                   "arn:aws:iam::123456789012:user/rc-viewer is not authorized to perform: "
                   "cloudformation:DescribeStacks): check the credentials (AWS_PROFILE, aws configure) and "
                   "that their IAM policy allows this\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTKNOWN")
    code, out, err = cli("endpoint", "list")
    assert code == 2 and "AWS refused ListEndpoints (" in err and "check the credentials" in err
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    code, out, err = cli("aws", "destroy", "--stack", "rc-nope")
    assert code == 2 and "stack rc-nope does not exist" in err

    from reviewcat.runtime import failures
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error("list_endpoints", "ThrottlingException", "Rate exceeded")
        with pytest.raises(Exception) as raised:
            client.list_endpoints()
    assert failures.aws_problem(raised.value) == ("AWS refused ListEndpoints (ThrottlingException: Rate exceeded): AWS "
                                                  "is throttling these requests: wait a minute and run again")
    with Stubber(client) as stub:  # SageMaker's answer for a name in use, which moto does not give
        stub.add_client_error("create_model", "ValidationException", 'Cannot create already existing model "arn:m".')
        with pytest.raises(Exception) as raised:
            client.create_model(ModelName="m")
    assert failures.aws_problem(raised.value).endswith("choose another name, or delete the existing one first")


def test_missing_stack_and_bad_parameters_are_one_line_errors(aws_env, tmp_path):
    with pytest.raises(ReviewcatError, match="stack nope does not exist: run `reviewcat aws deploy` first"):
        aws.run("nope", REGION)
    with pytest.raises(ReviewcatError, match="--parameter 'Workers': write Name=value"):
        aws.parse_parameters(["Workers"])
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "aws", "status", "--stack", "nope"],
                          env={**cli_env(tmp_path), "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                               "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": REGION},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("reviewcat aws status: error: no AWS credentials: configure them "
                                   "(aws configure, AWS_PROFILE or the environment)")
