"""Progress of the running Spark stages, so a long step is never silent.

A balance or prepare on real volumes runs one or two Spark jobs of several minutes each, and
between reviewcat's log lines nothing showed that anything happened. While a job runs, a thread
polls Spark's status tracker: on a terminal it draws a live line (stage, tasks done of total, rows
read, seconds), elsewhere (Glue, CI, a log file) it logs such a line at most every
``LOG_SECONDS``. Rows read come from Spark's REST API (the driver's UI) when it is on: the input
records of the tasks that have finished or reported a heartbeat.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
import urllib.request
from typing import Any, Iterator

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
LOG_SECONDS = 10.0  # $REVIEWCAT_PROGRESS_SECONDS changes it


def _rows_read(ui: str | None, app: str, stages: set[int]) -> int | None:
    """Input records of the given stages so far, from the UI's REST API; None without it."""
    if not ui:
        return None
    try:
        with urllib.request.urlopen(f"{ui}/api/v1/applications/{app}/stages?status=active", timeout=2) as response:
            rows = [s.get("inputRecords", 0) for s in json.load(response) if s.get("stageId") in stages]
    except (OSError, ValueError):
        return None
    return sum(rows)


def describe(sc: Any) -> str | None:
    """One line for the active stages, e.g. "stage 3: 12/40 tasks, 1,234,567 rows read"; None when idle."""
    tracker = sc.statusTracker()
    infos = [info for info in (tracker.getStageInfo(i) for i in sorted(tracker.getActiveStageIds())) if info]
    if not infos:
        return None
    done, total = sum(i.numCompletedTasks for i in infos), sum(i.numTasks for i in infos)
    rows = _rows_read(sc.uiWebUrl, sc.applicationId, {i.stageId for i in infos})
    names = ", ".join(str(i.stageId) for i in infos)
    return (f"stage{'s' if len(infos) > 1 else ''} {names}: {done:,}/{total:,} tasks"
            + (f", {rows:,} rows read" if rows else ""))


class _LiveLine:
    """The progress line at the bottom of the terminal; log lines written meanwhile go above it."""

    def __init__(self, stream: Any):
        self.stream, self.text, self.lock = stream, "", threading.Lock()

    def show(self, text: str) -> None:
        with self.lock:
            self.stream.write("\r" + text.ljust(len(self.text)) + ("\r" if not text else ""))
            self.stream.flush()
            self.text = text

    def write(self, data: str) -> int:  # a log handler's stream: clear the line, write; the next poll redraws
        with self.lock:
            if self.text:
                self.stream.write("\r" + " " * len(self.text) + "\r")
                self.text = ""
            return self.stream.write(data)

    def flush(self) -> None:
        self.stream.flush()


def _watch(sc: Any, stop: threading.Event, line: _LiveLine | None, every: float) -> None:
    started = last_log = time.monotonic()
    while not stop.wait(POLL_SECONDS):
        now = time.monotonic()
        if line is None and now - last_log < every:
            continue
        try:
            text = describe(sc)
        except Exception:  # the session is stopping: nothing more to show
            break
        if line is not None:
            line.show(f"{text}, {now - started:.0f} s" if text else "")
        elif text:
            log.info("%s (%.0f s)", text, now - started)
            last_log = now
    if line is not None:
        line.show("")


@contextlib.contextmanager
def shown(sc: Any, live: bool | None = None) -> Iterator[None]:
    """Progress of the Spark jobs that run inside the block: live on a terminal, logged elsewhere."""
    live = sys.stderr.isatty() if live is None else live
    line = _LiveLine(sys.stderr) if live else None
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is sys.stderr]
    for handler in handlers:
        handler.setStream(line or sys.stderr)
    stop = threading.Event()
    every = float(os.environ.get("REVIEWCAT_PROGRESS_SECONDS") or LOG_SECONDS)
    watcher = threading.Thread(target=_watch, args=(sc, stop, line, every), name="reviewcat-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)
        for handler in handlers:
            handler.setStream(sys.stderr)
