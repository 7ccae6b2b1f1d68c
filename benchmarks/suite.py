"""``reviewcat bench``: every stage against its plain alternative, on this machine, in one run.

Each section measures reviewcat and what it is compared with back to back on the same generated
data, so the ratios hold on this machine even if the absolute numbers do not travel.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow.dataset as ds
import pyspark
from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession

from benchmarks import baselines
from benchmarks.fullscale import FULLSCALE_ROWS, bench_fullscale
from benchmarks.measure import Measurement, Step, measure_in_turn
from benchmarks.processes import child_env, pipeline_outcome, process_step, remover, scan_step
from benchmarks.report import markdown
from reviewcat import __version__
from reviewcat.ingest import importer
from reviewcat.prep import balance, prepare
from reviewcat.prep.sampling import exact_sample, plan_sample
from reviewcat.prep.text import review_tokens
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.session import spark_session
from reviewcat.runtime.storage import json_text
from reviewcat.schema import LABELS_FILE, METRICS_FILE, SEARCH_FILE, SPLITS
from reviewcat.synthetic.sample_data import numbered_categories, release_of, write_sample_data
from reviewcat.tables import sources
from reviewcat.tables.writers import write_balanced

log = logging.getLogger(__name__)


CATEGORY_COUNTS = (10, 43, 200)
PUSHDOWN_PICKS = (0, 21, 42)  # the largest, a middle and the smallest of the 43 categories
TRAIN_LINES = (20_000, 200_000, 2_000_000)  # generated training corpora
SECTIONS = ("import", "balance", "pushdown", "prepare", "train", "sizes", "splits", "predict", "scale", "e2e", "s3",
            "fullscale")
# What `make bench` runs unless --sections says otherwise: fullscale alone takes 45 minutes and 20 GB.
DEFAULT_SECTIONS = tuple(s for s in SECTIONS if s != "fullscale")
PREDICT_SHARE = 10  # predict scores --rows / 10 generated reviews
E2E_ROWS = 1_000_000  # the end-to-end section's smaller size (and --scale-rows the larger)
E2E_TARGET = 5.0  # the one-session pipeline against the plain script
IMPORT_FORMATS = ("amazon-2023", "amazon-2018", "amazon-tsv")
TARGETS = {"prepare_job_vs_limit": 0.7, "vectorised_vs_rowwise": 3.0}
FIXED_COST_SCALE = 3
# Raised whenever a section's results change shape: older results are then measured again, not
# rendered by code that expects the new shape.
RESULTS_FORMAT = 4


@dataclass(frozen=True)
class BenchConfig:
    workdir: Path
    rows: int
    scale_rows: int
    repeats: int
    seed: int
    sections: tuple[str, ...] = DEFAULT_SECTIONS
    driver_memory: str = "1g"
    fullscale_rows: tuple[int, ...] = FULLSCALE_ROWS

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    def table(self, categories: int) -> Path:
        return self.data / f"raw-{self.rows}-{categories}cat"

    @property
    def prepared(self) -> Path:
        return self.data / "prepared"


def _quiet(*names: str) -> None:
    """The jobs' per-run INFO lines would bury the benchmark's own progress."""
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)


def _generate(config: BenchConfig, categories: int) -> Path:
    path = config.table(categories)
    if not path.exists():
        log.info("generating %d reviews in %d categories -> %s", config.rows, categories, path)
        write_sample_data(str(path), config.rows, config.seed,
                          categories=numbered_categories(categories), overwrite=True)
    return path


def _file_bytes_read(rt: Runtime) -> int:
    """Bytes read through Hadoop's local FileSystem so far: every parquet read in local mode goes there."""
    stats = rt.spark._jvm.org.apache.hadoop.fs.FileSystem.getAllStatistics()
    return sum(s.getBytesRead() for s in stats if s.getScheme() == "file")


def _ratio(slow: Measurement, fast: Measurement) -> float:
    return round(slow.median / fast.median, 2) if fast.median else 0.0


def _our_balance(rt: Runtime, path: Path, output: Path, seed: int, **options: Any) -> dict[str, Any]:
    result = balance.balance(rt, input_path=str(path), output_path=str(output), seed=seed, overwrite=True,
                             **options)
    return {"rows_out": sum(result.plan.targets.values()), "categories": len(result.plan.targets)}


