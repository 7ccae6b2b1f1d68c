"""Faults a user meets, each ending in one line naming the cause, exit code 2 (130 when stopped),
the traces in the run's log, and nothing half-written."""
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviewcat.prep import prepare
from reviewcat.runtime import failures, progress
from reviewcat.runtime.jobs import run_job
from reviewcat.runtime.staging import staging_name
from reviewcat.tables import sources

from conftest import cli_env
from helpers import leftovers

REVIEWCAT = [sys.executable, "-m", "reviewcat.cli"]
# Without the DAC capabilities root is refused by file permissions, as any other user is.
AS_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def start(args, tmp_path, prefix=(), **env):
    return subprocess.Popen([*prefix, *REVIEWCAT, *map(str, args)], cwd=tmp_path, env={**cli_env(tmp_path), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(args, tmp_path, prefix=(), timeout=300, **env):
    proc = start(args, tmp_path, prefix, **env)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def terminal(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line]


def one_line(proc, prog: str, *fragments: str) -> str:
    """The run failed with exactly one line on the terminal, holding every fragment; returns the log it names."""
    lines = terminal(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    found = re.search(r"\(details: (\S+\.log)\)", lines[0])
    return found.group(1) if found else ""


def test_a_jvm_that_cannot_start_is_one_line_naming_why(raw_path, tmp_path):
    """No java where JAVA_HOME points: the launch script's own errors go to the log, the terminal
    gets one line with the first of them and what Spark needs."""
    out = tmp_path / "out"
    proc = run(["prepare", "--input-path", raw_path, "--output-path", out], tmp_path, JAVA_HOME=str(tmp_path / "no-java"))
    log = one_line(proc, "reviewcat prepare", "Spark's JVM did not start (", "no-java/bin/java: No such file or directory",
                   "Spark needs Java 17 or later, on the PATH or in JAVA_HOME")
    assert "no-java/bin/java" in Path(log).read_text()
    assert not out.exists() and not leftovers(str(out))


def parquet_file(root: str, category: str) -> Path:
    return next(Path(root, f"product_category={category}").glob("*.parquet"))


def test_a_truncated_parquet_file_is_named_and_can_be_skipped(raw_path, copy_of, tmp_path):
    data = copy_of(raw_path)
    damaged = parquet_file(data, "Camera")
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    out = tmp_path / "balanced"
    proc = run(["balance", "--input-path", data, "--output-path", out], tmp_path)
    log = one_line(proc, "reviewcat balance", f"input file {damaged} is not readable parquet",
                   "--skip-corrupt-files")
    assert "\tat org.apache" in Path(log).read_text()  # the Java trace is in the log, not on the terminal
    assert not out.exists() and not leftovers(str(out))

    proc = run(["balance", "--input-path", data, "--output-path", out, "--skip-corrupt-files"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"skipping 1 unreadable input file(s) (--skip-corrupt-files): {damaged} (" in proc.stderr
    summary = json.loads((out / "_balance.json").read_text())
    assert [s["path"] for s in summary["skipped_files"]] == [str(damaged)]
    # The damaged file's rows are not counted: the other files of its category still are.
    intact = pq.read_table(Path(data, "product_category=Camera"), ignore_prefixes=[damaged.name]).num_rows
    assert summary["counts"]["Camera"] == intact and sum(summary["counts"].values()) < 6000


def _table_with_conflict(root: Path) -> tuple[Path, Path]:
    """Two categories whose star_rating columns disagree: int in one file, string in the other."""
    files = []
    for category, ratings in (("Books", pa.array([5, 4, 1, 2] * 50, pa.int32())),
                              ("Camera", pa.array(["5", "4", "1", "2"] * 50))):
        folder = root / f"product_category={category}"
        folder.mkdir(parents=True)
        table = pa.table({"review_id": [f"{category}{i}" for i in range(200)], "star_rating": ratings,
                          "review_body": ["a fine product, works as described"] * 200})
        pq.write_table(table, folder / "part-0.parquet")
        files.append(folder / "part-0.parquet")
    return files[0], files[1]


def test_input_files_that_disagree_on_a_column_type_are_both_named(tmp_path):
    books, camera = _table_with_conflict(tmp_path / "lake")
    proc = run(["balance", "--input-path", tmp_path / "lake", "--output-path", tmp_path / "out", "--label",
                "sentiment"], tmp_path)
    one_line(proc, "reviewcat balance", "input files disagree on the type of column star_rating", str(books),
             str(camera))
    assert not (tmp_path / "out").exists() and not leftovers(str(tmp_path / "out"))


@pytest.mark.skipif(AS_USER and shutil.which("setpriv") is None, reason="needs setpriv to drop root's file access")
def test_unreadable_input_and_unwritable_output_are_named(raw_path, copy_of, tmp_path):
    data = copy_of(raw_path)
    locked = parquet_file(data, "Watches")
    locked.chmod(0)
    out = tmp_path / "balanced"
    proc = run(["balance", "--input-path", data, "--output-path", out], tmp_path, AS_USER)
    one_line(proc, "reviewcat balance", f"permission denied on {locked}")
    assert not out.exists() and not leftovers(str(out))
    locked.chmod(0o644)
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0o555)
    proc = run(["balance", "--input-path", data, "--output-path", closed / "balanced"], tmp_path, AS_USER)
    one_line(proc, "reviewcat balance", str(closed))
    assert not list(closed.iterdir())


def test_an_output_disk_that_fills_up_is_one_line(raw_path, tiny_disk, tmp_path):
    out = tiny_disk / "balanced"
    proc = run(["balance", "--input-path", raw_path, "--output-path", out, "--per-class", "100000"], tmp_path)
    one_line(proc, "reviewcat balance", "ran out of space")
    assert not list(tiny_disk.iterdir())


def test_an_input_file_removed_while_the_job_runs_is_named(spark, raw_path, copy_of, tmp_path, monkeypatch,
                                                           capsys):
    data, out = copy_of(raw_path), tmp_path / "prepared"
    gone = parquet_file(data, "Kitchen")
    listed = sources.read

    def read_then_lose_a_file(*args, **kwargs):  # another process deletes it after the job listed the input
        frame = listed(*args, **kwargs)
        gone.unlink(missing_ok=True)
        return frame
    monkeypatch.setattr(sources, "read", read_then_lose_a_file)
    monkeypatch.setenv("REVIEWCAT_WAREHOUSE", str(tmp_path / "warehouse"))
    code = run_job(["prepare", "--input-path", data, "--output-path", str(out)], prepare.OPTIONS,
                   "reviewcat prepare", "", prepare.run)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and line.startswith(f"reviewcat prepare: error: input file {gone} was removed while the job "
                                         "ran: run again once nothing else changes the input (details: "), line
    assert not out.exists() and not leftovers(str(out))


def test_an_unknown_java_failure_is_one_line_naming_its_cause_and_the_log(rt, tmp_path, capsys):
    with pytest.raises(Exception) as caught:
        rt.spark.sql("SELECT raise_error('the disk controller said no')").collect()
    log = tmp_path / "run.log"
    assert failures.report("reviewcat x", caught.value, log) == 2
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(r"reviewcat x: error: Spark failed: \S+: .*the disk controller said no.* \(details: \S+\)",
                        line), line
    assert "the disk controller said no" in log.read_text() and "Traceback" in log.read_text()


def _wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_sigterm_removes_the_staging_folder_and_kill_9_leftovers_go_on_the_next_run(raw_path, tmp_path):
    out = tmp_path / "prepared"
    args = ["prepare", "--input-path", raw_path, "--output-path", out]
    proc = start(args, tmp_path)
    _wait_for(lambda: leftovers(str(out)))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and terminal(err) == [
        "reviewcat prepare: error: interrupted by SIGTERM: stopped, and nothing was written"], err
    assert not out.exists() and not leftovers(str(out))

    proc = start(args, tmp_path)
    _wait_for(lambda: leftovers(str(out)))
    proc.kill()
    proc.wait()
    dead = leftovers(str(out))
    assert dead
    # A live run's staging folder beside the same output (this test's own process) must survive.
    live = tmp_path / staging_name(out.name)
    live.mkdir()
    again = run(args, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert all(f"{tmp_path / name}, left by a run that died" in again.stderr for name in dead)
    assert leftovers(str(out)) == [live.name] and (out / "manifest.json").is_file()


# Holds the catalog until a line arrives on its stdin: as long as the test needs, however slow the machine.
HOLD = """
import sys
from reviewcat.runtime import warehouse_lock
warehouse_lock.hold(sys.argv[1], "reviewcat balance")
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_second_process_waits_for_the_catalog_once_then_goes_on_or_gives_up_in_one_line(raw_path, tmp_path):
    warehouse = cli_env(tmp_path)["REVIEWCAT_WAREHOUSE"]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, warehouse], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    crawl = ["crawl", "--input-path", raw_path, "--database", "lake", "--table", "reviews"]
    proc = run(crawl, tmp_path, REVIEWCAT_CATALOG_WAIT="1")
    waiting, error = terminal(proc.stderr)
    assert proc.returncode == 2 and f"in use by process {holder.pid} (reviewcat balance): waiting" in waiting
    assert error.startswith(f"reviewcat crawl: error: the catalog in {warehouse} is still in use by process "
                            f"{holder.pid} (reviewcat balance) after 1 s") and "REVIEWCAT_WAREHOUSE=" in error
    # A job that reads and writes paths only never opens the catalog, so it does not wait for it.
    proc = run(["prepare", "--input-path", raw_path, "--output-path", tmp_path / "prepared"], tmp_path,
               REVIEWCAT_CATALOG_WAIT="1")
    assert proc.returncode == 0 and not terminal(proc.stderr), proc.stderr[-3000:]
    assert holder.poll() is None  # the catalog was held all along
    waiting = start(crawl, tmp_path)  # waits until the holder lets go, then crawls
    first = waiting.stderr.readline()
    holder.communicate("release\n", timeout=30)
    rest = waiting.communicate(timeout=300)[1]
    lines = terminal(first + rest)
    assert waiting.returncode == 0 and len(lines) == 1, (first + rest)[-3000:]
    assert f"the catalog in {warehouse} is in use by process {holder.pid} (reviewcat balance): waiting" in lines[0]


def test_a_normal_run_prints_only_reviewcats_own_lines_and_its_progress(raw_path, tmp_path):
    proc = run(["prepare", "--input-path", raw_path, "--output-path", tmp_path / "prepared"], tmp_path,
               REVIEWCAT_LOG_LEVEL="INFO", REVIEWCAT_PROGRESS_SECONDS="0.5")
    lines = terminal(proc.stderr)
    assert proc.returncode == 0 and lines, proc.stderr
    strangers = [line for line in lines if not re.match(r"\d\d:\d\d:\d\d (INFO|WARNING) reviewcat\.", line)]
    assert not strangers, strangers
    assert any(re.search(r"INFO reviewcat\.runtime\.progress: stages? [\d, ]+: \d+/\d+ tasks.* \(\d+ s\)$", line)
               for line in lines), lines


def test_progress_names_the_running_stage_and_its_tasks(spark):
    def slow(rows):
        time.sleep(1.5)
        yield from rows
    job = threading.Thread(target=lambda: spark.sparkContext.parallelize(range(8), 4).mapPartitions(slow).count())
    job.start()
    seen = []
    while job.is_alive():
        seen.append(progress.describe(spark.sparkContext))
        time.sleep(0.1)
    job.join()
    assert any(line and re.fullmatch(r"stage \d+: [0-3]/4 tasks", line) for line in seen), seen
    assert progress.describe(spark.sparkContext) is None


def _screen(written: str) -> list[str]:
    """What a terminal shows after ``written``: a carriage return goes back to the start of the line."""
    lines, current, column = [], [], 0
    for char in written:
        if char == "\n":
            lines.append("".join(current).rstrip())
            current, column = [], 0
        elif char == "\r":
            column = 0
        else:
            current[column:column + 1] = [char]
            column += 1
    return lines + ["".join(current).rstrip()]


def test_log_lines_go_above_the_live_progress_line():
    out = io.StringIO()
    line = progress._LiveLine(out)
    line.show("stage 1: 1/40 tasks, 2 s")
    line.write("10:00:00 INFO reviewcat.prep.balance: hello\n")
    line.show("stage 1: 2/40 tasks, 3 s")
    assert _screen(out.getvalue()) == ["10:00:00 INFO reviewcat.prep.balance: hello", "stage 1: 2/40 tasks, 3 s"]
    line.show("")
    assert _screen(out.getvalue())[-1] == ""


@pytest.mark.slow
def test_soak_four_balance_and_prepare_runs_two_at_once_on_one_warehouse(raw_path, tmp_path):
    """Four runs of balance then prepare as a user types them, runs 1 and 2 side by side on the same
    catalog: every output complete, the same seed giving the same bytes, no staging folder left."""
    def pair(n: int) -> subprocess.Popen:
        out = tmp_path / f"run{n}"
        script = (f"{' '.join(REVIEWCAT)} balance --input-path {raw_path} --output-path {out}/balanced "
                  f"--categories Camera,Watches,Kitchen --seed 3 && {' '.join(REVIEWCAT)} prepare --input-path "
                  f"{out}/balanced --output-path {out}/prepared --seed 3")
        return subprocess.Popen(["sh", "-c", script], cwd=tmp_path, env=cli_env(tmp_path), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    runs = {}
    for n in range(4):
        if n == 1:
            runs[1], runs[2] = pair(1), pair(2)
        if n in (1, 2):
            continue
        runs[n] = pair(n)
        runs[n].wait(timeout=300)
    for n in (1, 2):
        runs[n].wait(timeout=600)
    for n, proc in sorted(runs.items()):
        err = proc.stderr.read()
        assert proc.returncode == 0, (n, err[-3000:])
        assert len(terminal(err)) <= 2, (n, err)  # at most the one "waiting for the catalog" line
    files = [json.loads((tmp_path / f"run{n}" / "prepared" / "manifest.json").read_text())["files"] for n in runs]
    trains = {(tmp_path / f"run{n}" / "prepared" / "train" / "train.txt").read_bytes() for n in runs}
    assert all(f == files[0] for f in files) and len(trains) == 1 and trains.pop()
    assert not list(tmp_path.glob("run*/*.__*"))


def test_only_folders_of_runs_that_died_on_this_host_are_removed(tmp_path):
    from reviewcat.runtime import staging
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    host, dead = staging._host(), finished.pid
    final = tmp_path / "out"
    names = {"dead": f"out.__tmp-{host}-{dead}-0123abcd", "live": staging_name("out"),
             "elsewhere": f"out.__tmp-{'f' * 8 if host != 'f' * 8 else 'e' * 8}-{dead}-0123abcd",
             "older release": "out.__tmp-0123456789ab", "other output": f"outer.__tmp-{host}-{dead}-0123abcd",
             "moved aside": f"out.__old-{host}-{dead}-4567cdef"}
    for name in names.values():
        (tmp_path / name).mkdir()
    (tmp_path / names["moved aside"] / "manifest.json").write_text("{}")
    staging.remove_dead_local(final)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names[k] for k in ("live", "elsewhere", "older release", "other output")] + ["out"])
    # The dead run had moved the previous output aside: it is back in place, not deleted.
    assert (final / "manifest.json").read_text() == "{}"
