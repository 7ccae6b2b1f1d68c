"""``make demo``: ``reviewcat pipeline`` on generated data, local Spark, embedded defaults.

It starts where a user following the talk starts today: from a dump in the Amazon Reviews 2023
format (the public parquet bucket is gone), which it imports and registers in the catalog.
"""
from __future__ import annotations

import json
import logging
import os
import shutil

from reviewcat import pipeline
from reviewcat.prep import prepare
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.options import namespace
from reviewcat.runtime.session import spark_session
from reviewcat.schema import SPLITS
from reviewcat.synthetic.sample_data import release_of, write_sample_data
from reviewcat.train.evaluate import MATRIX_PNG, REPORT_FILE
from reviewcat.train.local_search import MODEL_FILE

log = logging.getLogger(__name__)

DATABASE = "reviewcat_demo"
# Equalizing on the smallest generated category (a few dozen reviews at 200,000) would leave too little
# text to learn from: the demo drops categories under this many reviews, as users would.
MIN_CATEGORY_SHARE = 1 / 200


def run_demo(workdir: str, rows: int, seed: int) -> str:
    """Generate a dump, run ``reviewcat pipeline`` on it into ``workdir``, return a summary to print.

    A rerun generates the same dump, so the pipeline finds every step up to date and only reports.
    """
    workdir = os.path.abspath(workdir)
    dump = os.path.join(workdir, "dump")
    sizes = _dump(dump, rows, seed)
    # A demo folder the pipeline did not write (an earlier version's) starts over, its catalog
    # database too: the demo's tables are external, so dropping them forgets only where they were.
    fresh = not os.path.exists(os.path.join(workdir, pipeline.STATE_FILE))
    rt = Runtime(spark_session(os.path.join(workdir, "warehouse"), app_name="reviewcat-demo"))
    if fresh:
        rt.spark.sql(f"DROP DATABASE IF EXISTS `{DATABASE}` CASCADE")
    # The defaults, as a user starts; the catalog as on Glue.
    result = pipeline.run(rt, namespace(pipeline.OPTIONS, format="amazon-2023", input_path=dump, output_path=workdir,
                                        database=DATABASE, seed=seed, rerun=fresh, quantize=True,
                                        min_class_size=max(1, int(rows * MIN_CATEGORY_SHARE))))
    rt.spark.stop()
    imported, plan = result.results["import"], result.results["balance"]
    manifest, metrics = result.results["prepare"], result.results["train"]
    files, targets = manifest["files"], plan["targets"]
    folders = {step: os.path.join(workdir, folder) for step, folder in pipeline.STEP_FOLDERS.items()}
    smallest = min(sizes, key=sizes.get)
    largest = max(sizes, key=sizes.get)
    return "\n".join([
        "",
        "reviewcat demo finished" + (f" (up to date: {', '.join(result.skipped)})" if result.skipped else ""),
        f"  dump:              {sum(sizes.values()):>9,} reviews in {len(sizes)} Amazon Reviews 2023 files "
        f"({largest} {sizes[largest]:,} ... {smallest} {sizes[smallest]:,})",
        f"  imported:          {imported['rows']:>9,} ({imported['rejected']:,} rejected)  {folders['import']}",
        f"  balanced:          {sum(targets.values()):>9,} = {len(targets)} categories x "
        f"{min(targets.values()):,} ({len(plan['dropped'])} categories under "
        f"{int(rows * MIN_CATEGORY_SHARE):,} reviews left out)",
        f"  after cleaning:    {manifest['rows_out']:>9,} (empty, short and duplicate reviews removed)",
        *(f"  {split + ':':<18} {files[split]['rows']:>9,}  {folders['prepare']}/{files[split]['path']}"
          for split in SPLITS),
        f"  manifest:          {folders['prepare']}/{prepare.MANIFEST}",
        f"  catalog:           {result.table}, {result.table}_balanced in {workdir}/warehouse",
        *_model_lines(folders["train"], metrics),
        f"  test accuracy:     {metrics['accuracy']:.3f} (95% CI {metrics['accuracy_ci95'][0]:.3f}-"
        f"{metrics['accuracy_ci95'][1]:.3f}; majority class {metrics['baselines']['majority']['accuracy']:.3f}), "
        f"macro F1 {metrics['macro_f1']:.3f}",
        f"  top-3 accuracy:    {metrics['top_k']['accuracy']:.3f} (the true category among the model's 3 best guesses)",
        f"  confusion matrix:  {os.path.join(folders['train'], MATRIX_PNG)}",
        f"  report:            {os.path.join(folders['train'], REPORT_FILE)}",
    ])


def _dump(dump: str, rows: int, seed: int) -> dict[str, int]:
    """The generated dump, written again only for other rows or seed: rewritten files would be new
    input to the pipeline (their modification times change), and every step would run again."""
    marker = f"{dump}.json"
    wanted = {"rows": rows, "seed": seed, "categories": release_of("amazon-2023")}  # an older dump had others
    if os.path.isdir(dump) and os.path.exists(marker):
        with open(marker) as f:
            made = json.load(f)
        if {k: made.get(k) for k in wanted} == wanted:
            log.info("reusing the %d sample reviews in %s", rows, dump)
            return made["sizes"]
    log.info("generating %d sample reviews as an Amazon Reviews 2023 dump in %s", rows, dump)
    if os.path.exists(marker):  # the demo's own dump, for other rows, seed or categories (an older release's)
        shutil.rmtree(dump, ignore_errors=True)
    sizes = write_sample_data(dump, rows, seed, overwrite=True, fmt="amazon-2023")
    with open(marker, "w") as f:
        json.dump({**wanted, "sizes": sizes}, f)
    return sizes


def _model_lines(folder: str, metrics: dict) -> list[str]:
    """The model, and its quantized copy when training kept one: what a user ships."""
    full = f"  model:             {os.path.join(folder, MODEL_FILE)} ({metrics['model_file']['bytes'] / 1e6:.0f} MB)"
    small = metrics.get("quantized") or {}
    if not small.get("kept"):
        return [full]
    return [full, f"  quantized:         {os.path.join(folder, small['name'])} ({small['bytes'] / 1e6:.1f} MB, test "
                  f"accuracy {small['test_accuracy']:.3f})"]
