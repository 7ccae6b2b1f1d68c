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

import ctypes
import logging
import os
import resource
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import psutil

log = logging.getLogger(__name__)

MB = 1024 * 1024
_PR_SET_CHILD_SUBREAPER = 36  # prctl(2)
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


def _io_counters(path: Path) -> tuple[int, int]:
    fields = dict(line.split(": ") for line in path.read_text().splitlines())
    return int(fields["rchar"]), int(fields["wchar"])


def _descendants_usage() -> tuple[float, int, int]:
    """CPU seconds and bytes read and written by the processes this one has reaped, and theirs in
    turn: the kernel adds a reaped child's accounting to its parent's (not that of a child reaped
    automatically, by a parent ignoring SIGCHLD). Bytes are what the processes read and wrote
    through system calls (cached pages, shuffle and spill files included), not only what the disk
    served; this process's own threads are left out."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    read, written = _io_counters(Path("/proc/self/io"))
    for thread in Path("/proc/self/task").iterdir():
        try:
            own_read, own_written = _io_counters(thread / "io")
        except OSError:
            continue  # a thread that ended meanwhile: the kernel moved its count to the process's
        read, written = read - own_read, written - own_written
    return children.ru_utime + children.ru_stime, read, written


def _adopt_orphans(adopt: bool = True) -> None:
    """Make this process the reaper of its descendants' orphans (or stop): a JVM that outlives the
    driver that started it would otherwise be reaped by init, its CPU time and bytes lost to the
    step. Only for the step: a long-lived process (a test runner) would collect every later
    test's orphans as zombies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, int(adopt), 0, 0, 0)


def _reap_new_children(before: set[int], timeout: float = 60.0) -> None:
    """Wait for the step's orphans to end, and reap them. They come in waves: the driver's JVM once
    the driver has gone, then the Python daemon the JVM started once the JVM has gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        orphans = [child.pid for child in psutil.Process().children() if child.pid not in before]
        if not orphans:
            return
        for pid in orphans:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass  # reaped already (a subprocess call's own child)
        time.sleep(0.05)


class MemorySampler:
    """Peak resident memory of this process and its descendants while the ``with`` block runs.

    With ``child_driver`` the step runs the driver as a child process (a CLI job): that child is the
    driver and this process, idle meanwhile, is left out. Such a step also gets ``usage``: CPU
    seconds, each process's own at its last sample (a process's CPU time leaves out its children's,
    so none counts twice), and bytes read and written, the kernel's count for every process reaped
    along the way (the block ends once the step's orphans, such as a JVM outliving its driver, have
    ended). Spark's Python workers are not in the bytes: their daemon ignores SIGCHLD, so the kernel
    drops their accounting; they only exchange batches with the JVM over a socket.
    """

    def __init__(self, child_driver: bool = False, interval: float = 0.1) -> None:
        self.child_driver = child_driver
        self.interval = interval
        self.peaks = dict.fromkeys(_PARTS + ("total",), 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._cpu_before: dict[int, float] = {}  # pid -> CPU seconds of the workers there when the step began
        self._children_before: set[int] = set()
        self._usage_before = (0.0, 0, 0)
        self.usage: dict[str, float] = {}  # a child driver's step: its CPU seconds, MB read and written
        self._cpu_seen: dict[int, float] = {}  # pid -> its own CPU seconds at its last sample (child driver)

    def _worked(self, process: psutil.Process) -> bool:
        return process.pid not in self._cpu_before or _cpu_seconds(process) > self._cpu_before[process.pid]

    def _note_workers(self) -> None:
        for process in psutil.Process().children(recursive=True):
            try:
                if not _is_jvm(process):
                    self._cpu_before[process.pid] = _cpu_seconds(process)
            except psutil.Error:
                continue

    def _note_cpu(self, process: psutil.Process) -> None:
        if self.child_driver:
            self._cpu_seen[process.pid] = _cpu_seconds(process)

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
                now["driver"] += driver.memory_info().rss
                self._note_cpu(driver)
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
                        now["jvm"] += process.memory_info().rss
                    elif self._worked(process):
                        now["workers"] += process.memory_info().rss
                    self._note_cpu(process)
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
        if self.child_driver:
            _adopt_orphans()
            self._children_before = {child.pid for child in psutil.Process().children()}
            self._usage_before = _descendants_usage()
        self._note_workers()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.child_driver:
            _reap_new_children(self._children_before)  # still sampled meanwhile: their CPU time counts
            _adopt_orphans(False)
        self._stop.set()
        self._thread.join()
        self._sample()
        if self.child_driver:
            _, read, written = (now - before for now, before in zip(_descendants_usage(), self._usage_before))
            self.usage = {"cpu_seconds": round(sum(self._cpu_seen.values()), 1), "read_mb": round(read / MB, 1),
                          "written_mb": round(written / MB, 1)}

    def peaks_mb(self) -> dict[str, float]:
        return {key: round(value / MB, 1) for key, value in self.peaks.items()}


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
    result.usage = sampler.usage
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
