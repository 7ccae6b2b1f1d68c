"""Writing results: the balanced parquet table and single-file text splits.

Spark always writes a folder of ``part-*`` files. SageMaker channels and fastText want one file per
split, so each split is written by one ordered task and its one part file is moved into place with
the Hadoop FileSystem API (works on local disks, HDFS and S3 alike). Nothing is collected to the
driver.
"""
from __future__ import annotations

import logging
from typing import Sequence

from pyspark.sql import Column, DataFrame, functions as F

from .sampling import SAMPLE_RANK
from .sources import CATEGORY
from .storage import Storage

log = logging.getLogger(__name__)


def write_split_files(storage: Storage, lines: DataFrame, split_column: str, splits: Sequence[str],
                      folder: str, order: Sequence[Column]) -> dict[str, str]:
    """Each split's ``line`` column as one file ``folder/<split>/<split>.txt``, rows sorted by ``order``.

    One Spark job writes all the splits: rows are hashed by split, so each split lands in exactly
    one task, which sorts it and writes it as one file (a file is written by one task whatever the
    plan, so this costs no parallelism in writing). Returns split -> file path.
    """
    spark_dir = f"{folder}/_spark"
    (lines.repartition(len(splits), split_column)
     .sortWithinPartitions(split_column, *order)
     .select(split_column, "line")
     .write.partitionBy(split_column).text(spark_dir))
    paths = {}
    for split in splits:
        parts = [e for e in storage.list(f"{spark_dir}/{split_column}={split}") if e.name.startswith("part-")]
        if len(parts) != 1:
            raise RuntimeError(f"expected one part file for split {split} in {spark_dir}, found {len(parts)}")
        paths[split] = f"{folder}/{split}/{split}.txt"
        storage.rename(parts[0].path, paths[split])
    storage.delete(spark_dir)
    return paths


def write_balanced(sample: DataFrame, path: str, rows_per_file: int = 500_000) -> None:
    """Parquet partitioned by category, files of at most ``rows_per_file`` rows in sample order."""
    bucket = F.floor((F.col(SAMPLE_RANK) - 1) / F.lit(rows_per_file)).cast("int")
    (sample.withColumn("__bucket", bucket)
     .repartition(CATEGORY, "__bucket")
     .sortWithinPartitions(CATEGORY, "__bucket", SAMPLE_RANK)
     .drop("__bucket", SAMPLE_RANK)
     .write.partitionBy(CATEGORY).parquet(path))
