"""The job runner shared by the Glue job scripts, spark-submit and the CLI.

``awsglue`` is imported only inside the Glue branch, which is taken when the job was started by Glue
(it always passes ``--JOB_NAME``) and the Glue libraries are importable.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from reviewcat.runtime import failures, interrupts, progress, publishing
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.jvm import end_processes, jvm_running
from reviewcat.runtime.options import Option, from_resolved, glue_names, parse_args
from reviewcat.runtime.session import default_warehouse, spark_session


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
