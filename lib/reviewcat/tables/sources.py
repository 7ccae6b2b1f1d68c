"""Reading the reviews table: a parquet folder or a catalog table, always pruned by category.

Every read names the categories it needs up front, so Spark (or Glue's ``push_down_predicate``)
lists and opens only the files of those ``product_category=<name>`` partitions.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import names_of
from reviewcat.runtime.storage import plain_path
from reviewcat.schema import CATEGORY
from reviewcat.tables import schemas, table_files

log = logging.getLogger(__name__)



def check_identifier(kind: str, name: str) -> str:
    """Catalog names as Glue and Hive accept them, refused before they reach a SQL parser."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name or ""):
        raise ReviewcatError(f"invalid {kind} name {name!r}: use letters, digits and _")
    return name


@dataclass(frozen=True)
class Source:
    database: str | None = None
    table: str | None = None
    path: str | None = None

    @classmethod
    def of(cls, input_path: str | None = None, database: str | None = None, table: str | None = None) -> "Source":
        """The input a job was given: a path, or a catalog table, checked."""
        path = input_path
        if path and (database or table):
            raise ReviewcatError("give either --input-path or --database/--table, not both")
        if path:
            return cls(path=path.rstrip("/"))
        if database and table:
            return cls(database=check_identifier("database", database), table=check_identifier("table", table))
        if database or table:
            raise ReviewcatError("--database and --table go together: give both, or --input-path instead")
        raise ReviewcatError("no input: give --input-path, or --database and --table of a crawled table")

    def describe(self) -> str:
        return self.path if self.path else f"{self.database}.{self.table}"

    @property
    def qualified_table(self) -> str:
        return f"`{self.database}`.`{self.table}`"


def partition_predicate(categories: Sequence[str], column: str = CATEGORY) -> str:
    """SQL predicate selecting partitions; the same string serves Spark and Glue's push-down."""
    quoted = ", ".join("'" + c.replace("\\", "\\\\").replace("'", "\\'") + "'" for c in categories)
    return f"{column} IN ({quoted})"


def partition_folders(rt: Runtime, root: str) -> dict[str, str]:
    """Category -> ``product_category=<name>`` folder directly under ``root``; none is an empty dict."""
    return {unquote(e.name.split("=", 1)[1]): e.path
            for e in rt.storage.list(root) if e.is_dir and e.name.startswith(f"{CATEGORY}=")}


def _partition_dirs(rt: Runtime, source: Source) -> dict[str, str]:
    """Category -> partition folder, from a listing of the top folder (no file is opened)."""
    root = source.path
    rt.storage.check_finished(root)
    if not rt.storage.exists(root):
        raise ReviewcatError(f"input path {root} does not exist: check --input-path")
    if not rt.storage.is_dir(root):
        raise ReviewcatError(f"input path {root} is a file: give the folder that holds {CATEGORY}=<name> folders")
    dirs = partition_folders(rt, root)
    if not dirs:
        if rt.storage.has_files(root, ".parquet"):
            raise ReviewcatError(f"{root} has parquet files but no {CATEGORY}=<name> partition folders: "
                                 "the input must be partitioned by product category")
        raise ReviewcatError(f"no parquet data under {root}: expected {CATEGORY}=<name>/*.parquet folders")
    if not rt.storage.has_files(root, ".parquet"):
        raise ReviewcatError(f"no parquet files under {root}: the partition folders are empty")
    return dirs


def _require_table(rt: Runtime, source: Source) -> None:
    if not rt.spark.catalog.databaseExists(source.database):
        raise ReviewcatError(f"database {source.database} not found in the catalog: "
                             "run `reviewcat crawl` first or check --database")
    if not rt.spark.catalog.tableExists(f"{source.database}.{source.table}"):
        raise ReviewcatError(f"table {source.describe()} not found in the catalog: "
                             "run `reviewcat crawl` first or check --table")
    partition_columns = [c.name for c in rt.spark.catalog.listColumns(f"{source.database}.{source.table}") if c.isPartition]
    if CATEGORY not in partition_columns:
        raise ReviewcatError(f"table {source.describe()} is not partitioned by {CATEGORY} "
                             f"(partition columns: {partition_columns or 'none'})")


