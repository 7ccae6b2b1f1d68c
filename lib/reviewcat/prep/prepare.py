"""The prepare job: balanced reviews -> shuffled fastText/BlazingText train, validation and test files."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from argparse import Namespace
from typing import Mapping, Sequence

from pyspark.sql import DataFrame, Observation, functions as F
from pyspark.sql.types import ArrayType

from reviewcat import __version__
from reviewcat.prep import line_counts
from reviewcat.prep.labels import label_spec, refuse_unlabelled, require_label_column
from reviewcat.prep.splits import PART, SHUFFLE_ORDER, assign_split, ordered_parts, parse_split, part_keys
from reviewcat.prep.text import label_map, to_lines
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import OUTPUT, READING, SOURCE, Option, positive_int, stage_arguments
from reviewcat.runtime.storage import json_text
from reviewcat.schema import BALANCE_FILE, BIAS_FILE, LABEL, MANIFEST, SPLITS
from reviewcat.tables import code_counts, sources
from reviewcat.tables.writers import write_split_files

log = logging.getLogger(__name__)


OPTIONS = SOURCE + READING + OUTPUT + [
    Option("label", "what becomes __label__<x>: category, sentiment (star_rating 1-2 negative, 3 neutral, 4-5 "
           "positive), stars or a column name (a column of lists: several labels a line)", default="category"),
    Option("text-column", "column with the review text", default="review_body"),
    Option("min-chars", "drop reviews shorter than this after cleaning", positive_int, 20),
    Option("split", "train,validation,test fractions", default="0.6,0.2,0.2"),
    Option("group-column", "keep all rows with one value of this column in one split (e.g. product_parent): test "
           "accuracy then measures unseen groups, not memory of seen ones (default: split by text)"),
]


@dataclass(frozen=True)
class PrepareResult:
    output_path: str
    manifest: dict


def label_names(frame: DataFrame, label: str = "category", categories: Sequence[str] | None = None) -> dict[str, str]:
    """``__label__<x>`` -> class name for every class of ``label`` in ``frame``: the sentiment and star
    classes are fixed, categories are ``categories`` when known (the job lists the partitions), other
    values are read from the frame."""
    spec = label_spec(label)
    if spec.column == sources.CATEGORY and categories is not None:
        return label_map(categories)
    if spec.classes:
        return label_map(spec.classes)
    labelled = _with_label(frame, label)
    several = isinstance(labelled.schema[LABEL].dataType, ArrayType)  # lists: their values are the classes
    value = (F.explode(LABEL) if several else F.col(LABEL)).alias("class")
    return label_map(r[0] for r in labelled.select(value).where(F.col("class").isNotNull()).distinct().collect())


def _with_label(frame: DataFrame, label: str) -> DataFrame:
    """``frame`` with each row's class in ``LABEL`` (the job adds it before counting the unlabelled)."""
    if LABEL in frame.columns:
        return frame
    return frame.withColumn(LABEL, require_label_column(frame, label_spec(label), "the frame", lists=True).expression())


def fasttext_lines(frame: DataFrame, label: str = "category", text_column: str = "review_body",
                   min_chars: int = 20, labels: Mapping[str, str] | None = None,
                   group_column: str | None = None) -> DataFrame:
    """``(review_id, label, tokens)`` per review: the text cleaned and NLTK-tokenized exactly as
    training and prediction see it, the class as ``__label__<x>``; reviews shorter than ``min_chars``
    after cleaning are left out. ``labels`` (from ``label_names``) fixes the classes, else the frame's
    are used. Repeated texts stay: ``split_lines`` (and the job's write) removes them. With
    ``group_column``, the rows carry its value, and ``split_lines`` keeps each group in one split.
    """
    labelled = _with_label(frame, label)
    return to_lines(labelled, dict(labels or label_names(labelled, label)), LABEL, text_column, min_chars,
                    group_column=group_column)


def _beside(rt: Runtime, source: sources.Source, name: str) -> dict | None:
    """A JSON file the balance job left beside its output (``_balance.json``, ``_bias.json``), if any."""
    path = f"{sources.location(rt, source).rstrip('/')}/{name}"
    return json.loads(rt.storage.read_text(path)) if rt.storage.exists(path) else None


def _rows_read(rt: Runtime, read: Observation, source: sources.Source, categories: list[str]) -> int:
    """The input's rows, counted while the job read them. Spark reports nothing when the job wrote
    no rows at all; then the parquet footers answer (a separate job the normal run saves)."""
    rows = code_counts.metrics(read).get("rows")
    return int(rows) if rows is not None else sum(sources.count_by_category(rt, source, categories).values())


