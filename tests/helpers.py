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
