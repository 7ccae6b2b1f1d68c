"""The balance job: equal (or capped) reviews per category, read through partition push-down."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from . import sources
from .catalog import register_table
from .errors import ReviewcatError
from .options import OUTPUT, SOURCE, Option, name_list, positive_int
from .runtime import Runtime
from .sampling import SamplingPlan, exact_sample, plan_sample
from .storage import json_text
from .writers import write_balanced

log = logging.getLogger(__name__)

BALANCE_FILE = "_balance.json"

OPTIONS = SOURCE + OUTPUT + [
    Option("output-table", "catalog table for the result, [database.]name "
           "(default: <table>_balanced beside a catalog input; a path input is not registered)"),
    Option("categories", "comma-separated categories to keep (default: all)", name_list),
    Option("per-category", "keep at most N reviews per category instead of cutting all to the smallest",
           positive_int),
    Option("min-category-size", "leave out categories with fewer than M reviews before balancing", positive_int),
]


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


def _log_plan(plan: SamplingPlan) -> None:
    log.info("%-32s %12s %10s %10s", "category", "reviews", "factor", "keep")
    for category, count in plan.counts.items():
        if category in plan.targets:
            log.info("%-32s %12d %10.6f %10d", category, count, plan.factors[category], plan.targets[category])
        else:
            log.info("%-32s %12d %10s %10s", category, count, "dropped", 0)
    log.info("total: %d reviews in, %d kept in %d categories",
             sum(plan.counts.values()), sum(plan.targets.values()), len(plan.targets))


def run(rt: Runtime, args: Any) -> BalanceResult:
    source = sources.Source.from_args(args)
    if not args.output_path:
        raise ReviewcatError("--output-path is required: where to write the balanced table")
    output = rt.storage.qualify(args.output_path.rstrip("/"))
    rt.storage.prepare_output(output, args.overwrite)
    table = _output_table(source, args.output_table, rt.on_glue)

    categories = sources.select_categories(sources.list_categories(rt, source), args.categories)
    log.info("counting reviews of %d categories in %s from parquet metadata", len(categories), source.describe())
    plan = plan_sample(sources.count_by_category(rt, source, categories), args.per_category, args.min_category_size)
    _log_plan(plan)

    kept = list(plan.targets)
    sample = exact_sample(sources.read(rt, source, kept), plan, args.seed)
    with rt.storage.staged(output) as staging:
        log.info("sampling and writing %d reviews to %s", sum(plan.targets.values()), output)
        write_balanced(sample, staging)
        written = sources.count_by_category(rt, sources.Source(path=staging), kept)
        if written != plan.targets:
            short = {c: (written[c], plan.targets[c]) for c in kept if written[c] != plan.targets[c]}
            raise ReviewcatError(f"sample came out short for {short} (kept, wanted): rerun with another --seed")
        summary = {"source": source.describe(), "seed": args.seed, **plan.to_dict()}
        rt.storage.write_text(f"{staging}/{BALANCE_FILE}", json_text(summary))
    if table:
        database, name = table.split(".", 1)
        register_table(rt.spark, database, name, output, replace=True)
        log.info("registered %s -> %s", table, output)
    return BalanceResult(plan, output, table)
