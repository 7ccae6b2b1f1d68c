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
