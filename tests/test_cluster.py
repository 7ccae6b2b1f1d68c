"""Both jobs on a real Spark standalone cluster (a master and two workers on 127.0.0.1) give the
same bytes as in local mode: nothing may depend on driver-local state or on how rows are spread."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from reviewcat.aws.packaging import build_zip

from conftest import ROOT, cli_env

BIN = Path(sys.executable).parent
SPARK_HOME = Path(__import__("pyspark").__file__).parent
SPLITS = ["train/train.txt", "validation/validation.txt", "test/test.txt"]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_workers(ui_port: int, count: int, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
                if json.load(response).get("aliveworkers", 0) >= count:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"the standalone master did not see {count} workers in {timeout}s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """spark://127.0.0.1:<port> with two one-core workers, stopped after the module."""
    root = tmp_path_factory.mktemp("cluster")
    env = {**cli_env(root), "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1"}
    port, ui = free_port(), free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    processes = [subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                   "--port", str(port), "--webui-port", str(ui)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(root / "master.log", "w"))]
    try:
        for n in range(2):
            processes.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host",
                 "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port", str(free_port()),
                 "--work-dir", str(root / f"worker{n}")],
                env=env, stdout=subprocess.DEVNULL, stderr=open(root / f"worker{n}.log", "w")))
        wait_for_workers(ui, 2)
        yield f"spark://127.0.0.1:{port}", env, [root / "worker0", root / "worker1"]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def submit(master, env, tmp_path, script, *args, conf=()):
    command = [BIN / "spark-submit", "--master", master, "--py-files", build_zip(tmp_path / "reviewcat.zip"),
               "--conf", "spark.executor.memory=1g", "--conf", "spark.sql.shuffle.partitions=6",
               *[part for setting in conf for part in ("--conf", setting)], ROOT / "glue_jobs" / script, *args]
    proc = subprocess.run([str(c) for c in command], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def run_local(tmp_path, script, *args):
    command = [sys.executable, ROOT / "glue_jobs" / script, *args]
    proc = subprocess.run([str(c) for c in command], env=cli_env(tmp_path), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def balanced_rows(path):
    table = ds.dataset(str(path), partitioning="hive", format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda r: (r["product_category"], r["review_id"], str(r["review_body"])))


def test_jobs_on_a_standalone_cluster_match_local_mode_byte_for_byte(cluster, raw_path, tmp_path):
    master, env, workers = cluster
    balance_args = ["--input-path", raw_path, "--per-category", "400", "--seed", "5"]
    submit(master, env, tmp_path, "balance_reviews.py", *balance_args, "--output-path", tmp_path / "bal-cluster",
           "--warehouse", tmp_path / "wh-cluster")
    run_local(tmp_path, "balance_reviews.py", *balance_args, "--output-path", tmp_path / "bal-local")
    assert balanced_rows(tmp_path / "bal-cluster") == balanced_rows(tmp_path / "bal-local")
    assert (tmp_path / "bal-cluster" / "_balance.json").read_bytes() == \
        (tmp_path / "bal-local" / "_balance.json").read_bytes()

    # Both prepare runs read the same balanced table, so even the manifests must be identical.
    prepare_args = ["--input-path", tmp_path / "bal-local", "--seed", "5"]
    events = tmp_path / "events"
    events.mkdir()
    submit(master, env, tmp_path, "prepare_splits.py", *prepare_args, "--output-path", tmp_path / "prep-cluster",
           "--warehouse", tmp_path / "wh-cluster",
           # One plain file: Spark 4 rolls event logs into a folder of parts by default.
           conf=["spark.eventLog.enabled=true", f"spark.eventLog.dir=file://{events}", "spark.eventLog.compress=false",
                 "spark.eventLog.rolling.enabled=false"])
    run_local(tmp_path, "prepare_splits.py", *prepare_args, "--output-path", tmp_path / "prep-local")
    for name in SPLITS + ["manifest.json"]:
        cluster_bytes = (tmp_path / "prep-cluster" / name).read_bytes()
        assert cluster_bytes and cluster_bytes == (tmp_path / "prep-local" / name).read_bytes(), name
    # Each split is ordered by as many tasks as the cluster has cores (2), each holding an equal
    # share: the largest holds about half of train, 0.6 / 2 of all lines (one task held all of it).
    ordering = _ordering_tasks(next(events.iterdir()))
    assert len(ordering) == 3 * 2
    assert max(ordering) <= 1.2 * 0.6 * sum(ordering) / 2, ordering
    # Both workers ran executors of both applications: the work really was spread out.
    for worker in workers:
        assert len(list(worker.glob("app-*/*/stderr"))) == 2, worker


def _ordering_tasks(event_log: Path) -> list[int]:
    """Shuffle records read by each task of the stage that orders and writes the split files (the last one)."""
    read: dict[int, list[int]] = {}
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        if event["Event"] == "SparkListenerTaskEnd" and event.get("Task End Reason", {}).get("Reason") == "Success":
            records = event["Task Metrics"]["Shuffle Read Metrics"]["Total Records Read"]
            if records:
                read.setdefault(event["Stage ID"], []).append(records)
    return read[max(read)]


def _executor(workers, apps_before):
    """(pid, worker folder) of an executor of the new application once it runs a task, else None."""
    for worker in workers:
        for log in worker.glob("app-*/*/stderr"):
            app, executor = log.parent.parent.name, log.parent.name
            if app in apps_before or "Running task" not in log.read_text(errors="replace"):
                continue
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    words = [w.decode(errors="replace") for w in cmdline.read_bytes().split(b"\0")]
                except OSError:
                    continue
                if "org.apache.spark.executor.CoarseGrainedExecutorBackend" in words and app in words \
                        and words[words.index("--executor-id") + 1] == executor:
                    return int(cmdline.parent.name), worker / app
    return None


def test_a_job_survives_a_killed_executor_and_writes_the_same_bytes(cluster, raw_path, tmp_path):
    master, env, workers = cluster
    apps_before = {p.name for worker in workers for p in worker.glob("app-*")}
    balance_args = ["--input-path", raw_path, "--per-category", "400", "--seed", "5"]
    command = [BIN / "spark-submit", "--master", master, "--py-files", build_zip(tmp_path / "reviewcat.zip"),
               "--conf", "spark.executor.memory=1g", "--conf", "spark.sql.shuffle.partitions=6",
               ROOT / "glue_jobs" / "balance_reviews.py", *balance_args, "--output-path", tmp_path / "bal-cluster",
               "--warehouse", tmp_path / "wh-cluster"]
    job = subprocess.Popen([str(c) for c in command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    deadline, victim = time.time() + 300, None
    while victim is None and job.poll() is None and time.time() < deadline:
        victim = _executor(workers, apps_before)
        time.sleep(0.05)
    assert victim, "no executor of the job ran a task"
    os.kill(victim[0], signal.SIGKILL)
    _, err = job.communicate(timeout=600)
    assert job.returncode == 0, err[-3000:]
    # The worker whose executor died started another one for the same application.
    assert len(list(victim[1].glob("*/stderr"))) == 2, list(victim[1].iterdir())
    run_local(tmp_path, "balance_reviews.py", *balance_args, "--output-path", tmp_path / "bal-local")
    assert balanced_rows(tmp_path / "bal-cluster") == balanced_rows(tmp_path / "bal-local")
    assert (tmp_path / "bal-cluster" / "_balance.json").read_bytes() == \
        (tmp_path / "bal-local" / "_balance.json").read_bytes()
