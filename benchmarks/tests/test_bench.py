"""The benchmark's machinery on tiny data: what it counts and compares, never how fast anything is."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from conftest import cli_env
from benchmarks import suite
from benchmarks.measure import MB, Measurement, MemorySampler, Step, measure, measure_in_turn
from benchmarks.report import markdown
from benchmarks.suite import (PUSHDOWN_PICKS, BenchConfig, _earlier_results, _per_row_and_fixed, _write,
                              bench_import, bench_prepare, bench_pushdown, machine)
from benchmarks.training import compare_searches, run_capped
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.synthetic.sample_data import numbered_categories


def test_memory_sampler_sees_a_child_process_and_measure_keeps_step_details():
    allocate = "x = bytearray(300 * 2 ** 20); import time; time.sleep(0.6)"
    with MemorySampler() as sampler:
        subprocess.run([sys.executable, "-c", allocate], check=True)
    assert sampler.peaks["workers"] >= 250 * MB
    assert sampler.peaks["total"] >= sampler.peaks["driver"] + 250 * MB

    # CPU time and bytes written are those of everything the step started, counted once, an orphan's
    # too: here the work is done by a grandchild that outlives the child that started it (CPU time is
    # sampled: the grandchild stays a moment after its work).
    work = ("import os, time; t = time.process_time()\nwhile time.process_time() - t < 0.5: pass\n"
            "f = open(os.devnull, 'wb'); [f.write(bytes(2 ** 20)) for _ in range(20)]; time.sleep(0.4)")
    start = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {work!r}])"
    with MemorySampler(child_driver=True) as sampler:
        subprocess.run([sys.executable, "-c", start], check=True)
    assert 0.5 <= sampler.usage["cpu_seconds"] < 5 and 20 <= sampler.usage["written_mb"] < 21, sampler.usage

    # A process that sits idle through the step (an idle Spark worker) is not the step's.
    idle = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(300 * 2 ** 20); "
                             "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert idle.stdout.readline().strip() == "ready"
        time.sleep(0.2)  # into its sleep
        with MemorySampler() as sampler:
            time.sleep(0.3)
        assert sampler.peaks["workers"] < 100 * MB
    finally:
        idle.kill()
        idle.communicate()

    calls = []
    result = measure("step", 1000, lambda: calls.append(1) or {"seconds": 2.0, "rows_out": 7}, 3, warmup=True)
    assert len(calls) == 4 and result.seconds == [2.0] * 3 and result.rows_per_second == 500
    assert result.details == {"rows_out": 7}


def test_compared_steps_take_turns_after_their_warm_ups():
    order = []
    steps = [Step("ours", 10, lambda: order.append("ours"), setup=lambda: order.append("setup"), warmup=True),
             Step("plain", 10, lambda: order.append("plain"))]
    ours, plain = measure_in_turn(steps, 2)
    assert order == ["setup", "ours", "setup", "ours", "plain", "setup", "ours", "plain"]
    assert (ours.name, len(ours.seconds), plain.name, len(plain.seconds)) == ("ours", 2, "plain", 2)


def test_fixed_cost_and_cost_per_row_come_from_two_sizes():
    small, large = Measurement("job", 100, [3.0]), Measurement("job", 300, [7.0])
    assert _per_row_and_fixed(small, large) == (0.02, 1.0)


def test_pushdown_section_reads_only_the_chosen_partitions(rt, tmp_path):
    config = BenchConfig(tmp_path, rows=4300, scale_rows=8600, repeats=1, seed=3)
    result = bench_pushdown(rt, config)
    pruned, full = result["with"]["details"], result["without"]["details"]
    picks = [numbered_categories(43)[i] for i in PUSHDOWN_PICKS]
    table = config.table(43)
    assert result["categories"] == picks
    assert pruned["files_read"] == sum(len(list((table / f"product_category={c}").glob("*.parquet"))) for c in picks)
    assert full["files_read"] == result["table_files"] > pruned["files_read"]
    assert full["bytes_read"] >= 0.9 * result["table_bytes"] > pruned["bytes_read"]
    # Same plan and the same seeded sample either way: only the reading differs.
    assert pruned["rows_out"] == full["rows_out"] and pruned["categories"] == full["categories"] == 3


def test_import_section_times_both_reads_in_session_and_as_cold_processes(rt, tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "IMPORT_FORMATS", ("amazon-2023",))
    config = BenchConfig(tmp_path, rows=2150, scale_rows=4300, repeats=1, seed=3)
    [run] = bench_import(rt, config)["runs"]
    assert run["format"] == "amazon-2023" and run["dump_bytes"] > 0
    # Both wrote every generated review; the cold runs are processes of their own, timed whole.
    assert run["ours"]["details"] == {"rows_out": 2150, "rejected": 0} and run["plain"]["details"]["rows_out"] == 2150
    assert run["cold_ours"]["seconds"] and run["cold_plain"]["seconds"] and run["cold_ours"]["peak_mb"]["jvm"] > 0
    assert not (tmp_path / "data" / "import-out").exists()
    text = markdown({"machine": machine(), "rows": config.rows, "scale_rows": config.scale_rows, "repeats": 1,
                     "seed": 3, "sections": {"import": {"runs": [run]}}})
    assert "## Import" in text and "(cold process)" in text and "as processes" in text


def test_prepare_and_training_sections_compare_like_with_like(rt, tmp_path):
    config = BenchConfig(tmp_path, rows=8600, scale_rows=17200, repeats=1, seed=3)
    prepare = bench_prepare(rt, config)
    steps = [prepare[k] for k in ("job", "vectorised", "rowwise", "limit", "stock_nltk")]
    assert len({s["rows"] for s in steps}) == 1 and prepare["rows"] == steps[0]["rows"] > 500
    assert 0 < prepare["job"]["details"]["rows_out"] <= prepare["rows"]
    assert prepare["limit"]["details"]["rows_out"] >= prepare["job"]["details"]["rows_out"]
    # Both plain-Python baselines tokenize every row, and find the same reviews with tokens.
    assert prepare["stock_nltk"]["details"]["rows_out"] == prepare["limit"]["details"]["rows_out"]
    # The fixed-cost pair: the same job and limit on about 3x the rows.
    larger = prepare["larger"]
    assert larger["job"]["rows"] == larger["limit"]["rows"] == larger["rows"] > 2 * prepare["rows"]
    assert prepare["job"]["details"]["rows_out"] < larger["job"]["details"]["rows_out"] <= larger["rows"]
    assert not (tmp_path / "data" / "prepared-larger").exists()

    # Autotune's retraining after its budget is unbounded: on a busy machine one ran on until stopped.
    training = compare_searches(config.prepared, tmp_path / "models", 3, budgets=(6,), default_budget=10, patience=30)
    runs = training["runs"]
    assert set(runs) == {"ours (default)", "ours (6 s)", "autotune (6 s)", f"autotune ({training['our_wall_seconds']} s)"}
    for name, run in runs.items():
        details = run["details"]
        if details["test_accuracy"] is None:  # autotune fit no training in its budget, or overran: as the user saw it
            assert name.startswith("autotune") and ("enough time" in details["error"]
                                                    or details["error"] == "still running 30 s after its budget: stopped"), name
        else:  # a 6 s budget on a busy machine may fit too few epochs to learn anything: still a model
            assert 0 <= details["validation_accuracy"] <= 1 and 0 <= details["test_accuracy"] <= 1, name
    assert runs["ours (6 s)"]["details"]["budget_seconds"] == 6 and runs["ours (default)"]["details"]["trainings"] > 1
    assert runs["ours (default)"]["details"]["test_accuracy"] > 0
    assert training["space"]["derived_from"]["lines"] == training["train_lines"]
    rung = training["first_rung"]
    assert rung["configurations"] == 18 and -1 <= rung["spearman"] <= 1

    text = markdown({"machine": machine(), "rows": config.rows, "scale_rows": config.scale_rows, "repeats": 1,
                     "seed": 3, "sections": {"prepare": prepare,
                                              "train": {"corpora": {"generated reviews": training}}}})
    assert "## Prepare" in text and "## Local training" in text and "(target 0.7:" in text and "fixed cost" in text
    assert "## Balance" not in text


def test_rerunning_a_section_keeps_the_others_only_for_the_same_setup(tmp_path):
    config = BenchConfig(tmp_path, rows=1000, scale_rows=5000, repeats=2, seed=1)
    assert _earlier_results(config)["sections"] == {}
    _write(tmp_path, {**_earlier_results(config), "earlier": True})
    assert json.loads((tmp_path / "results.json").read_text())["earlier"] is True
    assert "# reviewcat benchmarks" in (tmp_path / "results.md").read_text()
    assert not list(tmp_path.glob(".*.tmp"))
    assert _earlier_results(config)["earlier"] is True
    other = BenchConfig(tmp_path, rows=2000, scale_rows=5000, repeats=2, seed=1)
    assert "earlier" not in _earlier_results(other)
    older = json.loads((tmp_path / "results.json").read_text())
    (tmp_path / "results.json").write_text(json.dumps({**older, "format": older["format"] - 1}))
    assert "earlier" not in _earlier_results(config)


def test_real_text_corpora_are_labelled_deduplicated_and_split(tmp_path):
    from benchmarks.corpora import docstring_corpus, docstring_table, man_corpus
    import gzip
    man = tmp_path / "man"
    for section, count in (("1", 120), ("3", 110), ("5", 3)):
        (man / f"man{section}").mkdir(parents=True)
        for i in range(count):
            page = f'.TH X\n.SH "NAME"\nprog{i} \\- \\fBdoes\\fR thing number {i} of section {section}\n.SH SYNOPSIS\n'
            with gzip.open(man / f"man{section}" / f"prog{i}.{section}.gz", "wt") as f:
                f.write(page)
    (man / "man1" / "copy.1").write_text(".SH NAME\ncopy \\- does thing number 0 of section 1\n")  # a repeat
    manifest = man_corpus(tmp_path / "man-corpus", root=man, per_class=100)
    assert manifest["labels"] == {"__label__1": "1", "__label__3": "3"}  # section 5 has too few pages
    files = manifest["files"]
    assert sum(f["rows"] for f in files.values()) == 200 and files["train"]["rows"] > files["test"]["rows"] > 0
    train = (tmp_path / "man-corpus" / "train" / "train.txt").read_text().splitlines()
    assert all(line.startswith("__label__") and "\\f" not in line for line in train)
    assert any(line.startswith("__label__1 does thing number") for line in train)

    site = tmp_path / "site"
    for package in ("alpha", "beta"):
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text("\n".join(
            f'def f{i}():\n    """{package} helper number {i} does work.\n\n    More."""\n' for i in range(60)))
    manifest = docstring_corpus(tmp_path / "doc-corpus", site_packages=site, packages=2, per_class=50)
    assert manifest["labels"] == {"__label__alpha": "alpha", "__label__beta": "beta"}
    assert sum(f["rows"] for f in manifest["files"].values()) == 100

    # As a table for prepare: each text with its module, the group a grouped split keeps together.
    (site / "alpha" / "sub.py").write_text('"""Alpha submodule."""\n')
    assert docstring_table(tmp_path / "doc-table", site_packages=site, packages=2, per_class=40) == \
        {"alpha": 40, "beta": 40}
    table = ds.dataset(str(tmp_path / "doc-table"), partitioning="hive").to_table().to_pylist()
    assert {(r["product_category"], r["module"]) for r in table} >= {("alpha", "alpha"), ("beta", "beta")}
    assert all(r["review_body"].startswith(r["product_category"]) or r["module"] == "alpha.sub" for r in table)
    assert len({r["review_id"] for r in table}) == 80


def test_autotune_runs_under_a_memory_cap_that_refuses_what_the_machine_cannot_hold(prepared_dir):
    import fasttext
    # 2.4 GB of buckets: granted lazily without the cap (the OOM killer's business), refused at once under it.
    with pytest.raises(MemoryError):
        run_capped(1 << 30, fasttext.train_supervised, input=str(Path(prepared_dir) / "train" / "train.txt"),
                   dim=300, bucket=2_000_000, wordNgrams=2, epoch=1, verbose=0)


def test_a_capped_call_that_outlasts_its_timeout_is_stopped():
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run_capped(1 << 30, time.sleep, 60, timeout=1)
    assert time.monotonic() - started < 30


def test_end_to_end_section_runs_every_way_as_cold_processes(tmp_path):
    config = BenchConfig(tmp_path, rows=2150, scale_rows=2150, repeats=1, seed=3)
    [run] = suite.bench_end_to_end(config)["runs"]
    assert run["rows"] == 2150
    # The pipeline and the separate commands kept the same reviews and lines.
    assert run["pipeline"]["details"] == run["separate"]["details"] and run["pipeline"]["details"]["lines"] > 0
    for key in ("pipeline", "separate", "balance", "prepare", "plain", "scan"):
        assert len(run[key]["seconds"]) == 1 and run[key]["peak_mb"]["jvm"] > 0, key
    assert run["pipeline_speedup"] > 0 and run["balance_vs_scan"] > 0
    assert not (tmp_path / "data" / "e2e-2150-out").exists()
    text = markdown({"machine": machine(), "rows": 2150, "scale_rows": 2150, "repeats": 1, "seed": 3,
                     "sections": {"e2e": {"runs": [run], "target_speedup": suite.E2E_TARGET}}})
    assert "## End to end" in text and "plain PySpark script" in text and "balance / full scan" in text


def test_the_bench_command_refuses_an_unknown_section_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--workdir", str(tmp_path / "b"), "--sections",
                           "balance,speed"], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                          env=cli_env(tmp_path), timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("benchmarks: error:")] == \
        ["benchmarks: error: unknown benchmark sections speed: choose from import, balance, pushdown, prepare, train, "
         "sizes, splits, predict, scale, e2e, s3, fullscale"], proc.stderr
    assert not (tmp_path / "b").exists()


def test_fullscale_section_times_the_pipeline_against_a_scan_and_plots_the_cost_per_million(tmp_path):
    from benchmarks.fullscale import bench_fullscale
    config = BenchConfig(tmp_path, rows=2150, scale_rows=2150, repeats=1, seed=3, fullscale_rows=(2150,))
    section = bench_fullscale(config, cpus=2)
    [run] = section["runs"]
    assert run["generate"]["rows"] == 2150 and run["table_files"] >= 43
    assert run["pipeline"]["details"]["lines"] > 0 and run["pipeline"]["details"]["output_bytes"] > 0
    assert run["pipeline"]["usage"]["cpu_seconds"] > 0 and run["scan"]["usage"]["read_mb"] > 0
    assert run["pipeline"]["peak_mb"]["jvm"] > 0 and run["pipeline_vs_scan"] > 0
    assert section["reference_rows"] == 2150 and section["per_million_growth"] == 1
    assert section["talk"]["talk_minutes"] == 29 and section["talk"]["talk_vcpu_minutes"] == 2960
    assert (tmp_path / "fullscale.png").read_bytes().startswith(b"\x89PNG")
    assert not list((tmp_path / "data").glob("full-*-out"))
    # What the generation measured stays beside the table, for later runs that reuse it.
    assert json.loads((tmp_path / "data" / "full-2150-seed3-generate.json").read_text()) == run["generate"]
    text = markdown({"machine": machine(), "rows": 2150, "scale_rows": 2150, "repeats": 1, "seed": 3,
                     "sections": {"fullscale": section}})
    assert "## Full scale" in text and "pipeline / full scan at 2,150" in text and "fullscale.png" in text


def test_fullscale_section_refuses_to_start_without_the_disk_it_needs(tmp_path):
    from benchmarks.fullscale import disk_needed, require_disk
    config = BenchConfig(tmp_path, rows=2150, scale_rows=2150, repeats=1, seed=3)
    need = disk_needed(config, config.fullscale_rows)
    assert 17 * 1024 ** 3 < need < 25 * 1024 ** 3  # the four tables, 211M reviews, and the largest run's outputs
    with pytest.raises(ReviewcatError, match=r"the fullscale section needs about \d+.\d GB free under .* and there "
                                             r"are 5.0 GB: free some space, pass a --workdir on a larger disk"):
        require_disk(config, config.fullscale_rows, lambda path: 5 * 1024 ** 3)
    require_disk(config, config.fullscale_rows, lambda path: need)
