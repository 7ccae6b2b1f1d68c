"""Small helpers shared by the Spark tests."""
from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession


def read_categories(spark: SparkSession, path: str) -> dict[str, int]:
    rows = spark.read.parquet(path).groupBy("product_category").count().collect()
    return {r["product_category"]: r["count"] for r in rows}


def corrupt_partition(root: str, category: str) -> None:
    """Overwrite every parquet file of one partition with bytes no reader can open."""
    for f in Path(root, f"product_category={category}").glob("*.parquet"):
        f.write_bytes(b"not a parquet file")


def leftovers(path: str) -> list[str]:
    """Staging folders left beside an output: a failed job must leave none."""
    p = Path(path)
    return sorted(x.name for x in p.parent.glob(p.name + ".__*"))


def outputs_stack(outputs: dict[str, str]) -> str:
    """A CloudFormation template with one bucket and the given outputs: a stack that names what
    `reviewcat aws` looks up, without the resources moto cannot build."""
    lines = [f"  {key}: {{Value: {value}}}" for key, value in outputs.items()]
    return "Resources:\n  Marker:\n    Type: AWS::S3::Bucket\nOutputs:\n" + "\n".join(lines) + "\n"


def moto_builds_glue_jobs_and_workflows(monkeypatch) -> None:
    """moto's CloudFormation skips Glue resources: here the stack's Glue jobs and workflow are made
    in moto's Glue, as AWS would make them, so what the stack's outputs name exists."""
    from moto.cloudformation import parsing
    from moto.glue.models import glue_backends


    class GlueResource:  # what moto asks of a resource class (its own base class wants a moto module)
        kind = ""

        def __init__(self, name: str) -> None:
            self.name = name

        @property
        def physical_resource_id(self) -> str:
            return self.name

        def is_created(self) -> bool:
            return True

        @staticmethod
        def has_cfn_attr(attribute: str) -> bool:
            return False

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs):
            properties = cloudformation_json["Properties"]
            glue = glue_backends[account_id][region_name]
            if cls.kind == "workflow":
                glue.create_workflow(properties["Name"], None, properties.get("Description"), None, None)
            else:
                arguments = dict.fromkeys(glue.create_job.__code__.co_varnames[2:glue.create_job.__code__.co_argcount])
                glue.create_job(properties["Name"], **{**arguments, "role": properties["Role"],
                                                       "command": properties["Command"], "tags": {}})
            return cls(properties["Name"])

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
            glue = glue_backends[account_id][region_name]  # resource_name: the physical name, here
            (glue.delete_workflow if cls.kind == "workflow" else glue.delete_job)(resource_name)

    class Workflow(GlueResource):
        kind = "workflow"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Glue::Workflow"

    class Job(GlueResource):
        kind = "job"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Glue::Job"

    models = {"AWS::Glue::Workflow": Workflow, "AWS::Glue::Job": Job}
    original = parsing.resource_class_from_type
    monkeypatch.setattr(parsing, "resource_class_from_type", lambda kind: models.get(kind) or original(kind))


def moto_workflow_runs_end(monkeypatch, failed_job: str | None = None, message: str = "") -> None:
    """moto's workflow runs stay RUNNING and carry no graph: here each ends COMPLETED, as Glue
    answers GetWorkflowRun, with a graph of one job run of ``failed_job`` (started in moto's Glue)
    that failed with ``message``; without ``failed_job``, every action succeeded."""
    from moto.glue import models

    runs: dict[str, str] = {}  # workflow run id -> the failed job run's id
    workflow_run, job_run = models.FakeWorkflowRun.as_dict, models.FakeJobRun.as_dict

    def run_answer(self):
        answer = workflow_run(self)
        nodes = []
        if failed_job:
            if self.run_id not in runs:
                backend = next(b for a in models.glue_backends.values() for b in a.values()
                               if self.workflow_name in b.workflows)
                runs[self.run_id] = backend.start_job_run(failed_job, *[None] * 9)
            nodes = [{"Type": "JOB", "Name": failed_job, "JobDetails": {"JobRuns": [
                {"Id": runs[self.run_id], "JobName": failed_job, "JobRunState": "FAILED"}]}}]
        failed = len(nodes)
        return {**answer, "Status": "COMPLETED", "Graph": {"Nodes": nodes}, "Statistics": {
            "TotalActions": 4, "SucceededActions": 4 - failed, "FailedActions": failed, "RunningActions": 0,
            "TimeoutActions": 0, "StoppedActions": 0}}

    def job_answer(self):
        answer = job_run(self)
        if self.job_run_id in runs.values():
            answer.update(JobRunState="FAILED", ErrorMessage=message, LogGroupName="/aws-glue/jobs")
        return answer
    monkeypatch.setattr(models.FakeWorkflowRun, "as_dict", run_answer)
    monkeypatch.setattr(models.FakeJobRun, "as_dict", job_answer)


def recorded_paths(folder, under) -> dict[str, list[str]]:
    """Every path below ``under`` recorded in the JSON and Markdown files below ``folder``: file ->
    the paths it names (as ``file:`` URIs or plain)."""
    import json
    import re
    from pathlib import Path

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in [*value.keys(), *value.values()]:
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
    root = str(under)
    found = {}
    for file in sorted(Path(folder).rglob("*")):
        if file.suffix == ".json":
            texts = list(strings(json.loads(file.read_text())))
        elif file.suffix == ".md":
            texts = re.findall(rf"{re.escape(root)}[^\s`)'\"]*", file.read_text())
        else:
            continue
        paths = [text.removeprefix("file:").rstrip(".,;") for text in texts if root in text]
        if paths:
            found[str(file.relative_to(folder))] = paths
    return found


def moto_lists_a_tuning_jobs_training_jobs(monkeypatch) -> None:
    """moto has no ListTrainingJobsForHyperParameterTuningJob (what a run's cost is read from): here it
    answers with the one training job moto names as every tuning job's best."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    def answer(self):
        tuning = self.sagemaker_backend.describe_hyper_parameter_tuning_job(
            hyper_parameter_tuning_job_name=self._get_param("HyperParameterTuningJobName"))
        best = tuning["BestTrainingJob"]
        return ActionResult({"TrainingJobSummaries": [{key: best[key] for key in (
            "TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingJobStatus", "TunedHyperParameters")}]})
    monkeypatch.setattr(SageMakerResponse, "list_training_jobs_for_hyper_parameter_tuning_job", answer,
                        raising=False)


def moto_workflow_runs_prepare(monkeypatch, prepared: str, output_key: str = "PreparedPath") -> None:
    """A workflow run started in moto writes what the stack's prepare job would: the files of
    ``prepared`` at the stack output ``output_key`` of the stack whose workflow it is."""
    from pathlib import Path

    import boto3
    from moto.glue import models

    start = models.FakeWorkflow.start_run

    def start_and_prepare(self, properties):
        run_id = start(self, properties)
        cloudformation, s3 = boto3.client("cloudformation"), boto3.client("s3")
        for stack in cloudformation.describe_stacks()["Stacks"]:
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            if outputs.get("WorkflowName") == self.name and output_key in outputs:
                bucket, _, prefix = outputs[output_key].removeprefix("s3://").partition("/")
                for file in Path(prepared).rglob("*"):
                    if file.is_file() and file.suffix in (".txt", ".json"):
                        s3.upload_file(str(file), bucket, f"{prefix.rstrip('/')}/{file.relative_to(prepared)}")
        return run_id
    monkeypatch.setattr(models.FakeWorkflow, "start_run", start_and_prepare)
