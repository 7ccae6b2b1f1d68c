"""The import job: review dumps or a labelled table -> the partitioned review table the other jobs read.

Every record is accounted for: imported, or counted per input file and reason and written with
both under ``<output>/_rejected/``. The counts are taken during the one pass that writes the
table (``code_counts``); only files that had rejects are read a second time, for the rejected
records themselves, after the check against ``--max-rejected-fraction`` has passed. A wrong
``--format`` rejects nearly every record, so it ends in that check's one line, not in an empty
table.

An output that holds an earlier import grows by the categories it lacks; its other partitions
are not rewritten. A category it has already is replaced only with ``--overwrite``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from dataclasses import dataclass
from argparse import Namespace
from typing import Iterator, Sequence

from pyspark.sql import DataFrame, Observation, functions as F

from reviewcat import __version__
from reviewcat.ingest import dumps, record_counts
from reviewcat.ingest.record_counts import FileCounts
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import SOURCE, Option, fraction, name_list, names_of, stage_arguments
from reviewcat.runtime.publishing import Claim, check_apart, claim, current, holding, leave_record
from reviewcat.runtime.s3a import is_s3
from reviewcat.runtime.storage import json_text
from reviewcat.schema import IMPORT_FILE
from reviewcat.tables import code_counts, encodings, sources, table_files
from reviewcat.tables.catalog import check_table_target, crawl
from reviewcat.tables.columns import lookup
from reviewcat.tables.table_files import FileSet, InputFile, few
from reviewcat.tables.writers import ROWS_PER_FILE, write_partitioned

log = logging.getLogger(__name__)

REJECTED = "_rejected"
# A table import shuffles rows by label so that each label lands in few files: one task per
# this many input bytes per label keeps files near Spark's own 128 MB input splits.
BYTES_PER_WRITER = 256 * 1024 * 1024
_COMPRESSED = re.compile(r"\.(gz|bz2|deflate|zst|lz4|snappy)$")

OPTIONS = [
    Option("format", "the input's format", choices=tuple(dumps.FORMATS), required=True),
    Option("input-path", "a folder or glob of dump files or of a table's files (local, hdfs:// or s3://)",
           required=True),
    Option("output-path", "the review table to write or add to: product_category=<name>/*.parquet", required=True),
    Option("overwrite", "replace the categories of the output that this input holds again "
           "(or an output folder that is not an import)", switch=True),
    Option("database", "catalog database to register the table in (with --table)"),
    Option("table", "catalog table to register, or to refresh after adding categories (with --database)"),
    *[o for o in SOURCE if o.name == "warehouse"],
    Option("id-column", "--format table: the column with each row's id"),
    Option("text-column", "--format table: the column with the text to classify, or several joined in this "
           "order (subject,body)", name_list),
    Option("label-column", "--format table: the label, which becomes the product_category partition (none: the "
           "table is only to be scored, written unpartitioned)"),
    Option("no-label", "--format table: the table has no label (it is only to be scored); says so where "
           "--label-column is left out", switch=True),
    Option("rating-column", "--format table: a column of 1-5 stars, kept as star_rating (for --label sentiment)"),
    Option("delimiter", "--format table: the CSV field separator (default ',', a tab for .tsv files)"),
    Option("max-rejected-fraction", "fail when more than this share of the records cannot be imported",
           fraction, 0.01),
    Option("encoding", "the text files' charset, e.g. windows-1252 or ISO-8859-1 (default: UTF-8, and a file "
           "with a line that is not UTF-8 is refused; given, such lines are rejects)"),
]


@dataclass(frozen=True)
class ImportResult:
    output_path: str
    summary: dict
    table: str | None


def _table_spec(fmt: dumps.Format, id_column: str | None, text_column: Sequence[str] | str | None,
                label_column: str | None, rating_column: str | None, delimiter: str | None,
                no_label: bool) -> dumps.TableSpec | None:
    given = {"id-column": id_column, "text-column": text_column, "label-column": label_column,
             "rating-column": rating_column, "delimiter": delimiter, "no-label": no_label}
    if fmt.name != "table":
        named = [f"--{flag}" for flag, value in given.items() if value]
        if named:
            raise ReviewcatError(f"{', '.join(named)} go with --format table: --format {fmt.name} has its own columns")
        return None
    missing = [f"--{flag}" for flag in ("id-column", "text-column") if not given[flag]]
    if missing:
        raise ReviewcatError(f"--format table needs {', '.join(missing)}: name the columns with the id and the text "
                             "(and --label-column for a table to train on)")
    if no_label and label_column:
        raise ReviewcatError("--no-label and --label-column contradict each other: give one of them")
    if not label_column and not no_label:
        log.info("no --label-column: importing a table to score, not to train on (--no-label says so)")
    return dumps.TableSpec(id_column, tuple(names_of(text_column)), label_column, rating_column)


def input_files(rt: Runtime, input_path: str, fmt: dumps.Format, encoding: str | None = None,
                delimiter: str | None = None) -> table_files.FileSet:
    """The files of ``input_path`` named as ``fmt``'s are; the others are named in a warning."""
    return table_files.find(rt.storage, input_path, fmt.pattern, fmt.name, fmt.naming, "check --format",
                            fmt.category_of, encoding, delimiter)


