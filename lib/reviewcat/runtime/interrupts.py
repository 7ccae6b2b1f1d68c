"""Ctrl-C and SIGTERM: a run notes which signal stopped it, and stops where it can clean up.

Left to their defaults, SIGTERM kills Python at once (the staging folder stays), and PySpark's own
Ctrl-C handler cancels every Spark job from inside the signal handler, through py4j, while the
main thread waits on py4j for the interrupted call: that call then comes back as a Java failure,
and an import stopped by Ctrl-C ended in "Spark failed: An error occurred while calling
o716.parquet". Here both signals only note their name and raise ``KeyboardInterrupt``; the run's
cleanup cancels the jobs, and its one line says "interrupted" whatever exception the interrupted
call ended in (``received``).

Two stretches only note a signal and go on (``deferred``): the JVM's start, whose process handle
PySpark returns only once the JVM is up (an interrupt in between left a JVM nobody could stop), and
the cleanup itself, which a second Ctrl-C must not cut short.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    def __init__(self) -> None:
        self.active = False
        self.previous: dict[int, Any] = {}
        self.received: str | None = None
        self.deferring = 0
        self.pending = False


_state = _State()


def _handler(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    _state.received = _state.received or name
    if _state.deferring:
        _state.pending = True
        return
    raise KeyboardInterrupt(name)


def received() -> str | None:
    """The signal that interrupted this run (``SIGINT`` or ``SIGTERM``), if one did."""
    return _state.received


@contextlib.contextmanager
def raising() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` naming the signal.

    Only in the main thread, where Python runs signal handlers; a SIGINT that was ignored when
    the block began (a background job of a shell) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread() or _state.active:
        yield
        return
    _state.active, _state.received, _state.pending = True, None, False
    _state.previous = {s: signal.getsignal(s) for s in _SIGNALS}
    reclaim()
    try:
        yield
    finally:
        for signum, previous in _state.previous.items():
            signal.signal(signum, previous)
        _state.active = False


def reclaim() -> None:
    """Our handlers again, inside ``raising``: a new SparkContext installs PySpark's for SIGINT."""
    if not _state.active or threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        ignored = _state.previous.get(signum) is signal.SIG_IGN
        signal.signal(signum, signal.SIG_IGN if ignored else _handler)


@contextlib.contextmanager
def deferred(raise_after: bool = True) -> Iterator[None]:
    """A signal in the block is noted and the block goes on; with ``raise_after`` it is raised
    once the block ends, as ``KeyboardInterrupt``."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if raise_after and _state.pending and not _state.deferring:
        _state.pending = False
        raise KeyboardInterrupt(_state.received)
