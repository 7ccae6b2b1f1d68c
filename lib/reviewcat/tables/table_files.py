"""A user's own table, read as it is: parquet, CSV or JSON Lines files, local or remote.

Ticket exports and other tables arrive as a file, a folder of files or a glob, in one of three
kinds. The import reads them into the review table, and predict-table scores them where they lie;
both find and read the files here, so a CSV that one of them reads is read the same by the other.
A CSV's header must be the same in every file, its quoting is RFC 4180's (fields over several
lines, CRLF or LF endings) and its text must be valid in its encoding throughout: Spark's readers
would otherwise put values in the wrong columns or turn bytes into replacement characters.
"""
from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from pyspark.sql import Column, DataFrame, DataFrameReader, SparkSession, functions as F
from pyspark.sql.types import StringType, StructField, StructType

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.storage import Storage, is_glob, plain_path
from reviewcat.tables import encodings
from reviewcat.tables.schemas import consistent

log = logging.getLogger(__name__)

CORRUPT = "__corrupt"  # a CSV or JSON record the reader could not parse, as it stands in the file
# Several text columns become one text with this between them: the tokenizer makes the period a
# token of its own, so the last word of one column and the first of the next never form an n-gram.
TEXT_SEPARATOR = " . "

PATTERN = re.compile(r".+\.(parquet|csv|csv\.gz|tsv|tsv\.gz|jsonl|jsonl\.gz|json|json\.gz)")
NAMING = "*.parquet, *.csv[.gz], *.tsv[.gz] or *.jsonl/*.json[.gz]"
_KINDS = {".parquet": "parquet", ".csv": "csv", ".csv.gz": "csv", ".tsv": "tsv", ".tsv.gz": "tsv",
          ".jsonl": "json", ".jsonl.gz": "json", ".json": "json", ".json.gz": "json"}
_GLOB_SPECIAL = re.compile(r"([\\{}\[\]*?,])")


@dataclass(frozen=True)
class InputFile:
    path: str       # as Hadoop names it, for reading
    uri: str        # URL-encoded, as Spark reports a row's file in ``_metadata.file_path``
    name: str
    size: int
    category: str | None = None  # from the file name, for formats that name files by category


@dataclass(frozen=True)
class FileSet:
    """Input files, the folder they were all found in (if one), and how their text is written.

    Given more than 32 files one by one, Spark lists them in a job of its own (and one request per
    file on S3); a folder read with a filter on the files' names is listed in one call, far quicker
    (see docs/performance.md). The filter names every file, so the same files are read. A table
    names its files one by one and discovers partition folders below the folder.
    """
    files: tuple[InputFile, ...]
    folder: str | None = None
    encoding: str | None = None   # the text files' charset when the user named one (None: UTF-8)
    delimiter: str | None = None  # a CSV's field separator when the user named one

    def only(self, files: Sequence[InputFile]) -> "FileSet":
        return FileSet(tuple(files), None, self.encoding, self.delimiter)

    def load(self, reader: DataFrameReader, source: str) -> DataFrame:
        if self.folder:
            names = ",".join(sorted({_GLOB_SPECIAL.sub(r"\\\1", f.name) for f in self.files}))
            return (reader.option("recursiveFileLookup", "true").option("pathGlobFilter", f"{{{names}}}")
                    .format(source).load(self.folder))
        return reader.format(source).load([f.path for f in self.files])


