"""What predict-table and drift read: any table, labelled or not, as the rows to score.

New tickets arrive as exports (CSV, JSON Lines, parquet) or as a catalog table, with no label and
often no reviewcat columns. They are read where they lie, as the import reads a table
(``table_files``), and reduced to what scoring needs: each row's id (the table's, or one derived
from the row as for the dumps), the columns the user keeps, and the text, joined from several
columns exactly as the import joins them for training.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from pyspark.sql import DataFrame, Observation, functions as F

from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import READING, SOURCE, Option, name_list, names_of
from reviewcat.schema import CATEGORY
from reviewcat.scoring.predictions import ADDED
from reviewcat.tables import encodings, sources, table_files
from reviewcat.tables.sources import Source

log = logging.getLogger(__name__)

TEXT = "__text"           # the text to score, joined from the text columns
DEFAULT_ID = "review_id"  # the id column when the table has one by this name, and a derived id's name
RESERVED = (*ADDED, TEXT)  # the columns scoring adds: no id or kept column may have their names

OPTIONS = [o if o.name != "input-path" else
           Option("input-path", "the table to score: a parquet, CSV or JSON Lines file, a folder or a glob of them "
                  "(local, hdfs:// or s3://), instead of --database/--table") for o in SOURCE] + READING + [
    Option("text-column", "the column with the text, or several joined as the import joins them "
           "(subject,body)", name_list, "review_body"),
    Option("id-column", f"the column that identifies a row (default: {DEFAULT_ID} when the table has it, else an "
           "id derived from the row's values as for the dumps)"),
    Option("keep-columns", f"columns copied to the output beside each row's id (default: {CATEGORY} when the "
           "table has it)", name_list),
    Option("encoding", "a CSV or JSON table's charset, e.g. windows-1252 (default: UTF-8)"),
    Option("delimiter", "a CSV table's field separator (default ',', a tab for .tsv files)"),
]


@dataclass
class ScoreInput:
    """The rows to score (``frame``: the id column, the kept columns and ``TEXT``) and where they
    came from."""
    frame: DataFrame
    source: Source
    id_column: str
    keep: list[str]
    text_columns: list[str]
    skipped: list[dict[str, str]]
    malformed: Observation | None  # counts the CSV or JSON records the reader could not parse
    read: DataFrame | None = None  # the table as read, for counting them when the observation cannot be read

    def malformed_rows(self) -> int:
        """Records left out as malformed, once the rows have been read: observed while they were, or
        (Spark 4.1 cannot read the metrics of a job that wrote no rows) counted by a query."""
        if self.malformed is None or self.read is None:
            return 0
        from reviewcat.tables.code_counts import metrics
        observed = metrics(self.malformed).get("malformed")
        if observed is None:
            return self.read.where(F.col(table_files.CORRUPT).isNotNull()).count()
        return int(observed)


def _read(rt: Runtime, source: Source, encoding: str | None, delimiter: str | None,
          skip_corrupt_files: bool) -> tuple[DataFrame, list[dict[str, str]], bool]:
    """The table with ``table_files.CORRUPT`` (null for the rows that parsed), the files skipped,
    and whether its records are text a reader parses (CSV, JSON), so some may be malformed."""
    if source.path:
        charset = encodings.canonical(rt.spark, encoding)
        if not encodings.is_utf8(charset):
            encodings.allow_java_charsets(rt.spark)
        files = table_files.find(rt.storage, source.path, table_files.PATTERN, "table", table_files.NAMING,
                                 "give a parquet, CSV or JSON Lines table", encoding=charset,
                                 delimiter=table_files.parse_delimiter(delimiter))
        table_files.check_text(rt.spark, files)
        parquet = table_files.kind(files.files) == "parquet"
        skipped = sources.skipped_files(rt, lambda: table_files.read(rt.spark, files)) \
            if skip_corrupt_files and parquet else []
        return table_files.read(rt.spark, files), skipped, not parquet
    if encoding or delimiter:
        raise ReviewcatError("--encoding and --delimiter describe CSV files: a catalog table is read as the "
                             "catalog describes it")
    skipped = sources.skipped_files(rt, lambda: rt.read_catalog(source.database, source.table)) \
        if skip_corrupt_files else []
    frame = rt.read_catalog(source.database, source.table)
    return frame.withColumn(table_files.CORRUPT, F.lit(None).cast("string")), skipped, False


def locations(rt: Runtime, source: Source) -> dict[str, str]:
    """Where the table's files are, named as the user gave them: for the check that an output stays
    apart from its input. A catalog table must exist."""
    if source.path:
        return {"--input-path": source.path}
    if not rt.spark.catalog.tableExists(f"{source.database}.{source.table}"):
        raise ReviewcatError(f"table {source.describe()} not found in the catalog: check --database and --table")
    return {f"table {source.describe()} at": sources.location(rt, source)}


def open_input(rt: Runtime, source: Source, *, text_columns: str | Sequence[str] = ("review_body",),
               id_column: str | None = None, keep_columns: str | Sequence[str] | None = None,
               encoding: str | None = None, delimiter: str | None = None,
               skip_corrupt_files: bool = False) -> ScoreInput:
    """The rows of ``source`` to score: id, kept columns and text; records the reader could not
    parse are left out and counted once the rows are read (``ScoreInput.malformed_rows``)."""
    texts, keep = names_of(text_columns), names_of(keep_columns)
    if not texts:
        raise ReviewcatError("--text-column names no column: give the column(s) with the text to score")
    raw, skipped, parsed = _read(rt, source, encoding, delimiter, skip_corrupt_files)
    own = [c for c in raw.columns if c != table_files.CORRUPT]
    table_files.require(own, texts, "--text-column")
    if id_column:
        table_files.require(own, [id_column], "--id-column")
    table_files.require(own, keep, "--keep-columns")
    name = id_column or DEFAULT_ID
    if keep_columns is None and CATEGORY in own and name != CATEGORY:
        keep = [CATEGORY]
    twice = sorted({c for c in keep if keep.count(c) > 1} | ({name} & set(keep)))
    if twice:
        raise ReviewcatError(f"--keep-columns names {', '.join(twice)} twice (the id column is always kept): "
                             "name each column once")
    taken = [c for c in [name, *keep] if c in RESERVED]
    if taken:
        raise ReviewcatError(f"the table's column {', '.join(taken)} has a name scoring gives its own columns "
                             f"({', '.join(c for c in RESERVED if not c.startswith('__'))}): rename it in the "
                             "table, or leave it out of --id-column and --keep-columns")
    identity = table_files.quoted(name) if name in own else \
        table_files.derived_id([table_files.quoted(c) for c in own])
    if name not in own:
        log.info("the table has no %s column: each row's id is derived from its values (pass --id-column)", name)
    malformed, table = None, raw
    if parsed:
        malformed = Observation("malformed records")
        raw = raw.observe(malformed, F.count(F.col(table_files.CORRUPT)).alias("malformed"))
    frame = (raw.where(F.col(table_files.CORRUPT).isNull())
             .select(identity.alias(name), *[table_files.quoted(c) for c in keep],
                     table_files.joined_text(texts).alias(TEXT)))
    return ScoreInput(frame, source, name, keep, texts, skipped, malformed, table)
