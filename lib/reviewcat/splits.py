"""Train/validation/test assignment and shuffling, both by seeded hashes of review_id.

``randomSplit`` draws from a per-partition generator: if the input is recomputed with a different
partitioning, rows can land in two splits or in none. A hash of (seed, review_id) puts every row in
exactly one split whatever the cluster does, and a second hash gives the shuffled order, so a
file never comes out sorted by label.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, functions as F

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
    """Adds ``split``: each review_id falls in exactly one split, the same one on every rerun."""
    key = uniform_key(seed, "split")
    train_end = fractions["train"]
    validation_end = train_end + fractions["validation"]
    split = (F.when(key < F.lit(train_end), F.lit("train"))
             .when(key < F.lit(validation_end), F.lit("validation"))
             .otherwise(F.lit("test")))
    return frame.withColumn("split", split)


def shuffle_order(seed: int) -> list[Column]:
    """Sort keys for a seeded random order of lines (``line`` breaks the rare key tie)."""
    return [uniform_key(seed, "shuffle"), F.col("line")]
