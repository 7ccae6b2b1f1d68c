"""Lines per split and label: counted while the split files are written, checked, or counted from them.

The manifest reports how many lines of each label every split file holds; ``code_counts`` takes
them during the write, and should they ever not add up, the written files are counted instead.
"""
from __future__ import annotations

import logging
from functools import reduce
from typing import Any, Mapping, Sequence

from pyspark.sql import DataFrame, Observation, SparkSession, functions as F

from reviewcat.prep.text import LABEL_PREFIX
from reviewcat.tables import code_counts

log = logging.getLogger(__name__)

Counts = dict[str, dict[str, int]]


def observe(lines: DataFrame, splits: Sequence[str], labels: Sequence[str],
            tasks_per_split: int = 1) -> tuple[DataFrame, Observation]:
    """``lines`` (columns ``split`` and ``label``) counted per split and label by whatever action runs it.

    Each task holds one split's rows (``splits.ordered_parts``), so its histogram has a bin per
    label at most: with ``tasks_per_split`` tasks per split the histogram never runs out of bins.
    """
    code = code_counts.index("split", splits) * len(labels) + code_counts.index("label", labels)
    return code_counts.observe(lines, code, len(splits) * len(labels) * tasks_per_split, "lines per split and label")


def from_metrics(metrics: Mapping[str, Any], splits: Sequence[str], labels: Sequence[str]) -> Counts | None:
    """The observed counts, or None when they are missing or do not add up to the lines written."""
    by_code = code_counts.from_metrics(metrics, len(splits) * len(labels))
    if by_code is None:
        return None
    counts: Counts = {split: {} for split in splits}
    for code, n in by_code.items():
        counts[splits[code // len(labels)]][labels[code % len(labels)]] = n
    return counts


def in_files(spark: SparkSession, paths: Mapping[str, str], splits: Sequence[str]) -> tuple[Counts, dict[str, int]]:
    """Per split and label the lines that carry the label, and the lines per split, read back from
    the written files by two small jobs. A line's labels are its leading ``__label__`` words (one,
    or several), as training and evaluation read them."""
    counts: Counts = {split: {} for split in splits}
    rows = {split: 0 for split in splits}
    if not paths:
        return counts, rows
    read = reduce(DataFrame.unionByName, [
        spark.read.text(path).select(F.lit(split).alias("split"), F.filter(
            F.split(F.regexp_extract("value", f"^((?:{LABEL_PREFIX}\\S+ )*)", 1), " "),
            lambda word: word != "").alias("labels"))
        for split, path in paths.items()])
    for row in read.groupBy("split").count().collect():
        rows[row["split"]] = int(row["count"])
    for row in read.select("split", F.explode("labels").alias("label")).groupBy("split", "label").count().collect():
        counts[row["split"]][row["label"]] = int(row["count"])
    return counts, rows


def written(observation: Observation, spark: SparkSession, paths: Mapping[str, str], splits: Sequence[str],
            labels: Sequence[str]) -> Counts:
    """The counts observed during the write of ``paths``, or, should they not add up, counted in the files."""
    if not paths:
        return {split: {} for split in splits}  # nothing written, and Spark reports nothing
    counts = from_metrics(code_counts.metrics(observation), splits, labels)
    if counts is None:
        log.warning("the line counts observed during the write do not add up: counting the written files")
        return in_files(spark, paths, splits)[0]
    return counts
