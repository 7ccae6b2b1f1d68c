"""SageMaker Clarify's pre-training bias metrics, from per-(facet, label) counts.

Clarify's processing job (and its open-source core, ``smclarify``) computes each metric from the rows
of a pandas frame. Every one of them depends only on how many rows each (facet value, label) pair
has, so one Spark aggregation gives all metrics for every facet value of a table of any size, and
the arithmetic runs on a table of (facet values x classes) numbers on the driver.

For a facet value d against the rest a, with P_a and P_d the label distributions of the two groups:
CI = (n_a - n_d) / (n_a + n_d); DPL = q_a - q_d (q: the share of the positive label); KL, JS, LP
(the L2 norm), TVD (half the L1 norm) and KS (the largest difference) over P_a - P_d. As in
smclarify, the distances use only the labels both groups have: a label one group lacks is left out
of both distributions, without renormalising (KL would be infinite otherwise). A facet value whose
labels share none with the rest has no distance: null.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from pyspark.sql import Column, DataFrame, functions as F

from reviewcat.prep.sampling import nested
from reviewcat.runtime.errors import ReviewcatError

METRICS = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS")
Counts = Mapping[tuple[str, str], int]


def cell_count_query(frame: DataFrame, facet: str, label: Column) -> DataFrame:
    """Rows per (facet value, class); a row whose label is null counts under a null class.

    Only the facet and the label's own columns are selected, so a parquet scan reads those columns
    and nothing else (no review text).
    """
    return (frame.select(F.col(facet).cast("string").alias("facet"), label.alias("label"))
            .groupBy("facet", "label").count())


def cell_counts(frame: DataFrame, facet: str, label: Column) -> dict[tuple[str, str | None], int]:
    """``cell_count_query`` collected: (facet value, class or None) -> rows."""
    return {(r["facet"], r["label"]): int(r["count"]) for r in cell_count_query(frame, facet, label).collect()}


def _distribution(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {label: n / total for label, n in counts.items()}


def distances(p_a: Mapping[str, float], p_d: Mapping[str, float], common_only: bool = True) -> dict[str, float | None]:
    """KL, JS, LP, TVD and KS between two label distributions.

    With ``common_only`` (Clarify's bias metrics) only the labels both have count; otherwise (drift,
    where a class that vanished is the news) every label either has, a missing one at 0: KL is then
    null when ``p_d`` lacks a label ``p_a`` has, as it would be infinite."""
    labels = sorted(set(p_a) | set(p_d))
    if common_only:
        labels = [x for x in labels if p_a.get(x, 0) > 0 and p_d.get(x, 0) > 0]
    if not labels:
        return dict.fromkeys(("KL", "JS", "LP", "TVD", "KS"))
    a, d = [p_a.get(x, 0.0) for x in labels], [p_d.get(x, 0.0) for x in labels]
    m = [(x + y) / 2 for x, y in zip(a, d)]
    diff = [abs(x - y) for x, y in zip(a, d)]

    def kl(p: list[float], q: list[float]) -> float | None:
        if any(x > 0 and y == 0 for x, y in zip(p, q)):
            return None
        return sum(x * math.log(x / y) for x, y in zip(p, q) if x > 0)
    return {"KL": kl(a, d), "JS": 0.5 * (kl(a, m) + kl(d, m)),  # M > 0 wherever either is
            "LP": math.sqrt(sum(x * x for x in diff)), "TVD": 0.5 * sum(diff), "KS": max(diff)}


def facet_metrics(counts: Counts, positive: str) -> dict[str, dict[str, float | None]]:
    """Every metric for every facet value against the rest, from (facet value, class) -> rows."""
    facets = sorted({f for f, _ in counts})
    labels = sorted({label for _, label in counts})
    if len(facets) < 2:
        raise ReviewcatError(f"the facet has one value only ({', '.join(facets) or 'none'}): bias compares a facet "
                             "value with the rest, so it needs two or more")
    if positive not in labels:
        raise ReviewcatError(f"--positive {positive}: no row has that class (classes: {', '.join(labels)})")
    totals = {label: sum(n for (_, x), n in counts.items() if x == label) for label in labels}
    result = {}
    for facet in facets:
        d = {label: counts.get((facet, label), 0) for label in labels}
        a = {label: totals[label] - d[label] for label in labels}
        n_d, n_a = sum(d.values()), sum(a.values())
        result[facet] = {"CI": (n_a - n_d) / (n_a + n_d), "DPL": a[positive] / n_a - d[positive] / n_d,
                         **distances(_distribution(a), _distribution(d))}
    return result


def bias_report(counts: Counts, facet: str, label: str, positive: str) -> dict[str, Any]:
    """The ``bias.json`` document: what was compared, the metrics, and the counts they came from."""
    return {"facet": facet, "label": label, "positive": positive,
            "metrics": facet_metrics(counts, positive),
            "counts": nested(dict(sorted(counts.items())))}


def markdown_table(report: Mapping[str, Any]) -> str:
    """One row per facet value, the metrics as columns; null shows as a dash."""
    head = [f"| {report['facet']} | rows | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 2) + "|"]
    rows = []
    for facet, metrics in report["metrics"].items():
        rows.append(f"| {facet} | {sum(report['counts'][facet].values()):,} | "
                    + " | ".join("-" if metrics[m] is None else f"{metrics[m]:.4f}" for m in METRICS) + " |")
    return "\n".join(head + rows)


def default_positive(classes: list[str]) -> str:
    """The class DPL measures when the user names none: positive, the top star, else the first class."""
    for choice in ("positive", "5"):
        if choice in classes:
            return choice
    return sorted(classes)[0]