def _written_rows(rt: Runtime, path: Path) -> int:
    source = sources.Source(path=str(path))
    return sum(sources.count_by_category(rt, source, sources.list_categories(rt, source)).values())


def bench_balance(rt: Runtime, config: BenchConfig) -> dict[str, Any]:
    """Our balance job against count + per-category filtered read and ``sample()`` + union."""
    rows, out = [], config.data / "balance-out"
    for count in CATEGORY_COUNTS:
        path = _generate(config, count)
        ours, plain = measure_in_turn([
            Step(f"reviewcat balance, {count} categories", config.rows,
                 lambda: _our_balance(rt, path, out, config.seed), remover(out), warmup=count == CATEGORY_COUNTS[0]),
            Step(f"straightforward balance, {count} categories", config.rows,
                 lambda: {"categories": baselines.straightforward_balance(rt.spark, str(path), str(out), config.seed)},
                 remover(out))], config.repeats)
        plain.details["rows_out"] = _written_rows(rt, out)
        rows.append({"categories": count, "ours": ours.to_dict(), "straightforward": plain.to_dict(),
                     "speedup": _ratio(plain, ours)})
    shutil.rmtree(out, ignore_errors=True)
    return {"runs": rows}


def bench_pushdown(rt: Runtime, config: BenchConfig) -> dict[str, Any]:
    """Bytes and files read to balance 3 of the 43 categories, with and without the partition predicate."""
    path, out = _generate(config, 43), config.data / "pushdown-out"
    picks = [numbered_categories(43)[i] for i in PUSHDOWN_PICKS]
    source = sources.Source(path=str(path))

    def with_predicate() -> dict[str, Any]:
        before = _file_bytes_read(rt)
        details = _our_balance(rt, path, out, config.seed, categories=picks)
        return {**details, "bytes_read": _file_bytes_read(rt) - before,
                "files_read": len(sources.read(rt, source, picks).inputFiles())}

    def without_predicate() -> dict[str, Any]:
        before = _file_bytes_read(rt)
        frame = baselines.unpruned_read(rt.spark, str(path), picks)
        counts = {r[sources.CATEGORY]: r["count"] for r in frame.groupBy(sources.CATEGORY).count().collect()}
        plan = plan_sample(counts)
        write_balanced(exact_sample(frame, plan, config.seed), str(out))
        return {"rows_out": sum(plan.targets.values()), "categories": len(plan.targets),
                "bytes_read": _file_bytes_read(rt) - before, "files_read": len(frame.inputFiles())}

    ours, plain = measure_in_turn([
        Step("with predicate (reviewcat balance --categories)", config.rows, with_predicate, remover(out),
             warmup=True),
        Step("without predicate (read all, then filter)", config.rows, without_predicate, remover(out))],
        config.repeats)
    shutil.rmtree(out, ignore_errors=True)
    table_bytes = sum(f.stat().st_size for f in path.rglob("*.parquet"))
    return {"categories": picks, "table_bytes": table_bytes, "table_files": len(list(path.rglob("*.parquet"))),
            "with": ours.to_dict(), "without": plain.to_dict(),
            "bytes_ratio": round(plain.details["bytes_read"] / max(1, ours.details["bytes_read"]), 1),
            "speedup": _ratio(plain, ours)}


def _compute(frame: DataFrame) -> None:
    """Compute every row and keep none: Spark's noop sink, so only the computing is timed."""
    frame.write.format("noop").mode("overwrite").save()


