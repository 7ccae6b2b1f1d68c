"""The Arrow UDF that turns review texts into tokens, a pandas batch at a time.

It lives apart from ``text`` because pandas is slow to import: ``reviewcat predict`` cleans and
tokenizes one text with ``text`` and never needs it, and importing pandas took longer than the
rest of a cold prediction (docs/performance.md, Cold start). This module is imported where a job
plans the UDF, and in the workers.
"""
from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from reviewcat.prep.cleaning import clean


def review_tokens_batch(texts: pd.Series, min_chars: pd.Series) -> pd.Series:
    from reviewcat.prep.tokens import tokenize_batch  # in the Python worker only: see tokens.py
    cleaned = [clean(t) for t in texts]
    floor = int(min_chars.iloc[0]) if len(min_chars) else 0
    kept = [i for i, text in enumerate(cleaned) if len(text) >= floor]
    tokens = pd.Series([None] * len(cleaned), index=texts.index, dtype=object)
    tokens.iloc[kept] = tokenize_batch([cleaned[i] for i in kept])
    return tokens


# One UDF, one pass through Python per batch, doing all the Python-side work: clean, drop short
# texts, tokenize. Deterministic, but declared otherwise: Spark copies a deterministic UDF into any
# filter on its result that it pushes down, and every review was tokenized twice.
review_tokens_udf = F.pandas_udf(review_tokens_batch, StringType()).asNondeterministic()
