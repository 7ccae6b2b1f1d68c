"""Where a job runs: AWS Glue or plain Spark (local, spark-submit, a cluster, a notebook).

This is the only module that knows the difference. ``awsglue`` is imported only inside the Glue
branch, which is taken when the job was started by Glue (it always passes ``--JOB_NAME``) and the
Glue libraries are importable.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from pyspark.sql import DataFrame, SparkSession

from . import class_archive, failures, interrupts, processes, progress, publishing, s3a, warehouse_lock
from .errors import ReviewcatError
from .options import Option, from_resolved, glue_names, parse_args
from .storage import Storage

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """A SparkSession plus, on Glue, the GlueContext that catalog reads go through."""

    spark: SparkSession
    glue_context: Any = None
    storage: Storage = field(init=False)

    def __post_init__(self) -> None:
        self.storage = Storage(self.spark, dead_uploads=not self.on_glue)

    @property
    def on_glue(self) -> bool:
        return self.glue_context is not None

    def read_catalog(self, database: str, table: str, predicate: str = "") -> DataFrame:
        """A catalog table restricted to the partitions ``predicate`` selects (all of them when it is
        empty), before any file is listed."""
        if self.on_glue:
            frame = self.glue_context.create_dynamic_frame.from_catalog(
                database=database, table_name=table, push_down_predicate=predicate,
                transformation_ctx=f"read_{table}")
            return frame.toDF()
        # Spark prunes a partitioned catalog table through the metastore: the same push-down.
        frame = self.spark.table(f"`{database}`.`{table}`")
        return frame.where(predicate) if predicate else frame


_LOG4J = Path(__file__).with_name("data") / "log4j2.properties"


def default_warehouse() -> str:
    return os.environ.get("REVIEWCAT_WAREHOUSE") or str(Path.home() / ".reviewcat" / "warehouse")


def _stdlib_distutils() -> bool:
    """Whether this Python still ships distutils (3.11 and before, where the distribution kept it)."""
    return os.path.isfile(os.path.join(sysconfig.get_paths()["stdlib"], "distutils", "version.py"))


def jvm_running() -> bool:
    """Whether this process already talks to a JVM (PySpark keeps its gateway on the class)."""
    from pyspark import SparkContext
    return SparkContext._gateway is not None


def end_processes(grace: float = 60) -> None:
    """Stops Spark's JVM and the processes below it, and waits until they are gone.

    A failed or interrupted command ends when they have, so nothing it started still runs once
    the shell has its prompt back: a task of the failed job still writing, or holding files open
    on the output's disk, or a Python worker. (A finished one leaves its JVM to exit on its own:
    0.6-1 s of shutdown that no output depends on.) The JVM's Python daemon and workers are noted
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


def _start_jvm(settings: dict[str, str], log_file: str) -> None:
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
            # The first line is the cause (no java, an old one's UnsupportedClassVersionError), the rest follows from it.
            raise ReviewcatError(f"Spark's JVM did not start ({said[0][:300] if said else exc}): Spark needs Java 17 "
                                 f"or later, on the PATH or in JAVA_HOME (details: {log_file})") from exc
        # The context keeps the gateway (and its process, for ``end_processes``) from here on.
        SparkContext(conf=conf, gateway=gateway)


def _quiet_accumulator_server(spark: SparkSession) -> None:
    """PySpark's accumulator server prints a traceback to the terminal when the JVM dies while
    connected to it (a SIGTERM to the whole process group): it goes to the log instead."""
    server = getattr(spark.sparkContext, "_accumulatorServer", None)
    if server is not None:
        server.handle_error = lambda request, address: log.debug(
            "Spark's accumulator connection from %s ended: %s", address, sys.exc_info()[1])


