"""The Spark session reviewcat's jobs run in: settings, the local catalog, S3A and the class archive."""
from __future__ import annotations

import logging
import os
import sys
import sysconfig
from pathlib import Path

from pyspark.sql import SparkSession

from reviewcat.runtime import class_archive, failures, interrupts, s3a, warehouse_lock
from reviewcat.runtime.jvm import start_jvm

log = logging.getLogger(__name__)
# The JVM's heap unless REVIEWCAT_DRIVER_MEMORY says otherwise: locally it holds the executors too.
DRIVER_MEMORY = "4g"

_LOG4J = Path(__file__).parents[1] / "data" / "log4j2.properties"


def default_warehouse() -> str:
    return os.environ.get("REVIEWCAT_WAREHOUSE") or str(Path.home() / ".reviewcat" / "warehouse")


def _stdlib_distutils() -> bool:
    """Whether this Python still ships distutils (3.11 and before, where the distribution kept it)."""
    return os.path.isfile(os.path.join(sysconfig.get_paths()["stdlib"], "distutils", "version.py"))


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
            # Spark lists more than 32 partition folders with a job of one task per folder, where
            # the driver lists local folders far faster itself; the web UI starts a server that a
            # command-line run never shows (REVIEWCAT_SPARK_UI=1 keeps it).
            settings["spark.sql.sources.parallelPartitionDiscovery.threshold"] = "100000"
            settings["spark.ui.enabled"] = "true" if os.environ.get("REVIEWCAT_SPARK_UI") == "1" else "false"
        settings["spark.driver.memory"] = os.environ.get("REVIEWCAT_DRIVER_MEMORY", DRIVER_MEMORY)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if master.startswith("local") and os.environ["PYSPARK_PYTHON"] == sys.executable and _stdlib_distutils():
            # PySpark 3.5's Arrow type mapping imports distutils, which setuptools' shim serves by
            # importing all of setuptools at every Python worker's start. The local workers are
            # this interpreter, whose own distutils does the same job.
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
        start_jvm({**settings, "spark.app.name": app_name}, log_file)
    spark = builder.getOrCreate()
    interrupts.reclaim()  # the new SparkContext put in PySpark's Ctrl-C handler
    _quiet_accumulator_server(spark)
    if archive_part is not None:
        class_archive.note_jvm(archive_part, spark)
    if "REVIEWCAT_SPARK_LOG_LEVEL" in os.environ:
        spark.sparkContext.setLogLevel(os.environ["REVIEWCAT_SPARK_LOG_LEVEL"])
    return spark
