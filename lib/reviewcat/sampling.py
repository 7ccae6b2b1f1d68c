"""Balanced sampling: per-group targets from counts, then an exact, seeded, uniform sample.

``DataFrame.sample(fraction)`` keeps each row independently, so group sizes only come out roughly
equal, and ``rand(seed)`` depends on how rows happen to be partitioned. Here every row gets a
uniform key from a hash of the seed and its review_id, and each group keeps exactly its target
number of rows with the smallest keys: the same subset on one core or a cluster.

A group is a category, a class of another label (a sentiment), or a (category, class) cell; a
plan's keys are the group's value, or a tuple of values for a cell.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window, functions as F

from .columns import lookup
from .errors import ReviewcatError
from .sources import CATEGORY

log = logging.getLogger(__name__)

ID_COLUMN = "review_id"
_KEY = "__reviewcat_key"
_SEPARATOR = "\u0001"  # between a cell's values in its key: no category or class holds it
SAMPLE_RANK = "sample_rank"


def uniform_key(seed: int, purpose: str, column: str = ID_COLUMN) -> Column:
    """A number in [0, 1) that depends only on (seed, purpose, column value): partitioning-proof."""
    hashed = F.xxhash64(F.lit(int(seed)), F.lit(purpose), F.col(column))
    return hashed.bitwiseAND(F.lit((1 << 53) - 1)).cast("double") / float(1 << 53)


def key_name(key: Hashable) -> str:
    """A group as the log and messages show it: a cell as ``category / class``."""
    return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def nested(values: Mapping[Hashable, object]) -> dict:
    """JSON for a mapping by group: cells nest as {category: {class: value}}."""
    out: dict = {}
    for key, value in values.items():
        if isinstance(key, tuple):
            out.setdefault(str(key[0]), {})[str(key[1])] = value
        else:
            out[str(key)] = value
    return out


@dataclass(frozen=True)
class SamplingPlan:
    counts: dict[Hashable, int]
    targets: dict[Hashable, int]
    dropped: dict[Hashable, int] = field(default_factory=dict)

    @property
    def factors(self) -> dict[Hashable, float]:
        return {c: self.targets[c] / self.counts[c] for c in self.targets}

    def to_dict(self) -> dict:
        return {"counts": nested(self.counts), "dropped": nested(self.dropped), "targets": nested(self.targets),
                "factors": nested({c: round(f, 8) for c, f in self.factors.items()})}


def plan_sample(counts: Mapping[Hashable, int], per_class: int | None = None, min_class_size: int | None = None,
                noun: tuple[str, str] = ("category", "categories")) -> SamplingPlan:
    """Rows to keep per group (``noun`` names a group in messages: category, class or cell).

    By default every kept group is cut down to the smallest one. ``per_class`` caps each group
    instead (smaller ones keep all their rows), and ``min_class_size`` drops groups too small to be
    worth equalizing on before the smallest is chosen (for cells, every cell of that category).
    """
    one, many = noun
    counts = dict(sorted(counts.items()))
    empty = [key_name(c) for c, n in counts.items() if n == 0]
    if empty and not min_class_size:
        raise ReviewcatError(f"{many} with no reviews: {', '.join(empty)}: leave them out of "
                             "--categories or pass --min-class-size")
    floor = min_class_size or 1
    # A cell below the floor takes its whole category with it: keeping the category's other cells
    # would leave it with some classes only, the imbalance balancing by cell exists to remove.
    weak = {c[0] if isinstance(c, tuple) else c for c, n in counts.items() if n < floor}
    dropped = {c: n for c, n in counts.items() if (c[0] if isinstance(c, tuple) else c) in weak}
    kept = {c: n for c, n in counts.items() if c not in dropped}
    if not kept:
        largest = max(counts, key=counts.get)
        raise ReviewcatError(f"no {one} has at least {floor} reviews (largest: {key_name(largest)} with "
                             f"{counts[largest]}): lower --min-class-size")
    if dropped:
        what = "categories with a cell" if any(isinstance(c, tuple) for c in dropped) else many
        log.warning("dropping %d %s below --min-class-size %d: %s", len(weak), what, floor,
                    ", ".join(f"{key_name(c)} ({n})" for c, n in dropped.items()))
    target = per_class if per_class else min(kept.values())
    return SamplingPlan(counts=counts, targets={c: min(n, target) for c, n in kept.items()}, dropped=dropped)


def _threshold(target: int, count: int) -> float:
    """Key cut-off that lets through enough rows with overwhelming probability (8 sigma margin)."""
    if target >= count:
        return 1.0
    return min(1.0, (target + 8.0 * math.sqrt(target) + 32.0) / count)


def _group_key(by: Sequence[str]) -> Column:
    columns = [F.col(c).cast("string") for c in by]
    return columns[0] if len(columns) == 1 else F.concat_ws(_SEPARATOR, *columns)


def _key_text(group: Hashable) -> str:
    return _SEPARATOR.join(map(str, group)) if isinstance(group, tuple) else str(group)


def exact_sample(frame: DataFrame, plan: SamplingPlan, seed: int, by: Sequence[str] = (CATEGORY,)) -> DataFrame:
    """Exactly ``plan.targets[g]`` rows of each group ``g`` of the ``by`` columns, uniformly at random by ``seed``.

    A cheap key filter first shrinks each group to a little over its target, so the window that
    ranks rows only sorts about as many rows as are kept. ``sample_rank`` (1..target within the
    group) gives writers a deterministic order. Each group's target and cut-off are literal maps
    in the plan: a broadcast join of a plan table cost a Spark job of its own (0.23 s of a 3.9 s
    balance of 1M reviews).
    """
    if ID_COLUMN not in frame.columns:
        raise ReviewcatError(f"the input has no {ID_COLUMN} column, needed to sample reproducibly")
    by = list(by)
    group = _group_key(by)
    targets = lookup({_key_text(g): plan.targets[g] for g in plan.targets}, group)
    thresholds = lookup({_key_text(g): _threshold(plan.targets[g], plan.counts[g]) for g in plan.targets}, group)
    # Ties (repeated review_ids) are broken by every other column so the ranking is total.
    others = [c for c in frame.columns if c not in by]
    ranked = (frame.withColumn(_KEY, uniform_key(seed, "sample"))
              .where(F.col(_KEY) < thresholds)  # null, so false, for groups the plan leaves out
              .withColumn(SAMPLE_RANK, F.row_number().over(
                  Window.partitionBy(*by).orderBy(F.col(_KEY), *others))))
    return ranked.where(F.col(SAMPLE_RANK) <= targets).select(*by, *others, SAMPLE_RANK)
