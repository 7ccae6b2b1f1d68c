"""The hyperparameter search space, shared by the SageMaker tuner and the local fastText search.

Names are BlazingText's; ``FASTTEXT_NAMES`` maps them to the fastText arguments the local backend
passes, so both backends search exactly the same space. The one exception is ``subwords``
(character n-grams of 3 to 6 letters, BlazingText's word2vec defaults): BlazingText's supervised
mode has no character n-grams, so only the local backend searches it.

Without ranges from the user, the space comes from the training data (``derive_space``). One
space for every size fails one end: BlazingText's recommended ranges (learning_rate 0.01-0.08,
5-15 epochs) are made for millions of reviews, and on 8k lines in 49 classes they underfit to a
validation accuracy of 0.04-0.25, while lr 0.8 over 25 epochs reaches 0.60. What decides it is
how often the model sees each class: measured on two corpora of real text, a configuration fits
once learning_rate x epochs is about 10 at ~170 lines a class, and BlazingText's 0.05 x 5 suffice
at tens of thousands a class.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from reviewcat.runtime.errors import ReviewcatError

FASTTEXT_NAMES = {"learning_rate": "lr", "vector_dim": "dim", "word_ngrams": "wordNgrams", "epochs": "epoch",
                  "min_count": "minCount", "buckets": "bucket"}
# Searched by the local backend only: 1 = character n-grams of 3 to 6 letters (fastText minn/maxn).
LOCAL_ONLY = {"subwords": {0: {"minn": 0, "maxn": 0}, 1: {"minn": 3, "maxn": 6}}}
TUNABLE = [*FASTTEXT_NAMES, *LOCAL_ONLY]
# fastText's loss, fixed for a search (``train --loss``): BlazingText's supervised mode has none
# (it trains a softmax), so only the local backend takes another. ``ova`` (one-vs-all) scores every
# label on its own, for texts that belong to several.
LOSSES = ("softmax", "ova", "hs")
INTEGER = {"vector_dim", "word_ngrams", "epochs", "min_count", "buckets", "subwords"}
# BlazingText's documented defaults for supervised mode: what SageMaker uses for anything not tuned.
BLAZINGTEXT_DEFAULTS: dict[str, Any] = {"learning_rate": 0.05, "vector_dim": 100, "word_ngrams": 2, "epochs": 5,
                                        "min_count": 5, "buckets": 2_000_000}
OBJECTIVE = "validation:accuracy"


@dataclass(frozen=True)
class Range:
    name: str
    low: float
    high: float
    log: bool = False  # sampled evenly in log space (SageMaker's "Logarithmic" scaling)

    @property
    def integer(self) -> bool:
        return self.name in INTEGER

    def value(self, u: float) -> float | int:
        """The point at fraction ``u`` of the range (integers: equal width per value)."""
        if self.integer:
            if self.log:
                edge = math.exp(math.log(self.low) + u * (math.log(self.high + 1) - math.log(self.low)))
                return int(min(self.high, math.floor(edge)))
            return int(min(self.high, self.low + int(u * (self.high - self.low + 1))))
        if self.log:
            return round(float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))), 6)
        return round(float(self.low + u * (self.high - self.low)), 6)

    def to_list(self) -> list:
        return [self.low, self.high, "log"] if self.log else [self.low, self.high]


@dataclass(frozen=True)
class EarlyStopping:
    """BlazingText's early stopping: after ``min_epochs``, stop when validation accuracy has not
    improved for ``patience`` epochs (its defaults: 4 and 5)."""
    patience: int = 4
    min_epochs: int = 5

    def hyperparameters(self) -> dict[str, Any]:
        return {"early_stopping": True, "patience": self.patience, "min_epochs": self.min_epochs}


def early_stopping_described(record: dict[str, Any]) -> str:
    """The local early stopping's outcome (``search.json``'s ``early_stopping``) in a line, for the
    report and the model card."""
    settings = f"patience {record['patience']} after {record['min_epochs']} epochs"
    searched = record["searched_epochs"]
    if searched <= record["min_epochs"]:
        return f"early stopping ({settings}): the search's {searched} epochs are no more than that, nothing to stop"
    if record["epochs"] == searched:
        return f"early stopping ({settings}): kept the search's {searched} epochs, no fewer did as well"
    return (f"early stopping ({settings}): {record['epochs']} epochs instead of the search's {searched}, "
            f"validation accuracy {record['validation_accuracy']:.4f} against "
            f"{record['accuracies'][str(searched)]:.4f}")


@dataclass(frozen=True)
class SearchSpace:
    ranges: dict[str, Range]
    static: dict[str, Any] = field(default_factory=dict)
    max_jobs: int = 10
    max_parallel: int = 2
    objective: str = OBJECTIVE
    derived_from: dict[str, Any] | None = None  # the data statistics a derived space came from, and why

    @property
    def sagemaker_ranges(self) -> dict[str, Range]:
        return {n: r for n, r in self.ranges.items() if n not in LOCAL_ONLY}

    @property
    def max_epochs(self) -> int:
        """The most epochs a configuration of this space trains."""
        return int(self.ranges["epochs"].high if "epochs" in self.ranges else self.fixed()["epochs"])

    def fixed(self) -> dict[str, Any]:
        """BlazingText defaults for every known hyperparameter that is neither tuned nor set."""
        values = {k: v for k, v in BLAZINGTEXT_DEFAULTS.items() if k not in self.ranges}
        values.update(self.static)
        return values

    def to_dict(self) -> dict:
        return {"objective": self.objective, "max_jobs": self.max_jobs, "max_parallel": self.max_parallel,
                "ranges": {n: r.to_list() for n, r in self.ranges.items()}, "static": self.fixed(),
                **({"derived_from": self.derived_from} if self.derived_from else {})}


DEFAULT_SPACE = SearchSpace(ranges={
    "learning_rate": Range("learning_rate", 0.01, 0.08),
    "vector_dim": Range("vector_dim", 100, 200),
    "word_ngrams": Range("word_ngrams", 1, 3),
    "epochs": Range("epochs", 5, 15),
})


@dataclass(frozen=True)
class DataStats:
    """What the space is derived from: the training split's lines, tokens and labels."""
    lines: int
    tokens: int
    labels: int

    @property
    def lines_per_label(self) -> float:
        return self.lines / max(1, self.labels)