def few(names: Sequence[str]) -> str:
    """The first five names, and a mark that there are more: for one-line messages."""
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def find(storage: Storage, input_path: str, pattern: re.Pattern, what: str, naming: str, hint: str,
         category_of: Callable[[str], str | None] = lambda name: None, encoding: str | None = None,
         delimiter: str | None = None) -> FileSet:
    """The files of ``input_path`` whose names ``pattern`` matches (``what`` files, named as
    ``naming`` says); the others are named in a warning, and none is one line ending in ``hint``."""
    if not is_glob(input_path):
        storage.check_finished(input_path)
    found = storage.files(input_path)
    if not found:
        raise ReviewcatError(f"input path {input_path} does not exist or names no file: check --input-path")
    matching = [e for e in found if pattern.fullmatch(e.name)]
    other = [e.name for e in found if not pattern.fullmatch(e.name)]
    if not matching:
        raise ReviewcatError(f"no {what} files in {input_path}: expected {naming}, found {few(other)}: {hint}")
    if other:
        log.warning("leaving out %d files not named as %s files are: %s", len(other), what, few(other))
    files = tuple(InputFile(e.path, e.uri, e.name, e.size, category_of(e.name)) for e in matching)
    log.info("%d %s files, %.1f MB", len(files), what, sum(f.size for f in files) / 1e6)
    folder = input_path if storage.is_dir(input_path) and not is_glob(input_path) else None
    return FileSet(files, folder, encoding, delimiter)


def kind(files: Sequence[InputFile]) -> str:
    """parquet, csv, tsv or json: what the file names say, the same for every file."""
    kinds = {k for f in files for suffix, k in _KINDS.items() if f.name.endswith(suffix)}
    if len(kinds) != 1:
        raise ReviewcatError(f"a table's files must be of one kind, found {', '.join(sorted(kinds))}: "
                             "give each kind its own --input-path")
    return kinds.pop()


def parse_delimiter(text: str | None) -> str | None:
    """A CSV field separator as a user writes it on a command line: one character, or ``\\t`` / ``tab``."""
    if text is None:
        return None
    value = {"\\t": "\t", "tab": "\t"}.get(text.lower(), text)
    if len(value) != 1 or value in "\r\n\"":
        raise ReviewcatError(f"--delimiter {text!r}: give one character, e.g. ';', '|' or '\\t' for a tab")
    return value


def _separator(files: FileSet) -> str:
    return files.delimiter or ("\t" if kind(files.files) == "tsv" else ",")


def check_headers(storage: Storage, files: FileSet) -> None:
    """CSV files must have the same header: Spark reads the first file's and takes every other
    file's columns by position, so files with other headers had their values land in the wrong
    columns, depending on the listing order."""
    headers = {}
    for f in sorted(files.files, key=lambda f: f.path):
        text = storage.head(f.path).decode(encodings.codec_name(files.encoding), errors="replace").lstrip("\ufeff")
        headers[f.path] = next(csv.reader(io.StringIO(text), delimiter=_separator(files)), [])
    (first, names), *others = headers.items()
    for path, other in others:
        if other != names:
            column = next((a for a, b in zip(names, other) if a != b), (names + other)[min(len(names), len(other))])
            raise ReviewcatError(
                f"input files have different columns: {plain_path(first)} has {', '.join(names)} where "
                f"{plain_path(path)} has {', '.join(other)} (first difference: {column}); give files of one "
                "header, or import each kind separately")


def check_text(spark: SparkSession, files: FileSet) -> None:
    """A CSV or JSON table must be valid in its encoding throughout, checked before it is read: its
    reader cannot tell a line it could not decode, which would become replacement characters."""
    if kind(files.files) == "parquet" or not encodings.line_based(files.encoding, spark):
        return  # UTF-16 and UTF-32 lines do not split at a newline byte: the reader decodes them whole
    bad = encodings.bad_files(spark, [f.path for f in files.files], files.encoding)
    if bad:
        named = {f.uri: f.path for f in files.files}
        refuse_text(spark, named.get(bad[0], bad[0]), files.encoding, False)


def refuse_text(spark: SparkSession, uri: str, encoding: str | None, lines_are_records: bool) -> None:
    """The one line for a file with lines that are not valid ``encoding``, naming the first."""
    found = encodings.first_bad_line(spark, uri, encoding)
    line, raw = found if found else (0, b"")
    raise encodings.refusal(plain_path(uri), line, raw, encoding, lines_are_records)


