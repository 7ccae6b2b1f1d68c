"""``make demo``: the whole pipeline on generated data, local Spark, embedded defaults.

It starts where a user following the talk starts today: from a dump in the Amazon Reviews 2023
format (the public parquet bucket is gone), which it imports and registers in the catalog.
"""
from __future__ import annotations

import json
import logging
import os

from . import balance, importer, prepare
from .options import namespace
from .runtime import Runtime, spark_session
from .sample_data import write_sample_data
from .train.commands import TRAIN, train
from .train.evaluate import MATRIX_PNG, METRICS_FILE, REPORT_FILE
from .train.local_search import MODEL_FILE

log = logging.getLogger(__name__)

DATABASE = "reviewcat_demo"
# Equalizing on the smallest generated category (about 1/1750 of the rows) would leave too little
# text to learn from: the demo drops categories under this many reviews, as users would.
MIN_CATEGORY_SHARE = 1 / 200


def run_demo(workdir: str, rows: int, seed: int) -> str:
    """Run every stage into ``workdir`` (replacing an earlier demo) and return a summary to print."""
    workdir = os.path.abspath(workdir)
    dump, raw, balanced, prepared = (os.path.join(workdir, name) for name in ("dump", "raw", "balanced", "prepared"))
    log.info("1/5 generating %d sample reviews as an Amazon Reviews 2023 dump in %s", rows, dump)
    sizes = write_sample_data(dump, rows, seed, overwrite=True, fmt="amazon-2023")
    rt = Runtime(spark_session(os.path.join(workdir, "warehouse"), app_name="reviewcat-demo"))
    log.info("2/5 importing the dump into %s and the catalog", raw)
    imported = importer.run(rt, namespace(importer.OPTIONS, format="amazon-2023", input_path=dump, output_path=raw,
                                          database=DATABASE, table="reviews", overwrite=True))
    log.info("3/5 balancing")
    balanced_result = balance.run(rt, namespace(balance.OPTIONS, database=DATABASE, table="reviews",
                                                output_path=balanced, seed=seed, overwrite=True,
                                                min_class_size=max(1, int(rows * MIN_CATEGORY_SHARE))))
    log.info("4/5 preparing train/validation/test files")
    prepared_result = prepare.run(rt, namespace(prepare.OPTIONS, database=DATABASE, table="reviews_balanced",
                                                output_path=prepared, seed=seed, overwrite=True))
    rt.spark.stop()
    log.info("5/5 training locally (fastText) and evaluating")
    model_dir = train(namespace(TRAIN, data=prepared, output_path=os.path.join(workdir, "model"), seed=seed,
                                overwrite=True, backend="local"))  # the defaults, as a user starts
    metrics = json.loads((model_dir / METRICS_FILE).read_text())
    plan, files = balanced_result.plan, prepared_result.manifest["files"]
    smallest = min(sizes, key=sizes.get)
    largest = max(sizes, key=sizes.get)
    return "\n".join([
        "",
        "reviewcat demo finished",
        f"  dump:              {sum(sizes.values()):>9,} reviews in {len(sizes)} Amazon Reviews 2023 files "
        f"({largest} {sizes[largest]:,} ... {smallest} {sizes[smallest]:,})",
        f"  imported:          {imported.summary['rows']:>9,} ({imported.summary['rejected']:,} rejected)  "
        f"{imported.output_path}",
        f"  balanced:          {sum(plan.targets.values()):>9,} = {len(plan.targets)} categories x "
        f"{min(plan.targets.values()):,} ({len(plan.dropped)} categories under "
        f"{int(rows * MIN_CATEGORY_SHARE):,} reviews left out)",
        f"  after cleaning:    {prepared_result.manifest['rows_out']:>9,} (empty, short and duplicate reviews removed)",
        *(f"  {split + ':':<18} {info['rows']:>9,}  {prepared_result.output_path}/{info['path']}"
          for split, info in files.items()),
        f"  manifest:          {prepared_result.output_path}/{prepare.MANIFEST}",
        f"  catalog:           {DATABASE}.reviews, {balanced_result.table} in {workdir}/warehouse",
        f"  model:             {model_dir / MODEL_FILE}",
        f"  test accuracy:     {metrics['accuracy']:.3f} (95% CI {metrics['accuracy_ci95'][0]:.3f}-"
        f"{metrics['accuracy_ci95'][1]:.3f}; majority class {_majority_share(files):.3f}), "
        f"macro F1 {metrics['macro_f1']:.3f}",
        f"  top-3 accuracy:    {metrics['top_k']['accuracy']:.3f} (the true category among the model's 3 best guesses)",
        f"  confusion matrix:  {model_dir / MATRIX_PNG}",
        f"  report:            {model_dir / REPORT_FILE}",
    ])


def _majority_share(files: dict) -> float:
    """Accuracy of always answering the most common training label, on the test split."""
    majority = max(files["train"]["labels"], key=files["train"]["labels"].get)
    return files["test"]["labels"].get(majority, 0) / files["test"]["rows"]
