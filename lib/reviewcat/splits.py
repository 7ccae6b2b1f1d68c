"""Train/validation/test assignment, shuffling and de-duplication, all by seeded hashes of the text.

``randomSplit`` draws from a per-partition generator: if the input is recomputed with a different
partitioning, rows can land in two splits or in none. A hash of (seed, tokens) puts every text in
exactly one split whatever the cluster does, so a review posted twice (under one id or two) can
never be in train and test at once, and a second hash gives the shuffled order, so a file never
comes out sorted by label.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window, functions as F

from .errors import ReviewcatError
from .sampling import uniform_key

SPLITS = ("train", "validation", "test")


def parse_split(text: str) -> dict[str, float]:
    """``"0.6,0.2,0.2"`` -> fractions for train, validation and test."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ReviewcatError(f"--split {text!r} is not three numbers like 0.6,0.2,0.2") from None
    if len(values) != 3:
        raise ReviewcatError(f"--split {text!r} needs three fractions (train, validation, test), got {len(values)}")
    if any(v <= 0 for v in values):
        raise ReviewcatError(f"--split {text!r}: every fraction must be above 0")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ReviewcatError(f"--split {text!r} sums to {sum(values):g}, not 1: e.g. use 0.6,0.2,0.2")
    return dict(zip(SPLITS, values))


def assign_split(frame: DataFrame, fractions: dict[str, float], seed: int) -> DataFrame:
    """Adds ``split``: each text falls in exactly one split, the same one on every rerun."""
    key = uniform_key(seed, "split", "tokens")
    train_end = fractions["train"]
    validation_end = train_end + fractions["validation"]
    split = (F.when(key < F.lit(train_end), F.lit("train"))
             .when(key < F.lit(validation_end), F.lit("validation"))
             .otherwise(F.lit("test")))
    return frame.withColumn("split", split)


# A seeded random order of lines in which copies of a text sit together, smallest review_id (then
# label) first: the columns ``one_partition_per_split`` leaves its rows sorted by.
SHUFFLE_ORDER = ("shuffle_key", "tokens", "review_id", "label")

# Spark sends a row to partition pmod(hash(key), n). With n = 3 "train" and "test" hash to the same
# partition, and one task ordered 80% of the rows while the other core idled; 6 is the smallest n
# that gives every split name a partition of its own (tests/test_prepare.py checks).
SPLIT_PARTITIONS = 6


def one_partition_per_split(lines: DataFrame, seed: int) -> DataFrame:
    """Each split in one partition, sorted by ``SHUFFLE_ORDER``, every text once as a ``line``.

    Copies of a text share a split and a place in the order, so each row only needs comparing with
    the one before it, in the sort that the single-file write needs anyway: one shuffle does the
    splitting, the shuffling and the de-duplication (two more shuffles grouped by id and by text
    cost the job a fifth of its time).
    """
    previous = F.lag("tokens").over(Window.partitionBy("split").orderBy(*SHUFFLE_ORDER))
    return (lines.withColumn("shuffle_key", uniform_key(seed, "shuffle", "tokens"))
            .repartition(SPLIT_PARTITIONS, "split")
            .withColumn("__previous", previous)
            .where(F.col("__previous").isNull() | (F.col("__previous") != F.col("tokens")))
            .drop("__previous")
            .withColumn("line", F.concat_ws(" ", "label", "tokens")))
