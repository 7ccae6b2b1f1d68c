"""Generated reviews written as the public dumps ship them, so ``reviewcat import`` can be walked
end to end without downloading anything.

Each writer takes one category's generated table (``sample_data.SCHEMA``) and writes that
category's file the way its release names and shapes it: field names, units (milliseconds in 2023,
seconds in 2018), "vote" as a string with thousands separators, fields left out when empty in
2018, and the retired TSV's header row and unquoted tabs.
"""
from __future__ import annotations

import gzip
import itertools
import json
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa

from reviewcat.ingest.dumps import TSV_HEADER
from reviewcat.schema import CATEGORY

# Level 1: generated dumps are written for the importer to read, and the default level costs
# four times the time for a fifth less disk.
_GZIP_LEVEL = 1
_DAY_MS = 86_400_000


def _epoch_days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=_GZIP_LEVEL, newline="\n") as out:
        for line in lines:
            out.write(line)
            out.write("\n")


def _rows(table: pa.Table) -> Iterable[dict]:
    """Rows as dicts a batch at a time: a whole large category as Python objects would take GBs."""
    for batch in table.to_batches(max_chunksize=50_000):
        yield from batch.to_pylist()


def write_amazon_2023(table: pa.Table, folder: Path, category: str) -> Path:
    """``<Category>.jsonl.gz``: McAuley Lab's 2023 fields; no review id, times in milliseconds."""
    path = folder / f"{category}.jsonl.gz"

    def line(i: int, row: dict) -> str:
        # A review's time of day is not in the generated table: spread them over the day.
        millis = _epoch_days(row["review_date"]) * _DAY_MS + (i * 7_919_000) % _DAY_MS
        return json.dumps({"rating": float(row["star_rating"]), "title": row["review_headline"],
                           "text": row["review_body"] or "", "images": [], "asin": row["product_id"],
                           "parent_asin": row["product_id"], "user_id": row["customer_id"], "timestamp": millis,
                           "helpful_vote": row["helpful_votes"], "verified_purchase": row["verified_purchase"] == "Y"},
                          ensure_ascii=False)
    _write_lines(path, (line(i, row) for i, row in enumerate(_rows(table))))
    return path


def write_amazon_2018(table: pa.Table, folder: Path, category: str) -> Path:
    """``<Category>.json.gz``: the 2018 fields, seconds, and "vote" only where somebody voted."""
    path = folder / f"{category}.json.gz"

    def line(row: dict) -> str:
        day = row["review_date"]
        record = {"overall": float(row["star_rating"]), "verified": row["verified_purchase"] == "Y",
                  "reviewTime": f"{day.month:02d} {day.day:02d}, {day.year}", "reviewerID": row["customer_id"],
                  "asin": row["product_id"], "summary": row["review_headline"],
                  "unixReviewTime": _epoch_days(day) * 86_400}
        if row["review_body"] is not None:
            record["reviewText"] = row["review_body"]
        if row["helpful_votes"]:
            record["vote"] = f"{row['helpful_votes']:,}"
        return json.dumps(record, ensure_ascii=False)
    _write_lines(path, (line(row) for row in _rows(table)))
    return path


def write_amazon_tsv(table: pa.Table, folder: Path, category: str) -> Path:
    """``amazon_reviews_us_<Category>_v1_00.tsv.gz``: a header row, tabs, no quoting. The retired
    files held no tab or line break inside a field, so the generator's become spaces, and their
    quotes stood bare in the text, as the generator's ``&quot;`` do here."""
    path = folder / f"amazon_reviews_us_{category}_v1_00.tsv.gz"
    clean = str.maketrans({"\t": " ", "\n": " ", "\r": " "})

    def field(value: object) -> str:
        return "" if value is None else str(value).translate(clean).replace("&quot;", '"')

    def line(row: dict) -> str:
        values = {**row, CATEGORY: category}
        return "\t".join(field(values[name]) for name in TSV_HEADER)
    _write_lines(path, itertools.chain(["\t".join(TSV_HEADER)], (line(row) for row in _rows(table))))
    return path


WRITERS: dict[str, Callable[[pa.Table, Path, str], Path]] = {
    "amazon-2023": write_amazon_2023,
    "amazon-2018": write_amazon_2018,
    "amazon-tsv": write_amazon_tsv,
}
