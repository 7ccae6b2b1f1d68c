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
from typing import Callable, Hashable, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window, functions as F

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import CATEGORY, SAMPLE_ORDER
from reviewcat.tables.columns import lookup

log = logging.getLogger(__name__)

ID_COLUMN = "review_id"
_KEY = "__reviewcat_key"
_SEPARATOR = "\u0001"  # between a cell's values in its key: no category or class holds it
# At or above this share of rows kept, the sample is filtered where it is read, not ranked in one
# task per group: its files are then at least a quarter the size of the input's (see exact_sample).
SHUFFLE_FREE_SHARE = 0.25


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
                             "the categories or pass min_class_size (--min-class-size)")
    floor = min_class_size or 1
    # A cell below the floor takes its whole category with it: keeping the category's other cells
    # would leave it with some classes only, the imbalance balancing by cell exists to remove.
    weak = {c[0] if isinstance(c, tuple) else c for c, n in counts.items() if n < floor}
    dropped = {c: n for c, n in counts.items() if (c[0] if isinstance(c, tuple) else c) in weak}
    kept = {c: n for c, n in counts.items() if c not in dropped}
    if not kept:
        largest = max(counts, key=counts.get)
        raise ReviewcatError(f"no {one} has at least {floor} reviews (largest: {key_name(largest)} with "
                             f"{counts[largest]}): lower min_class_size (--min-class-size)")
    if dropped:
        what = "categories with a cell" if any(isinstance(c, tuple) for c in dropped) else many
        log.warning("dropping %d %s below min_class_size %d: %s", len(weak), what, floor,
                    ", ".join(f"{key_name(c)} ({n})" for c, n in dropped.items()))
    target = per_class if per_class else min(kept.values())
    return SamplingPlan(counts=counts, targets={c: min(n, target) for c, n in kept.items()}, dropped=dropped)


def _threshold(target: int, count: int) -> float:
    """Key cut-off that lets through enough rows with overwhelming probability (8 sigma margin)."""
    if target >= count:
        return 1.0
    return min(1.0, (target + 8.0 * math.sqrt(target) + 32.0) / count)


def _floor(target: int, count: int) -> float:
    """Key below which a group has fewer than ``target`` rows with overwhelming probability: the
    mirror of ``_threshold``, so only the rows between the two are ranked."""
    return max(0.0, (target - 8.0 * math.sqrt(target) - 32.0) / count)


def _group_key(by: Sequence[str]) -> Column:
    columns = [F.col(c).cast("string") for c in by]
    return columns[0] if len(columns) == 1 else F.concat_ws(_SEPARATOR, *columns)


def _key_text(group: Hashable) -> str:
    return _SEPARATOR.join(map(str, group)) if isinstance(group, tuple) else str(group)


def _by_group(plan: SamplingPlan, value: Callable[[Hashable], object], group: Column) -> Column:
    """A per-group value of the plan as a column: null for groups the plan leaves out."""
    return lookup({_key_text(g): value(g) for g in plan.targets}, group)


def _cutoffs(frame: DataFrame, plan: SamplingPlan, seed: int, by: Sequence[str]) -> dict[str, float] | None:
    """Each group's exact cut-off key from its group and key alone, or None when it cannot be told so.

    Rows below the floor are only counted; the few between floor and threshold (about 16 standard
    deviations of the target) are gathered per group, and the cut-off is the key that makes the
    count up to the target. When the next key is the same (a review_id repeated across the cut), only
    the other columns can break the tie: the caller then ranks full rows instead.
    """
    group = _group_key(by)
    key = uniform_key(seed, "sample")
    floor = _by_group(plan, lambda g: _floor(plan.targets[g], plan.counts[g]), group)
    band = (frame.select(group.alias("group"), key.alias("key"), floor.alias("floor"))
            .where(F.col("key") < _by_group(plan, lambda g: _threshold(plan.targets[g], plan.counts[g]), group))
            .groupBy("group")
            .agg(F.count_if(F.col("key") < F.col("floor")).alias("below"),
                 F.sort_array(F.collect_list(F.when(F.col("key") >= F.col("floor"), F.col("key")))).alias("band")))
    # The cut is the (target - below)-th key of the band; none when the floor let in too many rows.
    at = (_by_group(plan, plan.targets.get, F.col("group")) - F.col("below")).cast("int")
    rows = band.select("group", F.when(at >= 1, F.try_element_at("band", at)).alias("cut"),
                       F.when(at >= 1, F.try_element_at("band", at + 1)).alias("next")).collect()
    cuts = {row["group"]: row["cut"] for row in rows}
    if len(cuts) < len(plan.targets) or any(row["cut"] is None or row["cut"] == row["next"] for row in rows):
        return None
    return cuts


def exact_sample(frame: DataFrame, plan: SamplingPlan, seed: int, by: Sequence[str] = (CATEGORY,)) -> DataFrame:
    """Exactly ``plan.targets[g]`` rows of each group ``g`` of the ``by`` columns, uniformly at random by ``seed``.

    The rows kept are those with the smallest keys of their group, ties broken by the other
    columns. A ranked sample carries ``sample_order`` (1..target within the group) for writers to
    write in; a filtered one keeps the order it was read in.

    When a good share of the rows is kept, each group's cut-off key comes from a narrow pass (its
    group and key only), and full rows are filtered where they are read: moving most of the rows
    to rank them made balance slower than a plain ``sample()``. Otherwise a cheap key filter
    shrinks each group to a little over its target and a window ranks the rows: each group lands
    in one task, so in one file, instead of a small file per input file. Targets and cut-offs are
    literal maps: a broadcast join of a plan table cost a Spark job of its own on every run
    (timings in docs/performance.md).
    """
    if ID_COLUMN not in frame.columns:
        raise ReviewcatError(f"the input has no {ID_COLUMN} column, needed to sample reproducibly")
    by = list(by)
    group = _group_key(by)
    others = [c for c in frame.columns if c not in by]
    keyed = frame.withColumn(_KEY, uniform_key(seed, "sample"))
    kept = sum(plan.targets.values()) / max(1, sum(plan.counts[g] for g in plan.targets))
    cuts = _cutoffs(frame, plan, seed, by) if kept >= SHUFFLE_FREE_SHARE else None
    if cuts is not None:
        log.info("keeping %.0f%% of the rows: filtering by each group's cut-off where the rows are read", 100 * kept)
        return keyed.where(F.col(_KEY) <= lookup(cuts, group)).select(*by, *others)
    # Ties (repeated review_ids) are broken by every other column so the ranking is total.
    ranked = (keyed.where(F.col(_KEY) < _by_group(plan, lambda g: _threshold(plan.targets[g], plan.counts[g]), group))
              .withColumn(SAMPLE_ORDER, F.row_number().over(Window.partitionBy(*by).orderBy(F.col(_KEY), *others))))
    return ranked.where(F.col(SAMPLE_ORDER) <= _by_group(plan, plan.targets.get, group)).select(*by, *others, SAMPLE_ORDER)