def list_categories(rt: Runtime, source: Source) -> list[str]:
    """The categories the input holds, from partition metadata alone."""
    if source.path:
        return sorted(_partition_dirs(rt, source))
    _require_table(rt, source)
    rt.storage.check_finished(location(rt, source))
    rows = rt.spark.sql(f"SHOW PARTITIONS {source.qualified_table}").collect()
    categories = set()
    for row in rows:
        for part in row[0].split("/"):
            key, _, value = part.partition("=")
            if key == CATEGORY:
                categories.add(unquote(value))
    if not categories:
        raise ReviewcatError(f"table {source.describe()} has no partitions: re-run `reviewcat crawl` "
                             "after the data has landed")
    return sorted(categories)


def select_categories(available: Sequence[str], wanted: Sequence[str] | str | None) -> list[str]:
    """The user's ``--categories`` (parsed, or as a notebook gives them: "A,B") checked against the
    input, or all of them."""
    wanted = names_of(wanted)
    if not wanted:
        return list(available)
    unknown = [c for c in wanted if c not in set(available)]
    if unknown:
        raise ReviewcatError(f"unknown categories in --categories: {', '.join(unknown)} "
                             f"(the input has: {', '.join(available)})")
    return sorted(set(wanted))


def readable_categories(rt: Runtime, source: Source, wanted: Sequence[str] | str | None = None,
                        skip_corrupt_files: bool = False) -> tuple[list[str], list[dict[str, str]]]:
    """The categories a job reads (``--categories`` checked, else all) and, with
    ``--skip-corrupt-files``, the unreadable files left out of them."""
    categories = select_categories(list_categories(rt, source), wanted)
    return categories, (skip_unreadable(rt, source, categories) if skip_corrupt_files else [])


def _category_folders(rt: Runtime, source: Source, categories: Sequence[str]) -> dict[str, str]:
    dirs = _partition_dirs(rt, source)
    return {c: dirs[c] for c in categories}


def _read_folders(rt: Runtime, source: Source, folders: dict[str, str], one_schema: bool = True) -> DataFrame:
    """The partition folders' rows; with ``one_schema``, read the same way whatever the order their
    files are listed in (``schemas.consistent``)."""
    def load(merge: bool = False) -> DataFrame:
        reader = rt.spark.read.option("basePath", source.path)
        return (reader.option("mergeSchema", "true") if merge else reader).parquet(*folders.values())
    frame = load()
    return schemas.consistent(frame, lambda: load(merge=True), source.describe()) if one_schema else frame


def read(rt: Runtime, source: Source, categories: Sequence[str]) -> DataFrame:
    """The rows of ``categories`` only; the other partitions are never listed or opened."""
    if source.path:
        return _read_folders(rt, source, _category_folders(rt, source, categories))
    _require_table(rt, source)
    return rt.read_catalog(source.database, source.table, partition_predicate(categories))


def category_count_query(rt: Runtime, source: Source, categories: Sequence[str]) -> DataFrame:
    """Rows per category, answered from parquet footers: no data column is read.

    The query references only the partition column, whose value comes from the folder name, so the
    scan's read schema is empty and Spark takes row counts from the footers' row-group metadata.
    On Glue this needs the Glue Data Catalog as Spark's metastore (``--enable-glue-datacatalog``).
    """
    if source.path:
        frame = read(rt, source, categories)
    else:
        _require_table(rt, source)
        frame = rt.spark.table(source.qualified_table).where(partition_predicate(categories))
    return frame.groupBy(CATEGORY).count()


