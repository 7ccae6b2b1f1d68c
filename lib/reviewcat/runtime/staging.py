"""Names of the folders a run builds its output in, and which of them a dead run left behind.

Every job writes into a sibling of its output (``out.__tmp-...``) and moves it into place at the
end; a failure or Ctrl-C deletes it. A ``kill -9`` or a lost machine cannot, and the folder stays.
The next run on the same output removes such folders, but only a dead run's: two runs may share an
output's parent, and a live run must keep its own. So each name carries the run's host and process
id, and a folder counts as dead when it was made on this host by a process that no longer exists.
A folder from another host is left alone (its run's liveness cannot be seen from here).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import uuid
from pathlib import Path
from typing import Callable

from reviewcat.runtime.processes import alive

log = logging.getLogger(__name__)

_NAME = re.compile(r"\.__(tmp|old)-([0-9a-f]{8})-(\d+)-[0-9a-f]{8}$")
_NAME_IN_PATH = re.compile(r"\.__(tmp|old)-[0-9a-f]{8}-\d+-[0-9a-f]{8}(?=/|$)")


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def staging_name(final_name: str, kind: str = "tmp") -> str:
    """A fresh sibling name for ``final_name``: ``tmp`` to build in, ``old`` for the replaced output."""
    return f"{final_name.rstrip('/')}.__{kind}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def final_of(path: str) -> str:
    """The output a staging folder (or a file inside one) is building; other paths as they are.
    Messages name what the user gave, not a folder that is gone once the run ends."""
    match = _NAME_IN_PATH.search(path)
    return path[:match.start()] if match else path


def dead_run_folder(name: str, final_name: str) -> str | None:
    """``tmp`` or ``old`` when ``name`` is a staging folder of ``final_name`` whose run died here, else None."""
    if not name.startswith(f"{final_name}.__"):
        return None
    match = _NAME.search(name)
    if not match or match.start() != len(final_name):
        return None
    kind, host, pid = match.group(1), match.group(2), int(match.group(3))
    if host != _host() or pid == os.getpid() or alive(pid):
        return None
    return kind


def remove_dead_runs(final: str, siblings: list[str], exists: Callable[[str], bool],
                     rename: Callable[[str, str], None], delete: Callable[[str], None]) -> None:
    """Remove what dead runs left beside ``final`` (see the module docstring); ``siblings`` are the
    names in its folder, and the callables act on full paths of any filesystem."""
    parent, _, final_name = final.rstrip("/").rpartition("/")
    for name in siblings:
        kind, path = dead_run_folder(name, final_name), f"{parent}/{name}"
        if kind == "old" and not exists(final):
            rename(path, final)  # the dead run had moved the old output aside and not yet put the new one in
            log.warning("restored %s, which a run that died had moved aside", final)
        elif kind:
            delete(path)
            log.warning("removed %s, left by a run that died", path)


def remove_dead_local(final: Path) -> None:
    """``remove_dead_runs`` for a local folder."""
    import shutil
    if final.parent.is_dir():
        remove_dead_runs(str(final), [p.name for p in final.parent.iterdir()], os.path.exists, os.replace,
                         lambda path: shutil.rmtree(path, ignore_errors=True))
