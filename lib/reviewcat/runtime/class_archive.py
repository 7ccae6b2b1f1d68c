"""A class-data-sharing archive of Spark's classes, so a cold job's JVM maps them instead of loading them.

Before its first row, a Spark driver loads, parses and verifies some 15,000 classes from its jars,
much of a cold session's start and of its first job. Java 17 can instead map the classes a
previous run loaded from an archive (dynamic AppCDS, ``-XX:ArchiveClassesAtExit``) and skip that
work (timings in docs/performance.md, Cold start). There is no cost in throughput (the compiled
code is the same).

The first run of a Java and Spark installation writes the archive into the user's cache when its
JVM exits (that run starts slower for it), and later runs map it. The JVM checks the archive
against its own build and class path and ignores one that does not match, silently
(``-Xlog:cds*=off``): a stale or damaged archive costs speed, never a run. Only a JVM this process
launches gets it: under spark-submit or on Glue the JVM is already running.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from reviewcat.runtime.staging import alive

log = logging.getLogger(__name__)

QUIET = "-Xlog:cds*=off"
KEPT_ARCHIVES = 2  # this installation's and one other (a second venv, or the one before an upgrade)


def cache_dir() -> Path:
    """``$REVIEWCAT_CACHE``, else the user's cache folder: the archive belongs to the machine, not a warehouse."""
    given = os.environ.get("REVIEWCAT_CACHE")
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reviewcat"


def _java() -> Path | None:
    """The java that spark-submit will start: ``$JAVA_HOME/bin/java``, else the first on the PATH."""
    home = os.environ.get("JAVA_HOME")
    found = os.path.join(home, "bin", "java") if home else shutil.which("java")
    return Path(found).resolve() if found and os.path.exists(found) else None


def archive_key(java: Path, jars: Path) -> str:
    """Names the archive after what it depends on: the java binary and the jars on Spark's class path."""
    parts = [f"{java}:{java.stat().st_size}:{java.stat().st_mtime_ns}"]
    parts += sorted(f"{p.name}:{p.stat().st_size}" for p in jars.glob("*.jar"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _spark_jars() -> Path:
    import pyspark
    home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    return Path(home) / "jars"


def _finish_written(folder: Path, key: str) -> bool:
    """Promotes an archive a finished JVM wrote and drops what dead runs left; True while one writes.

    A writer's archive is ``<key>.jsa.<pid>.part``, with the pid of its JVM in ``.jvm`` beside it:
    the JVM writes the archive as it exits, after the Python process that started it has gone, so
    only the JVM's own end says the file is complete.
    """
    writing = False
    for jvm_file in folder.glob(f"{key}.jsa.*.jvm"):
        part = jvm_file.with_suffix(".part")
        pid = jvm_file.read_text().strip()
        if pid.isdigit() and alive(int(pid)):
            writing = True
            continue
        if part.exists() and part.stat().st_size > 0:
            os.replace(part, folder / f"{key}.jsa")
            _keep_newest(folder)
        jvm_file.unlink(missing_ok=True)
    for part in folder.glob(f"{key}.jsa.*.part"):
        if not part.with_suffix(".jvm").exists() and not alive(int(part.suffixes[-2].lstrip("."))):
            part.unlink(missing_ok=True)  # its run died before it knew its JVM
    return writing


def _keep_newest(folder: Path) -> None:
    """Archives of earlier Java or Spark installations go: each holds every class a run loaded, none is used again."""
    archives = sorted(folder.glob("*.jsa"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in archives[KEPT_ARCHIVES:]:
        old.unlink(missing_ok=True)


def java_options() -> tuple[str, Path | None]:
    """JVM flags that map the archive, or write it when there is none yet.

    Returns the flags and, when this run writes the archive, where: ``note_jvm`` must then record
    the JVM's pid once it runs. ``REVIEWCAT_CLASS_ARCHIVE=0`` turns the archive off.
    """
    java = _java()
    if os.environ.get("REVIEWCAT_CLASS_ARCHIVE") == "0" or java is None:
        return "", None
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        key = archive_key(java, _spark_jars())
        writing = _finish_written(folder, key)
    except OSError as exc:  # a read-only home: run without
        log.debug("no class archive: %s", exc)
        return "", None
    archive = folder / f"{key}.jsa"
    if archive.exists():
        return f"-XX:SharedArchiveFile={archive} {QUIET}", None
    if writing:
        return "", None
    part = folder / f"{key}.jsa.{os.getpid()}.part"
    log.debug("writing a class archive for faster starts: %s", archive)
    return f"-XX:ArchiveClassesAtExit={part} {QUIET}", part


def note_jvm(part: Path, spark) -> None:
    """Records which JVM writes ``part`` (see ``_finish_written``)."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    if proc is not None:
        part.with_suffix(".jvm").write_text(str(proc.pid))
