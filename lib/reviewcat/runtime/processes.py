"""The processes below Spark's JVM, so that a stopped run ends them all before it returns.

The JVM starts a Python daemon that forks the workers. When the JVM goes, its daemon notices only
when its pipe closes, and the workers after that: a run that returned as soon as its JVM had
exited left them running for a moment. So a stopping run notes the processes below the JVM first,
ends the JVM the polite way (it stops its own), then waits for each to go and kills what is left.
Each is noted with its start time, so a process id the system gave to another process meanwhile
is never killed.
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


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every live process below ``pid``, children before their children, each with its start time."""
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += [(child, _started(child)) for child in children]
        frontier = children
    return found


def _started(pid: int) -> str:
    """When ``pid`` started (clock ticks since boot, from /proc), "" where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


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


def reap(processes: Iterable[tuple[int, str]], seconds: float) -> list[int]:
    """Waits up to ``seconds`` for ``processes`` (``descendants``) to end, then kills those left;
    returns the killed. A process id now held by a process that started later is not theirs."""
    def same(pid: int, started: str) -> bool:
        return alive(pid) and _started(pid) == started
    waiting = list(processes)
    deadline = time.monotonic() + seconds
    while waiting and time.monotonic() < deadline:
        waiting = [(pid, started) for pid, started in waiting if same(pid, started)]
        if waiting:
            time.sleep(POLL_SECONDS)
    killed = []
    for pid, _ in waiting:
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    if killed:
        log.debug("killed %d processes that outlived the run: %s", len(killed), killed)
    return killed