def _existing_import(rt: Runtime, output: str, overwrite: bool, fmt: dumps.Format,
                     labelled: bool) -> tuple[dict | None, Claim]:
    """The summary of the import already at ``output`` (None when there is none to add to), and
    the claim on ``output``: a labelled import adds categories to a labelled import, else needs a
    free output or --overwrite of reviewcat's own (an unlabelled table has no partitions to add)."""
    summary_path = f"{output}/{IMPORT_FILE}"
    if not rt.storage.exists(summary_path):
        return None, claim(rt.storage, output, overwrite)
    summary = json.loads(rt.storage.read_text(summary_path))
    if not labelled or not summary.get("labelled", True):
        return None, claim(rt.storage, output, overwrite)
    if (summary["format"] == "table") != (fmt.name == "table"):
        raise ReviewcatError(f"{output} holds a {summary['format']} import, whose columns differ from a "
                             f"{fmt.name} import's: choose another --output-path")
    return summary, current(rt.storage, output)


def _check_replacements(existing: dict | None, categories: Sequence[str], overwrite: bool, output: str) -> list[str]:
    """The categories this import replaces in ``output``: allowed only with ``--overwrite``."""
    replaced = sorted(set(categories) & set(existing["categories"] if existing else {}))
    if replaced and not overwrite:
        raise ReviewcatError(f"{output} already holds {few(replaced)}: "
                             "pass --overwrite to replace them, or leave their files out of --input-path")
    return replaced


def _check_columns(rt: Runtime, output: str, frame: DataFrame) -> None:
    """An import adds to a table only rows of its columns: a table import with other columns would
    leave partitions that Spark reads with one of the two schemas and nulls for the other."""
    kept = [c for c in frame.columns if c not in (dumps.FILE, dumps.REASON, dumps.RECORD)]
    new = {f.name: f.dataType.simpleString() for f in frame.select(*kept).schema}
    old = {f.name: f.dataType.simpleString() for f in rt.spark.read.parquet(output).schema}
    if new != old:
        differ = sorted(name for name in set(new) | set(old) if new.get(name) != old.get(name))
        raise ReviewcatError(f"{output} holds a table whose columns differ from this input's in {', '.join(differ)}: "
                             "import into another --output-path")


def _check_text(rt: Runtime, counts: dict[str, FileCounts], files: Sequence[InputFile]) -> None:
    """Without --encoding a dump must be UTF-8 throughout: the first file with a line that is not is refused."""
    for f in sorted(files, key=lambda f: f.path):
        if counts[f.uri].rejects().get("undecodable text"):
            table_files.refuse_text(rt.spark, f.path, None, True)


