"""Writing results: the balanced parquet table and single-file text splits.

Spark always writes a folder of ``part-*`` files. SageMaker channels and fastText want one file per
split, so each split is written by one ordered task and its one part file is moved into place with
the Hadoop FileSystem API (works on local disks, HDFS and S3 alike). Nothing is collected to the
driver.
"""
from __future__ import annotations

from typing import Sequence

from pyspark.sql import DataFrame

from .labels import LABEL
from .sampling import SAMPLE_RANK
from .sources import CATEGORY
from .storage import Storage


def write_split_files(storage: Storage, lines: DataFrame, split_column: str, splits: Sequence[str],
                      folder: str, order: Sequence[str]) -> dict[str, str]:
    """Each split's ``line`` column as one file ``folder/<split>/<split>.txt``, rows sorted by ``order``.

    ``lines`` holds each split in one partition (``splits.one_partition_per_split``), so one Spark
    job writes every split as one file from one task (a file is written by one task whatever the
    plan, so this costs no parallelism in writing). Returns split -> file path for the splits that
    have rows: an empty split has no file, which the caller reports.
    """
    spark_dir = f"{folder}/_spark"
    (lines.sortWithinPartitions(split_column, *order)
     .select(split_column, "line")
     .write.partitionBy(split_column).text(spark_dir))
    paths = {}
    for split in splits:
        written = f"{spark_dir}/{split_column}={split}"
        parts = [e for e in storage.list(written) if e.name.startswith("part-")] if storage.exists(written) else []
        if not parts:
            continue
        if len(parts) != 1:
            raise RuntimeError(f"expected one part file for split {split} in {spark_dir}, found {len(parts)}")
        paths[split] = f"{folder}/{split}/{split}.txt"
        storage.rename(parts[0].path, paths[split])
    storage.delete(spark_dir)
    return paths


# Files of a review table: large enough to read efficiently, small enough that a big category is
# several files, which Spark reads in parallel (500k reviews are about 100-200 MB of parquet).
ROWS_PER_FILE = 500_000


def write_partitioned(frame: DataFrame, path: str, rows_per_file: int = ROWS_PER_FILE) -> None:
    """Parquet partitioned by category, written where the rows are, cut by ``maxRecordsPerFile``."""
    frame.write.option("maxRecordsPerFile", rows_per_file).partitionBy(CATEGORY).parquet(path)


def write_balanced(sample: DataFrame, path: str, by: Sequence[str] = (CATEGORY,)) -> None:
    """The balanced table, in sample order, without the columns sampling added.

    The sample arrives partitioned by its groups (its ranking window put each group in one task), so
    rows are written where they are, sorted by group and rank: a second shuffle to spread big groups
    over tasks cost more than it saved. The rank and the sampling's label column (``LABEL``) are
    dropped.
    """
    order = [CATEGORY, *(c for c in by if c != CATEGORY), SAMPLE_RANK]
    write_partitioned(sample.sortWithinPartitions(*order).drop(SAMPLE_RANK, LABEL), path)
