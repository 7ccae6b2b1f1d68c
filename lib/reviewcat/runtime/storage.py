"""File operations through Hadoop's FileSystem API.

The jobs write to local paths, HDFS and ``s3://`` alike, and on Glue or a cluster the driver has no
local view of the data: every existence check, listing, rename and checksum goes through the JVM
FileSystem of the path's scheme, never through ``os``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, ContextManager, Iterator, Mapping

from pyspark.sql import SparkSession

from reviewcat.runtime import interrupts
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.object_store import abort_dead_uploads, abort_uploads
from reviewcat.runtime.publishing import (Claim, built_in_place, check_apart, check_finished, claim, folder_lock,
                                          is_glob, plain_path, publish, remove_dead_build)
from reviewcat.runtime.s3a import is_s3
from reviewcat.runtime.staging import final_of, remove_dead_runs, staging_name

log = logging.getLogger(__name__)

# How long a failed run waits for its running tasks before it deletes their staging folder.
QUIESCE_SECONDS = 30
COPY_BUFFER = 1 << 20


def _java_problem(exc: Exception) -> str:
    """What failed, in the first line of the Java exception py4j raised."""
    java = getattr(exc, "java_exception", None)
    return str(java.toString()) if java is not None else str(exc).splitlines()[0]


def json_text(data: Any) -> str:
    """The one JSON layout of every file reviewcat writes: stable keys, so reruns give equal bytes."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Entry:
    path: str
    name: str
    is_dir: bool
    size: int
    uri: str  # URL-encoded, as Spark reports a row's file in ``_metadata.file_path``
    modified: int = 0  # milliseconds since the epoch


