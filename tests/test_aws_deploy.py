"""reviewcat aws deploy / run / status against a local moto server (real boto3 HTTP on 127.0.0.1).

moto's CloudFormation builds the bucket and IAM roles of the real template but not Glue resources,
so the workflow run is exercised on a stack whose outputs name a workflow made through moto's Glue
API; the end of a run (which moto never reaches) is checked with stubbed responses.
"""
import logging
import subprocess
import sys
import zipfile

import boto3
import pytest
from botocore.stub import Stubber

from reviewcat.aws import deploy as aws
from reviewcat.runtime.errors import ReviewcatError

from conftest import REGION, cli_env
from helpers import outputs_stack

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
    with Stubber(glue) as stub:
        stub.add_response("get_workflow_run", answer("COMPLETED", 2, 0, failed=1))
        with pytest.raises(ReviewcatError, match="workflow wf run r1 ended COMPLETED with failures"):
            aws.follow_workflow(glue, "wf", "r1", sleep=lambda _: None)


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
    assert proc.stderr.strip() == "reviewcat aws: error: no AWS credentials: configure them " \
                                  "(aws configure, AWS_PROFILE or the environment)"