def read(spark: SparkSession, files: FileSet) -> DataFrame:
    """The user's table with a ``CORRUPT`` column (null for parquet, which has no bad rows).

    Files are named one by one, below the input folder as the root of partition folders
    (``queue=<name>/``): a recursive folder read would not discover them. A UTF-8 byte order mark
    at the start of a CSV is not part of its first column's name."""
    paths = [f.path for f in files.files]
    table_kind = kind(files.files)
    if files.delimiter and table_kind not in ("csv", "tsv"):
        raise ReviewcatError(f"--delimiter describes CSV files, and these are {table_kind}: leave it out")
    reader = spark.read.option("basePath", files.folder) if files.folder else spark.read
    corrupt = StructField(CORRUPT, StringType())
    if table_kind == "parquet":
        frame = consistent(reader.parquet(*paths), lambda: reader.option("mergeSchema", "true").parquet(*paths),
                           "the input")
        return frame.withColumn(CORRUPT, F.lit(None).cast("string"))
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    if table_kind in ("csv", "tsv"):
        # Descriptions hold commas, quotes and line breaks: RFC 4180 quoting, records over lines.
        options.update(header="true", multiLine="true", escape='"', sep=_separator(files),
                       **({"encoding": files.encoding} if files.encoding else {}))
        check_headers(Storage(spark), files)
        names = [n.lstrip("\ufeff") for n in spark.read.options(**options).csv(paths).schema.names]
        if not names:
            raise ReviewcatError(f"{plain_path(files.files[0].path)} has no header row: a CSV table starts with "
                                 "its column names")
        fields = [StructField(n, StringType()) for n in names if n != CORRUPT]
        return reader.options(**options).schema(StructType(fields + [corrupt])).csv(paths)
    if files.encoding:  # Spark's JSON lines reader takes another charset only with its line separator
        options.update(encoding=files.encoding, lineSep="\n")
    inferred = spark.read.options(**options).json(paths).schema
    fields = [f for f in inferred.fields if f.name != CORRUPT]
    return reader.options(**options).schema(StructType(fields + [corrupt])).json(paths)


def derived_id(fields: Sequence[Column]) -> Column:
    """``R`` + 20 hex digits of a SHA-256 of the record's fields, for records that carry no id (the
    dumps since 2018, a table to score without an id column). The same record always gets the same
    id; with 80 bits, the odds that any two of the 571M reviews of the 2023 dump share one are about
    1 in 7 million (n^2 / 2^81)."""
    digest = F.sha2(F.to_json(F.struct(*fields)), 256)
    return F.concat(F.lit("R"), F.upper(F.substring(digest, 1, 20)))


def quoted(name: str) -> Column:
    """A column by its name as the table spells it: dots, spaces and backticks are not syntax."""
    return F.col(f"`{name.replace('`', '``')}`")


def require(columns: Sequence[str], names: Sequence[str], flag: str | None, what: str = "the table") -> None:
    """Refuse a column ``flag`` names (None: one every review table has) that ``what`` (its
    ``columns``) lacks, listing the ones it has."""
    missing = [n for n in names if n not in columns]
    if missing:
        own = ", ".join(c for c in columns if c != CORRUPT)
        named = f"from {flag}; " if flag else ""
        raise ReviewcatError(f"{what} has no column {', '.join(missing)} ({named}its columns: {own})")


def joined_text(names: Sequence[str]) -> Column:
    """The text of one or several columns as one string: empty and missing parts left out, the
    rest joined by ``TEXT_SEPARATOR``; null when every part is."""
    parts = [F.nullif(F.trim(quoted(n).cast("string")), F.lit("")) for n in names]
    if len(parts) == 1:
        return quoted(names[0]).cast("string")
    return F.nullif(F.concat_ws(TEXT_SEPARATOR, *parts), F.lit(""))
