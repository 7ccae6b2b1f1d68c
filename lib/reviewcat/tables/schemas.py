"""One table, one schema: the files of an input are read the same way whatever order they are listed in.

Spark takes a parquet input's schema from one file, the first it lists. When the files differ, one
file with an extra column, the column was kept or dropped depending on the listing order, so the
same input gave different outputs, without a word. Here every file's schema is read first (its
footer only: pyarrow in the driver for local files, the JVM's parquet reader elsewhere) and
``reconcile`` decides:

- files that differ only in which columns they hold are read as their union, the columns in the
  order they first appear over the files sorted by path; a file's rows get null for a column it
  lacks, and the log names each such column with a file that has it and one that does not;
- a column whose type differs between files, or whose name differs only in case (Spark matches
  parquet columns by name regardless of case), stops the job with one line naming two files and
  the column.

A catalog table is read with the catalog's schema, so only path inputs (and the crawl that makes a
table of them) need this.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from pyspark.sql import DataFrame, SparkSession, functions as F
from pyspark.sql.types import DataType, StructField, StructType

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.publishing import plain_path

log = logging.getLogger(__name__)

# Footers read at once from a remote store: each read waits on the store far longer than on the driver.
REMOTE_THREADS = 16

Columns = Sequence[tuple[str, DataType]]


@dataclass(frozen=True)
class Reconciled:
    """The schema to read a set of files with, and which files lack which column."""
    schema: StructType
    partial: Mapping[str, tuple[str, str]]  # column -> (a file that has it, a file that does not)

    @property
    def uniform(self) -> bool:
        return not self.partial


def _differ(first: tuple[str, str, DataType], second: tuple[str, str, DataType]) -> ReviewcatError:
    (file_a, name_a, type_a), (file_b, name_b, type_b) = first, second
    if name_a != name_b:
        what = (f"the name of column {name_a}: {file_a} spells it {name_a!r} where {file_b} spells it {name_b!r} "
                "(Spark matches columns regardless of case)")
    else:
        what = (f"the type of column {name_a}: {file_a} has it as {type_a.simpleString()} where {file_b} has it as "
                f"{type_b.simpleString()}")
    return ReviewcatError(f"input files disagree on {what}; rewrite one of them like the other, or leave it out of "
                          "the input")


def reconcile(schemas: Mapping[str, Columns]) -> Reconciled:
    """The one schema for files with these (name, type) columns, or a ``ReviewcatError`` naming two
    files that disagree on a column's type or spelling (see the module docstring)."""
    fields: dict[str, StructField] = {}
    seen: dict[str, tuple[str, str, DataType]] = {}  # lowercased name -> its first file, spelling and type
    for path in sorted(schemas):
        for name, data_type in schemas[path]:
            first = seen.setdefault(name.lower(), (path, name, data_type))
            if (first[1], first[2].simpleString()) != (name, data_type.simpleString()):  # nullability aside
                raise _differ(first, (path, name, data_type))
            fields.setdefault(name, StructField(name, data_type, True))
    partial = {}
    for name in fields:
        having = [path for path in sorted(schemas) if any(n == name for n, _ in schemas[path])]
        lacking = [path for path in sorted(schemas) if path not in having]
        if lacking:
            partial[name] = (having[0], lacking[0])
    return Reconciled(StructType(list(fields.values())), partial)


def _local_columns(path: str) -> Columns | None:
    """A local file's columns, read by pyarrow; None when one has a type Spark's Arrow mapping lacks."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_type
    columns = []
    for field in pq.read_schema(path):
        arrow_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        try:
            columns.append((field.name, from_arrow_type(arrow_type)))
        except (TypeError, ValueError):
            return None
    return columns


def file_schemas(spark: SparkSession, files: Sequence[str]) -> dict[str, Columns]:
    """Each parquet file's columns as Spark reads them, from its footer; ``files`` are URIs as
    ``DataFrame.inputFiles`` gives them. A file whose footer cannot be read is left out: the read
    itself names it (or skips it, with ``--skip-corrupt-files``)."""
    found: dict[str, Columns] = {}
    remote = []
    for uri in files:
        parts = urlsplit(uri)
        if parts.scheme == "file":
            try:
                columns = _local_columns(unquote(parts.path))
            except Exception:  # noqa: BLE001 - an unreadable footer is the read's to report
                continue
            if columns is not None:
                found[uri] = columns
                continue
        remote.append(uri)
    if remote and found:  # one mapping for all: the JVM's, where Arrow's lacks a type of one file
        found, remote = {}, list(files)
    if remote:
        jvm = spark.sparkContext._jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        parquet = jvm.org.apache.parquet.hadoop
        converter = jvm.org.apache.spark.sql.execution.datasources.parquet.ParquetToSparkSchemaConverter(
            jvm.org.apache.spark.sql.internal.SQLConf.get())

        def columns_of(uri: str) -> Columns | None:
            try:
                reader = parquet.ParquetFileReader.open(parquet.util.HadoopInputFile.fromPath(
                    jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(uri)), conf))
                try:
                    schema = converter.convert(reader.getFileMetaData().getSchema()).json()
                finally:
                    reader.close()
            except Exception:  # noqa: BLE001 - as for a local file
                return None
            return [(f.name, f.dataType) for f in StructType.fromJson(json.loads(schema)).fields]
        with ThreadPoolExecutor(REMOTE_THREADS) as pool:
            found.update((uri, columns) for uri, columns in zip(remote, pool.map(columns_of, remote)) if columns)
    return found


def consistent(frame: DataFrame, merged: Callable[[], DataFrame], what: str) -> DataFrame:
    """``frame`` (a parquet read), or when its files differ in their columns ``merged()`` (the same
    read with Spark's ``mergeSchema``: their union, in Spark's own types) with the union's columns
    in ``reconcile``'s order, the partition columns after them; refused with one line when the
    files disagree on a column. ``what`` names the input in the log."""
    files = frame.inputFiles()
    if len(files) < 2:
        return frame
    schemas = {plain_path(unquote(uri)): columns for uri, columns in file_schemas(frame.sparkSession, files).items()}
    reconciled = reconcile(schemas)
    if reconciled.uniform:
        return frame
    for column, (having, lacking) in sorted(reconciled.partial.items()):
        log.warning("input files of %s differ in their columns: %s is in %s but not in %s (and maybe others); "
                    "rows of files without it have it as null", what, column, having, lacking)
    union = merged()
    order = [f.name for f in reconciled.schema.fields if f.name in union.columns]
    return union.select(*[F.col(f"`{name}`") for name in order + [c for c in union.columns if c not in order]])
