"""Raw review dumps in, rows of the review table out, and a reason for every record that cannot be.

The public parquet bucket is gone: users bring McAuley Lab's Amazon Reviews 2023 (JSON Lines), the
2018 release (JSON), TSV mirrors of the retired bucket, or a table of their own. Each format is
read as it ships, the text ones a line per record, so that every record either becomes a row of the
review table (the columns of ``schema.REVIEW_TABLE``, partitioned by ``product_category``) or is
kept with its file and a reason code: a cut JSON line, a TSV row with the wrong number of fields, a
rating outside 1-5, an unparsable date. Nothing is dropped silently, and nothing a user can put in
a file makes the job fail half way.

A format's ``to_reviews`` is a pure function of the files it is given: the same files give the
same rows and ids, and the import runs it a second time on just the files that had rejects.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

from pyspark.sql import Column, DataFrame, SparkSession, functions as F

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import CATEGORY, RATING, REVIEW_TABLE, TSV_HEADER
from reviewcat.tables import table_files
from reviewcat.tables.columns import lookup
from reviewcat.tables.encodings import decoded
from reviewcat.tables.table_files import CORRUPT as _CORRUPT, FileSet, derived_id, quoted

FILE = "__file"        # the input file, as Spark names it (``_metadata.file_path``: a URL-encoded URI)
REASON = "__reason"    # 0 for a row that is imported, else an index into OUTCOMES
RECORD = "__record"    # the record as it stands in the file, kept for _rejected/
_VALID = "__valid"     # whether a text line's bytes were valid in its encoding

# What can happen to one record; the reason codes are positions in this tuple.
OUTCOMES = ("imported", "malformed record", "wrong number of fields", "missing rating", "rating not 1-5",
            "missing date", "date out of range", "unparsable date", "invalid number", "missing id",
            "empty label", "undecodable text", "rating not a number")
# What to check when a reason dominates a file.
HINTS = {"malformed record": "check --format", "wrong number of fields": "check --format",
         "missing rating": "check --format", "date out of range": "check --format",
         "missing id": "check --id-column", "empty label": "check --label-column",
         "undecodable text": "check --encoding", "rating not a number": "check --rating-column"}


# Reviews before Amazon's (1995) or after 2100 come from a timestamp in the wrong unit.
_FIRST_SECOND, _LAST_SECOND = 788_918_400, 4_102_444_800


@dataclass(frozen=True)
class TableSpec:
    """A ``table`` import: the user's columns that become review_id, review_body (one text column
    or several, joined), the category (none for a table only to be scored) and star_rating."""
    id: str
    text: tuple[str, ...]
    label: str | None
    rating: str | None = None

    @property
    def flags(self) -> dict[str, tuple[str, ...]]:
        """Each naming flag and the columns it names, for messages."""
        given = {"--id-column": (self.id,), "--text-column": self.text, "--label-column": (self.label,),
                 "--rating-column": (self.rating,)}
        return {flag: names for flag, names in given.items() if all(names)}


@dataclass(frozen=True)
class Format:
    name: str
    naming: str                 # how its files are named, for messages
    pattern: re.Pattern         # a file name it reads; group "category" where the name carries one
    to_reviews: Callable[[SparkSession, FileSet, TableSpec | None], DataFrame]
    sorted_by_category: bool    # rows of a file share a category: no shuffle is needed to write few files

    def category_of(self, name: str) -> str | None:
        match = self.pattern.fullmatch(name)
        return match.groupdict().get("category") if match else None


def reason_code(*checks: tuple[Column, str]) -> Column:
    """The first failed check's code in OUTCOMES, 0 when every check passes."""
    code = F.lit(0)
    for failed, reason in reversed(checks):
        code = F.when(failed, F.lit(OUTCOMES.index(reason))).otherwise(code)
    return code


def _undecodable() -> tuple[Column, str]:
    """The first check of every text format: a line whose bytes were not valid in their encoding."""
    return ~F.col(_VALID), "undecodable text"


def reason_name(code: Column) -> Column:
    return lookup(dict(enumerate(OUTCOMES)), code)


def _try_cast(sql: str, spark_type: str) -> Column:
    """A cast that gives null instead of failing: Spark 4 runs ANSI mode, where ``cast`` raises."""
    return F.expr(f"try_cast({sql} AS {spark_type})")


