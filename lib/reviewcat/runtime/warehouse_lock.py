"""One process at a time on a local catalog.

The local catalog is an embedded Derby database, which one JVM at a time may open. A second
``reviewcat balance`` on the same warehouse did finish after the first, but only because Hive
retried: it printed 54,421 lines, 670 of them ERROR ("Another instance of Derby may have already
booted the database"). So a process takes an exclusive lock on the warehouse before its Spark
session opens the catalog, and holds it until it exits. A second process says once which process
holds the catalog and waits for it; after ``REVIEWCAT_CATALOG_WAIT`` seconds it gives up with one
line. The lock is the kernel's (``flock``): a process that dies, even by ``kill -9``, releases it.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from typing import IO

from reviewcat.runtime.errors import ReviewcatError

log = logging.getLogger(__name__)

DEFAULT_WAIT_SECONDS = 3600.0
POLL_SECONDS = 0.25
LOCK_FILE = "catalog.lock"
_held: dict[str, IO[str]] = {}  # warehouse -> the open lock file, kept for the life of the process


def wait_limit() -> float:
    text = os.environ.get("REVIEWCAT_CATALOG_WAIT", "")
    try:
        return float(text) if text else DEFAULT_WAIT_SECONDS
    except ValueError:
        raise ReviewcatError(f"REVIEWCAT_CATALOG_WAIT must be a number of seconds, got {text!r}") from None


def _try(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read().strip() or "another process"


def hold(warehouse: str, owner: str, wait: float | None = None) -> None:
    """Lock ``warehouse`` for this process (``owner`` names it to the others), waiting up to ``wait``
    seconds for the process holding it."""
    if warehouse in _held:
        return
    wait = wait_limit() if wait is None else wait
    os.makedirs(warehouse, exist_ok=True)
    handle = open(os.path.join(warehouse, LOCK_FILE), "a+", encoding="utf-8")
    if not _try(handle):
        holder = _holder(handle)
        log.warning("the catalog in %s is in use by %s: waiting for it to finish (at most %.0f s; "
                    "REVIEWCAT_CATALOG_WAIT sets the limit)", warehouse, holder, wait)
        deadline = time.monotonic() + wait
        while not _try(handle):
            if time.monotonic() > deadline:
                handle.close()
                raise ReviewcatError(
                    f"the catalog in {warehouse} is still in use by {holder} after {wait:.0f} s: wait for it to "
                    f"finish, or give this run a catalog of its own with REVIEWCAT_WAREHOUSE=<another folder>")
            time.sleep(POLL_SECONDS)
        log.info("the catalog in %s is free: going on", warehouse)
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} ({owner})\n")
    handle.flush()
    _held[warehouse] = handle