class Storage:
    """Hadoop FileSystem access bound to one SparkSession."""

    def __init__(self, spark: SparkSession, dead_uploads: bool = True):
        self._sc = spark.sparkContext
        self._jspark = spark._jsparkSession
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        # Each step of ``jvm.org.apache...`` is a round trip to the JVM: look the class up once.
        self._path_class = self._jvm.org.apache.hadoop.fs.Path
        # Whether to abort the multipart uploads dead runs of this host left (not on Glue, where
        # every run has a host of its own).
        self._dead_uploads = dead_uploads

    def _path(self, path: str):
        return self._path_class(path)

    def _fs(self, path: str):
        return self._path(path).getFileSystem(self._conf)

    def qualify(self, path: str) -> str:
        """Absolute, scheme-qualified form, so logs and manifests name the real location."""
        p = self._path(path)
        return str(p.getFileSystem(self._conf).makeQualified(p).toString())

    def exists(self, path: str) -> bool:
        return bool(self._fs(path).exists(self._path(path)))

    def is_dir(self, path: str) -> bool:
        fs = self._fs(path)
        p = self._path(path)
        return bool(fs.exists(p) and fs.getFileStatus(p).isDirectory())

    def list(self, path: str) -> list[Entry]:
        return sorted((self._entry(s) for s in self._fs(path).listStatus(self._path(path))), key=lambda e: e.name)

    def has_files(self, path: str, suffix: str = "") -> bool:
        """Whether any file below ``path`` ends with ``suffix`` (hidden and ``_`` files aside).

        Stops at the first one: every job checks its input this way, and a full recursive listing
        of a large table costs seconds locally and many LIST requests on S3.
        """
        it = self._fs(path).listFiles(self._path(path), True)
        while it.hasNext():
            name = str(it.next().getPath().getName())
            if not name.startswith(("_", ".")) and name.endswith(suffix):
                return True
        return False

    def files(self, path: str) -> list[Entry]:
        """Every file that ``path`` (a file, a folder or a glob) names, folders searched recursively.

        Names starting with ``_`` or ``.`` below a folder or matched by a glob are left out, as
        Spark's readers do: ``_SUCCESS`` markers, ``_rejected/``, run files and hidden files are never data.
        """
        fs = self._fs(path)
        if is_glob(path):
            statuses = [s for s in fs.globStatus(self._path(path)) or []
                        if not str(s.getPath().getName()).startswith(("_", "."))]
        elif fs.exists(self._path(path)):
            statuses = [fs.getFileStatus(self._path(path))]
        else:
            statuses = []
        found = []
        for status in statuses:
            if not status.isDirectory():
                found.append(self._entry(status))
                continue
            root = str(status.getPath().toString()).rstrip("/") + "/"
            it = fs.listFiles(status.getPath(), True)
            while it.hasNext():
                file = self._entry(it.next(), is_dir=False)
                if not any(part.startswith(("_", ".")) for part in file.path[len(root):].split("/")):
                    found.append(file)
        return sorted(found, key=lambda e: e.path)

    @staticmethod
    def _entry(status, is_dir: bool | None = None) -> Entry:
        """An Entry in six calls to the JVM: a listing of thousands of files makes them count."""
        path = status.getPath()
        text = str(path.toString())
        uri = str(path.toUri().toString())
        # A listed file's URI can carry an empty authority (file:///x), where Spark's has none (file:/x).
        uri = "file:/" + uri[len("file:///"):] if uri.startswith("file:///") else uri
        return Entry(text, text.rstrip("/").rsplit("/", 1)[-1], bool(status.isDirectory()) if is_dir is None else is_dir,
                     int(status.getLen()), uri, int(status.getModificationTime()))

    def delete(self, path: str) -> None:
        self._fs(path).delete(self._path(path), True)

    def mkdirs(self, path: str) -> None:
        self._fs(path).mkdirs(self._path(path))

    def rename(self, src: str, dst: str) -> None:
        if not self._fs(src).rename(self._path(src), self._path(dst)):
            raise OSError(f"could not move {src} to {dst}")

    def concatenate(self, sources: list[str], target: str) -> None:
        """``sources`` one after another as the new file ``target``; the sources are gone after.

        The bytes stream from file to file inside the JVM at disk speed and never reach Python.
        One source is only renamed.
        """
        self.mkdirs(str(self._path(target).getParent().toString()))
        if len(sources) == 1:
            self.rename(sources[0], target)
            return
        out = self._fs(target).create(self._path(target), True)
        try:
            for source in sources:
                stream = self._fs(source).open(self._path(source))
                try:
                    self._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, COPY_BUFFER, False)
                finally:
                    stream.close()
        finally:
            out.close()
        for source in sources:
            self.delete(source)

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def write_bytes(self, path: str, data: bytes) -> None:
        out = self._fs(path).create(self._path(path), True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def read_text(self, path: str) -> str:
        stream = self._fs(path).open(self._path(path))
        try:
            data = self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
        finally:
            stream.close()
        return bytes(data).decode("utf-8")

    def copy_to_local(self, path: str, local: str) -> None:
        """A file of any Hadoop file system (s3://, hdfs://, file:) copied to a local path, without a
        ``.crc`` beside it: for files a Python library must open itself, such as a model. (A plain
        stream copy: S3A's own ``copyToLocalFile`` wants Hadoop's checksummed local file system.)"""
        raw = self._jvm.org.apache.hadoop.fs.RawLocalFileSystem()  # no .crc, whatever fs.file.impl is
        raw.initialize(self._jvm.java.net.URI("file:///"), self._conf)
        self._jvm.org.apache.hadoop.fs.FileUtil.copy(self._fs(path), self._path(path), raw,
                                                     self._path(f"file:{os.path.abspath(local)}"), False, True,
                                                     self._conf)

    def sha256(self, path: str) -> str:
        """Digest computed inside the JVM while streaming, so a large file never sits in Python."""
        stream = self._fs(path).open(self._path(path))
        try:
            return str(self._jvm.org.apache.commons.codec.digest.DigestUtils.sha256Hex(stream))
        finally:
            stream.close()

    def unreadable(self, path: str) -> str | None:
        """Why a file cannot be read to its end through the codec its name implies, or None.

        The file streams through the JVM and is dropped there: nothing reaches Python.
        """
        p = self._path(path)
        codec = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(self._conf).getCodec(p)
        stream = None
        try:
            stream = self._fs(path).open(p)
            if codec is not None:
                stream = codec.createInputStream(stream)
            self._jvm.org.apache.commons.io.IOUtils.consume(stream)
        except Exception as exc:
            return _java_problem(exc)
        finally:
            if stream is not None:
                stream.close()
        return None

    def head(self, path: str, limit: int = 1 << 16) -> bytes:
        """The first ``limit`` bytes of a file, decompressed as its name implies (a CSV's header)."""
        p = self._path(path)
        codec = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(self._conf).getCodec(p)
        stream = self._fs(path).open(p)
        try:
            if codec is not None:
                stream = codec.createInputStream(stream)
            bounded = self._jvm.org.apache.commons.io.input.BoundedInputStream(stream, limit)
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(bounded))
        finally:
            stream.close()

    def parquet_problem(self, path: str) -> str | None:
        """Why a parquet file's footer cannot be read (truncated, not parquet), or None: the footer only."""
        hadoop = self._jvm.org.apache.parquet.hadoop
        try:
            hadoop.ParquetFileReader.open(hadoop.util.HadoopInputFile.fromPath(self._path(path), self._conf)).close()
        except Exception as exc:
            return _java_problem(exc)
        return None

    def staging_path(self, final: str) -> str:
        """A sibling of ``final`` to build output in, so a failed run never leaves a half-written result.

        What a dead run left beside ``final`` goes first (``staging.remove_dead_runs``).
        """
        self.remove_dead_runs(final)
        return staging_name(final)

    def remove_dead_runs(self, final: str) -> None:
        """What runs that died here left beside ``final`` (``staging.remove_dead_runs``): staging
        folders, markers of outputs built in place with what they built, unfinished uploads."""
        parent = str(self._path(final).getParent().toString())
        if self.exists(parent):
            remove_dead_runs(final.rstrip("/"), [e.name for e in self.list(parent)], self.exists, self.rename,
                             self._remove_dead)
        if self._dead_uploads and is_s3(final):
            abort_dead_uploads(final)

    def claim_output(self, path: str | None, overwrite: bool, what: str,
                     inputs: Mapping[str, str | None] | None = None) -> Claim:
        """A job's ``--output-path``, qualified, apart from its ``inputs`` (what names each -> path)
        and free (or ``overwrite`` of reviewcat's own output): checked before any work; ``what``
        tells the user what goes there when the flag is missing."""
        if not path:
            raise ReviewcatError(f"--output-path is required: {what}")
        output = self.qualify(path.rstrip("/"))
        check_apart(output, {name: self.qualify(p.rstrip("/")) for name, p in (inputs or {}).items() if p})
        if is_s3(output):  # a dead run's half-built output is gone before this run claims the path
            self.remove_dead_runs(output)
            check_finished(self, output)
        return claim(self, output, overwrite)

    def _remove_dead(self, path: str) -> None:
        """A dead run's staging folder, or its marker of an output it built in place (S3)."""
        if is_s3(path) and not self.is_dir(path):
            if self._dead_uploads:  # what S3A's committer left unfinished under the output
                abort_uploads(f"{final_of(path)}/", lambda key: True)
            remove_dead_build(self, path)
        else:
            self.delete(path)

    def check_finished(self, path: str) -> None:
        """Refuse an input on S3 that a run is building in place (``publishing.built_in_place``)."""
        if is_s3(path):
            check_finished(self, path.rstrip("/"))

    @contextlib.contextmanager
    def staged(self, claimed: Claim) -> Iterator[str]:
        """A folder to build output in: moved to the claimed output when the block succeeds, deleted
        when it fails. On S3, where moving copies every object, the output is built in place."""
        if is_s3(claimed.path):
            with built_in_place(self, claimed, self.staging_path(claimed.path), self.discard) as final:
                yield final
            log.info("wrote %s", claimed.path)
            return
        staging = self.staging_path(claimed.path)
        try:
            yield staging
            self.publish(staging, claimed)
        except BaseException:
            self.discard(staging)
            raise

    def discard(self, staging: str) -> bool:
        """Delete a failed or interrupted run's staging folder, once no task can write into it again.

        A cancelled or failed job's other tasks run on to their end (Spark interrupts none by
        default), and a task that finishes after the delete would create the folder anew. A local
        folder goes even when the JVM is gone (a SIGTERM to the whole process group ends it too).
        Returns whether the folder is gone.
        """
        try:
            with interrupts.deferred(raise_after=False):  # a second Ctrl-C must not leave the folder
                self._sc.cancelAllJobs()
                deadline = time.monotonic() + QUIESCE_SECONDS
                while time.monotonic() < deadline and self._busy():
                    time.sleep(0.1)
                self.delete(staging)
            return True
        except Exception as exc:  # the JVM may be gone; the next run removes what a dead one left
            if staging.startswith("file:"):
                shutil.rmtree(plain_path(staging), ignore_errors=True)
            if not staging.startswith("file:") or os.path.exists(plain_path(staging)):
                log.warning("could not remove %s: %s", staging, str(exc).splitlines()[0] if str(exc) else exc)
                return False
            return True

    def _busy(self) -> bool:
        """Whether a task runs, or a query is still ending: a cancelled write aborts its output
        committer after its job, and the abort deleted and recreated folders in the staging one."""
        tracker = self._sc._jsc.sc().statusTracker()
        if any(e.numRunningTasks() for e in tracker.getExecutorInfos()):
            return True
        executions = self._jspark.sharedState().statusStore().executionsList()
        count = executions.size()
        return any(executions.apply(i).completionTime().isEmpty() for i in range(max(0, count - 20), count))

    def publish(self, staging: str, claimed: Claim) -> None:
        """Move a finished staging folder into place (``publishing.publish``)."""
        publish(self, staging, claimed)
        log.info("wrote %s", claimed.path)

    def names(self, path: str) -> list[str]:
        return [entry.name for entry in self.list(path)]

    def lock(self, path: str) -> ContextManager[None]:
        """The folder locked among this machine's runs where it is local; other stores have no lock."""
        return folder_lock(plain_path(path)) if path.startswith("file:") else contextlib.nullcontext()