def spark_session(warehouse: str | None = None, app_name: str = "reviewcat",
                  log_file: str | None = None, catalog: bool = True) -> SparkSession:
    """A Hive-enabled session whose catalog persists in ``warehouse`` (an embedded Derby metastore).

    Under spark-submit the JVM already runs with the user's ``--conf``: ours are only defaults and
    never override them. Started from plain Python, we also choose the master (``$REVIEWCAT_MASTER``,
    default all local cores) and make Spark's Python workers use this interpreter. Spark's own log
    goes to ``log_file`` (default: a new one in the warehouse's ``logs``), not to the terminal. While the
    catalog is the warehouse's Derby database, this process holds the warehouse's lock
    (``warehouse_lock``): Derby admits one process at a time. ``catalog=False`` (a job that reads
    and writes paths only) starts no Hive client at all: no Derby, no lock, a faster start.
    """
    warehouse = os.path.abspath(warehouse or default_warehouse())
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    metastore = "spark.hadoop.javax.jdo.option.ConnectionURL"
    log_file = log_file or str(failures.run_log(warehouse, app_name))
    settings = {
        "spark.sql.warehouse.dir": os.path.join(warehouse, "tables"),
        metastore: f"jdbc:derby:;databaseName={os.path.join(warehouse, 'metastore_db')};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse} -Dlog4j.configurationFile={_LOG4J} "
                                         f"-Dreviewcat.spark.log={log_file}",
        # Category names are labels, never numbers or dates.
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # No .crc side files on local disks: an output folder must hold just its one file.
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    }
    builder = SparkSession.builder.appName(app_name)
    archive_part = None
    if under_submit:
        from pyspark import SparkConf
        given = SparkConf()
        settings = {k: v for k, v in settings.items() if not given.contains(k)}
    else:
        master = settings["spark.master"] = os.environ.get("REVIEWCAT_MASTER", "local[*]")
        if master.startswith("local"):
            # A local run talks only to itself: keep Spark's ports on the loopback interface.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # Spark lists more than 32 partition folders with a job of one task per folder (0.8 s
            # for 43 local folders, against milliseconds in the driver); the web UI starts a
            # server that a command-line run never shows (REVIEWCAT_SPARK_UI=1 keeps it).
            settings["spark.sql.sources.parallelPartitionDiscovery.threshold"] = "100000"
            settings["spark.ui.enabled"] = "true" if os.environ.get("REVIEWCAT_SPARK_UI") == "1" else "false"
        settings["spark.driver.memory"] = os.environ.get("REVIEWCAT_DRIVER_MEMORY", "4g")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if master.startswith("local") and os.environ["PYSPARK_PYTHON"] == sys.executable and _stdlib_distutils():
            # PySpark 3.5's Arrow type mapping imports distutils, which setuptools' shim serves by
            # importing all of setuptools: 0.25-0.45 s of every Python worker's start. The local
            # workers are this interpreter, whose own distutils does the same job.
            os.environ.setdefault("SETUPTOOLS_USE_DISTUTILS", "stdlib")
        s3_settings = s3a.settings(s3a.found_jars())
        if s3_settings:
            settings.update(s3_settings)
            os.environ.update(s3a.java_environment())  # the JVM started below inherits it
        archive_options, archive_part = class_archive.java_options()
        settings["spark.driver.extraJavaOptions"] += f" {archive_options}"
    os.makedirs(warehouse, exist_ok=True)
    if catalog and metastore in settings:
        warehouse_lock.hold(warehouse, app_name)
    if catalog:
        settings["spark.sql.catalogImplementation"] = "hive"  # what enableHiveSupport() sets
    for key, value in settings.items():
        builder = builder.config(key, value)
    if not under_submit:
        _start_jvm({**settings, "spark.app.name": app_name}, log_file)
    spark = builder.getOrCreate()
    interrupts.reclaim()  # the new SparkContext put in PySpark's Ctrl-C handler
    _quiet_accumulator_server(spark)
    if archive_part is not None:
        class_archive.note_jvm(archive_part, spark)
    if "REVIEWCAT_SPARK_LOG_LEVEL" in os.environ:
        spark.sparkContext.setLogLevel(os.environ["REVIEWCAT_SPARK_LOG_LEVEL"])
    return spark


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_file: Path | None = None) -> None:
    """reviewcat's lines on stderr at ``$REVIEWCAT_LOG_LEVEL``, and with ``log_file`` also in the run's
    log beside Spark's, at INFO at least."""
    level = logging.getLevelName(os.environ.get("REVIEWCAT_LOG_LEVEL", "INFO").upper())
    level = level if isinstance(level, int) else logging.INFO
    root = logging.getLogger()
    if not root.handlers:
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter(LOG_FORMAT, "%H:%M:%S"))
        console.setLevel(level)
        # py4j logs an interrupted call and its broken connections with tracebacks (some through the
        # root logger): the run's log keeps them, the terminal gets the one line that says what happened.
        console.addFilter(lambda record: "py4j" not in Path(record.pathname).parts)
        root.addHandler(console)
    root.setLevel(level)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    for old in [h for h in root.handlers if getattr(h, "reviewcat_run_log", False)]:
        root.removeHandler(old)  # a process that runs several jobs logs each into its own file
        old.close()
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.reviewcat_run_log = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))
        handler.setLevel(min(level, logging.INFO))
        root.addHandler(handler)
        root.setLevel(min(level, logging.INFO))