# Lines per class at which the small-data and the large-data ends of each range apply; in between,
# every bound moves geometrically with log(lines per class).
SMALL, LARGE = 300, 30_000
# (small-data bounds, large-data bounds, log scale). The large end is BlazingText's recommendation
# for millions of reviews; the small end is where the real-text corpora fit (lr x epochs >= 10).
DERIVED_RANGES = {
    "learning_rate": ((0.3, 3.0), (0.02, 0.1), True),
    "epochs": ((10, 80), (5, 15), True),
    "vector_dim": ((50, 150), (100, 200), False),
}
# Character n-grams: +0.024 validation accuracy on docstrings (identifiers share pieces), but their
# cost grows with each line's characters: a modest surcharge on docstrings (10 tokens a line), a
# multiple of the training time on reviews (38). On 18.5k generated reviews every configuration with
# them lost to those without at the first rung (0.54-0.79 against 0.79-0.83), and leaving them out
# gave the same test accuracy (0.8315) in less time (timings in docs/performance.md, Training). So
# they are searched for short lines in small sets only.
SUBWORDS_BELOW = 3_000  # lines a class
SUBWORDS_MAX_TOKENS = 20  # a line, on average: man pages have 7, docstrings 10, reviews 38


def _toward_large(stats: DataStats) -> float:
    """0 at SMALL lines per class or fewer, 1 at LARGE or more, log-linear in between."""
    where = (math.log(stats.lines_per_label) - math.log(SMALL)) / (math.log(LARGE) - math.log(SMALL))
    return min(1.0, max(0.0, where))


def _between(small: float, large: float, t: float, integer: bool) -> float | int:
    value = small * (large / small) ** t
    return round(value) if integer else round(value, 4)


def derive_space(stats: DataStats) -> SearchSpace:
    """The default space for this training data: see the module docstring for the measurements."""
    t = _toward_large(stats)
    ranges = {}
    for name, (small, large, log) in DERIVED_RANGES.items():
        low, high = (_between(s, l, t, name in INTEGER) for s, l in zip(small, large))
        ranges[name] = Range(name, low, high, log)
    ranges["word_ngrams"] = Range("word_ngrams", 1, 2 if t < 0.5 else 3)
    if stats.lines_per_label < SUBWORDS_BELOW and stats.tokens <= SUBWORDS_MAX_TOKENS * stats.lines:
        ranges["subwords"] = Range("subwords", 0, 1)
    # Rare words carry the signal in small sets; large ones drop them as BlazingText does. Buckets for
    # word n-grams: about one per token, within 100k and BlazingText's 2M (a 2M x 200 table is 1.6 GB).
    static = {"min_count": int(_between(1, 5, t, True)),
              "buckets": int(min(2_000_000, max(100_000, round(stats.tokens, -5))))}
    reason = (f"{stats.lines:,} training lines in {stats.labels} labels ({stats.lines_per_label:,.0f} a label), "
              f"{stats.tokens:,} tokens ({stats.tokens / max(1, stats.lines):.0f} a line): {round(t * 100)}% of the way from the small-data space "
              f"({SMALL} lines a label) to BlazingText's ({LARGE:,})")
    return SearchSpace(ranges=ranges, static=static,
                       derived_from={"lines": stats.lines, "tokens": stats.tokens, "labels": stats.labels,
                                     "reason": reason})


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