def _check_counts(counts: dict[str, dict[str, int]], labels: dict[str, str], min_chars: int, split: str,
                 group_column: str | None) -> None:
    totals = {label: sum(per_split.get(label, 0) for per_split in counts.values()) for label in labels}
    empty = [labels[label] for label, n in totals.items() if n == 0]
    if empty:
        raise ReviewcatError(f"no reviews left for {', '.join(empty)} after cleaning, --min-chars {min_chars} "
                             "and de-duplication: lower --min-chars or leave the category out")
    for name in SPLITS:
        if not counts[name]:
            few = f" (or has too few values of --group-column {group_column})" if group_column else ""
            raise ReviewcatError(f"split {name} is empty: the input is too small for --split {split}{few}")
        missing = [labels[label] for label in labels if label not in counts[name]]
        if missing:
            log.warning("split %s has no reviews of %s", name, ", ".join(missing))


def prepare(rt: Runtime, *, output_path: str, input_path: str | None = None, database: str | None = None,
            table: str | None = None, label: str = "category", text_column: str = "review_body",
            min_chars: int = 20, split: str = "0.6,0.2,0.2", group_column: str | None = None, seed: int = 42,
            overwrite: bool = False, skip_corrupt_files: bool = False) -> PrepareResult:
    """Writes shuffled fastText/BlazingText ``train``, ``validation`` and ``test`` files, one per split,
    and ``manifest.json`` under ``output_path``. The keywords are ``reviewcat prepare``'s flags."""
    source = sources.Source.of(input_path, database, table)
    fractions = parse_split(split)
    claimed = rt.storage.claim_output(output_path, overwrite,
                                      "where to write the train/validation/test files", sources.input_paths(rt, source))
    output = claimed.path

    categories, skipped = sources.readable_categories(rt, source, skip_corrupt_files=skip_corrupt_files)
    frame = sources.read(rt, source, categories)
    spec = require_label_column(frame, label_spec(label), source.describe(), lists=True)
    sources.require_columns(frame, {"review_id": None, text_column: "--text-column",
                                    **({group_column: "--group-column"} if group_column else {})}, source)
    frame = frame.withColumn(LABEL, spec.expression())
    labels = label_names(frame, label, categories)
    log.info("preparing the reviews of %d labels (%s) from %s", len(labels), spec.name, source.describe())

    read = Observation("rows read")
    observed = frame.observe(read, F.count(F.lit(1)).alias("rows"),
                             F.count(F.when(F.col(LABEL).isNull(), 1)).alias("unlabelled"))
    tokenized = fasttext_lines(observed, label, text_column, min_chars, labels, group_column)
    # A bucket of each split per core: every core orders an equal share of each split.
    parts_per_split = rt.spark.sparkContext.defaultParallelism
    lines = ordered_parts(assign_split(tokenized, fractions, seed), seed, parts_per_split)
    if not spec.several:
        lines, written = line_counts.observe(lines, SPLITS, list(labels), parts_per_split)
    with rt.storage.staged(claimed) as staging:
        # One Spark job with one shuffle (two with a group column) reads, cleans, tokenizes, splits,
        # de-duplicates, writes and counts; a failed check of the written files deletes them with the staging folder.
        log.info("cleaning, tokenizing and writing shuffled %s files", "/".join(SPLITS))
        paths = write_split_files(rt.storage, lines, PART, part_keys(parts_per_split), staging, SHUFFLE_ORDER)
        if spec.several:  # a line counts for each label it carries: read back from the files
            counts, rows = line_counts.in_files(rt.spark, paths, SPLITS)
        else:
            counts = line_counts.written(written, rt.spark, paths, SPLITS, list(labels))
            rows = {name: sum(counts[name].values()) for name in SPLITS}
        rows_in = _rows_read(rt, read, source, categories)
        refuse_unlabelled(frame, spec, int(code_counts.metrics(read).get("unlabelled") or 0), source.describe())
        _check_counts(counts, labels, min_chars, split, group_column)
        files = {split: {"path": f"{split}/{split}.txt", "rows": rows[split],
                         "sha256": rt.storage.sha256(paths[split]), "labels": dict(sorted(counts[split].items()))}
                 for split in SPLITS}
        manifest = {
            "created_by": f"reviewcat {__version__}",
            "source": source.describe(),
            "seed": seed,
            "label_column": spec.column,
            "label": spec.to_dict(),
            "text_column": text_column,
            "min_chars": min_chars,
            "split": fractions,
            "split_group_column": group_column,
            "rows_in": rows_in,
            "rows_out": sum(f["rows"] for f in files.values()),
            "labels": labels,
            "balance": _beside(rt, source, BALANCE_FILE),
            "bias": _beside(rt, source, BIAS_FILE),
            "files": files,
            **({"skipped_files": skipped} if skipped else {}),
        }
        rt.storage.write_text(f"{staging}/{MANIFEST}", json_text(manifest))
    log.info("prepared %d of %d reviews: train %d, validation %d, test %d -> %s", manifest["rows_out"], rows_in,
             files["train"]["rows"], files["validation"]["rows"], files["test"]["rows"], output)
    return PrepareResult(output, manifest)


def run(rt: Runtime, args: Namespace) -> PrepareResult:
    return prepare(rt, **stage_arguments(OPTIONS, args))