def _training_input(rt: Runtime, config: BenchConfig, scale: int = 1) -> Path:
    """A balanced table of about scale * rows/10 reviews for prepare: categories of at least 1% of
    the rows, each cut to scale * rows/300 (so the categories are balanced and the text plentiful)."""
    path = config.table(43)
    output = config.data / (f"balanced-{config.rows}" + (f"-x{scale}" if scale > 1 else ""))
    if not output.exists():
        _our_balance(rt, path, output, config.seed, min_class_size=config.rows // 100,
                     per_class=scale * config.rows // 300)
    return output


def _texts(path: Path, column: str) -> list[str | None]:
    return ds.dataset(str(path), format="parquet", partitioning="hive").to_table(columns=[column]).column(0).to_pylist()


def _per_row_and_fixed(small: Measurement, large: Measurement) -> tuple[float, float]:
    """Seconds per row and fixed seconds per run, from the same step at two sizes."""
    per_row = (large.median - small.median) / (large.rows - small.rows)
    return per_row, small.median - small.rows * per_row


def bench_prepare(rt: Runtime, config: BenchConfig) -> dict[str, Any]:
    """The prepare job and its tokenizing against row-at-a-time Spark and the machine's limit.

    The job and the limit are also measured on ``FIXED_COST_SCALE`` times the rows: the two sizes
    separate what a run costs whatever its size (planning, scheduling, ordering each split in one
    task, moving the files into place) from what each row costs.
    """
    _generate(config, 43)
    balanced, larger = _training_input(rt, config), _training_input(rt, config, FIXED_COST_SCALE)
    rows, larger_rows = _written_rows(rt, balanced), _written_rows(rt, larger)
    text, processes = "review_body", os.cpu_count() or 1
    frame = rt.spark.read.parquet(str(balanced))

    def job(path: Path, output: Path) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            result = prepare.prepare(rt, input_path=str(path), output_path=str(output),
                                     seed=config.seed, overwrite=True)
            return {"rows_out": result.manifest["rows_out"]}
        return run

    def limit(path: Path, stock_nltk: bool = False) -> Callable[[], dict[str, float]]:
        # Reading the texts is not timed: the step reports the tokenizing's own seconds.
        return lambda: baselines.plain_python_tokens(_texts(path, text), processes, stock_nltk)

    job_name = "prepare job (read, clean, tokenize, dedupe, split, shuffle, write)"
    limit_name = f"clean + tokenize: {processes} plain Python processes, no Spark (machine limit)"
    larger_output = config.data / "prepared-larger"
    whole, vectorised, rowwise, machine_limit, stock, whole_larger, limit_larger = measure_in_turn([
        Step(job_name, rows, job(balanced, config.prepared), warmup=True),
        Step("clean + tokenize: the job's Arrow UDF", rows, lambda: _compute(frame.select(review_tokens(text, 1)))),
        Step("clean + tokenize: rdd.map, row at a time", rows,
             lambda: _compute(baselines.rowwise_tokens(frame, text))),
        Step(limit_name, rows, limit(balanced)),
        Step(f"NLTK's own tokenizer, row by row: {processes} plain Python processes, no Spark", rows,
             limit(balanced, stock_nltk=True)),
        Step(f"{job_name}, {FIXED_COST_SCALE}x the rows", larger_rows, job(larger, larger_output)),
        Step(f"{limit_name}, {FIXED_COST_SCALE}x the rows", larger_rows, limit(larger)),
    ], config.repeats)
    shutil.rmtree(larger_output, ignore_errors=True)
    job_per_row, job_fixed = _per_row_and_fixed(whole, whole_larger)
    limit_per_row, _ = _per_row_and_fixed(machine_limit, limit_larger)
    return {"rows": rows, "job": whole.to_dict(), "vectorised": vectorised.to_dict(), "rowwise": rowwise.to_dict(),
            "limit": machine_limit.to_dict(), "stock_nltk": stock.to_dict(),
            "job_vs_limit": round(whole.rows_per_second / machine_limit.rows_per_second, 3),
            "job_vs_stock_nltk": round(whole.rows_per_second / stock.rows_per_second, 3),
            "vectorised_vs_rowwise": _ratio(rowwise, vectorised),
            "larger": {"rows": larger_rows, "job": whole_larger.to_dict(), "limit": limit_larger.to_dict(),
                       "job_vs_limit": round(whole_larger.rows_per_second / limit_larger.rows_per_second, 3)},
            "job_fixed_seconds": round(job_fixed, 2),
            "marginal_job_vs_limit": round(limit_per_row / job_per_row, 3) if job_per_row > 0 else 0.0,
            "targets": TARGETS}


def _dump(config: BenchConfig, fmt: str) -> Path:
    path = config.data / f"dump-{config.rows}-{fmt}"
    if not path.exists():
        log.info("generating %d reviews as a %s dump -> %s", config.rows, fmt, path)
        write_sample_data(str(path), config.rows, config.seed, categories=numbered_categories(43, release_of(fmt)),
                          overwrite=True, fmt=fmt)
    return path


def bench_import(rt: Runtime, config: BenchConfig) -> dict[str, Any]:
    """Each dump format imported by reviewcat and by the hand-written read, in this session and as
    cold processes (JVM start included), with the rows each wrote."""
    runs, out = [], config.data / "import-out"
    for fmt in IMPORT_FORMATS:
        dump = _dump(config, fmt)
        dump_bytes = sum(f.stat().st_size for f in dump.iterdir())

        def ours() -> dict[str, Any]:
            result = importer.import_table(rt, format=fmt, input_path=str(dump),
                                           output_path=str(out), overwrite=True)
            return {"rows_out": result.summary["rows"], "rejected": result.summary["rejected"]}

        def plain() -> dict[str, Any]:
            baselines.handwritten_import(rt.spark, fmt, str(dump), str(out))
            return {"rows_out": _written_rows(rt, out)}

        cli = ["-m", "reviewcat.cli", "import", "--format", fmt, "--input-path", str(dump), "--output-path", str(out)]
        script = ["-m", "benchmarks.baselines", "import", fmt, str(dump), str(out)]
        session_ours, session_plain, cold_ours, cold_plain = measure_in_turn([
            Step(f"reviewcat import --format {fmt}", config.rows, ours, remover(out), warmup=True),
            Step(f"hand-written {'spark.read.csv' if fmt == 'amazon-tsv' else 'spark.read.json'} + casts",
                 config.rows, plain, remover(out)),
            process_step(f"reviewcat import --format {fmt} (cold process)", config.rows, [cli], config, remover(out)),
            process_step("hand-written script (cold process)", config.rows, [script], config, remover(out)),
        ], config.repeats)
        runs.append({"format": fmt, "dump_bytes": dump_bytes, "ours": session_ours.to_dict(),
                     "plain": session_plain.to_dict(), "cold_ours": cold_ours.to_dict(),
                     "cold_plain": cold_plain.to_dict(), "speedup": _ratio(session_plain, session_ours),
                     "cold_speedup": _ratio(cold_plain, cold_ours)})
    shutil.rmtree(out, ignore_errors=True)
    return {"runs": runs}


def _generated_corpus(config: BenchConfig, lines: int) -> Path:
    """Prepared generated reviews with about ``lines`` training lines (prepare keeps 60% for training),
    the 10 largest categories in their real proportions, made by the CLI as a user would."""
    raw, prepared_path = config.data / f"train-raw-{lines}", config.data / "corpora" / f"generated-{lines}"
    if not (prepared_path / prepare.MANIFEST).exists():
        rows = round(lines / 0.6)
        log.info("generating %d reviews for a training corpus of about %d lines -> %s", rows, lines, prepared_path)
        _cli_stage("generate", rows, ["sample-data", "--rows", str(rows), "--category-count", "10", "--output-path",
                                      str(raw), "--seed", str(config.seed), "--overwrite"], config)
        _cli_stage("prepare", rows, ["prepare", "--input-path", str(raw), "--output-path", str(prepared_path),
                                     "--seed", str(config.seed), "--overwrite"], config)
        shutil.rmtree(raw, ignore_errors=True)
    return prepared_path


def bench_predict(config: BenchConfig) -> dict[str, Any]:
    """``reviewcat predict-table`` against one Python process calling fastText on the same rows, both
    cold processes as a user runs them, with a model trained by ``reviewcat train`` on generated reviews."""
    rows, k = config.rows // PREDICT_SHARE, 3
    model, table, out = config.data / "predict-model", config.data / f"predict-{rows}", config.data / "predict-out"
    if not (model / SEARCH_FILE).exists() or "quantized" not in json.loads((model / SEARCH_FILE).read_text()):
        _cli_stage("train", TRAIN_LINES[0], ["train", "--data", str(_generated_corpus(config, TRAIN_LINES[0])),
                                             "--output-path", str(model), "--max-jobs", "2", "--quantize",
                                             "--overwrite"], config)
    if not table.exists():
        _cli_stage("generate", rows, ["sample-data", "--rows", str(rows), "--category-count", "10", "--output-path",
                                      str(table), "--seed", str(config.seed + 1)], config)
    # The same model without its drift reference: what the drift summary costs a run.
    bare = config.data / "predict-model-no-drift"
    bare.mkdir(exist_ok=True)
    if not (bare / SEARCH_FILE).exists() or (bare / SEARCH_FILE).read_bytes() != (model / SEARCH_FILE).read_bytes():
        for name in ("model.bin", LABELS_FILE, SEARCH_FILE):  # search.json last: it says the copy is whole
            shutil.copyfile(model / name, bare / name)

    def scoring(name: str, path: Path) -> Step:
        return process_step(name, rows, [
            ["-m", "reviewcat.cli", "predict-table", "--input-path", table, "--model", path,
             "-k", k, "--output-path", out]], config, remover(out),
            lambda: {"rows_out": json.loads((out / "_predict.json").read_text())["rows"]})
    quantized = model / "model.ftz"  # kept by training only when it lost no accuracy
    steps = [scoring("reviewcat predict-table (cold process)", model / "model.bin"),
             scoring("reviewcat predict-table without a drift reference (cold process)", bare / "model.bin"),
             process_step("one Python process: clean, tokenize, fastText top-k per text (cold)", rows, [
                 ["-m", "benchmarks.baselines", "predict", model / "model.bin", table, "review_body", k]], config)]
    if quantized.exists():
        steps.append(scoring("reviewcat predict-table, the quantized model.ftz (cold process)", quantized))
    ours, bare_run, plain, *small = measure_in_turn(steps, config.repeats)
    shutil.rmtree(out, ignore_errors=True)
    sizes = {path.name: path.stat().st_size for path in (model / "model.bin", quantized) if path.exists()}
    return {"rows": rows, "k": k, "ours": ours.to_dict(), "no_drift": bare_run.to_dict(), "plain": plain.to_dict(),
            **({"quantized": small[0].to_dict(), "quantized_speedup": _ratio(ours, small[0])} if small else {}),
            "model_bytes": sizes, "speedup": _ratio(plain, ours), "drift_cost": _ratio(ours, bare_run)}


def _training_corpora(config: BenchConfig, lines: Sequence[int]) -> dict[str, Path]:
    """Generated reviews with about each of ``lines`` training lines, and the two real-text corpora."""
    from benchmarks.corpora import docstring_corpus, man_corpus
    corpora = {f"generated reviews, {n:,} lines": _generated_corpus(config, n) for n in lines}
    for name, build in (("man pages by section", man_corpus), ("docstrings by package", docstring_corpus)):
        folder = config.data / "corpora" / name.split()[0]
        if not (folder / prepare.MANIFEST).exists():
            log.info("building the %s corpus from this machine's text -> %s", name, folder)
            build(folder)
        corpora[name] = folder
    return corpora


def bench_train(config: BenchConfig) -> dict[str, Any]:
    """Our default search and fastText's autotune per corpus: generated reviews at three sizes and
    two corpora of real text found on this machine, each with the space derived from its data."""
    from benchmarks.training import compare_searches
    corpora = _training_corpora(config, TRAIN_LINES)
    results = {}
    for name, folder in corpora.items():
        log.info("training on %s", name)
        results[name] = compare_searches(folder, config.data / "models" / folder.name, config.seed)
    return {"corpora": results}


def bench_sizes(config: BenchConfig) -> dict[str, Any]:
    """Model size against accuracy: ``reviewcat train --quantize`` as a user runs it (a cold process,
    default search) on the smallest generated corpus and both real-text ones, then its chosen
    configuration trained again with BlazingText's 2M buckets, a quarter of the buckets and half the
    dimension."""
    from benchmarks.training import size_variants
    results = {}
    for name, folder in _training_corpora(config, TRAIN_LINES[:1]).items():
        model = config.data / "models" / f"sizes-{folder.name}"
        log.info("model sizes on %s", name)
        trained = _cli_stage("train", 0, ["train", "--data", str(folder), "--output-path", str(model), "--quantize",
                                          "--seed", str(config.seed), "--overwrite"], config)
        results[name] = {**size_variants(folder, model), "train_seconds": round(trained.median, 1)}
    return {"corpora": results}


SPLIT_MAX_JOBS = 6  # the search budget of each model of the splits section
SPLIT_REVIEWS = 30_000  # generated reviews in the splits section's control table


def bench_splits(config: BenchConfig) -> dict[str, Any]:
    """Test accuracy after a random and a grouped split of the same table, by the same search, all
    as cold ``reviewcat`` processes: docstrings grouped by module (the texts of a module share its
    names) and generated reviews grouped by product (their text does not depend on the product:
    the control, where the two should agree)."""
    from benchmarks.corpora import docstring_table
    docstrings = config.data / "corpora" / "docstring-table"
    if not docstrings.exists():
        log.info("building a table of this machine's docstrings, with their modules -> %s", docstrings)
        docstring_table(docstrings)
    generated = config.data / f"splits-raw-{SPLIT_REVIEWS}"
    if not generated.exists():
        _cli_stage("generate", SPLIT_REVIEWS, ["sample-data", "--rows", str(SPLIT_REVIEWS), "--category-count", "10",
                                               "--output-path", str(generated), "--seed", str(config.seed)], config)
    runs = []
    for corpus, table, group in (("docstrings by package", docstrings, "module"),
                                 ("generated reviews by category", generated, "product_parent")):
        for grouped in (False, True):
            prepared = config.data / "splits" / f"{table.name}-{'grouped' if grouped else 'random'}"
            model = prepared.with_name(f"{prepared.name}-model")
            log.info("%s: %s split", corpus, f"--group-column {group}" if grouped else "random")
            _cli_stage("prepare", 0, ["prepare", "--input-path", str(table), "--output-path", str(prepared), "--seed",
                                      str(config.seed), "--overwrite", *(["--group-column", group] if grouped else [])],
                       config)
            trained = _cli_stage("train", 0, ["train", "--data", str(prepared), "--output-path", str(model),
                                              "--max-jobs", str(SPLIT_MAX_JOBS), "--seed", str(config.seed),
                                              "--overwrite"], config)
            manifest = json.loads((prepared / prepare.MANIFEST).read_text())
            metrics = json.loads((model / METRICS_FILE).read_text())
            runs.append({"corpus": corpus, "split": f"by {group}" if grouped else "random by text",
                         "labels": len(manifest["labels"]),
                         "lines": {split: manifest["files"][split]["rows"] for split in SPLITS},
                         "validation_accuracy": json.loads((model / SEARCH_FILE).read_text())["best"]["accuracy"],
                         "test_accuracy": metrics["accuracy"], "test_ci95": metrics["accuracy_ci95"],
                         "train_seconds": round(trained.median, 1)})
    return {"max_jobs": SPLIT_MAX_JOBS, "runs": runs}


def _cli_stage(name: str, rows: int, argv: list[str], config: BenchConfig) -> Measurement:
    """``reviewcat argv`` once, as its own process, timed."""
    return measure_in_turn([process_step(name, rows, [["-m", "reviewcat.cli", *argv]], config)], 1)[0]


def bench_scale(config: BenchConfig) -> dict[str, Any]:
    """Each stage as its own CLI process at two sizes: time, and peak memory of driver and JVM."""
    runs = []
    for rows in (config.rows, config.scale_rows):
        raw, balanced, prepared = (config.data / f"scale-{rows}-{name}" for name in ("raw", "balanced", "prepared"))
        stages = [
            _cli_stage("generate", rows, ["sample-data", "--rows", str(rows), "--output-path", str(raw),
                                          "--seed", str(config.seed), "--overwrite"], config),
            _cli_stage("balance", rows, ["balance", "--input-path", str(raw), "--output-path", str(balanced),
                                         "--min-class-size", str(rows // 100), "--per-class", str(rows // 300),
                                         "--seed", str(config.seed), "--overwrite"], config),
            _cli_stage("prepare", rows // 10, ["prepare", "--input-path", str(balanced), "--output-path", str(prepared),
                                               "--seed", str(config.seed), "--overwrite"], config),
        ]
        runs.append({"rows": rows, "data_bytes": sum(f.stat().st_size for f in raw.rglob("*.parquet")),
                     "stages": [s.to_dict() for s in stages]})
        for path in (raw, balanced, prepared):
            shutil.rmtree(path, ignore_errors=True)
    return {"driver_memory": config.driver_memory, "runs": runs}


def _e2e_input(config: BenchConfig, rows: int) -> Path:
    raw = config.data / f"e2e-{rows}-raw"
    if not raw.exists():
        _cli_stage("generate", rows, ["sample-data", "--rows", str(rows), "--output-path", str(raw),
                                      "--seed", str(config.seed)], config)
    return raw


def bench_end_to_end(config: BenchConfig) -> dict[str, Any]:
    """Balance and prepare as a user runs them, every step a cold process, taking turns: the one-session
    pipeline, the two commands, the talk's plain script, and a scan of every column of the input."""
    runs = []
    for rows in sorted({min(E2E_ROWS, config.rows), config.scale_rows}):
        raw, out, seed = _e2e_input(config, rows), config.data / f"e2e-{rows}-out", str(config.seed)
        cli = ["-m", "reviewcat.cli"]
        balance_argv = [*cli, "balance", "--input-path", raw, "--output-path", out / "balanced", "--seed", seed]
        prepare_argv = [*cli, "prepare", "--input-path", out / "balanced", "--output-path", out / "prepared",
                        "--seed", seed]
        # The two commands one after the other, as a user runs them: the balance step's output is what
        # the prepare step (next in every turn) reads, so their sum is the pair's time.
        pipeline, balance_alone, prepare_alone, plain, scan = measure_in_turn([
            process_step("reviewcat pipeline --no-train", rows, [[*cli, "pipeline", "--input-path", raw,
                         "--output-path", out, "--no-train", "--seed", seed]], config, remover(out),
                         pipeline_outcome(out)),
            process_step("reviewcat balance", rows, [balance_argv], config, remover(out)),
            process_step("reviewcat prepare", rows, [prepare_argv], config, remover(out / "prepared"),
                         pipeline_outcome(out)),
            process_step("plain PySpark script", rows, [["-m", "benchmarks.baselines", "pipeline", raw, out, seed]],
                         config, remover(out)),
            scan_step(rows, raw, config),
        ], config.repeats)
        both = Measurement("reviewcat balance + reviewcat prepare", rows,
                           [b + p for b, p in zip(balance_alone.seconds, prepare_alone.seconds)],
                           {k: max(balance_alone.peak_mb.get(k, 0.0), prepare_alone.peak_mb.get(k, 0.0))
                            for k in {*balance_alone.peak_mb, *prepare_alone.peak_mb}}, prepare_alone.details)
        runs.append({"rows": rows, **{name: m.to_dict() for name, m in (
            ("pipeline", pipeline), ("balance", balance_alone), ("prepare", prepare_alone), ("separate", both),
            ("plain", plain), ("scan", scan))},
            "pipeline_speedup": _ratio(plain, pipeline), "separate_speedup": _ratio(plain, both),
            "balance_vs_scan": _ratio(balance_alone, scan)})
        shutil.rmtree(out, ignore_errors=True)
    return {"runs": runs, "target_speedup": E2E_TARGET}


def bench_s3(config: BenchConfig) -> dict[str, Any]:
    """Cold ``balance`` and ``prepare`` reading and writing S3 (a moto server that counts requests):
    what each asks of S3, and how many bytes S3 copies inside itself to publish."""
    import boto3

    from benchmarks.s3_requests import CountingS3
    raw = config.data / f"s3-{config.rows}-raw"
    if not raw.is_dir():
        write_sample_data(str(raw), config.rows, config.seed, overwrite=True)
    keys = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    runs = []
    with CountingS3() as server:
        env = {**child_env(config), **keys, "AWS_ENDPOINT_URL_S3": server.endpoint}
        client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
        client.create_bucket(Bucket="bench")
        for path in sorted(p for p in raw.rglob("*.parquet")):
            client.upload_file(str(path), "bench", f"raw/{path.relative_to(raw).as_posix()}")
        stages = [("balance", ["balance", "--input-path", "s3://bench/raw", "--output-path", "s3://bench/balanced",
                               "--min-class-size", str(config.rows // 100), "--per-class", str(config.rows // 300),
                               "--seed", str(config.seed)]),
                  ("prepare", ["prepare", "--input-path", "s3://bench/balanced", "--output-path",
                               "s3://bench/prepared", "--seed", str(config.seed)])]
        for name, argv in stages:
            server.counter.reset()
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "reviewcat.cli", *argv], env=env, capture_output=True,
                                  text=True)
            seconds = time.monotonic() - started
            if done.returncode != 0:
                raise ReviewcatError(f"{name} on S3 failed: {done.stderr.strip()[-500:]}")
            counted = server.counter.snapshot()
            output = argv[argv.index("--output-path") + 1].split("/", 3)[3]
            written = sum(o["Size"] for page in client.get_paginator("list_objects_v2").paginate(
                Bucket="bench", Prefix=f"{output}/") for o in page.get("Contents", []))
            runs.append({"stage": name, "seconds": round(seconds, 1), "output_bytes": written, **counted})
    return {"rows": config.rows, "runs": runs}


