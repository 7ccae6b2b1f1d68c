"""The cost of a run: Glue job runs from GetJobRun on the moto server, training jobs from stubbed
SageMaker answers (moto lacks ListTrainingJobsForHyperParameterTuningJob), priced by the table."""
import datetime
import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber

from reviewcat.aws import costs, deploy as aws
from reviewcat.runtime.errors import ReviewcatError

from conftest import REGION, cli_env
from helpers import outputs_stack

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.*not supported by moto:UserWarning")



def test_a_glue_run_is_its_dpu_seconds_with_the_one_minute_minimum():
    base = {"JobName": "balance", "Id": "jr_1", "JobRunState": "SUCCEEDED"}
    assert costs.glue_charge({**base, "ExecutionTime": 600, "WorkerType": "G.2X", "NumberOfWorkers": 10}).seconds \
        == 600 * 20
    assert costs.glue_charge({**base, "ExecutionTime": 600, "MaxCapacity": 5.0, "WorkerType": "G.1X",
                              "NumberOfWorkers": 10}).seconds == 3000  # MaxCapacity is the run's DPUs
    assert costs.glue_charge({**base, "ExecutionTime": 20, "WorkerType": "G.1X", "NumberOfWorkers": 2}).seconds == 120
    assert costs.glue_charge({**base, "DPUSeconds": 777.0, "ExecutionTime": 600, "NumberOfWorkers": 10,
                              "WorkerType": "G.1X"}).seconds == 777  # auto scaling reports its own use
    with pytest.raises(ReviewcatError, match="neither its DPUs nor its workers"):
        costs.glue_charge({**base, "ExecutionTime": 60})


def test_prices_take_overrides_and_a_missing_price_is_a_one_line_error():
    prices = costs.parse_prices(["glue-dpu-hour=0.5", "ml.g5.xlarge=1.41"])
    assert prices["glue-dpu-hour"] == 0.5 and prices["ml.g5.xlarge"] == 1.41 and prices["ml.c5.4xlarge"] == 0.816
    for bad in ("glue-dpu-hour", "glue-dpu-hour=cheap", "=1", "ml.c5.xlarge=-1"):
        with pytest.raises(ReviewcatError, match="--price"):
            costs.parse_prices([bad])
    charge = costs.Charge("training job t", 3600, "instance-s on ml.g4dn.xlarge", "ml.g4dn.xlarge")
    with pytest.raises(ReviewcatError, match=r"no price for ml.g4dn.xlarge: pass --price ml.g4dn.xlarge="):
        costs.report([charge], costs.PRICES)


def _training_answers(stub, jobs):
    """ListTrainingJobsForHyperParameterTuningJob in two pages, then DescribeTrainingJob per job."""
    created = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    summaries = [{"TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/"
                  f"{name}", "CreationTime": created, "TrainingJobStatus": "Completed", "TunedHyperParameters": {}}
                 for name, *_ in jobs]
    stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job",
                      {"TrainingJobSummaries": summaries[:1], "NextToken": "page2"},
                      {"HyperParameterTuningJobName": "reviewcat-tune"})
    stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": summaries[1:]},
                      {"HyperParameterTuningJobName": "reviewcat-tune", "NextToken": "page2"})
    for name, seconds, instance, count in jobs:
        stub.add_response("describe_training_job", {
            "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{name}",
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/{name}/model.tar.gz"},
            "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": instance, "InstanceCount": count, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 14400}, "CreationTime": created,
            "BillableTimeInSeconds": seconds}, {"TrainingJobName": name})


def test_a_tuning_job_is_its_training_jobs_billable_seconds_times_instances():
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sagemaker) as stub:
        _training_answers(stub, [("t-001", 300, "ml.c5.4xlarge", 1), ("t-002", 100, "ml.c5.2xlarge", 2)])
        charges = costs.tuning_charges(sagemaker, "reviewcat-tune")
    assert [(c.seconds, c.price) for c in charges] == [(300, "ml.c5.4xlarge"), (200, "ml.c5.2xlarge")]
    lines = costs.report(charges, costs.parse_prices(["ml.c5.2xlarge=0.36"]))
    assert lines[0] == "  training job t-001 (Completed): 300 instance-s on ml.c5.4xlarge x $0.816/h = $0.07"
    assert lines[1] == "  training job t-002 (Completed): 200 instance-s on ml.c5.2xlarge x $0.36/h = $0.02"
    assert lines[-1] == "  total: $0.09"


def test_a_user_without_sagemaker_access_still_gets_the_glue_cost(caplog):
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sagemaker) as stub:
        stub.add_client_error("list_hyper_parameter_tuning_jobs", "AccessDeniedException")
        assert costs.latest_tuning_job(sagemaker, datetime.datetime(2026, 11, 1)) is None
    assert "no training cost: SageMaker's tuning jobs cannot be listed (AccessDeniedException)" in caplog.text


def test_status_prices_the_last_runs_glue_jobs_from_get_job_run(aws_env, tmp_path):
    boto3.client("cloudformation").create_stack(StackName="rc-cost", TemplateBody=outputs_stack({"WorkflowName": "rc-cost-pipeline"}))
    glue = boto3.client("glue")
    glue.create_workflow(Name="rc-cost-pipeline")
    runs = {}
    for job, workers in (("rc-balance", 10), ("rc-prepare", 4)):
        glue.create_job(Name=job, Role="arn:aws:iam::123456789012:role/glue", GlueVersion="5.0",
                        Command={"Name": "glueetl", "ScriptLocation": f"s3://b/{job}.py"},
                        WorkerType="G.1X", NumberOfWorkers=workers)
        runs[job] = glue.start_job_run(JobName=job)["JobRunId"]
    run_id = glue.start_workflow_run(Name="rc-cost-pipeline")["RunId"]

    # moto's GetWorkflowRun has no graph: the workflow's job runs are added to its real answer.
    def add_graph(parsed, **_):
        if "Run" in parsed:
            parsed["Run"]["Graph"] = {"Nodes": [
                {"Type": "CRAWLER", "Name": "raw"},
                *({"Type": "JOB", "Name": job, "JobDetails": {"JobRuns": [{"JobName": job, "Id": rid}]}}
                  for job, rid in runs.items())]}
    original = boto3.Session.client

    def client(self, name, *args, **kwargs):
        made = original(self, name, *args, **kwargs)
        if name == "glue":
            made.meta.events.register("after-call.glue.GetWorkflowRun", add_graph)
        return made
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3.Session, "client", client)
        lines = aws.status("rc-cost", REGION, costs.parse_prices(["glue-dpu-hour=0.5"]))
    # moto runs every job for 123 s: 10 and 4 G.1X workers are 1,230 and 492 DPU-seconds.
    assert lines[-4] == f"cost of run {run_id} (no tuning job after it):"
    assert lines[-3] == f"  Glue job rc-balance run {runs['rc-balance']} (SUCCEEDED): 1,230 DPU-s x $0.5/h = $0.17"
    assert lines[-2] == f"  Glue job rc-prepare run {runs['rc-prepare']} (SUCCEEDED): 492 DPU-s x $0.5/h = $0.07"
    assert lines[-1] == "  total: $0.24"


def test_a_bad_price_on_the_command_line_is_a_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "aws", "status", "--price", "ml.c5.xlarge"],
                          env=cli_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "reviewcat aws status: error: --price 'ml.c5.xlarge': write name=USD per hour, " \
                                         "e.g. glue-dpu-hour=0.44 or ml.c5.4xlarge=0.816"
