"""``make demo``: the whole pipeline on generated data, local Spark, embedded defaults."""
from __future__ import annotations

import logging
import os

from . import balance, prepare
from .catalog import crawl
from .options import namespace
from .runtime import Runtime, spark_session
from .sample_data import write_sample_data

log = logging.getLogger(__name__)

DATABASE = "reviewcat_demo"


def run_demo(workdir: str, rows: int, seed: int) -> str:
    """Run every stage into ``workdir`` (replacing an earlier demo) and return a summary to print."""
    workdir = os.path.abspath(workdir)
    raw, balanced, prepared = (os.path.join(workdir, name) for name in ("raw", "balanced", "prepared"))
    log.info("1/4 generating %d sample reviews in %s", rows, raw)
    sizes = write_sample_data(raw, rows, seed, overwrite=True)
    rt = Runtime(spark_session(os.path.join(workdir, "warehouse"), app_name="reviewcat-demo"))
    log.info("2/4 crawling %s", raw)
    crawl(rt, raw, DATABASE, "reviews")
    log.info("3/4 balancing")
    balanced_result = balance.run(rt, namespace(balance.OPTIONS, database=DATABASE, table="reviews",
                                                output_path=balanced, seed=seed, overwrite=True))
    log.info("4/4 preparing train/validation/test files")
    prepared_result = prepare.run(rt, namespace(prepare.OPTIONS, database=DATABASE, table="reviews_balanced",
                                                output_path=prepared, seed=seed, overwrite=True))
    plan, files = balanced_result.plan, prepared_result.manifest["files"]
    smallest = min(sizes, key=sizes.get)
    largest = max(sizes, key=sizes.get)
    return "\n".join([
        "",
        "reviewcat demo finished",
        f"  raw reviews:       {sum(sizes.values()):>9,} in {len(sizes)} categories "
        f"({largest} {sizes[largest]:,} ... {smallest} {sizes[smallest]:,})",
        f"  balanced:          {sum(plan.targets.values()):>9,} = {len(plan.targets)} categories x "
        f"{min(plan.targets.values()):,}",
        f"  after cleaning:    {prepared_result.manifest['rows_out']:>9,} (empty, short and duplicate reviews removed)",
        *(f"  {split + ':':<18} {info['rows']:>9,}  {prepared_result.output_path}/{info['path']}"
          for split, info in files.items()),
        f"  manifest:          {prepared_result.output_path}/{prepare.MANIFEST}",
        f"  catalog:           {DATABASE}.reviews, {balanced_result.table} in {workdir}/warehouse",
    ])
