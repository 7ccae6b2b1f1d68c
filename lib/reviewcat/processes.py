"""The processes a run started, so that a stopped run ends them all before it returns.

Spark's JVM starts a Python daemon that forks the workers; trainings run in a pool of processes.
When the JVM goes, its daemon notices only when its pipe closes, and the workers after that: a
run that returned as soon as its JVM had exited left them running for a moment, and a JVM killed
by a signal left them for good. So a stopping run notes every process below it first, ends them
the polite way (the JVM stops its own), then waits for each to go and kills what is left.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from typing import Iterable

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process this user can see, or none when neither /proc nor ps answers."""
    parents: dict[int, int] = {}
    if os.path.isdir("/proc/self"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    # "pid (command) state ppid ...": the command may hold spaces and brackets.
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if fields[0] != b"Z":
                parents[int(entry)] = int(fields[1])
        return parents
    try:
        listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,stat="], capture_output=True, text=True,
                                 timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return parents
    for line in listing.splitlines():
        pid, ppid, state = (line.split() + ["", "", ""])[:3]
        if pid.isdigit() and ppid.isdigit() and not state.startswith("Z"):
            parents[int(pid)] = int(ppid)
    return parents


def descendants(pid: int | None = None) -> list[int]:
    """Every live process below ``pid`` (default: this one), children before their children."""
    parents = _parents()
    found, frontier = [], [pid or os.getpid()]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its parent has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True


def reap(pids: Iterable[int], seconds: float) -> list[int]:
    """Waits up to ``seconds`` for ``pids`` to end, then kills those left; returns the killed."""
    waiting = list(pids)
    deadline = time.monotonic() + seconds
    while waiting and time.monotonic() < deadline:
        waiting = [pid for pid in waiting if alive(pid)]
        if waiting:
            time.sleep(POLL_SECONDS)
    killed = []
    for pid in waiting:
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    if killed:
        log.debug("killed %d processes that outlived the run: %s", len(killed), killed)
    return killed