def _review_row(values: Mapping[str, Column]) -> list[Column]:
    """Every review column in the table's order and type; the ones a format lacks are null."""
    columns = []
    for name, spark_type in REVIEW_TABLE:
        columns.append(values.get(name, F.lit(None)).cast(spark_type).alias(name))
    return columns


def _date_from_seconds(seconds: Column) -> Column:
    """The UTC date of a Unix time, whatever the session's time zone (Glue's need not be UTC)."""
    return F.date_from_unix_date(F.floor(seconds / 86_400).cast("int"))


def _lines(spark: SparkSession, files: FileSet) -> DataFrame:
    """Every non-blank line with its file, decoded (``encodings.decoded``), and whether its bytes
    were valid text (``_VALID``); a line that was not keeps its bytes in hexadecimal as its record.
    A gzipped file is read whole by one task."""
    text, valid = decoded(F.col("value"), files.encoding)
    record = F.when(valid, text).otherwise(F.concat(F.lit("bytes:"), F.hex(F.col("value").cast("binary"))))
    return (files.load(spark.read, "text")
            .select(text.alias("value"), F.col("_metadata.file_path").alias(FILE), valid.alias(_VALID),
                    record.alias(RECORD))
            .where(F.trim("value") != ""))


def _category(files: FileSet) -> Column:
    return lookup({f.uri: f.category for f in files.files}, F.col(FILE))


def _json_records(spark: SparkSession, files: FileSet, schema: str) -> DataFrame:
    """Lines parsed into the fields ``schema`` names; a line that is not a JSON object with fields
    of those types keeps what parsed and is flagged in ``__corrupt``."""
    parsed = F.from_json("value", f"{schema}, {_CORRUPT} STRING", {"columnNameOfCorruptRecord": _CORRUPT})
    return _lines(spark, files).select(FILE, RECORD, _VALID, parsed.alias("j")).select(FILE, RECORD, _VALID, "j.*")


def _rating_checks(rating: Column) -> list[tuple[Column, str]]:
    return [(rating.isNull(), "missing rating"), (~rating.isin(1, 2, 3, 4, 5), "rating not 1-5")]


def _stars(rating: Column) -> Column:
    """The rating of a valid record; null for the others, whose value may not even fit an int."""
    return F.when(rating.isin(1, 2, 3, 4, 5), rating)


def _amazon_2023(spark: SparkSession, files: FileSet, _: TableSpec | None) -> DataFrame:
    fields = ("rating DOUBLE, title STRING, text STRING, asin STRING, parent_asin STRING, user_id STRING, "
              "timestamp LONG, helpful_vote INT, verified_purchase BOOLEAN")
    records = _json_records(spark, files, fields)
    millis = F.col("timestamp")
    in_range = millis.between(_FIRST_SECOND * 1000, _LAST_SECOND * 1000)
    source = [F.col(name.split()[0]) for name in fields.split(", ")]
    date = F.when(in_range, _date_from_seconds(F.floor(millis / 1000)))
    return records.select(
        FILE, RECORD, _category(files).alias(CATEGORY),
        reason_code(_undecodable(), (F.col(_CORRUPT).isNotNull(), "malformed record"),
                    *_rating_checks(F.col("rating")), (millis.isNull(), "missing date"), (~in_range, "date out of range")).alias(REASON),
        *_review_row({
            "marketplace": F.lit("US"), "customer_id": F.col("user_id"),
            "review_id": derived_id([_category(files)] + source),
            "product_id": F.col("asin"), "product_parent": F.col("parent_asin"),
            "star_rating": _stars(F.col("rating")), "helpful_votes": F.col("helpful_vote"),
            "verified_purchase": _yes_no(F.col("verified_purchase")),
            "review_headline": F.col("title"), "review_body": F.col("text"),
            "review_date": date, "year": F.year(date)}))


def _yes_no(flag: Column) -> Column:
    """The retired table's Y/N for a JSON boolean."""
    return F.when(flag, F.lit("Y")).when(~flag, F.lit("N"))