def _check_rejects(counts: dict[str, FileCounts], files: Sequence[InputFile], limit: float) -> None:
    names = {f.uri: f.name for f in files}
    records = sum(c.records for c in counts.values())
    rejected = sum(c.rejected for c in counts.values())
    if not records:
        raise ReviewcatError("the input files hold no records: check --input-path")
    for path, c in counts.items():
        if c.rejected:
            log.warning("%s: %d of %d records rejected (%s)", names.get(path, path), c.rejected, c.records,
                        ", ".join(f"{reason} {n}" for reason, n in c.rejects().items()))
    if rejected > limit * records or rejected == records:
        worst_path = max(counts, key=lambda p: (counts[p].rejected / max(1, counts[p].records), counts[p].rejected))
        worst = counts[worst_path]
        reason, n = max(worst.rejects().items(), key=lambda item: item[1])
        hint = dumps.HINTS.get(reason, "see the reasons in the log")
        raise ReviewcatError(
            f"{rejected:,} of {records:,} records ({rejected / records:.1%}) cannot be imported, above "
            f"--max-rejected-fraction {limit:g}; worst file {names.get(worst_path, worst_path)}: "
            f"{worst.rejected:,} of {worst.records:,} rejected, most for {reason} ({n:,}): {hint}")


def _damaged_file(rt: Runtime, files: Sequence[InputFile], error: Exception) -> ReviewcatError | None:
    """A compressed input that cannot be read to its end, when that is what failed the job.

    Spark's error names the exception, not the file, so each compressed input is decompressed
    through Hadoop (in the driver's JVM, no data through Python) until one fails.
    """
    text = str(error)
    if not any(s in text for s in ("EOFException", "ZipException", "Not in GZIP format", "Unexpected end of input")):
        return None
    compressed = [f for f in files if _COMPRESSED.search(f.name)]
    log.info("a compressed input could not be read: checking %d compressed files", len(compressed))
    for f in compressed:
        problem = rt.storage.unreadable(f.path)
        if problem:
            return ReviewcatError(f"{f.name} cannot be read to its end ({problem}): the file is truncated or "
                                  "damaged; download it again or leave it out of --input-path")
    return None


def _write_table(rt: Runtime, frame: DataFrame, fmt: dumps.Format, files: Sequence[InputFile],
                 staging: str, labelled: bool) -> None:
    """The imported rows as parquet under ``staging``, in files of at most ``ROWS_PER_FILE`` rows:
    partitioned by category, or (a table without labels) not partitioned."""
    good = frame.where(F.col(dumps.REASON) == 0).drop(dumps.FILE, dumps.REASON)
    spread = max(1, math.ceil(sum(f.size for f in files) / BYTES_PER_WRITER))
    try:
        if not labelled:
            good.drop(sources.CATEGORY).repartition(spread, "review_id") \
                .write.option("maxRecordsPerFile", ROWS_PER_FILE).parquet(staging)
            return
        if not fmt.sorted_by_category:
            # One task per (label, spread) cell instead of a file per label in every input task.
            good = good.repartition(sources.CATEGORY, F.pmod(F.xxhash64("review_id"), F.lit(spread)))
        write_partitioned(good, staging)
    except Exception as exc:  # a Java failure of the job, when it is a damaged input, becomes one line
        damaged = _damaged_file(rt, files, exc)
        if damaged:
            raise damaged from None
        raise


def _write_rejects(rt: Runtime, fmt: dumps.Format, files: FileSet,
                   counts: dict[str, FileCounts], spec: dumps.TableSpec | None, folder: str) -> None:
    """Rejected records with their file and reason, a ``source=<file name>`` folder per input file."""
    with_rejects = [f for f in files.files if counts[f.uri].rejected]
    if not with_rejects:
        return
    log.info("writing the rejected records of %d files to %s", len(with_rejects), folder)
    names = lookup({f.uri: f.name for f in with_rejects}, F.col(dumps.FILE))
    (fmt.to_reviews(rt.spark, files.only(with_rejects), spec)
     .where(F.col(dumps.REASON) != 0)
     .select(F.col(dumps.FILE).alias("file"), dumps.reason_name(F.col(dumps.REASON)).alias("reason"),
             F.col(dumps.RECORD).alias("record"), names.alias("source"))
     .write.partitionBy("source").json(folder))


def _file_summary(counts: FileCounts) -> dict:
    return {"records": counts.records, "imported": counts.outcomes.get("imported", 0), "rejected": counts.rejects(),
            "categories": dict(sorted(counts.categories.items()))}


