"""The balance job: equal (or capped) reviews per class, read through partition push-down.

The class is the product category (the partition: counts come from parquet footers), a sentiment or
star class from the rating, or any column; ``--within`` balances each (category, class) cell
instead, so that no category is left with one sentiment only. For a label other than the partition
the counts come from one scan of the rating and partition columns, and the bias of the label
across categories is measured before and after (``_bias.json``).
"""
from __future__ import annotations

import logging
from argparse import Namespace
from dataclasses import dataclass
from typing import Sequence

from pyspark.sql import DataFrame

from reviewcat.prep.bias import counts_bias, labelled_cells
from reviewcat.prep.bias_metrics import cell_counts
from reviewcat.prep.labels import LabelSpec, label_spec
from reviewcat.prep.sampling import SamplingPlan, exact_sample, key_name, plan_sample
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import OUTPUT, READING, SOURCE, Option, name_list, positive_int, stage_arguments
from reviewcat.runtime.storage import json_text
from reviewcat.schema import BALANCE_FILE, BIAS_FILE, LABEL, SAMPLE_ORDER
from reviewcat.tables import sources
from reviewcat.tables.catalog import check_replaceable, register_table
from reviewcat.tables.writers import write_balanced

log = logging.getLogger(__name__)


OPTIONS = SOURCE + READING + OUTPUT + [
    Option("output-table", "catalog table for the result, [database.]name "
           "(default: <table>_balanced beside a catalog input; a path input is not registered)"),
    Option("label", "what to balance: category, sentiment (star_rating 1-2, 3, 4-5), stars or a column name",
           default="category"),
    Option("within", "balance every (value of this column, class) cell instead, e.g. product_category (default: "
           "the classes alone)"),
    Option("categories", "comma-separated categories to keep (default: all)", name_list),
    Option("per-class", "keep at most N reviews per class (or cell) (default: as many as the smallest has)",
           positive_int, aliases=("per-category",)),
    Option("min-class-size", "leave out classes (or cells) with fewer than M reviews before balancing (default: "
           "keep them all)",
           positive_int, aliases=("min-category-size",)),
]


@dataclass(frozen=True)
class Balanced:
    """A balanced sample and the plan behind it (each class's count, target and factor)."""
    sample: DataFrame  # with the columns writers order it by (``sample_order``, the label)
    plan: SamplingPlan

    @property
    def rows(self) -> DataFrame:
        """The sampled rows with the input's columns only."""
        return self.sample.drop(SAMPLE_ORDER, LABEL)


def balanced(frame: DataFrame, label: str = "category", *, within: str | None = None, per_class: int | None = None,
             min_class_size: int | None = None, seed: int = 42, plan: SamplingPlan | None = None) -> Balanced:
    """The same number of reviews of every class of ``frame`` (or of every (``within``, class) cell), or
    at most ``per_class``: an exact, seeded, uniform sample, the same on any partitioning.

    ``label`` is ``category``, ``sentiment``, ``stars`` or a column, as for ``reviewcat balance``. Without
    ``plan`` the classes are counted in one aggregation of the frame; the job passes the plan it made
    from parquet footers before reading, so that it reads only the partitions it keeps.
    """
    spec = label_spec(label)
    by_category = spec.column == sources.CATEGORY and not within
    if plan is None:
        if by_category:
            counts = {r[0]: r[1] for r in frame.groupBy(sources.CATEGORY).count().collect()}
            groups = _Groups([sources.CATEGORY], counts, {}, ("category", "categories"))
        else:
            groups = _class_groups(frame, spec, within, "the frame")
        plan = plan_sample(groups.counts, per_class, min_class_size, groups.noun)
    if by_category:
        return Balanced(exact_sample(frame, plan, seed), plan)
    by = [within, LABEL] if within else [LABEL]
    return Balanced(exact_sample(frame.withColumn(LABEL, spec.expression()), plan, seed, by), plan)


@dataclass(frozen=True)
class BalanceResult:
    plan: SamplingPlan
    output_path: str
    table: str | None


def _output_table(source: sources.Source, requested: str | None, on_glue: bool) -> str | None:
    """The table to register: as asked, else ``<table>_balanced`` beside a catalog input.

    On Glue the workflow's balanced-output crawler registers the result, so only an explicit
    ``--output-table`` is registered there.
    """
    if requested:
        return requested if "." in requested else f"{source.database or 'default'}.{requested}"
    return f"{source.database}.{source.table}_balanced" if source.table and not on_glue else None


def _log_plan(plan: SamplingPlan, noun: tuple[str, str]) -> None:
    log.info("%-32s %12s %10s %10s", noun[0], "reviews", "factor", "keep")
    for key, count in plan.counts.items():
        if key in plan.targets:
            log.info("%-32s %12d %10.6f %10d", key_name(key), count, plan.factors[key], plan.targets[key])
        else:
            log.info("%-32s %12d %10s %10s", key_name(key), count, "dropped", 0)
    log.info("total: %d reviews in, %d kept in %d %s",
             sum(plan.counts.values()), sum(plan.targets.values()), len(plan.targets), noun[1])


@dataclass(frozen=True)
class _Groups:
    """How rows are grouped for balancing: the columns, the plan's counts per group, and the
    (facet, class) cells behind them (for the bias report; empty when balancing categories)."""
    by: list[str]
    counts: dict
    cells: dict
    noun: tuple[str, str]
    facet: str = sources.CATEGORY
    within: bool = False


