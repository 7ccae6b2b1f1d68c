"""A local crawler: register a partitioned parquet folder as a catalog table, as a Glue crawler does.

Locally the catalog is Spark's own, kept in an embedded metastore under the warehouse folder, so
``--database/--table`` mean the same thing in every job here as on Glue.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import CATEGORY
from reviewcat.tables import schemas
from reviewcat.tables.sources import Source, check_identifier, list_categories

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrawlResult:
    table: str
    location: str
    columns: list[str]
    categories: list[str]
    new_categories: list[str]


def register_table(spark: SparkSession, database: str, table: str, location: str, replace: bool = False,
                   schema: StructType | None = None) -> None:
    """Create (or with ``replace``, recreate) an external parquet table and sync its partitions.

    Without ``schema`` the columns are inferred from the files, as a crawler would; with it (the
    files' reconciled union, partition column included) the table is declared with those columns.
    """
    check_identifier("database", database)
    check_identifier("table", table)
    qualified = f"`{database}`.`{table}`"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    if replace and spark.catalog.tableExists(f"{database}.{table}"):
        check_replaceable(spark, database, table, location)
        spark.sql(f"DROP TABLE {qualified}")
    check_table_target(spark, database, table, location)
    if not spark.catalog.tableExists(f"{database}.{table}"):
        if schema is None:
            spark.catalog.createTable(f"{database}.{table}", path=location, source="parquet")
        else:
            to_sql = spark.sparkContext._jvm.org.apache.spark.sql.types.DataType.fromJson
            columns = ", ".join(f"`{f.name.replace('`', '``')}` {to_sql(f.dataType.json()).sql()}"
                                for f in schema.fields)
            where = location.replace("\\", "\\\\").replace("'", "\\'")
            spark.sql(f"CREATE TABLE {qualified} ({columns}) USING parquet PARTITIONED BY (`{CATEGORY}`) "
                      f"LOCATION '{where}'")
    # SYNC PARTITIONS adds new partition folders and forgets removed ones.
    spark.sql(f"MSCK REPAIR TABLE {qualified} SYNC PARTITIONS")


def check_table_target(spark: SparkSession, database: str, table: str, location: str) -> None:
    """Refuse to point an existing table elsewhere: another job's table is not ours to move."""
    if spark.catalog.databaseExists(database) and spark.catalog.tableExists(f"{database}.{table}"):
        current = _table_location(spark, f"`{database}`.`{table}`")
        if current.rstrip("/") != location.rstrip("/"):
            raise ReviewcatError(f"table {database}.{table} already points at {current}: "
                                 f"choose another --table, or drop it before registering {location}")


def check_replaceable(spark: SparkSession, database: str, table: str, location: str) -> None:
    """Refuse to drop a managed table that is not at ``location``: dropping it deletes its data.
    (An external table's drop forgets only its metadata, as re-registering a result needs.)"""
    if spark.catalog.databaseExists(database) and spark.catalog.tableExists(f"{database}.{table}"):
        qualified = f"`{database}`.`{table}`"
        current = _table_location(spark, qualified)
        if _table_detail(spark, qualified, "Type").upper() == "MANAGED" and current.rstrip("/") != location.rstrip("/"):
            raise ReviewcatError(f"table {database}.{table} is a managed table at {current}, whose data dropping it "
                                 "would delete: choose another --output-table")


def _table_detail(spark: SparkSession, qualified: str, name: str) -> str:
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {qualified}").collect():
        if row["col_name"] == name:
            return row["data_type"]
    return ""


def _table_location(spark: SparkSession, qualified: str) -> str:
    return _table_detail(spark, qualified, "Location")


def crawl(rt: Runtime, input_path: str, database: str, table: str) -> CrawlResult:
    """Infer schema and partitions of ``input_path`` and (re-)register it as ``database.table``."""
    check_identifier("database", database)
    check_identifier("table", table)
    location = rt.storage.qualify(input_path.rstrip("/"))
    list_categories(rt, Source(path=location))  # validates the layout with a clear error
    before: list[str] = []
    if rt.spark.catalog.databaseExists(database) and rt.spark.catalog.tableExists(f"{database}.{table}"):
        before = list_categories(rt, Source(database=database, table=table))
    # The files' columns, whatever the order they are listed in (a crawler merges schemas too).
    files = rt.spark.read.parquet(location)
    read = schemas.consistent(files, lambda: rt.spark.read.option("mergeSchema", "true").parquet(location), location)
    register_table(rt.spark, database, table, location, schema=None if read is files else read.schema)
    source = Source(database=database, table=table)
    columns = [c.name for c in rt.spark.catalog.listColumns(f"{database}.{table}")]
    if CATEGORY not in columns:
        raise ReviewcatError(f"{input_path} is not partitioned by {CATEGORY}")
    categories = list_categories(rt, source)
    new = sorted(set(categories) - set(before))
    log.info("crawled %s into %s.%s: %d columns, %d categories (%d new)",
             location, database, table, len(columns), len(categories), len(new))
    return CrawlResult(f"{database}.{table}", location, columns, categories, new)
