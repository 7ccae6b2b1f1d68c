"""Wall-clock time and peak memory of a benchmark step, repeated.

Peak memory is sampled from the process tree by a thread, split three ways because they answer
different questions: the driver's Python process (where a ``collect`` would land), the JVM (the
Spark driver, and in local mode its executors too) and everything else below them (Spark's Python
workers, training processes). Summing the parts at each sample gives the peak the machine needed.

A worker counts only once it has used CPU during the step: Spark keeps idle Python workers alive
between jobs, and when compared steps take turns, the workers another step left idle (a
row-at-a-time step starts extra ones, 250 MB each) would otherwise be charged to the next step.
"""
from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import psutil

log = logging.getLogger(__name__)

MB = 1024 * 1024
_PARTS = ("driver", "jvm", "workers")


def _is_jvm(process: psutil.Process) -> bool:
    """By executable, not name: a process forked by the JVM is named after the forking thread."""
    try:
        return os.path.basename(process.exe()).startswith("java")
    except psutil.Error:
        return False


def _cpu_seconds(process: psutil.Process) -> float:
    cpu = process.cpu_times()
    return cpu.user + cpu.system


def _usage(process: psutil.Process) -> tuple[float, int, int]:
    """CPU seconds, and bytes read and written through system calls (cached pages, shuffle and spill
    files included: what the process asked of its files, not only what the disk served)."""
    io = process.io_counters()
    return _cpu_seconds(process), io.read_chars, io.write_chars


class MemorySampler:
    """Peak resident memory of this process and its descendants while the ``with`` block runs.

    With ``child_driver`` the step runs the driver as a child process (a CLI job): that child is the
    driver and this process, idle meanwhile, is left out.
    """

    def __init__(self, child_driver: bool = False, interval: float = 0.1) -> None:
        self.child_driver = child_driver
        self.interval = interval
        self.peaks = dict.fromkeys(_PARTS + ("total",), 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._cpu_before: dict[int, float] = {}  # pid -> CPU seconds of the workers there when the step began
        self._usage_before: dict[int, tuple[float, int, int]] = {}  # every process there when the step began
        self._usage_now: dict[int, tuple[float, int, int]] = {}  # each counted process at its last sample

    def _worked(self, process: psutil.Process) -> bool:
        return process.pid not in self._cpu_before or _cpu_seconds(process) > self._cpu_before[process.pid]

    def _note_workers(self) -> None:
        root = psutil.Process()
        for process in [root, *root.children(recursive=True)]:
            try:
                self._usage_before[process.pid] = _usage(process)
                if process is not root and not _is_jvm(process):
                    self._cpu_before[process.pid] = _cpu_seconds(process)
            except psutil.Error:
                continue

    def _count(self, process: psutil.Process) -> int:
        """``process``'s resident bytes, its usage noted."""
        rss = process.memory_info().rss
        self._usage_now[process.pid] = _usage(process)
        return rss

    def _sample(self) -> None:
        root = psutil.Process()
        now = {"driver": 0, "jvm": 0, "workers": 0}
        if self.child_driver:
            # This process's own JVM (idle, from earlier sections) is not the step's.
            drivers = [c for c in root.children() if not _is_jvm(c)]
        else:
            drivers = [root]
        for driver in drivers:
            try:
                now["driver"] += self._count(driver)
                descendants = driver.children(recursive=True)
            except psutil.Error:
                continue  # ended between the listing and the reading
            jvms = {p.pid for p in descendants if _is_jvm(p)}
            for process in descendants:
                try:
                    if process.pid in jvms:
                        if process.ppid() in jvms:
                            # Hadoop's local file system runs `ls` and `chmod`: until it execs, the
                            # JVM's fork shows the JVM's resident pages, which it only shares.
                            continue
                        now["jvm"] += self._count(process)
                    elif self._worked(process):
                        now["workers"] += self._count(process)
                except psutil.Error:
                    continue
        now["total"] = sum(now.values())
        for key, value in now.items():
            self.peaks[key] = max(self.peaks[key], value)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._note_workers()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def peaks_mb(self) -> dict[str, float]:
        return {key: round(value / MB, 1) for key, value in self.peaks.items()}

    def usage(self) -> dict[str, float]:
        """CPU seconds and MB read and written by the processes counted, during the step."""
        totals = [0.0, 0.0, 0.0]
        for pid, now in self._usage_now.items():
            before = self._usage_before.get(pid, (0.0, 0, 0))
            totals = [t + n - b for t, n, b in zip(totals, now, before)]
        return {"cpu_seconds": round(totals[0], 1), "read_mb": round(totals[1] / MB, 1),
                "written_mb": round(totals[2] / MB, 1)}


@dataclass
class Measurement:
    """One step's repeated runs: times, the largest peaks seen, and what the last run reported."""

    name: str
    rows: int
    seconds: list[float] = field(default_factory=list)
    peak_mb: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)  # the last run's

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.median if self.median else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "median_seconds": round(self.median, 3),
                "rows_per_second": round(self.rows_per_second, 1), "seconds": [round(s, 3) for s in self.seconds],
                "peak_mb": self.peak_mb, "usage": self.usage, **({"details": self.details} if self.details else {})}


@dataclass
class Step:
    """A benchmark step: ``run`` is timed, ``setup`` (if any) runs untimed before it.

    ``run`` may return details (row counts, accuracies) to keep from its last run; a step that
    times only part of its work returns that time as ``seconds``. ``warmup`` adds a first, untimed
    run: the first Spark job of a session also pays for JIT compilation and starting Python workers,
    which no later run does.
    """

    name: str
    rows: int
    run: Callable[[], dict[str, Any] | None]
    setup: Callable[[], None] | None = None
    child_driver: bool = False
    warmup: bool = False


def _run_once(step: Step, result: Measurement, attempt: int, repeats: int) -> None:
    if step.setup:
        step.setup()
    with MemorySampler(step.child_driver) as sampler:
        started = time.perf_counter()
        details = dict(step.run() or {})
        elapsed = details.pop("seconds", time.perf_counter() - started)
    result.seconds.append(elapsed)
    result.details = details
    result.usage = sampler.usage()
    result.peak_mb = {k: max(v, result.peak_mb.get(k, 0.0)) for k, v in sampler.peaks_mb().items()}
    log.info("%s: run %d/%d took %.1f s (%s rows/s)", step.name, attempt, repeats, elapsed,
             f"{step.rows / elapsed:,.0f}" if elapsed else "-")


def measure_in_turn(steps: Sequence[Step], repeats: int) -> list[Measurement]:
    """Run every step once per round, ``repeats`` rounds, one Measurement per step.

    Steps compared by a ratio take turns rather than running their repeats back to back: this
    machine's speed drifts by 10-15% over minutes (shared host, CPU boost), and a drift between two
    blocks of runs would show up in the ratio; taking turns spreads it over every step alike.
    """
    results = [Measurement(step.name, step.rows) for step in steps]
    for step in steps:
        if step.warmup:
            if step.setup:
                step.setup()
            step.run()
    for attempt in range(1, repeats + 1):
        for step, result in zip(steps, results):
            _run_once(step, result, attempt, repeats)
    return results


def measure(name: str, rows: int, run: Callable[[], dict[str, Any] | None], repeats: int,
            setup: Callable[[], None] | None = None, child_driver: bool = False, warmup: bool = False) -> Measurement:
    """One step on its own, ``repeats`` times (see ``Step`` for the arguments)."""
    return measure_in_turn([Step(name, rows, run, setup, child_driver, warmup)], repeats)[0]