def running_on_glue(argv: Sequence[str]) -> bool:
    return "--JOB_NAME" in argv and importlib.util.find_spec("awsglue") is not None


@contextlib.contextmanager
def glue_job(argv: list[str], options: Sequence[Option]) -> Iterator[tuple[Runtime, Any]]:
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    resolved = getResolvedOptions(argv, ["JOB_NAME"] + glue_names(options, argv))
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    yield Runtime(glue_context.spark_session, glue_context), from_resolved(options, resolved)
    job.commit()


def uses_catalog(args: Any) -> bool:
    """Whether a job's arguments name a catalog table to read, register or refresh."""
    return any(getattr(args, name, None) for name in ("database", "table", "output_table"))


def run_job(argv: list[str], options: Sequence[Option], prog: str, description: str,
            body: Callable[[Runtime, Any], object]) -> int:
    """Entry point shared by the Glue job scripts, spark-submit and the CLI.

    Any failure ends a plain run with one line on stderr (``failures.report``): exit code 2, or 130
    when interrupted (Ctrl-C or SIGTERM), with the traces in the run's log. On Glue the error is
    raised, so the job run fails with that one line as its error message.
    """
    skip_flag = any(option.name == "skip-corrupt-files" for option in options)
    publishing.start_run(prog)
    if running_on_glue(argv):
        configure_logging()
        try:
            with glue_job(argv, options) as (rt, args), progress.shown(rt.spark.sparkContext, live=False):
                body(rt, args)
        except Exception as exc:
            if failures.is_java_failure(exc):
                raise ReviewcatError(failures.explain(exc, skip_flag)) from exc
            raise
        return 0
    args = parse_args(options, argv[1:], prog, description)
    warehouse = os.path.abspath(getattr(args, "warehouse", None) or default_warehouse())
    try:
        log_file = failures.run_log(warehouse, prog)
    except OSError as exc:
        print(f"{prog}: error: {failures.warehouse_problem(warehouse, exc)}", file=sys.stderr)
        return 2
    configure_logging(log_file)
    rt = None
    own_jvm = not jvm_running()
    with interrupts.raising():
        try:
            rt = Runtime(spark_session(warehouse, prog, str(log_file), uses_catalog(args)))
            with progress.shown(rt.spark.sparkContext):
                body(rt, args)
        except BaseException as exc:
            with interrupts.deferred(raise_after=False):  # a second Ctrl-C must not cut the cleanup short
                partner = failures.partner_finder(rt.spark, rt.storage) if rt else None
                code = failures.report(prog, exc, log_file, skip_flag, partner)
                if own_jvm:
                    end_processes()
            return code
    return 0
