"""The bias job: SageMaker Clarify's pre-training metrics of a label across a facet, computed in Spark.

For every facet value (by default each product category) against the rest: class imbalance CI,
the difference in positive proportions DPL and the distances KL, JS, LP, TVD and KS between the
label distributions (``bias_metrics``). Written as ``bias.json``, a markdown table ``bias.md`` and a
chart of CI and DPL per facet value ``bias.png``. The course's concern: a sentiment model trained
on data where some categories are mostly positive learns the category, not the sentiment.
"""
from __future__ import annotations

import logging
from argparse import Namespace
from typing import Any, Mapping, Sequence

from pyspark.sql import DataFrame

from reviewcat.prep.bias_metrics import bias_report, cell_counts, default_positive, markdown_table
from reviewcat.prep.labels import LabelSpec, label_spec, refuse_unlabelled, require_label_column
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import OUTPUT, READING, SOURCE, Option, name_list, stage_arguments
from reviewcat.runtime.storage import json_text
from reviewcat.schema import BIAS_JSON, BIAS_MD, BIAS_PNG
from reviewcat.tables import sources

log = logging.getLogger(__name__)


OPTIONS = SOURCE + READING + OUTPUT[:2] + [
    Option("facet", "column whose values are compared, each against the rest", default=sources.CATEGORY),
    Option("label", "sentiment (star_rating 1-2, 3, 4-5), stars, category or a column name", default="sentiment"),
    Option("positive", "the class DPL measures (default: positive, or 5 for stars)"),
    Option("categories", "comma-separated categories to read (default: all)", name_list),
]


def labelled_cells(frame: DataFrame, facet: str, spec: LabelSpec, source: str,
                   flag: str = "--facet") -> dict[tuple[str, str], int]:
    """Rows per (facet value, class), from one scan of the two columns; a row without a class or a
    facet value is refused with one line (``flag`` names the facet's option in it)."""
    if facet not in frame.columns:
        raise ReviewcatError(f"{flag} {facet}: no such column; {source} has: {', '.join(frame.columns)}")
    require_label_column(frame, spec, source)
    if spec.column == facet:
        raise ReviewcatError(f"{flag} {facet} with --label {spec.name}: every {facet} is one class already")
    cells = cell_counts(frame, facet, spec.expression())
    refuse_unlabelled(frame, spec, sum(n for (_, c), n in cells.items() if c is None), source)
    unnamed = sum(n for (f, c), n in cells.items() if f is None and c is not None)
    if unnamed:
        raise ReviewcatError(f"{unnamed:,} reviews in {source} have no {facet}: filter them out or choose another "
                             f"{flag} column")
    return {key: n for key, n in cells.items() if key[1] is not None}


def frame_bias(frame: DataFrame, facet: str = sources.CATEGORY, label: str | LabelSpec = "sentiment",
               positive: str | None = None, source: str = "the input") -> dict[str, Any]:
    """The bias report of a DataFrame: one aggregation of (facet, class) counts, then the metrics."""
    spec = label if isinstance(label, LabelSpec) else label_spec(label)
    return counts_bias(labelled_cells(frame, facet, spec, source), facet, spec, positive, source)


def counts_bias(counts: Mapping[tuple[str, str], int], facet: str, spec: LabelSpec, positive: str | None,
                source: str) -> dict[str, Any]:
    """The report from (facet value, class) counts, refusing a class the label defines but no row has."""
    if not counts:
        raise ReviewcatError(f"{source} has no rows: nothing to measure")
    seen = sorted({c for _, c in counts})
    missing = [c for c in spec.classes or () if c not in seen]
    if missing:
        raise ReviewcatError(f"no review in {source} has the {spec.name} class {', '.join(missing)}: the bias of "
                             f"a class with no rows is undefined; check the input or --categories")
    return bias_report(counts, facet, spec.name, positive or default_positive(seen))


def figure(reports: Mapping[str, Mapping[str, Any]]) -> Any:
    """CI and DPL per facet value as bars, one bar per report (e.g. before and after balancing): a
    matplotlib figure, for a notebook to show or ``chart`` to save."""
    import matplotlib.pyplot as plt
    first = next(iter(reports.values()))
    facets = sorted({f for r in reports.values() for f in r["metrics"]})
    width = 0.8 / len(reports)
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.45 * len(facets) + 2), 7), sharex=True)
    for ax, metric in zip(axes, ("CI", "DPL")):
        for i, (name, report) in enumerate(reports.items()):
            values = [(report["metrics"].get(f) or {}).get(metric) or 0.0 for f in facets]
            ax.bar([x + i * width for x in range(len(facets))], values, width, label=name)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_ylabel(metric)
        if len(reports) > 1:
            ax.legend()
    axes[0].set_title(f"{first['label']} across {first['facet']}: class imbalance (CI) and "
                      f"difference in '{first['positive']}' proportions (DPL)")
    axes[1].set_xticks([x + width * (len(reports) - 1) / 2 for x in range(len(facets))], facets, rotation=90,
                       fontsize=8)
    fig.tight_layout()
    return fig


def chart(reports: Mapping[str, Mapping[str, Any]]) -> bytes:
    """``figure`` as PNG bytes, drawn without a display (Glue, CI)."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = figure(reports)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return png.getvalue()


def bias(rt: Runtime, *, output_path: str, input_path: str | None = None, database: str | None = None,
         table: str | None = None, facet: str = sources.CATEGORY, label: str = "sentiment",
         positive: str | None = None, categories: Sequence[str] | None = None, overwrite: bool = False,
         skip_corrupt_files: bool = False) -> dict[str, Any]:
    """Writes SageMaker Clarify's pre-training bias metrics of ``label`` across ``facet`` to
    ``output_path`` (``bias.json``, ``bias.md``, ``bias.png``) and returns them. The keywords are
    ``reviewcat bias``'s flags."""
    source = sources.Source.of(input_path, database, table)
    claimed = rt.storage.claim_output(output_path, overwrite,
                                      "the folder for bias.json, bias.md and bias.png", sources.input_paths(rt, source))
    output = claimed.path
    readable, skipped = sources.readable_categories(rt, source, categories, skip_corrupt_files)
    log.info("counting %s per %s in %s", label, facet, source.describe())
    report = frame_bias(sources.read(rt, source, readable), facet, label, positive,
                        source.describe())
    if skipped:
        report["skipped_files"] = skipped
    metrics = markdown_table(report)
    for line in metrics.splitlines():
        log.info("%s", line)
    with rt.storage.staged(claimed) as staging:
        rt.storage.write_text(f"{staging}/{BIAS_JSON}", json_text(report))
        rt.storage.write_text(f"{staging}/{BIAS_MD}", f"# Bias of {report['label']} across {report['facet']}\n\n"
                              f"Positive class (DPL): {report['positive']}\n\n{metrics}\n")
        try:
            rt.storage.write_bytes(f"{staging}/{BIAS_PNG}", chart({report["label"]: report}))
        except ImportError:  # a Glue job without matplotlib still gets its numbers
            log.warning("matplotlib is not installed, so there is no %s: add it with --additional-python-modules",
                        BIAS_PNG)
    log.info("bias report in %s", output)
    return report


def run(rt: Runtime, args: Namespace) -> dict[str, Any]:
    return bias(rt, **stage_arguments(OPTIONS, args))
