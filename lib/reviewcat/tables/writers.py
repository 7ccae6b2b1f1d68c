"""Writing results: the balanced parquet table and single-file text splits.

Spark always writes a folder of ``part-*`` files. SageMaker channels and fastText want one file per
split: many tasks write a split's ordered parts, and ``assembly`` joins them into the one file with
the storage's own means (S3 copies server-side). Nothing is collected to the driver.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

from pyspark.sql import DataFrame

from reviewcat.runtime.assembly import assemble
from reviewcat.runtime.storage import Entry, Storage
from reviewcat.schema import CATEGORY, LABEL, SAMPLE_ORDER


def write_split_files(storage: Storage, lines: DataFrame, part_column: str, parts: Mapping[str, Sequence[int]],
                      folder: str, order: Sequence[str]) -> dict[str, str]:
    """Each split's ``line`` column as one file ``folder/<split>/<split>.txt``, rows sorted by ``order``.

    ``lines`` holds each of ``parts``' values in one partition (``splits.ordered_parts``), so each
    task writes one part file, in one Spark job; ``parts`` lists each split's values in file order.
    Returns split -> file path for the splits that have rows: an empty split has no file, which
    the caller reports.
    """
    spark_dir = f"{folder}/_spark"
    (lines.sortWithinPartitions(part_column, *order)
     .select(part_column, "line")
     .write.partitionBy(part_column).text(spark_dir))
    written: dict[str, list[Entry]] = defaultdict(list)
    for entry in storage.files(spark_dir):
        written[entry.path.rsplit("/", 2)[-2]].append(entry)
    paths = {}
    for split, values in parts.items():
        files = []
        for value in values:
            found = written.get(f"{part_column}={value}", [])
            if len(found) > 1:
                raise RuntimeError(f"expected one file for {part_column}={value} in {spark_dir}, found {len(found)}")
            files += found
        if files:
            paths[split] = f"{folder}/{split}/{split}.txt"
            assemble(storage, files, paths[split])
    storage.delete(spark_dir)
    return paths


# Files of a review table: large enough to read efficiently, small enough that a big category is
# several files, which Spark reads in parallel (the size of such a file: docs/performance.md).
ROWS_PER_FILE = 500_000


def write_partitioned(frame: DataFrame, path: str, rows_per_file: int = ROWS_PER_FILE) -> None:
    """Parquet partitioned by category, written where the rows are, cut by ``maxRecordsPerFile``."""
    frame.write.option("maxRecordsPerFile", rows_per_file).partitionBy(CATEGORY).parquet(path)


def write_balanced(sample: DataFrame, path: str, by: Sequence[str] = (CATEGORY,)) -> None:
    """The balanced table, without the columns sampling added.

    Rows are written where they are. A ranked sample arrives partitioned by its groups (one task,
    so one file, per group) and is sorted by group and rank: a second shuffle to spread big groups
    over tasks cost more than it saved. A filtered sample (no ``sample_order``) is written in the
    order it was read: sorting its rows by key as well was a sizeable part of the write
    (docs/performance.md). The sampling's label column (``LABEL``) is dropped.
    """
    if SAMPLE_ORDER in sample.columns:
        sample = sample.sortWithinPartitions(CATEGORY, *(c for c in by if c != CATEGORY), SAMPLE_ORDER)
    write_partitioned(sample.drop(SAMPLE_ORDER, LABEL), path)