def _amazon_2018(spark: SparkSession, files: FileSet, _: TableSpec | None) -> DataFrame:
    fields = ("overall DOUBLE, verified BOOLEAN, reviewTime STRING, reviewerID STRING, asin STRING, "
              "reviewText STRING, summary STRING, unixReviewTime LONG, vote STRING")
    records = _json_records(spark, files, fields)
    seconds = F.col("unixReviewTime")
    written = F.to_date(F.expr("try_to_timestamp(reviewTime, 'MM dd, yyyy')"))
    in_range = seconds.between(_FIRST_SECOND, _LAST_SECOND)
    date = F.when(seconds.isNull(), written).when(in_range, _date_from_seconds(seconds))
    # "vote" is a string with thousands separators ("1,234"), absent when nobody voted.
    votes = F.when(F.col("vote").isNull(), F.lit(0)).otherwise(
        _try_cast("regexp_replace(vote, ',', '')", "INT"))
    source = [F.col(name.split()[0]) for name in fields.split(", ")]
    return records.select(
        FILE, RECORD, _category(files).alias(CATEGORY),
        reason_code(_undecodable(), (F.col(_CORRUPT).isNotNull(), "malformed record"),
                    *_rating_checks(F.col("overall")),
                    (seconds.isNull() & F.col("reviewTime").isNull(), "missing date"),
                    (seconds.isNotNull() & ~in_range, "date out of range"),
                    (date.isNull(), "unparsable date"), (votes.isNull(), "invalid number")).alias(REASON),
        *_review_row({
            "marketplace": F.lit("US"), "customer_id": F.col("reviewerID"),
            "review_id": derived_id([_category(files)] + source),
            "product_id": F.col("asin"), "star_rating": _stars(F.col("overall")), "helpful_votes": votes,
            "verified_purchase": _yes_no(F.col("verified")), "review_headline": F.col("summary"),
            "review_body": F.col("reviewText"), "review_date": date, "year": F.year(date)}))


def _amazon_tsv(spark: SparkSession, files: FileSet, _: TableSpec | None) -> DataFrame:
    """Tab-separated and not quoted: a bare ``"`` in a body is text, so the line is split on tabs
    alone (a CSV reader with default quoting joins the rows between two quotes)."""
    header = "\t".join(TSV_HEADER[:2]) + "\t"
    lines = (_lines(spark, files).where(~F.col("value").startswith(header))
             .select(FILE, RECORD, _VALID, F.split("value", "\t", -1).alias("__fields")))

    def field(name: str, spark_type: str = "STRING") -> Column:
        # get() is null past the end where [] fails under ANSI mode (Spark 4's default).
        text = f"nullif(get(__fields, {TSV_HEADER.index(name)}), '')"
        return F.expr(text) if spark_type == "STRING" else _try_cast(text, spark_type)

    values = {name: field(name) for name in TSV_HEADER}
    values.update({name: field(name, "INT") for name in ("star_rating", "helpful_votes", "total_votes")})
    values["review_date"] = field("review_date", "DATE")
    values["year"] = F.year(values["review_date"])
    values["review_body"] = F.coalesce(values["review_body"], F.lit(""))
    bad_count = ((field("helpful_votes").isNotNull() & values["helpful_votes"].isNull())
                 | (field("total_votes").isNotNull() & values["total_votes"].isNull()))
    reason = reason_code(_undecodable(), (F.size("__fields") != len(TSV_HEADER), "wrong number of fields"),
                         (field("star_rating").isNull(), "missing rating"),
                         (~F.coalesce(values["star_rating"].isin(1, 2, 3, 4, 5), F.lit(False)), "rating not 1-5"),
                         (field("review_date").isNull(), "missing date"),
                         (values["review_date"].isNull(), "unparsable date"),
                         (bad_count, "invalid number"), (field("review_id").isNull(), "missing id"),
                         (F.trim(F.coalesce(field(CATEGORY), F.lit(""))) == "", "empty label"))
    return lines.select(FILE, RECORD, field(CATEGORY).alias(CATEGORY), reason.alias(REASON), *_review_row(values))


def _rating(name: str) -> tuple[Column, list[tuple[Column, str]]]:
    """A table's rating column as whole stars, and its checks: empty is no rating (not a reject), a
    value that is not a number or not a whole 1-5 is one."""
    text = f"nullif(trim(cast(`{name.replace('`', '``')}` AS STRING)), '')"
    number = _try_cast(text, "DOUBLE")
    whole = number.isin(1.0, 2.0, 3.0, 4.0, 5.0)
    return (F.when(whole, number.cast("int")),
            [(F.expr(text).isNotNull() & number.isNull(), "rating not a number"),
             (number.isNotNull() & ~whole, "rating not 1-5")])


