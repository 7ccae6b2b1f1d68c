"""The benchmark results as markdown tables, one per section, with the targets marked met or missed."""
from __future__ import annotations

from typing import Any, Sequence

MB_COLUMNS = ("driver", "jvm", "workers", "total")
MB, GB = 1024 ** 2, 1024 ** 3


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _seconds(m: dict[str, Any]) -> str:
    return f"{m['median_seconds']:,.1f}"


def _rate(m: dict[str, Any]) -> str:
    return f"{m['rows_per_second']:,.0f}"


def _memory(m: dict[str, Any]) -> list[str]:
    return [f"{m['peak_mb'].get(part, 0):,.0f}" for part in MB_COLUMNS]


def _verdict(value: float, target: float, at_most: bool = False, unit: str = "") -> str:
    met = value <= target if at_most else value >= target
    bound = "at most " if at_most else ""
    return f"**{value:g}{unit}** (target {bound}{target:g}{unit}: {'met' if met else 'missed'})"


def _import(section: dict[str, Any]) -> list[str]:
    rows = []
    for run in section["runs"]:
        for key in ("ours", "plain", "cold_ours", "cold_plain"):
            m = run[key]
            rows.append([run["format"], m["name"], _seconds(m), _rate(m),
                         f"{run['dump_bytes'] / 1e6 / m['median_seconds']:,.1f}", f"{m['details']['rows_out']:,}"
                         if m.get("details") else "-", f"{m['peak_mb']['total']:,.0f}"])
    speedups = ", ".join(f"{run['format']} {run['speedup']}x in one session, {run['cold_speedup']}x as processes"
                         for run in section["runs"])
    return ["## Import: reviewcat against the hand-written read (reader defaults + withColumn casts)", ""] + _table(
        ["format", "step", "median s", "rows/s", "MB/s (compressed input)", "rows written", "peak MB"], rows) + [
        "", f"Speed-up over the hand-written read: {speedups}."]


def _balance(section: dict[str, Any]) -> list[str]:
    rows = []
    for run in section["runs"]:
        ours, plain = run["ours"], run["straightforward"]
        rows.append([run["categories"], _seconds(ours), _rate(ours), f"{ours['details']['rows_out']:,}",
                     _seconds(plain), _rate(plain), f"{plain['details']['rows_out']:,}", f"{run['speedup']}x",
                     f"{ours['peak_mb']['total']:,.0f} / {plain['peak_mb']['total']:,.0f}"])
    return ["## Balance: reviewcat against count + filtered read and sample() per category + union", ""] + _table(
        ["categories", "reviewcat s", "rows/s", "rows kept", "straightforward s", "rows/s", "rows kept",
         "speedup", "peak MB (ours / plain)"], rows)


def _pushdown(section: dict[str, Any]) -> list[str]:
    rows = [[label, f"{m['details']['bytes_read']:,}", m["details"]["files_read"], _seconds(m),
             f"{m['peak_mb']['total']:,.0f}"]
            for label, m in (("with the partition predicate", section["with"]),
                             ("without (read all, then filter)", section["without"]))]
    return [f"## Push-down: balancing {', '.join(section['categories'])} of 43 categories "
            f"(table: {section['table_bytes']:,} bytes in {section['table_files']} files)", ""] + _table(
        ["read", "bytes read", "files read", "median s", "peak MB"], rows) + [
        "", f"Without the predicate: {section['bytes_ratio']}x the bytes, {section['speedup']}x the time."]


def _prepare(section: dict[str, Any]) -> list[str]:
    targets, larger = section["targets"], section["larger"]
    steps = [section[k] for k in ("job", "vectorised", "rowwise", "limit", "stock_nltk")] + [larger["job"], larger["limit"]]
    rows = [[m["name"], f"{m['rows']:,}", _seconds(m), _rate(m), *_memory(m)] for m in steps]
    return ["## Prepare: tokenizing and the whole job against row-at-a-time Spark and the machine's limit", ""] + _table(
        ["step", "rows", "median s", "rows/s", "driver MB", "JVM MB", "workers MB", "total MB"], rows) + [
        "",
        f"- whole job / machine limit (rows/s): {_verdict(section['job_vs_limit'], targets['prepare_job_vs_limit'])}",
        f"- the same with {larger['rows']:,} rows: **{larger['job_vs_limit']:g}**; per row beyond the first "
        f"{section['rows']:,}: **{section['marginal_job_vs_limit']:g}**; the job's fixed cost, whatever the "
        f"rows: **{section['job_fixed_seconds']:g} s** per run",
        f"- whole job / NLTK's own tokenizer in plain processes (rows/s): **{section['job_vs_stock_nltk']:g}**",
        f"- Arrow UDFs / rdd.map (speed): "
        f"{_verdict(section['vectorised_vs_rowwise'], targets['vectorised_vs_rowwise'])}"]