def _group_counts(cells: dict, within: bool, classes: list[str]) -> dict:
    """Rows per class, or per (facet value, class) cell (every pair, empty ones as 0), from the cells."""
    if within:
        return {(f, c): cells.get((f, c), 0) for f in sorted({f for f, _ in cells}) for c in classes}
    return {c: sum(n for (_, x), n in cells.items() if x == c) for c in classes}


def _class_groups(frame: DataFrame, spec: LabelSpec, within: str | None, source: str) -> _Groups:
    """Counts per class or per (``within`` value, class) cell, from one scan of the narrow columns."""
    facet = within or sources.CATEGORY
    log.info("counting %s classes per %s in %s (reading those two columns only)", spec.name, facet, source)
    cells = labelled_cells(frame, facet, spec, source, "--within")
    counts = _group_counts(cells, bool(within), spec.classes or sorted({c for _, c in cells}))
    if within:
        return _Groups([within, LABEL], counts, cells, ("cell", "cells"), within, True)
    return _Groups([LABEL], counts, cells, ("class", "classes"))


def _bias(groups: _Groups, written: dict, spec: LabelSpec, source: str, output: str) -> dict | None:
    """The label's bias across the facet in the input and in the balanced output, when it is defined."""
    try:
        return {"before": counts_bias(groups.cells, groups.facet, spec, None, source),
                "after": counts_bias(written, groups.facet, spec, None, output)}
    except ReviewcatError as exc:  # e.g. one category only: balancing still holds, bias does not apply
        log.warning("no bias report: %s", exc)
        return None


def balance(rt: Runtime, *, output_path: str, input_path: str | None = None, database: str | None = None,
            table: str | None = None, output_table: str | None = None, label: str = "category",
            within: str | None = None, categories: Sequence[str] | None = None, per_class: int | None = None,
            min_class_size: int | None = None, seed: int = 42, overwrite: bool = False,
            skip_corrupt_files: bool = False) -> BalanceResult:
    """Writes an equal (or capped) sample per class of a review table to ``output_path`` as parquet
    partitioned by category, registers it as ``output_table`` (by default ``<table>_balanced`` beside a
    catalog input), and returns the plan. The keywords are ``reviewcat balance``'s flags."""
    source = sources.Source.of(input_path, database, table)
    claimed = rt.storage.claim_output(output_path, overwrite, "where to write the balanced table",
                                      sources.input_paths(rt, source))
    output = claimed.path
    registered = _output_table(source, output_table, rt.on_glue)
    if registered:  # refused now, not after the work: the input table, or another's managed table
        if source.table and registered == f"{source.database}.{source.table}":
            raise ReviewcatError(f"--output-table {registered} is the input table: choose another name")
        check_replaceable(rt.spark, *registered.split(".", 1), output)
    spec = label_spec(label)

    readable, skipped = sources.readable_categories(rt, source, categories, skip_corrupt_files)
    if spec.column == sources.CATEGORY and not within:
        log.info("counting reviews of %d categories in %s from parquet metadata", len(readable), source.describe())
        groups = _Groups([sources.CATEGORY], sources.count_by_category(rt, source, readable), {},
                         ("category", "categories"))
        frame = None
    else:
        frame = sources.read(rt, source, readable)
        groups = _class_groups(frame, spec, within, source.describe())
    plan = plan_sample(groups.counts, per_class, min_class_size, groups.noun)
    _log_plan(plan, groups.noun)

    # Planned from footers, a category balance reads only the categories it keeps.
    kept = frame if frame is not None else sources.read(rt, source, list(plan.targets))
    sample = balanced(kept, label, within=within, seed=seed, plan=plan).sample
    with rt.storage.staged(claimed) as staging:
        log.info("sampling and writing %d reviews to %s", sum(plan.targets.values()), output)
        write_balanced(sample, staging, groups.by)
        written_cells, written = _written(rt, staging, list(plan.targets), spec, groups)
        if written != plan.targets:
            short = {key_name(c): (written.get(c, 0), plan.targets[c]) for c in plan.targets
                     if written.get(c, 0) != plan.targets[c]}
            raise ReviewcatError(f"sample came out short for {short} (kept, wanted): rerun with another --seed")
        summary = {"source": source.describe(), "seed": seed, "label": spec.to_dict(),
                   **({"within": within} if within else {}),
                   **({"skipped_files": skipped} if skipped else {}), **plan.to_dict()}
        rt.storage.write_text(f"{staging}/{BALANCE_FILE}", json_text(summary))
        if groups.cells:
            bias = _bias(groups, written_cells, spec, source.describe(), output)
            if bias:
                rt.storage.write_text(f"{staging}/{BIAS_FILE}", json_text(bias))
    if registered:
        register_table(rt.spark, *registered.split(".", 1), output, replace=True)
        log.info("registered %s -> %s", registered, output)
    return BalanceResult(plan, output, registered)


def run(rt: Runtime, args: Namespace) -> BalanceResult:
    return balance(rt, **stage_arguments(OPTIONS, args))


def _written(rt: Runtime, staging: str, kept: list, spec: LabelSpec, groups: _Groups) -> tuple[dict, dict]:
    """What the staged output holds: its (facet, class) cells and its rows per group, counted again."""
    if not groups.cells:
        return {}, sources.count_by_category(rt, sources.Source(path=staging), kept)
    cells = cell_counts(rt.spark.read.parquet(staging), groups.facet, spec.expression())
    counts = _group_counts(cells, groups.within, sorted({c for _, c in cells}))
    return cells, {key: n for key, n in counts.items() if n}
