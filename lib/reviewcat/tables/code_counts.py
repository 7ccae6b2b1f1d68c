"""Exact counts per integer code, taken while an action runs instead of in a second job.

Prepare counts its lines per split and label, import its records per input file and reason, both
during the write they do anyway: reading the output back for the counts was a second Spark job,
with its own scheduling and read (see docs/performance.md). One ``histogram_numeric`` over a code
per combination costs nothing measurable, where observing one ``count`` per combination (90 of
them) cost more than the job it replaced.

``histogram_numeric`` is exact only while it never runs out of bins: then it merges the two
closest ones. Each task's partial histogram holds a bin per code it saw, and merging partials
concatenates their bins, so copies of one code from different tasks take a bin each (they are
summed here). A bin per possible code is therefore not enough when several tasks see the same
codes: with 129 codes spread over 6 tasks, 129 or 130 bins merged two distinct codes into one
whose centre was still a whole number, which no check could see, while 172 were exact. So callers
ask for as many bins as all the partials can hold together. The counts are still checked against
a plain count of the rows, and a caller whose counts do not add up counts another way. A code need
not be small, only exact as a double (below 2**53) and one of those the caller expects.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Container, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Observation, functions as F

from reviewcat.tables.columns import lookup

log = logging.getLogger(__name__)


def index(column: str, values: Sequence[str]) -> Column:
    """The position of ``column``'s value in ``values``: a code part, null for values not listed."""
    return lookup({value: i for i, value in enumerate(values)}, F.col(column))


def observe(frame: DataFrame, code: Column, bins: int, name: str) -> tuple[DataFrame, Observation]:
    """``frame`` counted per ``code`` by whatever action runs it: exact while the tasks' partial
    histograms together hold at most ``bins`` bins (a bin per task and code it saw)."""
    observation = Observation(name)
    counted = frame.observe(observation, F.count(F.lit(1)).alias("rows"),
                            F.to_json(F.histogram_numeric(code, F.lit(bins))).alias("histogram"))
    return counted, observation


def metrics(observation: Observation) -> dict[str, Any]:
    """What ``observation`` collected, or nothing when it cannot be read.

    Spark 4.1 fails an assertion in ``PythonSQLUtils.toPyRow`` reading the metrics of a job that
    wrote no rows; every caller then counts another way, as for counts that do not add up.
    """
    try:
        return dict(observation.get)
    except Exception as exc:  # py4j's error for the JVM's AssertionError
        log.warning("the observed counts cannot be read (%s): counting another way", str(exc).splitlines()[0][:200])
        return {}


def from_metrics(metrics: Mapping[str, Any], codes: int | Container[int]) -> dict[int, int] | None:
    """Rows per code, or None when the metrics are missing, hold a code not in ``codes`` (a number
    n stands for 0..n-1) or do not add up to the rows counted."""
    expected = range(codes) if isinstance(codes, int) else codes
    if not metrics.get("rows") or not metrics.get("histogram"):
        return None
    by_code: dict[int, int] = {}
    for point in json.loads(metrics["histogram"]):
        code = round(point["x"])
        if abs(point["x"] - code) > 1e-6 or code not in expected:
            return None
        by_code[code] = by_code.get(code, 0) + round(point["y"])
    if sum(by_code.values()) != metrics["rows"]:
        return None
    return by_code
