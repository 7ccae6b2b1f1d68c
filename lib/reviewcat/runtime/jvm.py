"""Spark's JVM, started by hand and stopped with every process below it.

PySpark would start the JVM with its output on the terminal; here it goes to the run's log, and a
stopping run ends the JVM and its Python workers before it returns.
"""
from __future__ import annotations

from reviewcat.runtime import interrupts, processes
from reviewcat.runtime.errors import ReviewcatError


def jvm_running() -> bool:
    """Whether this process already talks to a JVM (PySpark keeps its gateway on the class)."""
    from pyspark import SparkContext
    return SparkContext._gateway is not None


def end_processes(grace: float = 60) -> None:
    """Stops Spark's JVM and the processes below it, and waits until they are gone.

    A failed or interrupted command ends when they have, so nothing it started still runs once
    the shell has its prompt back: a task of the failed job still writing, or holding files open
    on the output's disk, or a Python worker. (A finished one leaves its JVM to exit on its own:
    no output depends on its shutdown.) The JVM's Python daemon and workers are noted
    first: once the JVM is gone they no longer descend from it. What has not ended within
    ``grace`` seconds is killed.
    """
    from pyspark import SparkContext
    proc = getattr(SparkContext._gateway, "proc", None)
    if proc is None:
        return
    started = processes.descendants(proc.pid)
    try:
        if SparkContext._active_spark_context is not None:
            SparkContext._active_spark_context.stop()
        proc.stdin.close()  # Spark's gateway server exits when its stdin ends
        proc.wait(timeout=grace)
    except BaseException:  # noqa: BLE001 - the run's outcome is already reported
        proc.kill()
        proc.wait()
    processes.reap(started, 10)
    SparkContext._gateway = SparkContext._jvm = None  # a next session in this process starts a new JVM


def start_jvm(settings: dict[str, str], log_file: str) -> None:
    """Starts Spark's JVM and its context with ``settings``, the JVM's own output in the run's log.

    Left to PySpark, the JVM writes to the terminal: Spark 4's notice of its incubator vector
    module on every run, the Python workers' stray output, and, when Java is missing or too old,
    the launch script's errors before PySpark's own "exited before sending its port number". Here
    those go to ``log_file`` and a JVM that does not start is one line naming what it said. A
    process that already has a JVM (a session stopped and started again) keeps it.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if jvm_running():
        return
    conf = SparkConf(loadDefaults=False).setAll(list(settings.items()))
    with open(log_file, "ab") as output, interrupts.deferred():
        before = output.tell()
        try:
            gateway = launch_gateway(conf, popen_kwargs={"stdout": output, "stderr": output})
        except Exception as exc:  # noqa: BLE001 - PySpark raises a bare Exception or its own error class
            with open(log_file, "rb") as written:
                written.seek(before)
                said = [line.strip() for line in written.read().decode(errors="replace").splitlines() if line.strip()]
            # The first line is the cause (no java, an old one's UnsupportedClassVersionError), the rest
            # follows from it.
            raise ReviewcatError(f"Spark's JVM did not start ({said[0][:300] if said else exc}): Spark needs Java 17 "
                                 f"or later, on the PATH or in JAVA_HOME (details: {log_file})") from exc
        # The context keeps the gateway (and its process, for ``end_processes``) from here on.
        SparkContext(conf=conf, gateway=gateway)
