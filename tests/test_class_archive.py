"""The JVM class archive: written once by a finished JVM, mapped by later runs, never a failure."""
import os
import subprocess
import sys

from reviewcat.runtime import class_archive


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_first_run_writes_then_later_runs_map_the_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWCAT_CACHE", str(tmp_path))
    monkeypatch.delenv("REVIEWCAT_CLASS_ARCHIVE", raising=False)
    flags, part = class_archive.java_options()
    assert part is not None and f"-XX:ArchiveClassesAtExit={part}" in flags and class_archive.QUIET in flags

    # Its JVM still runs (here: this process): nobody else writes one, nothing is promoted.
    part.with_suffix(".jvm").write_text(str(os.getpid()))
    part.write_bytes(b"archive")
    assert class_archive.java_options() == ("", None)

    # The JVM has exited, so the file is complete: the next run promotes and maps it, and drops
    # the archives of other installations but the newest one.
    for n, name in enumerate(["older.jsa", "old.jsa"]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1000 + n, 1000 + n))
    part.with_suffix(".jvm").write_text(str(_dead_pid()))
    flags, part_again = class_archive.java_options()
    archive = part.parent / part.name.split(".")[0]
    assert part_again is None and flags.startswith(f"-XX:SharedArchiveFile={archive}.jsa ")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{archive.name}.jsa", "old.jsa"])


def test_runs_that_died_before_writing_leave_nothing_and_the_switch_turns_it_off(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWCAT_CACHE", str(tmp_path))
    flags, part = class_archive.java_options()
    dead = part.with_name(part.name.replace(f".{os.getpid()}.", f".{_dead_pid()}."))
    dead.write_bytes(b"half")  # its Python process died before it recorded the JVM
    part.with_suffix(".jvm").write_text(str(_dead_pid()))  # a JVM that died without writing
    flags, part = class_archive.java_options()
    assert part is not None and sorted(p.name for p in tmp_path.iterdir()) == []

    monkeypatch.setenv("REVIEWCAT_CLASS_ARCHIVE", "0")
    assert class_archive.java_options() == ("", None)
