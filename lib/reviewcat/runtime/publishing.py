"""Where a job's output may go, and how it gets there.

Three rules, checked before a job writes anything, and again as it publishes:

- **Inputs are never written.** An output equal to, inside or around one of the job's inputs is
  refused (``check_apart``): with ``--overwrite`` the input would be replaced by the output, and
  an output inside an input changes what the input holds. Paths are compared as locations
  (``location``): ``file:`` spellings, ``..``, symbolic links and trailing slashes resolved
  locally, ``s3://``, ``s3a://`` and ``s3n://`` as one scheme, by whole path components.
- **``--overwrite`` replaces only reviewcat's outputs** (``claim``): a folder without a run file
  (``names.RUN_FILE``), or the result files of an older release, is a user's, and stays untouched.
- **One output, one writer** (``publish``): every published output carries a run file naming the
  run that wrote it. A run notes which run's output was there when it started; when it publishes,
  under a lock on the output's parent folder (local disks), the output must still be that one. So
  of two runs started together on one output, the second to finish fails with one line naming
  the first, instead of replacing its output (or, on a file system with no atomic rename,
  mixing with it) and reporting success. A store without locks (S3, or NFS) is checked again
  after the move, so a run never reports an output whose run file is not its own; but S3 has no
  atomic rename either, so two moves that overlap there can still mix their files: runs at once
  want outputs of their own on S3.

The policy takes its file operations as an argument (``Files``), so the Hadoop-backed ``Storage``
and plain local folders (training, evaluation, generated data) follow the same rules.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import posixpath
import re
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Mapping, Protocol

from reviewcat.runtime import interrupts
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.staging import final_of, remove_dead_local, staging_name
from reviewcat.schema import LEGACY_RESULTS, RUN_FILE


log = logging.getLogger(__name__)

_GLOB = re.compile(r"[*?\[{]")


def is_glob(path: str) -> bool:
    """Whether Hadoop would expand ``path`` as a pattern."""
    return bool(_GLOB.search(path))


class Files(Protocol):
    """The file operations the policy needs, on full paths of one file system."""

    def exists(self, path: str) -> bool: ...
    def is_dir(self, path: str) -> bool: ...
    def names(self, path: str) -> list[str]: ...
    def rename(self, src: str, dst: str) -> None: ...
    def delete(self, path: str) -> None: ...
    def mkdirs(self, path: str) -> None: ...
    def read_text(self, path: str) -> str: ...
    def write_text(self, path: str, text: str) -> None: ...
    def lock(self, path: str) -> ContextManager[None]: ...


def plain_path(path: str) -> str:
    """A path as the user wrote it: a local ``file:/x`` or ``file:///x`` is ``/x`` in messages."""
    return re.sub(r"^file:(?://)?(?=/)", "", path)


def location(qualified: str) -> tuple[str, ...]:
    """A scheme-qualified path as comparable parts: (scheme, authority, folder, ..., name).

    A local path (``file:`` or plain) is resolved as the OS would open it; a glob stands for the
    folder above its first pattern.
    """
    scheme, _, rest = qualified.partition("://") if "://" in qualified else ("file", "", qualified)
    if scheme == "file" or qualified.startswith("file:"):
        plain = re.sub(r"^file:(//[^/]*)?", "", qualified)
        parts = Path(plain).parts
        cut = next((i for i, part in enumerate(parts) if is_glob(part)), len(parts))
        above = os.path.join(*parts[:cut]) if cut else os.curdir
        return ("file", "", *Path(os.path.realpath(above)).parts[1:])
    authority, _, path = rest.partition("/")
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    cut = next((i for i, part in enumerate(parts) if is_glob(part)), len(parts))
    return ("s3" if scheme in ("s3", "s3a", "s3n") else scheme, authority, *parts[:cut])