def _train(section: dict[str, Any]) -> list[str]:
    rows, correlations = [], []
    for corpus, run in section["corpora"].items():
        reference = run["runs"].get("autotune (120 s)", {}).get("details", {}).get("test_accuracy")
        for name, m in run["runs"].items():
            test = m["details"]["test_accuracy"]
            rows.append([corpus, f"{run['train_lines']:,}", run["labels"], name, _seconds(m),
                         m["details"]["validation_accuracy"] or f"no model: {m['details'].get('error', '')}", test or "-",
                         f"{test / reference:.3f}" if reference and test else "-", m["details"].get("trainings", "-")])
        if "first_rung" in run:
            rung = run["first_rung"]
            correlations.append([corpus, f"{rung['fraction']:g}", rung["configurations"], rung["spearman"],
                                 "yes" if rung["first_rung_keeps_the_best"] else "no"])
    lines = ["## Local training: our default search and fastText autotune, per corpus", ""] + _table(
        ["corpus", "training lines", "labels", "search", "wall s", "best validation accuracy", "test accuracy",
         "test / autotune 120 s", "trainings"], rows)
    if correlations:
        lines += ["", "First halving rung against full training (Spearman correlation of validation accuracy):", ""]
        lines += _table(["corpus", "epoch fraction", "configurations", "Spearman", "first rung keeps the best"],
                        correlations)
    return lines


def _sizes(section: dict[str, Any]) -> list[str]:
    rows = [[corpus, r["model"], f"{r['buckets']:,}", r["dim"], f"{r['bytes'] / 1e6:,.1f}", r["validation_accuracy"],
             r["test_accuracy"]] for corpus, run in section["corpora"].items() for r in run["rows"]]
    return ["## Model sizes: the chosen configuration with other buckets and dimensions, and quantized", ""] + _table(
        ["corpus", "model", "buckets", "dim", "MB", "validation accuracy", "test accuracy"], rows)


def _splits(section: dict[str, Any]) -> list[str]:
    rows = [[run["corpus"], run["split"], run["labels"], " / ".join(f"{run['lines'][s]:,}" for s in run["lines"]),
             f"{run['validation_accuracy']:.4f}",
             f"{run['test_accuracy']:.4f} ({run['test_ci95'][0]:.3f}-{run['test_ci95'][1]:.3f})",
             f"{run['train_seconds']:,.0f}"] for run in section["runs"]]
    return [f"## Grouped splits: test accuracy after a random and a grouped split (search of {section['max_jobs']} "
            "trainings)", ""] + _table(["corpus", "split", "labels", "train / validation / test lines",
                                        "best validation accuracy", "test accuracy (95% CI)", "train s"], rows)


def _predict(section: dict[str, Any]) -> list[str]:
    measured = [section["ours"]] + [section[key] for key in ("no_drift", "quantized") if key in section] + \
        [section["plain"]]
    rows = [[m["name"], _seconds(m), _rate(m), f"{m['peak_mb']['total']:,.0f}"] for m in measured]
    sizes = section.get("model_bytes", {})
    return [f"## Predict: scoring {section['rows']:,} reviews (top {section['k']}), cold processes", ""] + _table(
        ["step", "median s", "rows/s", "peak MB"], rows) + [
        "", f"predict-table against one Python process: **{section['speedup']}x**."] + (
        [f"With the drift summary against without: **{section['drift_cost']}x** the time."]
        if "drift_cost" in section else []) + (
        [f"The quantized model: {sizes['model.ftz'] / 1e6:,.1f} MB against {sizes['model.bin'] / 1e6:,.1f} MB, "
         f"predict-table **{section['quantized_speedup']}x** the speed of the full model's."]
        if "quantized" in section else [])


def _scale(section: dict[str, Any]) -> list[str]:
    rows = [[f"{run['rows']:,}", stage["name"], f"{stage['rows']:,}", _seconds(stage), _rate(stage), *_memory(stage)]
            for run in section["runs"] for stage in run["stages"]]
    return [f"## Scale: each stage as its own job, driver memory {section['driver_memory']}", ""] + _table(
        ["reviews", "stage", "stage input rows", "s", "rows/s", "driver MB", "JVM MB", "workers MB", "total MB"], rows)


def _end_to_end(section: dict[str, Any]) -> list[str]:
    rows, notes = [], []
    for run in section["runs"]:
        kept = run["pipeline"].get("details", {})
        for key in ("pipeline", "separate", "balance", "prepare", "plain", "scan"):
            m = run[key]
            rows.append([f"{run['rows']:,}", m["name"], _seconds(m), _rate(m), f"{m['peak_mb'].get('total', 0):,.0f}"])
        notes.append(f"- {run['rows']:,} reviews ({kept.get('balanced', 0):,} balanced, {kept.get('lines', 0):,} lines): "
                     f"pipeline {_verdict(run['pipeline_speedup'], section['target_speedup'])} the plain script's "
                     f"speed, the separate commands {run['separate_speedup']}x; balance / full scan: "
                     f"**{run['balance_vs_scan']}**")
    return ["## End to end: balance + prepare as cold processes, as a user runs them", ""] + _table(
        ["reviews", "step", "median s", "rows/s", "peak MB"], rows) + [""] + notes


