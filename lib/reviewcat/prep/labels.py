"""What a review is labelled with: its product category, a sentiment or star class from its rating, or
any column of the table.

The course's sentiment classes come from the star rating: 1-2 negative, 3 neutral, 4-5 positive.
A rating outside 1-5, or none, gets no class: the jobs count such reviews and refuse the input
rather than guess one (a 0 or a 4.5 says the table is not what the user thinks).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from pyspark.sql import Column, DataFrame, functions as F
from pyspark.sql.types import ArrayType

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import CATEGORY, RATING, SENTIMENT


@dataclass(frozen=True)
class LabelSpec:
    """``name`` as the user gave it; ``column`` is what it is read from; ``meaning`` maps each class
    to what it stands for (empty when the classes are a column's own values)."""
    name: str
    column: str
    meaning: dict[str, str] = field(default_factory=dict)
    several: bool = False  # the column holds lists: several classes a row (prepare only)

    @property
    def classes(self) -> list[str] | None:
        """The classes known before reading any row (sentiment, stars), else None."""
        return list(self.meaning) or None

    @property
    def from_rating(self) -> bool:
        return self.name in ("sentiment", "stars")

    def expression(self) -> Column:
        """Each row's class as a string (its classes as a sorted array of distinct strings, when
        ``several``); null where the row has none."""
        if self.several:
            # A one-argument lambda: Spark 4's trim takes a second argument, which transform would feed the index.
            values = F.filter(F.transform(F.col(self.column).cast("array<string>"), lambda v: F.trim(v)),
                              lambda v: v != "")
            values = F.array_sort(F.array_distinct(values))
            return F.when(F.size(values) > 0, values)
        if not self.from_rating:
            return F.col(self.column).cast("string")
        rating = F.col(self.column).cast("double")
        if self.name == "stars":
            return F.when(rating.isin(1.0, 2.0, 3.0, 4.0, 5.0), rating.cast("int").cast("string"))
        classes = None
        for name, stars in SENTIMENT.items():
            test = rating.isin(*map(float, stars))
            classes = F.when(test, F.lit(name)) if classes is None else classes.when(test, F.lit(name))
        return classes

    def to_dict(self) -> dict:
        return {"name": self.name, "column": self.column, **({"meaning": self.meaning} if self.meaning else {}),
                **({"several": True} if self.several else {})}


def _stars_text(stars: tuple[int, ...]) -> str:
    return f"{RATING} {stars[0]}" + (f"-{stars[-1]}" if len(stars) > 1 else "")


def label_spec(name: str | None) -> LabelSpec:
    """``category`` (the default; the partition column's name says the same), ``sentiment``, ``stars``
    or a column name."""
    name = (name or "category").strip()
    if name in ("category", CATEGORY):
        return LabelSpec("category", CATEGORY)
    if name == "sentiment":
        return LabelSpec(name, RATING, {c: _stars_text(s) for c, s in SENTIMENT.items()})
    if name == "stars":
        return LabelSpec(name, RATING, {str(s): _stars_text((s,)) for s in range(1, 6)})
    if not name:
        raise ReviewcatError("--label is empty: give category, sentiment, stars or a column name")
    return LabelSpec(name, name)


def require_label_column(frame: DataFrame, spec: LabelSpec, source: str, lists: bool = False) -> LabelSpec:
    """``spec`` once its column is known to be in ``frame``; marked ``several`` when the column holds
    lists, which only a caller that writes several labels a line (``lists``) takes."""
    if spec.column not in frame.columns:
        need = f"--label {spec.name} needs a {spec.column} column: " if spec.from_rating else ""
        raise ReviewcatError(f"{need}{source} has no column {spec.column} (columns: {', '.join(frame.columns)}): "
                             "check --label")
    if not isinstance(frame.schema[spec.column].dataType, ArrayType):
        return spec
    if spec.from_rating:
        raise ReviewcatError(f"--label {spec.name} needs one rating a review in {spec.column}, but in {source} it "
                             "holds lists: give --label the column itself for several labels a line")
    if not lists:
        raise ReviewcatError(f"--label {spec.name}: {spec.column} in {source} holds lists (several classes a review), "
                             "and balancing and bias count one class a review: prepare it directly "
                             f"(reviewcat prepare --label {spec.name})")
    return replace(spec, several=True)


def refuse_unlabelled(frame: DataFrame, spec: LabelSpec, unlabelled: int, source: str) -> None:
    """One line for rows without a class: how many, and which ratings they hold."""
    if not unlabelled:
        return
    if not spec.from_rating:
        lists = " (null or empty lists)" if spec.several else ""
        raise ReviewcatError(f"{unlabelled:,} reviews in {source} have no {spec.column}{lists}: filter them out first")
    seen = [r[0] for r in frame.where(spec.expression().isNull()).select(F.col(spec.column)).distinct()
            .orderBy(F.col(spec.column).asc_nulls_first()).limit(6).collect()]
    shown = ", ".join("none" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in seen[:5])
    raise ReviewcatError(f"{unlabelled:,} reviews in {source} have a {spec.column} outside 1-5 ({shown}"
                         f"{', ...' if len(seen) > 5 else ''}): --label {spec.name} needs whole stars from 1 to 5; "
                         "filter or fix those rows first")