def check_apart(output: str, inputs: Mapping[str, str | None], flag: str = "--output-path") -> None:
    """Refuse an ``output`` that is, lies inside or holds one of ``inputs`` (what names it -> a
    qualified path); both sides as ``location``s."""
    mine = location(output)
    for what, path in inputs.items():
        if not path:
            continue
        theirs = location(path)
        if mine == theirs:
            relation = "is"
        elif mine[:len(theirs)] == theirs:
            relation = "is inside"
        elif theirs[:len(mine)] == mine:
            relation = "holds"
        else:
            continue
        raise ReviewcatError(f"{flag} {plain_path(output)} {relation} the input {what} {plain_path(path)}: reviewcat "
                             "never writes to or under its inputs; choose an output outside the input")


def owned(files: Files, path: str, names: list[str]) -> bool:
    """Whether the folder ``path``, holding ``names``, is reviewcat's: its run file, or an older
    release's result file (whose content is checked where its name alone could be anyone's)."""
    if RUN_FILE in names:
        return True
    for name, key in LEGACY_RESULTS.items():
        if name not in names:
            continue
        if key is None:
            return True
        try:
            data = json.loads(files.read_text(f"{path}/{name}"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and key in data and (key != "created_by" or str(data[key]).startswith("reviewcat")):
            return True
    return False


@dataclass(frozen=True)
class Claim:
    """An output a run may write: its path, and the run whose output was there when the run
    started ("" for one without a run file, None when there was none)."""
    path: str
    seen: str | None


def _writer(files: Files, path: str) -> dict | None:
    """The run file of the output at ``path``: {} when it has none, None when there is no output."""
    if not files.exists(path):
        return None
    run_file = f"{path}/{RUN_FILE}"
    try:
        return json.loads(files.read_text(run_file)) if files.exists(run_file) else {}
    except ValueError:
        return {}


def _run_id(writer: dict | None) -> str | None:
    return None if writer is None else str(writer.get("run", ""))


def claim(files: Files, path: str, overwrite: bool, flag: str = "--output-path") -> Claim:
    """``path`` as this run's output: free, or with ``overwrite`` a folder reviewcat wrote (or an
    empty one). Checked before any work, so a refusal costs nothing and touches nothing."""
    if not files.exists(path):
        return Claim(path, None)
    shown = plain_path(path)
    if not overwrite:
        raise ReviewcatError(f"output path {shown} already exists: choose another {flag} or pass --overwrite")
    if not files.is_dir(path):
        raise ReviewcatError(f"output path {shown} is a file, not a folder reviewcat wrote: --overwrite replaces only "
                             f"reviewcat's outputs; choose another {flag} or remove the file yourself")
    names = files.names(path)
    if names and not owned(files, path, names):
        raise ReviewcatError(f"output path {shown} holds files reviewcat did not write (it has no {RUN_FILE}): "
                             f"--overwrite replaces only reviewcat's outputs; choose another {flag} or remove the "
                             "folder yourself")
    return Claim(path, _run_id(_writer(files, path)))


def current(files: Files, path: str) -> Claim:
    """The output at ``path`` as it is now, claimed by a run that changes it in place (an import
    adding categories to an import)."""
    return Claim(path, _run_id(_writer(files, path)))


class _Run:
    """This process's current command, and the outputs it published: what an interrupted run's
    line says was written."""
    command = "reviewcat"
    published: list[str] = []
    building: set[str] = set()  # the markers of the outputs this process builds in place now


def start_run(command: str) -> None:
    """A new command starts in this process: its name goes into the run files it writes."""
    _Run.command, _Run.published = command, []


def outcome_of_stop() -> str:
    """What an interrupted run leaves: nothing, or the outputs it had published before the stop."""
    if not _Run.published:
        return "stopped, and nothing was written"
    return f"stopped after writing {', '.join(map(plain_path, _Run.published))}; nothing else was written"


def _another_run(path: str, writer: dict | None) -> ReviewcatError:
    if writer:
        who = (f"another run (process {writer.get('pid')} on {writer.get('host')}, {writer.get('command')}) "
               f"published {plain_path(path)} first")
    else:
        who = f"{plain_path(path)} was written by something else while this run worked"
    return ReviewcatError(f"{who}: this run's output is dropped and that one kept; run again with --overwrite to "
                          "replace it")


def _parent(path: str) -> str:
    """The folder holding ``path``; the root of its file system or bucket ends with a slash."""
    parent = path.rstrip("/").rpartition("/")[0]
    return parent + "/" if not parent or parent.endswith(":") or parent.endswith(":/") or \
        ("://" in parent and "/" not in parent.split("://", 1)[1]) else parent


def run_record() -> dict:
    """A new run file's content: a fresh id, and who and where."""
    return {"run": uuid.uuid4().hex, "pid": os.getpid(), "host": socket.gethostname(), "command": _Run.command,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


@contextlib.contextmanager
def holding(files: Files, claimed: Claim) -> Iterator[dict]:
    """The output's parent locked, and ``claimed`` checked to be still what is there: the block may
    change the output in place (an import adding partitions). Yields the run file to leave in it."""
    parent = _parent(claimed.path)
    files.mkdirs(parent)
    with files.lock(parent):
        now = _writer(files, claimed.path)
        if _run_id(now) != claimed.seen:
            raise _another_run(claimed.path, now)
        record = run_record()
        yield record
        after = _writer(files, claimed.path)  # where nothing locks (S3), another run may have moved in
        if _run_id(after) != record["run"]:
            raise _another_run(claimed.path, after)
    _Run.published.append(claimed.path)


def leave_record(files: Files, folder: str, record: dict) -> None:
    """The run file, ``holding``'s record, in ``folder``."""
    files.write_text(f"{folder}/{RUN_FILE}", json.dumps(record, indent=2, sort_keys=True) + "\n")


def publish(files: Files, staging: str, claimed: Claim) -> None:
    """Move a finished staging folder to the claimed output, keeping the old output until the new
    one is in place; refused when another run published there since this one claimed it."""
    final = claimed.path
    with holding(files, claimed) as record:
        leave_record(files, staging, record)
        backup = None
        if files.exists(final):
            backup = staging_name(final, "old")
            files.rename(final, backup)
        try:
            files.rename(staging, final)
        except BaseException:
            if backup:
                with interrupts.deferred(raise_after=False):  # a second Ctrl-C must not lose the old output
                    files.rename(backup, final)
            raise
        if backup:
            files.delete(backup)


def _building(files: Files, final: str) -> list[str]:
    """The markers of runs building ``final`` in place (``built_in_place``), but this process's
    own: files named as its staging folders. A bucket's root has none (nothing lies beside it)."""
    if "://" in final and "/" not in final.split("://", 1)[1].strip("/"):
        return []
    parent, name = _parent(final), final.rstrip("/").rpartition("/")[2]
    if not files.exists(parent):
        return []
    folder = parent.rstrip("/")
    return [f"{folder}/{n}" for n in files.names(parent)
            if n.startswith(f"{name}.__tmp-") and n not in _Run.building and not files.is_dir(f"{folder}/{n}")]


def _being_built(path: str, marker: str) -> str:
    return (f"{plain_path(path)} is being written by another run of reviewcat (its marker is {marker}): wait for "
            "that run to finish; if it died on another machine, delete the marker and run that job again")


def check_finished(files: Files, path: str) -> None:
    """Refuse to read an output that another run is building in place, or left half-built when it
    died; a job reading back what it writes reads its own."""
    for marker in _building(files, path)[:1]:
        raise ReviewcatError(_being_built(path, marker))


@contextlib.contextmanager
def built_in_place(files: Files, claimed: Claim, marker: str, discard: Callable[[str], bool]) -> Iterator[str]:
    """The output built at its final path, for a store without rename (S3), where moving a staging
    folder into place would copy every object.

    A marker beside the output (``marker``, named as a staging folder) says a run is building it,
    from before the old output goes to after the run file is written; readers refuse an output
    with a marker (``check_finished``). With ``--overwrite`` the old output is removed first, its
    run file before anything else, so at no moment does a partial output look complete; on
    failure ``discard`` removes what was built, and the marker stays when it could not. What a
    killed run leaves, the next run on the output removes (``remove_dead_build``).
    """
    final, name = claimed.path, marker.rsplit("/", 1)[-1]
    with holding(files, claimed) as record:
        check_finished(files, final)
        files.write_text(marker, json.dumps({"building": final, "replaces": claimed.seen, **record}, indent=2,
                                            sort_keys=True) + "\n")
        _Run.building.add(name)
        clean = True
        try:
            for other in _building(files, final)[:1]:  # a run that started at the same moment
                raise ReviewcatError(_being_built(final, other))
            if files.exists(final):
                clean = False
                files.delete(f"{final}/{RUN_FILE}")
                files.delete(final)
            clean = False
            yield final
            leave_record(files, final, record)
            clean = True
        except BaseException:
            if not clean:
                clean = discard(final)
            raise
        finally:
            _Run.building.discard(name)
            if clean:
                with interrupts.deferred(raise_after=False):
                    try:
                        files.delete(marker)
                    except Exception as exc:  # S3 out of reach: the next run removes it as a dead run's
                        log.warning("could not remove %s: %s", marker, str(exc).splitlines()[0] if str(exc) else exc)


def remove_dead_build(files: Files, marker: str) -> None:
    """What a run that died while building an output in place left: its marker, and the output
    unless it is whole: the dead run's own, finished just before the end, or the one it was to
    replace, not yet touched (a marker the run could not finish writing: it died before anything
    else). An old output without a run file cannot be told from a half-built one: it is kept."""
    final = final_of(marker)
    try:
        record = json.loads(files.read_text(marker))
    except (OSError, ValueError):
        record = None
    if record is not None and files.exists(final):
        writer, replaces = _run_id(_writer(files, final)), record.get("replaces")
        if writer == "" and replaces == "":
            log.warning("kept %s: a run that died was replacing it, and it cannot be told whether it did", final)
        elif writer not in (record.get("run"), replaces or None):
            files.delete(final)
            log.warning("removed %s, which a run that died had left half-written", plain_path(final))
    files.delete(marker)


# flock on a folder that a file system cannot lock this way (NFS, EFS: a byte-range lock needs a
# file open for writing): publishing goes on without the lock, checked again after the move.
_NO_LOCK = (errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


@contextlib.contextmanager
def folder_lock(folder: str) -> Iterator[None]:
    """An exclusive lock on a local folder among this machine's processes (``flock`` on the folder
    itself: no lock file is left behind, and a process that dies releases it)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in _NO_LOCK:
                raise
        yield
    finally:
        os.close(handle)


class LocalFiles:
    """``Files`` on the local disk, for the outputs written without Spark."""

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def names(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def delete(self, path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)

    def mkdirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def read_text(self, path: str) -> str:
        return Path(path).read_text(encoding="utf-8")

    def write_text(self, path: str, text: str) -> None:
        Path(path).write_text(text, encoding="utf-8")

    def lock(self, path: str) -> ContextManager[None]:
        return folder_lock(path)


LOCAL = LocalFiles()


@contextlib.contextmanager
def staged_locally(output: Path, overwrite: bool, inputs: Mapping[str, str | None] | None = None,
                   flag: str = "--output-path") -> Iterator[Path]:
    """A local folder to build an output in: checked against ``inputs`` and claimed first, published
    to ``output`` when the block succeeds, gone when it fails."""
    final = str(output)
    check_apart(final, {what: path for what, path in (inputs or {}).items()}, flag)
    claimed = claim(LOCAL, final, overwrite, flag)
    remove_dead_local(output)
    staging = output.with_name(staging_name(output.name))
    staging.mkdir(parents=True)
    try:
        yield staging
        publish(LOCAL, str(staging), claimed)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
