"""Balanced sampling: per-category targets from counts, then an exact, seeded, uniform sample.

``DataFrame.sample(fraction)`` keeps each row independently, so category sizes only come out
roughly equal, and ``rand(seed)`` depends on how rows happen to be partitioned. Here every row gets
a uniform key from a hash of the seed and its review_id, and each category keeps exactly its target
number of rows with the smallest keys: the same subset on one core or a cluster.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping

from pyspark.sql import Column, DataFrame, Window, functions as F

from .errors import ReviewcatError
from .sources import CATEGORY

log = logging.getLogger(__name__)

ID_COLUMN = "review_id"
_KEY = "__reviewcat_key"
SAMPLE_RANK = "sample_rank"


def uniform_key(seed: int, purpose: str, column: str = ID_COLUMN) -> Column:
    """A number in [0, 1) that depends only on (seed, purpose, column value): partitioning-proof."""
    hashed = F.xxhash64(F.lit(int(seed)), F.lit(purpose), F.col(column))
    return hashed.bitwiseAND(F.lit((1 << 53) - 1)).cast("double") / float(1 << 53)


@dataclass(frozen=True)
class SamplingPlan:
    counts: dict[str, int]
    targets: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def factors(self) -> dict[str, float]:
        return {c: self.targets[c] / self.counts[c] for c in self.targets}

    def to_dict(self) -> dict:
        return {"counts": self.counts, "dropped": self.dropped, "targets": self.targets,
                "factors": {c: round(f, 8) for c, f in self.factors.items()}}


def plan_sample(counts: Mapping[str, int], per_category: int | None = None,
                min_category_size: int | None = None) -> SamplingPlan:
    """Rows to keep per category.

    By default every kept category is cut down to the smallest one. ``per_category`` caps each
    category instead (smaller ones keep all their rows), and ``min_category_size`` drops categories
    too small to be worth equalizing on before the smallest is chosen.
    """
    counts = dict(sorted(counts.items()))
    empty = [c for c, n in counts.items() if n == 0]
    if empty and not min_category_size:
        raise ReviewcatError(f"categories with no reviews: {', '.join(empty)}: leave them out of "
                             "--categories or pass --min-category-size")
    floor = min_category_size or 1
    dropped = {c: n for c, n in counts.items() if n < floor}
    kept = {c: n for c, n in counts.items() if n >= floor}
    if not kept:
        largest = max(counts, key=counts.get)
        raise ReviewcatError(f"no category has at least {floor} reviews (largest: {largest} with "
                             f"{counts[largest]}): lower --min-category-size")
    if dropped:
        log.warning("dropping %d categories below --min-category-size %d: %s", len(dropped), floor,
                    ", ".join(f"{c} ({n})" for c, n in dropped.items()))
    target = per_category if per_category else min(kept.values())
    return SamplingPlan(counts=counts, targets={c: min(n, target) for c, n in kept.items()}, dropped=dropped)


def _threshold(target: int, count: int) -> float:
    """Key cut-off that lets through enough rows with overwhelming probability (8 sigma margin)."""
    if target >= count:
        return 1.0
    return min(1.0, (target + 8.0 * math.sqrt(target) + 32.0) / count)


def exact_sample(frame: DataFrame, plan: SamplingPlan, seed: int) -> DataFrame:
    """Exactly ``plan.targets[c]`` rows of each category, uniformly at random by ``seed``.

    A cheap key filter first shrinks each category to a little over its target, so the window
    that ranks rows only sorts about as many rows as are kept. ``sample_rank`` (1..target within
    the category) gives writers a deterministic order.
    """
    if ID_COLUMN not in frame.columns:
        raise ReviewcatError(f"the input has no {ID_COLUMN} column, needed to sample reproducibly")
    spark = frame.sparkSession
    plan_rows = [(c, plan.targets[c], _threshold(plan.targets[c], plan.counts[c])) for c in plan.targets]
    plan_frame = spark.createDataFrame(plan_rows, f"{CATEGORY} string, __target long, __threshold double")
    # Ties (repeated review_ids) are broken by every other column so the ranking is total.
    tie_break = [F.col(c) for c in frame.columns if c not in (CATEGORY,)]
    ranked = (frame.withColumn(_KEY, uniform_key(seed, "sample"))
              .join(F.broadcast(plan_frame), CATEGORY)
              .where(F.col(_KEY) < F.col("__threshold"))
              .withColumn(SAMPLE_RANK, F.row_number().over(
                  Window.partitionBy(CATEGORY).orderBy(F.col(_KEY), *tie_break))))
    return (ranked.where(F.col(SAMPLE_RANK) <= F.col("__target"))
            .drop(_KEY, "__target", "__threshold"))