# Sections that share the benchmark's SparkSession, and those that start their own processes.
SPARK_SECTIONS = {"import": bench_import, "balance": bench_balance, "pushdown": bench_pushdown,
                  "prepare": bench_prepare}
PROCESS_SECTIONS = {"train": bench_train, "sizes": bench_sizes, "splits": bench_splits, "predict": bench_predict,
                    "scale": bench_scale, "e2e": bench_end_to_end, "s3": bench_s3,
                    "fullscale": lambda config: bench_fullscale(config, os.cpu_count() or 1)}


def _shut_down(spark: SparkSession) -> None:
    """Stop Spark and its JVM: an idle JVM would count in the memory of the sections that follow."""
    gateway = spark.sparkContext._gateway
    spark.stop()
    gateway.shutdown()
    gateway.proc.stdin.close()  # the JVM exits when its stdin closes
    gateway.proc.wait()
    SparkContext._gateway = SparkContext._jvm = None


def machine() -> dict[str, Any]:
    import nltk
    import psutil
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 1024 ** 3, 1),
            "platform": platform.platform(), "python": platform.python_version(), "pyspark": pyspark.__version__,
            "nltk": nltk.__version__, "reviewcat": __version__}


def run_bench(config: BenchConfig) -> Path:
    """Run the chosen sections, writing ``results.json`` and ``results.md`` into the workdir after each."""
    unknown = [s for s in config.sections if s not in SECTIONS]
    if unknown:
        raise ReviewcatError(f"unknown benchmark sections {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    config.data.mkdir(parents=True, exist_ok=True)
    _quiet("reviewcat.ingest.importer", "reviewcat.prep.balance", "reviewcat.prep.prepare", "reviewcat.prep.sampling",
           "reviewcat.synthetic.sample_data", "reviewcat.train.local_search")
    results = _earlier_results(config)
    spark_sections = [s for s in SECTIONS if s in config.sections and s in SPARK_SECTIONS]
    if spark_sections:
        rt = Runtime(spark_session(str(config.data / "warehouse"), app_name="reviewcat-bench"))
        for name in spark_sections:
            log.info("== %s", name)
            results["sections"][name] = SPARK_SECTIONS[name](rt, config)
            _write(config.workdir, results)
        _shut_down(rt.spark)
    for name in (s for s in SECTIONS if s in config.sections and s in PROCESS_SECTIONS):
        log.info("== %s", name)
        results["sections"][name] = PROCESS_SECTIONS[name](config)
        _write(config.workdir, results)
    return config.workdir / "results.md"


def _earlier_results(config: BenchConfig) -> dict[str, Any]:
    """The workdir's results to add to: re-measuring one section keeps the others of the same setup.

    Every ratio is measured within one section, so sections from separate runs stay comparable.
    """
    setup = {"format": RESULTS_FORMAT, "machine": machine(), "rows": config.rows, "scale_rows": config.scale_rows,
             "repeats": config.repeats, "seed": config.seed}
    path = config.workdir / "results.json"
    earlier = json.loads(path.read_text()) if path.exists() else {}
    if {k: earlier.get(k) for k in setup} == setup:
        log.info("keeping the other sections of %s", path)
        return earlier
    return {**setup, "sections": {}}


def _write(workdir: Path, results: dict[str, Any]) -> None:
    for name, text in (("results.json", json_text(results)), ("results.md", markdown(results))):
        staged = workdir / f".{name}.tmp"
        staged.write_text(text)
        staged.replace(workdir / name)
    log.info("results so far in %s", workdir / "results.md")