def _s3(section: dict[str, Any]) -> list[str]:
    kinds = ("PUT", "COPY", "MULTIPART", "LIST", "HEAD", "GET", "DELETE")
    rows = [[run["stage"], f"{run['seconds']:,.1f}", *(f"{run['requests'].get(k, 0):,}" for k in kinds),
             f"{run['bytes'].get('copied', 0) / 1e6:,.1f}", f"{run['output_bytes'] / 1e6:,.1f}"]
            for run in section["runs"]]
    return [f"## S3: requests of cold jobs on s3:// ({section['rows']:,} reviews, moto server)", ""] + _table(
        ["stage", "s", *kinds, "MB copied in S3", "MB of output"], rows)


def _fullscale(section: dict[str, Any]) -> list[str]:
    targets, rows = section["targets"], []
    for run in section["runs"]:
        made = run["generate"]
        generated = (f"{made['median_seconds']:,.0f} s, {made['rows_per_second']:,.0f}/s, "
                     f"{made['peak_mb']['total']:,.0f} MB" if made else "earlier run")
        for key in ("pipeline", "scan"):
            m, usage = run[key], run[key].get("usage", {})
            rows.append([f"{run['rows']:,}", f"{run['table_bytes'] / GB:,.1f}",
                         generated if key == "pipeline" else "", m["name"], _seconds(m),
                         f"{run[key + '_per_million']:,.1f}",
                         f"{usage.get('cpu_seconds', 0):,.0f}", f"{usage.get('read_mb', 0) * MB / GB:,.1f}",
                         f"{usage.get('written_mb', 0) * MB / GB:,.1f}", *_memory(m)])
    talk = section["talk"]
    notes = [f"- time per million reviews at {section['runs'][-1]['rows']:,} / at {section['reference_rows']:,}: "
             + _verdict(section["per_million_growth"], targets["per_million_growth"], at_most=True)]
    notes += [f"- pipeline / full scan at {run['rows']:,}: "
              + _verdict(run["pipeline_vs_scan"], targets["pipeline_vs_scan"], at_most=True)
              for run in section["runs"]]
    driver = max(run["pipeline"]["peak_mb"].get("driver", 0) for run in section["runs"])
    notes.append(f"- the driver's Python process at its largest: "
                 f"{_verdict(driver, targets['driver_mb'], True, ' MB')}; the JVM ran in a "
                 f"{section['driver_memory']} heap (Spark's driver memory, reviewcat's default)")
    notes.append(f"- {talk['rows']:,} reviews balanced and prepared in **{talk['minutes']:g} min** on this machine "
                 f"({talk['vcpu_minutes']:g} vCPU-minutes held, {talk['cpu_minutes_used']:g} CPU-minutes used; "
                 f"the same core-seconds on Glue: ${talk['glue_usd']:g}); the talk's sampling and preparation: "
                 f"{talk['talk_minutes']:g} min, {talk['talk_vcpu_minutes']:,.0f} vCPU-minutes, "
                 f"${talk['talk_glue_usd']:g}")
    return ["## Full scale: the whole dataset's size, cold processes as a user runs them", "",
            "GB are 2^30 bytes; read and written: what the step's processes read and wrote through system calls "
            "(input, shuffle, spill and output files, cached or not)", ""] + _table(
        ["reviews", "table GB", "generated (time, rate, peak)", "step", "median s", "s per million", "CPU s",
         "GB read", "GB written", "driver MB", "JVM MB", "workers MB", "total MB"], rows) + [""] + notes + [
        "", f"![seconds per million reviews against the table's size]({section['plot']})"]


RENDERERS = {"import": _import, "balance": _balance, "pushdown": _pushdown, "prepare": _prepare, "train": _train,
             "sizes": _sizes, "splits": _splits, "predict": _predict, "scale": _scale, "e2e": _end_to_end, "s3": _s3,
             "fullscale": _fullscale}


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = ["# reviewcat benchmarks", "",
             f"{machine['cpus']} CPUs, {machine['memory_gb']} GB, Python {machine['python']}, "
             f"PySpark {machine['pyspark']}, NLTK {machine['nltk']}, reviewcat {machine['reviewcat']}. "
             f"{results['rows']:,} generated reviews, medians of {results['repeats']} runs "
             "(training and scale: one run). Peak memory is resident memory: driver = the driver's Python "
             "process, JVM = Spark's JVM (driver and, locally, executors), workers = Python processes that worked during the step."]
    for name, render in RENDERERS.items():
        if name in results["sections"]:
            lines += [""] + render(results["sections"][name])
    return "\n".join(lines) + "\n"
