"""Text arrives intact: a line that is not in its file's encoding is found and named, never read
as replacement characters.

Spark reads text as UTF-8 without checking it: a Latin-1 CSV imported as a table came out with its
labels and text mangled into U+FFFD, with no reject and no warning. Here every line's bytes are
checked in the JVM against the encoding they should be in, UTF-8 unless ``--encoding`` names
another (``decoded``): a line is valid when its bytes are exactly those of its text encoded again.
A file with lines that are not is refused with one line naming the file, the first such line's
number and the encoding its bytes suggest (``refusal``); with an ``--encoding`` given, a dump's
undecodable lines are rejects instead, with their reason, as any other bad record.
"""
from __future__ import annotations

import codecs
from typing import Sequence

from pyspark.sql import Column, SparkSession, functions as F

from reviewcat.runtime.errors import ReviewcatError

UTF8 = "UTF-8"


def canonical(spark: SparkSession, encoding: str | None) -> str | None:
    """The Java name of ``encoding`` (None stays None: UTF-8, not asked for), or a one-line refusal."""
    if encoding is None:
        return None
    charset = spark.sparkContext._jvm.java.nio.charset.Charset
    try:
        return str(charset.forName(encoding).name())
    except Exception:  # noqa: BLE001 - IllegalCharsetNameException, UnsupportedCharsetException
        raise ReviewcatError(f"unknown --encoding {encoding!r}: use a charset name such as UTF-8, ISO-8859-1 or "
                             "windows-1252") from None


def is_utf8(encoding: str | None) -> bool:
    return encoding is None or encoding == UTF8


def allow_java_charsets(spark: SparkSession) -> None:
    """Spark 4 decodes only a few charsets, and raises on a malformed byte, unless told to behave as
    Spark 3.5 does: any Java charset, a replacement character the check then finds (no effect on 3.5)."""
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    spark.conf.set("spark.sql.legacy.codingErrorAction", "true")


def decoded(value: Column, encoding: str | None) -> tuple[Column, Column]:
    """A text-read line (``value``, its bytes as they are in the file) as text, and whether its bytes
    are valid in ``encoding`` (None: UTF-8)."""
    raw = value.cast("binary")
    if is_utf8(encoding):
        return value, F.encode(value, UTF8) == raw
    text = F.decode(raw, encoding)
    return text, F.encode(text, encoding) == raw


def first_bad_line(spark: SparkSession, path: str, encoding: str | None) -> tuple[int, bytes] | None:
    """The number (from 1) and bytes of the first line of ``path`` that is not valid in ``encoding``.

    One Spark job over the file: each split is a block of consecutive row ids, so a line's number
    is the lines of the blocks before it plus its place in its own.
    """
    _, valid = decoded(F.col("value"), encoding)
    lines = spark.read.text(path).select(F.input_file_block_start().alias("start"),
                                         F.monotonically_increasing_id().alias("id"), F.col("value"), valid.alias("ok"))
    blocks = sorted(lines.groupBy("start").agg(
        F.count(F.lit(1)).alias("lines"), F.min("id").alias("first"),
        F.min(F.when(~F.col("ok"), F.col("id"))).alias("bad")).collect(), key=lambda row: row["start"])
    before = 0
    for block in blocks:
        if block["bad"] is not None:
            raw = lines.where(F.col("id") == block["bad"]).select(F.col("value").cast("binary")).first()[0]
            return before + block["bad"] - block["first"] + 1, bytes(raw)
        before += block["lines"]
    return None


def suggest(raw: bytes) -> str:
    """The encoding a line's bytes look like: UTF-16 where they start with its byte order mark or
    every other byte is zero, Windows' Western European where they decode as it (its 0x80-0x9F are
    quotes, dashes and the euro sign), else Latin-1, which decodes any byte."""
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or (len(raw) > 3 and raw.count(0) * 3 > len(raw)):
        return "UTF-16"
    try:
        raw.decode("cp1252")
        return "windows-1252"
    except UnicodeDecodeError:
        return "ISO-8859-1"


def line_based(encoding: str | None, spark: SparkSession | None = None) -> bool:
    """Whether ``encoding`` writes a newline and a letter as ASCII does, so that Spark's line reader
    splits its lines where they end (not UTF-16 or UTF-32, nor EBCDIC). Asked of the JVM's charset
    when ``spark`` is given, else of Python's codec of that name."""
    if is_utf8(encoding):
        return True
    if spark is not None:
        strings = spark.sparkContext._jvm.org.apache.commons.codec.binary.StringUtils
        return bytes(strings.getBytesUnchecked("\na", encoding)) == b"\na"
    try:
        return "\na".encode(codecs.lookup(encoding).name) == b"\na"
    except LookupError:
        return True


def refusal(name: str, line: int, raw: bytes, encoding: str | None, lines_are_records: bool) -> ReviewcatError:
    """The one line for a file whose line ``line`` (bytes ``raw``) is not valid ``encoding``;
    ``lines_are_records`` when such a line can be left out as a reject (a dump, not a CSV)."""
    shown = raw[:60].decode("latin-1").encode("unicode_escape").decode("ascii").replace("'", "\\'")
    if not is_utf8(encoding):
        return ReviewcatError(f"{name}: line {line} holds bytes {encoding} cannot decode ('{shown}'): check --encoding")
    guess = suggest(raw)
    if not line_based(guess) and lines_are_records:
        return ReviewcatError(f"{name} is not UTF-8 but looks like {guess} (line {line}: '{shown}'), which is not "
                              f"read a line at a time: convert it first, e.g. iconv -f {guess} -t UTF-8")
    rest = ", or pass --encoding UTF-8 to leave such lines out as rejects" if lines_are_records else ""
    return ReviewcatError(f"{name} is not UTF-8: line {line} holds bytes UTF-8 cannot decode ('{shown}'); if "
                          f"the file is in another encoding, pass it, e.g. --encoding {guess}{rest}")


def codec_name(encoding: str | None) -> str:
    """Python's name for a Java charset, to read a header line the way Spark will."""
    try:
        return codecs.lookup(encoding or UTF8).name
    except LookupError:
        return "utf-8"


def bad_files(spark: SparkSession, paths: Sequence[str], encoding: str | None) -> list[str]:
    """The files (``_metadata.file_path`` URIs, sorted) of ``paths`` holding a line that is not valid
    ``encoding``: one scan of the lines, in the JVM."""
    _, valid = decoded(F.col("value"), encoding)
    rows = (spark.read.text(list(paths)).select(F.col("_metadata.file_path").alias("file"), valid.alias("ok"))
            .where(~F.col("ok")).select("file").distinct().collect())
    return sorted(row["file"] for row in rows)
