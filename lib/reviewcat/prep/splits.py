"""Train/validation/test assignment, shuffling and de-duplication, all by seeded hashes of the text.

``randomSplit`` draws from a per-partition generator: if the input is recomputed with a different
partitioning, rows can land in two splits or in none. A hash of (seed, tokens) puts every text in
exactly one split whatever the cluster does, so a review posted twice (under one id or two) can
never be in train and test at once, and a second hash gives the shuffled order, so a file never
comes out sorted by label.

A random split flatters a model when texts come in groups that share words (the reviews of one
product name it): test accuracy then measures memory of the groups. Split by a group column
(``SPLIT_GROUP``), every group lands in one split by a seeded hash of its value, and copies of a
text still stay together: they follow the copy whose group drew the smallest key.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window, functions as F

from reviewcat.prep.sampling import uniform_key
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import SPLIT_GROUP, SPLITS
from reviewcat.tables import code_counts


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


def split_key(frame: DataFrame, seed: int) -> Column:
    """Each row's draw in [0, 1): by its text, or by its group where ``frame`` has ``SPLIT_GROUP``
    (a row without a group is a group of its own text), the smallest of its text's copies."""
    by_text = uniform_key(seed, "split", "tokens")
    if SPLIT_GROUP not in frame.columns:
        return by_text
    by_group = F.when(F.col(SPLIT_GROUP).isNull(), by_text).otherwise(uniform_key(seed, "split", SPLIT_GROUP))
    return F.min(by_group).over(Window.partitionBy("tokens"))


def assign_split(frame: DataFrame, fractions: dict[str, float], seed: int) -> DataFrame:
    """Adds ``split``: each text falls in exactly one split, the same one on every rerun, and with
    ``SPLIT_GROUP`` each group too (but for texts its rows share with other groups)."""
    key = split_key(frame, seed)
    train_end = fractions["train"]
    validation_end = train_end + fractions["validation"]
    split = (F.when(key < F.lit(train_end), F.lit("train"))
             .when(key < F.lit(validation_end), F.lit("validation"))
             .otherwise(F.lit("test")))
    return frame.withColumn("split", split)


# A seeded random order of lines in which copies of a text sit together, smallest review_id (then
# label) first: the columns ``ordered_parts`` leaves its rows sorted by.
SHUFFLE_ORDER = ("shuffle_key", "tokens", "review_id", "label")
PART = "part"


def _spark_hash(value: int) -> int:
    """Spark's hash of an int column (Murmur3 x86 32-bit, seed 42): where ``repartition`` sends it."""
    def rotate(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & 0xFFFFFFFF
    k = rotate((value * 0xCC9E2D51) & 0xFFFFFFFF, 15) * 0x1B873593 & 0xFFFFFFFF
    h = (rotate(42 ^ k, 13) * 5 + 0xE6546B64) & 0xFFFFFFFF
    h ^= 4
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h - (1 << 32) if h >= 1 << 31 else h


def part_keys(parts_per_split: int) -> dict[str, list[int]]:
    """Split -> the ``part`` values of its buckets in file order, each hashing to a partition of its own.

    Spark sends a row to partition pmod(hash(key), n). Bucket numbers used as keys collide (with 3
    splits x 2 buckets, "train" and "test" once shared a task that ordered 80% of the rows while the
    other core idled): each bucket gets instead the smallest int that hashes to a partition no other
    bucket has, so every one of the n tasks orders exactly one bucket.
    """
    n = len(SPLITS) * parts_per_split
    by_partition: dict[int, int] = {}
    value = 0
    while len(by_partition) < n:
        by_partition.setdefault(_spark_hash(value) % n, value)
        value += 1
    return {split: [by_partition[i * parts_per_split + b] for b in range(parts_per_split)]
            for i, split in enumerate(SPLITS)}


def ordered_parts(lines: DataFrame, seed: int, parts_per_split: int) -> DataFrame:
    """Each split cut into ``parts_per_split`` buckets of its shuffle order, one task orders each bucket.

    The rows come out sorted by ``SHUFFLE_ORDER`` within each ``part`` and deduplicated, with a
    ``line`` per text; the buckets of a split, written in ``part_keys`` order, are the split's file.
    The shuffle key is uniform in [0, 1), so bucket b holds the keys in [b/k, (b+1)/k): equal
    buckets without sampling the input (a range partitioner would run the tokenizing twice), and
    copies of a text share a key, so they land in one bucket next to each other. Only each row and
    the one before it are compared, in the sort the write needs anyway: one shuffle splits,
    shuffles and de-duplicates (two more, grouped by id and by text, cost the job a fifth of its
    time). One task per split made a split's sort the job's critical path on any cluster.
    """
    keys = part_keys(parts_per_split)
    bucket = F.least(F.floor(F.col("shuffle_key") * parts_per_split), F.lit(parts_per_split - 1)).cast("int")
    split_index = code_counts.index("split", SPLITS)
    key_of = F.array(*[F.lit(k) for split in SPLITS for k in keys[split]])
    previous = F.lag("tokens").over(Window.partitionBy(PART).orderBy(*SHUFFLE_ORDER))
    return (lines.withColumn("shuffle_key", uniform_key(seed, "shuffle", "tokens"))
            .withColumn(PART, F.element_at(key_of, split_index * parts_per_split + bucket + 1))
            .repartition(len(SPLITS) * parts_per_split, PART)
            .withColumn("__previous", previous)
            .where(F.col("__previous").isNull() | (F.col("__previous") != F.col("tokens")))
            .drop("__previous")
            .withColumn("line", F.concat_ws(" ", "label", "tokens")))


def split_lines(lines: DataFrame, split: str = "0.6,0.2,0.2", seed: int = 42) -> dict[str, DataFrame]:
    """Train, validation and test of ``prepare.fasttext_lines``' rows, as the job writes their files:
    a text in one split only, its copies removed, each split in the seeded shuffle order, one
    ``line`` (``__label__<x> tok tok ...``) per row. ``split`` is three fractions, ``"0.6,0.2,0.2"``;
    lines with ``SPLIT_GROUP`` (``fasttext_lines(group_column=...)``) are split by group."""
    parts = ordered_parts(assign_split(lines, parse_split(split), seed), seed, 1)
    return {name: parts.where(F.col("split") == name).orderBy(*SHUFFLE_ORDER).select("line") for name in SPLITS}
