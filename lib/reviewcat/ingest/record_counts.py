"""What became of every input record of an import, counted during the write that imports them.

The import reports records per input file and outcome (imported, or rejected and why), and rows
per category and file. Counting them in a second pass would read every file again; one
``code_counts`` histogram, observed during the write, counts one code per record instead:

    code = category hash * files * outcomes + file index * outcomes + outcome

The category of a format without categories in its file names (TSV, a table) is known only once
it is read: its hash (the low 20 bits of its CRC32, which Python computes alike from the partition
folders written) stands for it, 0 for rejected records. Codes stay below 2**40, so the
histogram's averaged bin centres round back exactly. This one histogram costs less than the
footer-count job it replaced; a second histogram for the categories cost as much as the job it
replaced (measurements in docs/performance.md).

Should two category names share a hash, or the counts not add up, the caller counts by a query.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Sequence

from pyspark.sql import Column, DataFrame, Observation, functions as F

from reviewcat.ingest.dumps import FILE, OUTCOMES, REASON
from reviewcat.schema import CATEGORY
from reviewcat.tables import code_counts
from reviewcat.tables.table_files import InputFile

CATEGORY_BITS = 20
# Bins for the (category, file) pairs beyond one per file and outcome: files holding several
# categories (a TSV of one marketplace, a table); with more, the counts come from a query.
EXTRA_BINS = 10_000


@dataclass
class FileCounts:
    """One input file: records per outcome, and imported rows per category."""
    outcomes: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(self.outcomes.values())

    @property
    def rejected(self) -> int:
        return self.records - self.outcomes.get("imported", 0)

    def rejects(self) -> dict[str, int]:
        return {reason: n for reason, n in sorted(self.outcomes.items()) if reason != "imported" and n}


def category_hash(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) % (1 << CATEGORY_BITS)


def observe(frame: DataFrame, files: Sequence[InputFile]) -> tuple[DataFrame, Observation]:
    """``frame`` (the parsed records) counted per category, file and outcome by the action that runs it."""
    per_file = len(files) * len(OUTCOMES)
    hashed = F.pmod(F.crc32(F.col(CATEGORY)), F.lit(1 << CATEGORY_BITS))
    # A table without labels imports its rows under no category: hash 0, as a reject has.
    category = F.when(F.col(REASON) == 0, F.coalesce(hashed, F.lit(0))).otherwise(F.lit(0)).cast("long")
    code: Column = (category * per_file + code_counts.index(FILE, [f.uri for f in files]) * len(OUTCOMES)
                    + F.col(REASON))
    return code_counts.observe(frame, code, per_file + EXTRA_BINS, "records per category, file and outcome")


class _Codes:
    """The codes a count may hold: a known category with the imported outcome, or none with a reject."""

    def __init__(self, files: int, hashes: set[int]):
        self.files, self.hashes = files, hashes

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, int) or code < 0:
            return False
        category, rest = divmod(code, self.files * len(OUTCOMES))
        outcome = rest % len(OUTCOMES)
        return category in self.hashes if outcome == 0 else category == 0


def from_metrics(metrics: dict, files: Sequence[InputFile], categories: Sequence[str],
                 labelled: bool = True) -> dict[str, FileCounts] | None:
    """Counts per file (by URI) from the observed metrics; None when they cannot be trusted.
    Rows of a table without labels (``labelled`` false) are counted as imported under no category."""
    names: dict[int, str | None] = {category_hash(name): name for name in categories} if labelled else {0: None}
    if labelled and len(names) != len(categories):
        return None  # two categories share a hash
    by_code = code_counts.from_metrics(metrics, _Codes(len(files), set(names)))
    if by_code is None:
        return None
    counts = {f.uri: FileCounts() for f in files}
    for code, n in by_code.items():
        category, rest = divmod(code, len(files) * len(OUTCOMES))
        file, outcome = divmod(rest, len(OUTCOMES))
        found = counts[files[file].uri]
        found.outcomes[OUTCOMES[outcome]] = found.outcomes.get(OUTCOMES[outcome], 0) + n
        if outcome == 0 and names[category] is not None:
            found.categories[names[category]] = n
    return counts


def by_query(frame: DataFrame, files: Sequence[InputFile]) -> dict[str, FileCounts]:
    """The same counts from a group-by over the records: a second read, for when the observed fail."""
    counts = {f.uri: FileCounts() for f in files}
    imported = F.when(F.col(REASON) == 0, F.col(CATEGORY))
    for row in frame.groupBy(FILE, REASON, imported.alias("category")).count().collect():
        found = counts.setdefault(row[FILE], FileCounts())
        outcome = OUTCOMES[row[REASON]]
        found.outcomes[outcome] = found.outcomes.get(outcome, 0) + int(row["count"])
        if row["category"] is not None:
            found.categories[row["category"]] = int(row["count"])
    return counts


def category_rows(counts: dict[str, FileCounts]) -> dict[str, int]:
    """Imported rows per category, over every file."""
    rows: dict[str, int] = {}
    for file in counts.values():
        for category, n in file.categories.items():
            rows[category] = rows.get(category, 0) + n
    return dict(sorted(rows.items()))