def _summary(fmt: dumps.Format, existing: dict | None, replaced: Sequence[str], categories: dict[str, int],
             files: dict[str, dict], labelled: bool) -> dict:
    """``_import.json``: rows per category of the whole table (none for a table without labels),
    and what became of each input file."""
    old_files = {path: info for path, info in (existing or {}).get("files", {}).items()
                 if not set(info.get("categories", {})) & set(replaced) and path not in files}
    all_files = {**old_files, **files}
    merged = {**(existing or {}).get("categories", {}), **categories}
    return {
        "created_by": f"reviewcat {__version__}",
        "format": fmt.name,
        "labelled": labelled,
        "categories": dict(sorted(merged.items())),
        "rows": sum(merged.values()) if labelled else sum(info["imported"] for info in all_files.values()),
        "rejected": sum(sum(info["rejected"].values()) for info in all_files.values()),
        "files": dict(sorted(all_files.items())),
    }


def _merge_into(rt: Runtime, staging: str, claimed: Claim, summary: dict) -> None:
    """Move the staged partitions and rejects into an existing import, replacing those it had;
    refused when another run changed the import since this one started."""
    output = claimed.path
    with holding(rt.storage, claimed) as record:
        _move_partitions(rt, staging, output)
        rt.storage.write_text(f"{output}/{IMPORT_FILE}", json_text(summary))
        leave_record(rt.storage, output, record)
    rt.storage.delete(staging)


def _move_partitions(rt: Runtime, staging: str, output: str) -> None:
    """The staged partitions (and their rejects) in place of the output's, put back should one move fail."""
    moved: list[tuple[str, str | None]] = []  # (target, backup of what it replaced)
    try:
        for sub in ("", f"/{REJECTED}"):
            if not rt.storage.exists(f"{staging}{sub}"):
                continue
            if sub:
                rt.storage.mkdirs(f"{output}{sub}")
            for entry in rt.storage.list(f"{staging}{sub}"):
                if not entry.is_dir or "=" not in entry.name:
                    continue
                target = f"{output}{sub}/{entry.name}"
                backup = None
                if rt.storage.exists(target):
                    backup = f"{staging}/_replaced{sub.replace('/', '_')}-{entry.name}"
                    rt.storage.rename(target, backup)
                moved.append((target, backup))
                rt.storage.rename(entry.path, target)
    except Exception:
        for target, backup in reversed(moved):
            rt.storage.delete(target)
            if backup:
                rt.storage.rename(backup, target)
        raise
    log.info("added %d partitions to %s", sum(1 for target, _ in moved if f"/{REJECTED}/" not in target), output)


def _counted(rt: Runtime, fmt: dumps.Format, inputs: FileSet, spec: dumps.TableSpec | None,
             observation: Observation, staging: str) -> dict[str, FileCounts]:
    """What became of each input record: as observed during the write, or, should that not add
    up, from a query that reads the input again."""
    written = sources.partition_folders(rt, staging) if rt.storage.exists(staging) else {}
    labelled = spec is None or spec.label is not None
    counts = record_counts.from_metrics(code_counts.metrics(observation), inputs.files, sorted(written), labelled)
    if counts is None:
        log.warning("the record counts observed during the import do not add up: counting them again")
        counts = record_counts.by_query(fmt.to_reviews(rt.spark, inputs, spec), inputs.files)
    return counts


@contextlib.contextmanager
def _building(rt: Runtime, claimed: Claim, existing: dict | None) -> Iterator[str]:
    """Where the import writes: a new output is built as every job's is (``Storage.staged``: in
    place on S3); partitions added to an existing import go to a staging folder first, from which
    ``_merge_into`` moves them in."""
    if not existing:
        with rt.storage.staged(claimed) as folder:
            yield folder
        return
    staging = rt.storage.staging_path(claimed.path)
    try:
        yield staging
    except BaseException:
        rt.storage.discard(staging)
        raise


def _catalog_table(database: str | None, table: str | None) -> tuple[str, str] | None:
    if bool(database) != bool(table):
        raise ReviewcatError("--database and --table go together: give both to register the table, or neither")
    if not database:
        return None
    return sources.check_identifier("database", database), sources.check_identifier("table", table)