def make_range(name: str, low: Any, high: Any, scale: str | None = None) -> Range:
    if name not in TUNABLE:
        raise ReviewcatError(f"unknown hyperparameter {name!r}: tunable ones are {', '.join(TUNABLE)}")
    lo, hi = _number(name, low), _number(name, high)
    if lo > hi:
        raise ReviewcatError(f"invalid range for {name}: min {lo} is above max {hi}")
    if name in LOCAL_ONLY:
        if not {lo, hi} <= set(LOCAL_ONLY[name]):
            raise ReviewcatError(f"invalid range for {name}: values are {' or '.join(map(str, LOCAL_ONLY[name]))}")
    elif lo <= 0:
        raise ReviewcatError(f"invalid range for {name}: values must be above 0")
    if scale not in (None, "log", "linear"):
        raise ReviewcatError(f"invalid range for {name}: scale {scale!r} is not log or linear")
    return Range(name, lo, hi, scale == "log")


def parse_range(text: str) -> Range:
    """``name=min:max`` or ``name=min:max:log`` from the command line."""
    name, _, bounds = text.partition("=")
    parts = bounds.split(":")
    if len(parts) not in (2, 3):
        raise ReviewcatError(f"--range {text!r}: write name=min:max[:log], e.g. learning_rate=0.01:0.08")
    return make_range(name.strip(), *parts)


def parse_static(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or name.strip() not in TUNABLE:
        raise ReviewcatError(f"--static {text!r}: write name=value with one of {', '.join(TUNABLE)}")
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
                max_jobs: int | None = None, max_parallel: int | None = None,
                stats: DataStats | None = None, loss: str = "softmax",
                early_stopping: EarlyStopping | None = None) -> SearchSpace:
    """Defaults (derived from ``stats`` when given), then the file, then command-line flags: later ones
    win. ``loss`` and ``early_stopping`` join the fixed values (softmax, fastText's and BlazingText's
    own, is left implicit)."""
    space = derive_space(stats) if stats else DEFAULT_SPACE
    data = load_space_file(file) if file else {}
    user_ranges: dict[str, Range] = {}
    for name, bounds in (data.get("ranges") or {}).items():
        if not isinstance(bounds, (list, tuple)) or len(bounds) not in (2, 3):
            raise ReviewcatError(f"range {name} in {file} must be [min, max] or [min, max, log]")
        user_ranges[name] = make_range(name, *bounds)
    user_static = {k: _number(k, v) for k, v in (data.get("static") or {}).items()}
    for text in ranges:
        r = parse_range(text)
        user_ranges[r.name] = r
    for text in static:
        name, value = parse_static(text)
        user_static[name] = value
    # The user's choices win over the defaults, and a fixed value replaces a range of either origin.
    new_static = {**{k: v for k, v in space.static.items() if k not in user_ranges}, **user_static}
    new_ranges = {n: r for n, r in {**space.ranges, **user_ranges}.items() if n not in new_static}
    derived = space.derived_from and {**space.derived_from, "set_by_user": sorted({*user_ranges, *user_static})}
    space = replace(space, ranges=new_ranges, static=new_static, derived_from=derived,
                    max_jobs=int(max_jobs or data.get("max_jobs") or space.max_jobs),
                    max_parallel=int(max_parallel or data.get("max_parallel") or space.max_parallel))
    if space.max_jobs < 1 or space.max_parallel < 1:
        raise ReviewcatError("--max-jobs and --max-parallel must be at least 1")
    if loss not in LOSSES:
        raise ReviewcatError(f"unknown --loss {loss!r}: use one of {', '.join(LOSSES)}")
    if early_stopping and early_stopping.min_epochs > space.max_epochs:
        raise ReviewcatError(f"--min-epochs is {early_stopping.min_epochs}, above the most epochs the search trains "
                             f"({space.max_epochs}): give a lower --min-epochs, or search more epochs with "
                             "--range epochs=MIN:MAX")
    extra = {**({"loss": loss} if loss != "softmax" else {}),
             **(early_stopping.hyperparameters() if early_stopping else {})}
    return replace(space, static={**space.static, **extra}) if extra else space