def local_footer_counts(files: Sequence[str], folders: Mapping[str, str]) -> dict[str, int] | None:
    """Rows per category summed from the footers of local parquet files, read in this process.

    ``files`` are the URIs Spark would read (``DataFrame.inputFiles``), ``folders`` each category's
    partition folder. Reading the footers here is quicker than a Spark job for the same numbers in a
    warm session: what it costs is mostly Spark's listing of the files (docs/performance.md, Cold
    start); in a cold run the first job's start-up moves to the next one. None when a file is not on
    the local disk, not in one of the folders, or has no readable footer: the query then counts, and
    fails on the file or skips it (``--skip-corrupt-files``) as Spark does.
    """
    parsed = [urlsplit(uri) for uri in files]
    if any(uri.scheme != "file" for uri in parsed):
        return None
    import pyarrow.parquet as pq  # only here: slow to import, and the query needs none of it

    prefixes = {urlsplit(folder).path.rstrip("/") + "/": category for category, folder in folders.items()}
    counts = dict.fromkeys(folders, 0)
    for uri in parsed:
        path = unquote(uri.path)
        owners = [category for prefix, category in prefixes.items() if path.startswith(prefix)]
        if len(owners) != 1:
            return None
        try:
            counts[owners[0]] += pq.read_metadata(path).num_rows
        except Exception:  # noqa: BLE001 - any unreadable footer: Spark's query decides what it means
            return None
    return counts


def count_by_category(rt: Runtime, source: Source, categories: Sequence[str]) -> dict[str, int]:
    """Rows per category from parquet footers: read here for a local folder, else by a Spark query."""
    counts = None
    if source.path:
        folders = _category_folders(rt, source, categories)  # listed once, for the read and the footers
        counts = local_footer_counts(_read_folders(rt, source, folders, one_schema=False).inputFiles(), folders)
    if counts is None:
        counts = {row[CATEGORY]: int(row["count"]) for row in category_count_query(rt, source, categories).collect()}
    return {c: counts.get(c, 0) for c in categories}


def skip_unreadable(rt: Runtime, source: Source, categories: Sequence[str]) -> list[dict[str, str]]:
    """From here on Spark skips input files it cannot read; returns those of ``categories`` it
    will skip, with why (``skipped_files``)."""
    return skipped_files(rt, lambda: read(rt, source, categories))


def skipped_files(rt: Runtime, read_input: Callable[[], DataFrame]) -> list[dict[str, str]]:
    """From here on Spark skips input files it cannot read; returns those of the parquet input
    ``read_input`` reads that it will skip, with why.

    Spark's ``ignoreCorruptFiles`` skips silently. To name the files, one scan of the input with no
    data column (parquet footers only) finds which files yield rows; a listed file that yields none
    is opened once more for its footer, and is skipped when that fails (a valid empty file is not).
    A file damaged past a readable footer is skipped silently, as by Spark.
    """
    rt.spark.conf.set("spark.sql.files.ignoreCorruptFiles", "true")
    frame = read_input()
    yielding = {unquote(row[0]) for row in frame.select(F.input_file_name()).distinct().collect()}
    silent = [path for path in frame.inputFiles() if unquote(path) not in yielding]
    skipped = [{"path": plain_path(unquote(path)), "problem": problem} for path in silent
               for problem in [rt.storage.parquet_problem(path)] if problem]
    if skipped:
        log.warning("skipping %d unreadable input file(s) (--skip-corrupt-files): %s", len(skipped),
                    "; ".join(f"{s['path']} ({s['problem']})" for s in skipped[:10])
                    + (f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""))
    return skipped


def require_columns(frame: DataFrame, columns: Mapping[str, str | None], source: Source) -> None:
    """Refuse a column the job needs that ``frame`` lacks: ``columns`` maps each to the flag that
    named it (None: a column every review table has)."""
    for column, flag in columns.items():
        table_files.require(frame.columns, [column], flag, source.describe())


def input_paths(rt: Runtime, source: Source) -> dict[str, str]:
    """Where the input's files are, named as the user gave them: for the check that an output stays
    apart from its input (a catalog table's files are at its location)."""
    if source.path:
        return {"--input-path": source.path}
    _require_table(rt, source)
    return {f"table {source.describe()} at": location(rt, source)}


def location(rt: Runtime, source: Source) -> str:
    """The folder behind the source, where the balance job leaves its ``_balance.json``."""
    if source.path:
        return source.path
    rows = rt.spark.sql(f"DESCRIBE TABLE EXTENDED {source.qualified_table}").collect()
    for row in rows:
        if row["col_name"] == "Location":
            return row["data_type"]
    raise ReviewcatError(f"table {source.describe()} has no location in the catalog")
