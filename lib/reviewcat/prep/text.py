"""Review text to fastText lines: cleaning, NLTK tokenizing, labels, de-duplication.

``cleaning.clean`` and ``tokens.tokenize`` are the single definition of how text becomes model input:
the Spark job runs them in vectorised (Arrow) UDFs (``tokens.tokenize_batch``, tested to give the
same tokens) and ``reviewcat predict`` calls the same functions, so a model never sees text
prepared differently from its training data.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from pyspark.sql import Column, DataFrame, functions as F
from pyspark.sql.types import ArrayType

from reviewcat.prep.cleaning import clean
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import SPLIT_GROUP
from reviewcat.tables.columns import lookup

LABEL_PREFIX = "__label__"


def normalize(text: str | None) -> str:
    """What the model reads for a raw review: cleaned, tokenized, space-joined."""
    from reviewcat.prep.tokens import tokenize
    return " ".join(tokenize(clean(text)))


def label_for(category: object) -> str:
    """``__label__`` + the lowercased name with every run of other characters as one ``_``."""
    name = re.sub(r"[^a-z0-9]+", "_", str(category).lower()).strip("_")
    if not name:
        raise ReviewcatError(f"category {category!r} has no letters or digits to make a label from")
    return LABEL_PREFIX + name


def label_map(categories: Iterable[object]) -> dict[str, str]:
    """Label -> original category, refusing two categories that would share a label."""
    labels: dict[str, str] = {}
    for category in sorted({str(c) for c in categories}):
        label = label_for(category)
        if label in labels:
            raise ReviewcatError(f"categories {labels[label]!r} and {category!r} both become {label}: "
                                 "rename one of them")
        labels[label] = category
    return labels


def review_tokens(text: Column | str, min_chars: int) -> Column:
    """Space-joined tokens of the cleaned text, or null where it has fewer than ``min_chars`` characters."""
    from reviewcat.prep.text_batches import review_tokens_udf  # imports pandas: only where a job plans the UDF
    return review_tokens_udf(F.col(text) if isinstance(text, str) else text, F.lit(int(min_chars)))


def to_lines(frame: DataFrame, labels: Mapping[str, str], label_column: str, text_column: str,
             min_chars: int, id_column: str = "review_id", group_column: str | None = None) -> DataFrame:
    """``(review_id, label, tokens)`` rows: cleaned and tokenized, reviews without text left out;
    with ``group_column``, its value (as text) in ``SPLIT_GROUP`` too, for ``splits.assign_split``.

    Repeated texts are still here: ``splits.ordered_parts`` removes them in the same
    shuffle that orders the split files, and joins label and tokens into lines after it (a line
    column before it would send every text through the shuffle twice).
    """
    to_label = {category: label for label, category in labels.items()}
    value = F.col(label_column)
    label = (F.array_join(F.array_sort(F.transform(value, lambda v: lookup(to_label, v))), " ")  # __label__a __label__b
             if isinstance(frame.schema[label_column].dataType, ArrayType) else lookup(to_label, value.cast("string")))
    return (frame
            .where(value.isNotNull())
            .select(F.col(id_column).alias("review_id"), label.alias("label"),
                    review_tokens(text_column, min_chars).alias("tokens"),
                    *([F.col(group_column).cast("string").alias(SPLIT_GROUP)] if group_column else []))
            .where(F.col("tokens").isNotNull() & (F.col("tokens") != "")))