def _table(spark: SparkSession, files: FileSet, columns: TableSpec | None) -> DataFrame:
    """The user's columns, with the id, text, label and rating columns renamed to review_id,
    review_body, product_category and star_rating, so balance, prepare and train read a ticket
    table as they read reviews. Several text columns become one review_body
    (``table_files.joined_text``); a table without a label column has a null category."""
    assert columns is not None, "a table import names its columns"
    frame = table_files.read(spark, files)
    own = [c for c in frame.columns if c != _CORRUPT]
    for flag, names in columns.flags.items():
        table_files.require(own, names, flag)
    if columns.rating:
        kind = frame.schema[columns.rating].dataType.typeName()
        if kind not in ("string", "byte", "short", "integer", "long", "float", "double", "decimal"):
            raise ReviewcatError(f"--rating-column {columns.rating} holds {frame.schema[columns.rating].dataType.simpleString()}, "
                                 "not numbers: name the column with the 1-5 stars")
    renamed = {columns.id: "review_id", **{t: "review_body" for t in columns.text},
               **({columns.label: CATEGORY} if columns.label else {}),
               **({columns.rating: RATING} if columns.rating else {})}
    clashes = [c for c in own if c in ("review_id", "review_body", CATEGORY, RATING) and renamed.get(c) != c]
    if clashes:
        raise ReviewcatError(f"the table already has a column {', '.join(clashes)}, which the id, text, label or "
                             "rating column would become: rename it in the table or choose it as that column")
    review_id = F.trim(quoted(columns.id).cast("string"))
    label = F.trim(quoted(columns.label).cast("string")) if columns.label else F.lit(None).cast("string")
    stars, rating_checks = _rating(columns.rating) if columns.rating else (None, [])
    record = F.coalesce(F.col(_CORRUPT), F.to_json(F.struct(*[quoted(c) for c in own])))
    rest = [quoted(c) for c in own if c not in renamed]
    checks = [(F.col(_CORRUPT).isNotNull(), "malformed record"), (F.coalesce(review_id, F.lit("")) == "", "missing id")]
    if columns.label:
        checks.append((F.coalesce(label, F.lit("")) == "", "empty label"))
    return frame.select(
        F.col("_metadata.file_path").alias(FILE), record.alias(RECORD),
        reason_code(*checks, *rating_checks).alias(REASON),
        review_id.alias("review_id"), table_files.joined_text(columns.text).alias("review_body"),
        label.alias(CATEGORY), *([stars.alias(RATING)] if columns.rating else []), *rest)


FORMATS: dict[str, Format] = {f.name: f for f in [
    # A big category split into parts keeps its name before the first dot: Books.03.jsonl.gz.
    Format("amazon-2023", "<Category>[.<part>].jsonl or .jsonl.gz (Amazon Reviews 2023)",
           re.compile(r"(?!meta_)(?P<category>[^.]+)(\.[^.]+)?\.jsonl(\.gz)?"), _amazon_2023, True),
    Format("amazon-2018", "<Category>[_5][.<part>].json.gz (Amazon Reviews 2018)",
           re.compile(r"(?P<category>[^.]+?)(_5)?(\.[^.]+)?\.json(\.gz)?"), _amazon_2018, True),
    Format("amazon-tsv", "amazon_reviews_<marketplace>_<Category>_v1_00.tsv.gz (the retired amazon-reviews-pds TSV)",
           re.compile(r"amazon_reviews_.+_v1_\d+\.tsv(\.gz)?"), _amazon_tsv, True),
    Format("table", f"{table_files.NAMING} (a table with id, text and label columns)", table_files.PATTERN, _table,
           False),
]}


def format_named(name: str | None) -> Format:
    if not name:
        raise ReviewcatError(f"--format is required: one of {', '.join(FORMATS)}")
    if name not in FORMATS:
        raise ReviewcatError(f"unknown --format {name!r}: use one of {', '.join(FORMATS)}")
    return FORMATS[name]
