"""Column expressions the jobs share."""
from __future__ import annotations

from typing import Any, Mapping

from pyspark.sql import Column, functions as F


def lookup(mapping: Mapping[Any, Any], key: Column) -> Column:
    """``mapping[key]`` for every row, null for keys it lacks: a literal map, so no join and no UDF."""
    return F.create_map(*[F.lit(x) for item in mapping.items() for x in item])[key]
