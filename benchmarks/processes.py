"""Steps that run a command as its own process, cold, as a user runs it, and what they leave behind."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from benchmarks.measure import Step
from reviewcat.prep import prepare
from reviewcat.runtime.errors import ReviewcatError

if TYPE_CHECKING:
    from benchmarks.suite import BenchConfig

PROJECT = Path(__file__).resolve().parents[1]  # the checkout: benchmarks/ and lib/ sit in it


def remover(path: Path) -> Callable[[], None]:
    """A setup step: every timed run writes into a fresh output folder."""
    def remove() -> None:
        shutil.rmtree(path, ignore_errors=True)
    return remove


def child_env(config: BenchConfig) -> dict[str, str]:
    """The environment of a job the bench runs as its own process: a catalog of the bench's own, never
    the user's default one (a run there may hold it)."""
    return {"PYSPARK_PYTHON": sys.executable,  # a plain script's Python workers: this venv's, as its author's would be
            **os.environ, "REVIEWCAT_DRIVER_MEMORY": config.driver_memory, "REVIEWCAT_LOG_LEVEL": "WARNING",
            "REVIEWCAT_WAREHOUSE": str(config.data / "process-warehouse"),
            # the baselines run as ``-m benchmarks.baselines``, wherever the bench was started from
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}


def process_step(name: str, rows: int, argvs: Sequence[list[str]], config: BenchConfig,
                 setup: Callable[[], None] | None = None, details: Callable[[], dict] | None = None) -> Step:
    """A step that runs ``python argv`` for each of ``argvs``, each its own process: a cold start, as
    a user runs a job. ``details`` reports on the outcome."""
    env = child_env(config)

    def run() -> dict | None:
        for argv in argvs:
            # Timed to the process's exit, when a shell gives the prompt back: its output goes to a
            # file, as a pipe would also wait for a JVM that outlives it and holds the pipe.
            with tempfile.TemporaryFile() as output:
                code = subprocess.call([sys.executable, *map(str, argv)], env=env, stdout=output, stderr=output)
                if code != 0:
                    output.seek(0)
                    raise ReviewcatError(f"{name} failed: {output.read().decode(errors='replace').strip()[-500:]}")
        return details() if details else None
    return Step(name, rows, run, setup, child_driver=True)


def pipeline_outcome(out: Path) -> Callable[[], dict]:
    """The reviews a pipeline run under ``out`` balanced and the lines it prepared, from its manifest."""
    def read() -> dict:
        manifest = json.loads((out / "prepared" / prepare.MANIFEST).read_text())
        return {"balanced": manifest["rows_in"], "lines": manifest["rows_out"]}
    return read


def scan_step(rows: int, table: Path, config: BenchConfig) -> Step:
    """A cold process that reads every column of every row of ``table`` and hashes it: what reading
    the input costs at all, the floor under any job on it (``baselines.full_scan``)."""
    return process_step("full scan of the input (every column hashed)", rows,
                        [["-m", "benchmarks.baselines", "scan", table]], config)
