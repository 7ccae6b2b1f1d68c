"""Writing results: the balanced parquet table and single-file text splits.

Spark always writes a folder of ``part-*`` files. SageMaker channels and fastText want one file per
split, so a split is written as one ordered task and its one part file is moved into place with
the Hadoop FileSystem API (works on local disks, HDFS and S3 alike). Nothing is collected to the
driver.
"""
from __future__ import annotations

import logging

from pyspark.sql import DataFrame, functions as F

from .sampling import SAMPLE_RANK
from .sources import CATEGORY
from .storage import Storage

log = logging.getLogger(__name__)


def write_single_text(storage: Storage, lines: DataFrame, folder: str, filename: str) -> str:
    """Write the one ``line`` column of an ordered frame as ``folder/filename``, order kept.

    ``coalesce(1)`` after the sort merges the sorted ranges in order into one writing task while
    the sort itself stays parallel (a ``repartition(1)`` would add a shuffle and lose the order).
    """
    spark_dir = f"{folder}/_spark"
    lines.select("line").coalesce(1).write.text(spark_dir)
    parts = [e for e in storage.list(spark_dir) if e.name.startswith("part-")]
    if len(parts) != 1:
        raise RuntimeError(f"expected one part file in {spark_dir}, found {len(parts)}")
    target = f"{folder}/{filename}"
    storage.rename(parts[0].path, target)
    storage.delete(spark_dir)
    return target


def write_balanced(sample: DataFrame, path: str, rows_per_file: int = 500_000) -> None:
    """Parquet partitioned by category, files of at most ``rows_per_file`` rows in sample order."""
    bucket = F.floor((F.col(SAMPLE_RANK) - 1) / F.lit(rows_per_file)).cast("int")
    (sample.withColumn("__bucket", bucket)
     .repartition(CATEGORY, "__bucket")
     .sortWithinPartitions(CATEGORY, "__bucket", SAMPLE_RANK)
     .drop("__bucket", SAMPLE_RANK)
     .write.partitionBy(CATEGORY).parquet(path))
