"""Where a job runs: AWS Glue or plain Spark (local, spark-submit, a cluster, a notebook).

``Runtime`` is the seam every job reads and writes through: catalog reads go through Glue's
push-down on Glue and through the metastore elsewhere; ``jobs`` is the only other module that
knows the difference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from reviewcat.runtime.storage import Storage


@dataclass
class Runtime:
    """A SparkSession plus, on Glue, the GlueContext that catalog reads go through."""

    spark: SparkSession
    glue_context: Any = None
    storage: Storage = field(init=False)

    def __post_init__(self) -> None:
        self.storage = Storage(self.spark, dead_uploads=not self.on_glue)

    @property
    def on_glue(self) -> bool:
        return self.glue_context is not None

    def read_catalog(self, database: str, table: str, predicate: str = "") -> DataFrame:
        """A catalog table restricted to the partitions ``predicate`` selects (all of them when it is
        empty), before any file is listed."""
        if self.on_glue:
            frame = self.glue_context.create_dynamic_frame.from_catalog(
                database=database, table_name=table, push_down_predicate=predicate,
                transformation_ctx=f"read_{table}")
            return frame.toDF()
        # Spark prunes a partitioned catalog table through the metastore: the same push-down.
        frame = self.spark.table(f"`{database}`.`{table}`")
        return frame.where(predicate) if predicate else frame
