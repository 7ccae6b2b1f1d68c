"""The hyperparameter search space, shared by the SageMaker tuner and the local fastText search.

Names are BlazingText's; ``FASTTEXT_NAMES`` maps them to the fastText arguments the local backend
passes, so both backends search exactly the same space.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from ..errors import ReviewcatError

FASTTEXT_NAMES = {"learning_rate": "lr", "vector_dim": "dim", "word_ngrams": "wordNgrams", "epochs": "epoch",
                  "min_count": "minCount", "buckets": "bucket"}
INTEGER = {"vector_dim", "word_ngrams", "epochs", "min_count", "buckets"}
# BlazingText's documented defaults for supervised mode: what SageMaker uses for anything not tuned.
BLAZINGTEXT_DEFAULTS: dict[str, Any] = {"learning_rate": 0.05, "vector_dim": 100, "word_ngrams": 2, "epochs": 5,
                                        "min_count": 5, "buckets": 2_000_000}
OBJECTIVE = "validation:accuracy"


@dataclass(frozen=True)
class Range:
    name: str
    low: float
    high: float

    @property
    def integer(self) -> bool:
        return self.name in INTEGER

    def value(self, u: float) -> float | int:
        """The point at fraction ``u`` of the range (integers: equal width per value)."""
        if self.integer:
            return int(min(self.high, self.low + int(u * (self.high - self.low + 1))))
        return round(float(self.low + u * (self.high - self.low)), 6)


@dataclass(frozen=True)
class SearchSpace:
    ranges: dict[str, Range]
    static: dict[str, Any] = field(default_factory=dict)
    max_jobs: int = 10
    max_parallel: int = 2
    objective: str = OBJECTIVE

    def fixed(self) -> dict[str, Any]:
        """BlazingText defaults for every known hyperparameter that is neither tuned nor set."""
        values = {k: v for k, v in BLAZINGTEXT_DEFAULTS.items() if k not in self.ranges}
        values.update(self.static)
        return values

    def to_dict(self) -> dict:
        return {"objective": self.objective, "max_jobs": self.max_jobs, "max_parallel": self.max_parallel,
                "ranges": {n: [r.low, r.high] for n, r in self.ranges.items()}, "static": self.fixed()}


DEFAULT_SPACE = SearchSpace(ranges={
    "learning_rate": Range("learning_rate", 0.01, 0.08),
    "vector_dim": Range("vector_dim", 100, 200),
    "word_ngrams": Range("word_ngrams", 1, 3),
    "epochs": Range("epochs", 5, 15),
})


def _number(name: str, text: Any) -> float | int:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ReviewcatError(f"hyperparameter {name}: {text!r} is not a number") from None
    if name in INTEGER:
        if value != int(value):
            raise ReviewcatError(f"hyperparameter {name} takes whole numbers, got {text}")
        return int(value)
    return value


def make_range(name: str, low: Any, high: Any) -> Range:
    if name not in FASTTEXT_NAMES:
        raise ReviewcatError(f"unknown hyperparameter {name!r}: tunable ones are {', '.join(FASTTEXT_NAMES)}")
    lo, hi = _number(name, low), _number(name, high)
    if lo > hi:
        raise ReviewcatError(f"invalid range for {name}: min {lo} is above max {hi}")
    if lo <= 0:
        raise ReviewcatError(f"invalid range for {name}: values must be above 0")
    return Range(name, lo, hi)


def parse_range(text: str) -> Range:
    """``name=min:max`` from the command line."""
    name, _, bounds = text.partition("=")
    low, sep, high = bounds.partition(":")
    if not sep:
        raise ReviewcatError(f"--range {text!r}: write name=min:max, e.g. learning_rate=0.01:0.08")
    return make_range(name.strip(), low, high)


def parse_static(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or name.strip() not in FASTTEXT_NAMES:
        raise ReviewcatError(f"--static {text!r}: write name=value with one of {', '.join(FASTTEXT_NAMES)}")
    return name.strip(), _number(name.strip(), value)


def load_space_file(path: str) -> dict:
    """A JSON or YAML file with any of: ranges {name: [min, max]}, static, max_jobs, max_parallel."""
    file = Path(path)
    if not file.is_file():
        raise ReviewcatError(f"search space file {path} not found")
    text = file.read_text()
    try:
        if file.suffix in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # the parsers' own errors name line and column
        raise ReviewcatError(f"cannot read search space file {path}: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict) or set(data) - {"ranges", "static", "max_jobs", "max_parallel"}:
        raise ReviewcatError(f"search space file {path} must be a mapping of ranges, static, max_jobs, max_parallel")
    return data


def build_space(file: str | None = None, ranges: Iterable[str] = (), static: Iterable[str] = (),
                max_jobs: int | None = None, max_parallel: int | None = None) -> SearchSpace:
    """Defaults, then the file, then command-line flags: later ones win."""
    space = DEFAULT_SPACE
    data = load_space_file(file) if file else {}
    new_ranges = dict(space.ranges)
    for name, bounds in (data.get("ranges") or {}).items():
        if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
            raise ReviewcatError(f"range {name} in {file} must be [min, max]")
        new_ranges[name] = make_range(name, *bounds)
    new_static = {k: _number(k, v) for k, v in (data.get("static") or {}).items()}
    for text in ranges:
        r = parse_range(text)
        new_ranges[r.name] = r
    for text in static:
        name, value = parse_static(text)
        new_static[name] = value
    for name in new_static:
        new_ranges.pop(name, None)  # a fixed value replaces a range
    space = replace(space, ranges=new_ranges, static=new_static,
                    max_jobs=int(max_jobs or data.get("max_jobs") or space.max_jobs),
                    max_parallel=int(max_parallel or data.get("max_parallel") or space.max_parallel))
    if space.max_jobs < 1 or space.max_parallel < 1:
        raise ReviewcatError("--max-jobs and --max-parallel must be at least 1")
    return space