def import_table(rt: Runtime, *, format: str, input_path: str, output_path: str, database: str | None = None,
                 table: str | None = None, id_column: str | None = None, text_column: Sequence[str] | None = None,
                 label_column: str | None = None, no_label: bool = False, rating_column: str | None = None,
                 delimiter: str | None = None, encoding: str | None = None, max_rejected_fraction: float = 0.01,
                 overwrite: bool = False) -> ImportResult:
    """Imports review dumps (``format`` amazon-2023, amazon-2018, amazon-tsv) or a table of your own
    (``format="table"``) into the partitioned review table at ``output_path``, accounting for every
    record, and registers it as ``database.table`` when given. The keywords are ``reviewcat import``'s flags."""
    fmt = dumps.format_named(format)
    if not input_path:
        raise ReviewcatError("--input-path is required: the dump files or table to import")
    if not output_path:
        raise ReviewcatError("--output-path is required: where to write the review table")
    output = rt.storage.qualify(output_path.rstrip("/"))
    check_apart(output, {"--input-path": rt.storage.qualify(input_path.rstrip("/"))})
    catalog_table = _catalog_table(database, table)
    if catalog_table:
        check_table_target(rt.spark, *catalog_table, output)
    spec = _table_spec(fmt, id_column, text_column, label_column, rating_column, delimiter, no_label)
    labelled = spec is None or spec.label is not None
    if catalog_table and not labelled:
        raise ReviewcatError("--database/--table register a table partitioned by its labels, for balance and "
                             "prepare: a table without --label-column is scored from its --input-path instead")
    charset = encodings.canonical(rt.spark, encoding)
    if fmt.name != "table" and not encodings.line_based(charset, rt.spark):
        raise ReviewcatError(f"--encoding {charset}: a dump is read a line at a time, and {charset} lines do not "
                             f"end at a newline byte: convert the files first, e.g. iconv -f {charset} -t UTF-8")
    if not encodings.is_utf8(charset):
        encodings.allow_java_charsets(rt.spark)
    if is_s3(output):  # a dead run's half-built output is gone before this run claims the path
        rt.storage.remove_dead_runs(output)
    existing, claimed = _existing_import(rt, output, overwrite, fmt, labelled)
    inputs = input_files(rt, input_path, fmt, charset, table_files.parse_delimiter(delimiter))
    files = inputs.files
    if fmt.name == "table":
        table_files.check_text(rt.spark, inputs)
    named = {f.category for f in files if f.category}
    _check_replacements(existing, sorted(named), overwrite, output)

    frame = fmt.to_reviews(rt.spark, inputs, spec)
    if existing:
        _check_columns(rt, output, frame)
    # The raw record is for _rejected/, which its own pass writes: not carried through this one.
    observed, observation = record_counts.observe(frame.drop(dumps.RECORD), files)
    with _building(rt, claimed, existing) as staging:
        log.info("importing %s into %s", input_path, output)
        _write_table(rt, observed, fmt, files, staging, labelled)
        counts = _counted(rt, fmt, inputs, spec, observation, staging)
        if encoding is None:
            _check_text(rt, counts, files)
        _check_rejects(counts, files, max_rejected_fraction)
        _write_rejects(rt, fmt, inputs, counts, spec, f"{staging}/{REJECTED}")
        categories = record_counts.category_rows(counts)
        replaced = _check_replacements(existing, list(categories), overwrite, output)
        summary = _summary(fmt, existing, replaced, categories,
                           {f.uri: _file_summary(counts[f.uri]) for f in files}, labelled)
        if existing:
            _merge_into(rt, staging, claimed, summary)
        else:
            rt.storage.write_text(f"{staging}/{IMPORT_FILE}", json_text(summary))
    for category, n in categories.items():
        log.info("%-40s %12d reviews%s", category, n, " (replaced)" if category in replaced else "")
    log.info("imported %d records into %s, rejected %d -> %s", summary["rows"],
             f"{len(categories)} categories" if labelled else "a table without labels",
             sum(c.rejected for c in counts.values()), output)
    registered = crawl(rt, output, *catalog_table).table if catalog_table else None
    return ImportResult(output, summary, registered)


def run(rt: Runtime, args: Namespace) -> ImportResult:
    return import_table(rt, **stage_arguments(OPTIONS, args))
