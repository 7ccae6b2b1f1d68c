"""Generated reviews written as the public dumps ship them, so ``reviewcat import`` can be walked
end to end without downloading anything.

Each format turns a generated table (``sample_data.SCHEMA``) into one category's lines the way its
release names and shapes them: field names, units (milliseconds in 2023, seconds in 2018), "vote"
as a string with thousands separators, fields left out when empty in 2018, and the retired TSV's
header row and unquoted tabs. A large category comes in chunks: each chunk is a gzip member of its
own, and members laid end to end are one valid gzip file (RFC 1952), which Spark and ``gzip`` read
whole.
"""
from __future__ import annotations

import gzip
import io
import itertools
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa

from reviewcat.schema import CATEGORY, TSV_HEADER

# Level 1: generated dumps are written for the importer to read, and the default level costs
# four times the time for a fifth less disk.
_GZIP_LEVEL = 1
_DAY_MS = 86_400_000


def _epoch_days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _rows(table: pa.Table) -> Iterable[dict]:
    """Rows as dicts a batch at a time: a whole large category as Python objects would take GBs."""
    for batch in table.to_batches(max_chunksize=50_000):
        yield from batch.to_pylist()


def _lines_2023(table: pa.Table, category: str) -> Iterable[str]:
    """McAuley Lab's 2023 fields; no review id, times in milliseconds."""
    for i, row in enumerate(_rows(table)):
        # A review's time of day is not in the generated table: spread them over the day.
        millis = _epoch_days(row["review_date"]) * _DAY_MS + (i * 7_919_000) % _DAY_MS
        yield json.dumps({"rating": float(row["star_rating"]), "title": row["review_headline"],
                          "text": row["review_body"] or "", "images": [], "asin": row["product_id"],
                          "parent_asin": row["product_id"], "user_id": row["customer_id"], "timestamp": millis,
                          "helpful_vote": row["helpful_votes"], "verified_purchase": row["verified_purchase"] == "Y"},
                         ensure_ascii=False)


def _lines_2018(table: pa.Table, category: str) -> Iterable[str]:
    """The 2018 fields, seconds, and "vote" only where somebody voted."""
    for row in _rows(table):
        day = row["review_date"]
        record = {"overall": float(row["star_rating"]), "verified": row["verified_purchase"] == "Y",
                  "reviewTime": f"{day.month:02d} {day.day:02d}, {day.year}", "reviewerID": row["customer_id"],
                  "asin": row["product_id"], "summary": row["review_headline"],
                  "unixReviewTime": _epoch_days(day) * 86_400}
        if row["review_body"] is not None:
            record["reviewText"] = row["review_body"]
        if row["helpful_votes"]:
            record["vote"] = f"{row['helpful_votes']:,}"
        yield json.dumps(record, ensure_ascii=False)


_TSV_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def _tsv_field(value: object) -> str:
    return "" if value is None else str(value).translate(_TSV_CLEAN).replace("&quot;", '"')


def _lines_tsv(table: pa.Table, category: str) -> Iterable[str]:
    """Tabs, no quoting. The retired files held no tab or line break inside a field, so the
    generator's become spaces, and their quotes stood bare in the text, as the generator's
    ``&quot;`` do here."""
    for row in _rows(table):
        values = {**row, CATEGORY: category}
        yield "\t".join(_tsv_field(values[name]) for name in TSV_HEADER)


@dataclass(frozen=True)
class Dump:
    """One release's file: its name for a category, its lines, and the header row it starts with."""

    file_name: str  # with {} for the category
    lines: Callable[[pa.Table, str], Iterable[str]]
    header: str | None = None


DUMPS: dict[str, Dump] = {
    "amazon-2023": Dump("{}.jsonl.gz", _lines_2023),
    "amazon-2018": Dump("{}.json.gz", _lines_2018),
    "amazon-tsv": Dump("amazon_reviews_us_{}_v1_00.tsv.gz", _lines_tsv, "\t".join(TSV_HEADER)),
}


def dump_file_name(fmt: str, category: str) -> str:
    return DUMPS[fmt].file_name.format(category)


def write_dump(fmt: str, table: pa.Table, path: Path, name: str, category: str, first: bool = True) -> None:
    """``table`` as ``fmt``'s lines of ``category``, gzipped into ``path`` under the file ``name`` (the
    name gzip's header keeps, also for a chunk written under another); ``first`` is false for a chunk
    that continues a category (no header row)."""
    dump = DUMPS[fmt]
    head = [dump.header] if first and dump.header else []
    with path.open("wb") as raw, gzip.GzipFile(name, "wb", _GZIP_LEVEL, raw, mtime=0) as packed, \
            io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as out:
        for line in itertools.chain(head, dump.lines(table, category)):
            out.write(line)
            out.write("\n")
