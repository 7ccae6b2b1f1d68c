"""The prepared splits as the trainers read them: checked once, with errors that name the line."""
from __future__ import annotations

import functools
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from reviewcat.prep.text import LABEL_PREFIX
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import SEARCH_FILE, SPLITS
from reviewcat.train.model_file import recorded
from reviewcat.train.space import DataStats

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Labeled:
    """A split file's lines: each one's first label, its text (without labels), and, for the lines
    with several (``__label__a __label__b text``), the others by line index."""
    labels: list[str]
    texts: list[str]
    tokens: int = 0
    others: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def gold(self, index: int) -> tuple[str, ...]:
        """Every label of line ``index``."""
        return (self.labels[index], *self.others.get(index, ()))

    def stats(self) -> DataStats:
        labels = set(self.labels).union(*self.others.values())
        return DataStats(lines=len(self.labels), tokens=self.tokens, labels=len(labels))


def read_labeled(path: Path, keep_text: bool = True) -> Labeled:
    """Label and text of every line; a line without a ``__label__`` is an error, not a silent skip.

    fastText itself skips lines with no label or no words without a word, which hides broken input.
    ``keep_text=False`` checks every line the same way but keeps only the labels, for large files.
    """
    if not path.is_file():
        raise ReviewcatError(f"split file {path} not found: run `reviewcat prepare` first or check --data")
    if keep_text:
        return _read(path, True)
    status = path.stat()
    return _read_labels(path, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=4)
def _read_labels(path: Path, mtime_ns: int, size: int) -> Labeled:
    """The labels of an unchanged file, read once: training counts them for its space and again in the
    search, each time a full read of a file that can hold millions of lines."""
    return _read(path, False)


def _read(path: Path, keep_text: bool) -> Labeled:
    labels, texts, tokens, others = [], [], 0, {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            label, _, text = line.rstrip("\n").partition(" ")
            if not label.startswith(LABEL_PREFIX) or len(label) == len(LABEL_PREFIX):
                raise ReviewcatError(f"{path} line {number} does not start with a __label__<name>: "
                                     f"{line[:60].rstrip()!r}")
            more = []
            while text.startswith(LABEL_PREFIX):  # a line of several labels, as fastText reads it
                extra, _, text = text.partition(" ")
                more.append(sys.intern(extra))
            if not text.strip():
                raise ReviewcatError(f"{path} line {number} has a label but no text")
            if more:
                others[len(labels)] = tuple(more)
            labels.append(sys.intern(label))  # one string per label, not per line
            tokens += text.count(" ") + 1
            if keep_text:
                texts.append(text)
    if not labels:
        raise ReviewcatError(f"split file {path} is empty: nothing to train or evaluate on")
    return Labeled(labels, texts, tokens, others)


@dataclass(frozen=True)
class Prepared:
    root: Path
    manifest: dict | None
    source: str | None = None  # where the data is, when ``root`` is a local copy of it (an s3:// prefix)

    def file(self, split: str) -> Path:
        return self.root / split / f"{split}.txt"

    def shown(self, split: str) -> str:
        """Where a split file is, as outputs record it: in the source, not in a copy that goes away."""
        return f"{self.source.rstrip('/')}/{split}/{split}.txt" if self.source else str(self.file(split))

    @property
    def categories(self) -> dict[str, str]:
        """Label -> category name, from the manifest (or the bare label names without one)."""
        return dict((self.manifest or {}).get("labels", {}))


def open_prepared(path: str) -> Prepared:
    """A local prepare output; the three split files must exist."""
    root = Path(path.removeprefix("file:"))
    if not root.is_dir():
        raise ReviewcatError(f"prepared data {path} not found: give the --output-path of `reviewcat prepare`")
    for split in SPLITS:
        file = root / split / f"{split}.txt"
        if not file.is_file():
            raise ReviewcatError(f"{file} is missing: {path} is not a complete `reviewcat prepare` output")
        if file.stat().st_size == 0:
            raise ReviewcatError(f"split file {file} is empty: nothing to train or evaluate on")
    manifest_file = root / "manifest.json"
    manifest = parse_json(manifest_file.read_text(), manifest_file) if manifest_file.is_file() else None
    return Prepared(root, manifest)


def parse_json(text: str, source: object) -> dict:
    """A JSON object that reviewcat wrote beside its results, or one line naming the file that is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReviewcatError(f"{source} is not valid JSON ({exc}): restore it, or remove it and run again") from None
    if not isinstance(data, dict):
        raise ReviewcatError(f"{source} does not hold a JSON object: restore it, or remove it and run again")
    return data


def model_record(model: str) -> dict | None:
    """Training's record of a local model file (its size and SHA-256), from ``search.json`` beside it."""
    search = Path(model).with_name(SEARCH_FILE)
    return recorded(parse_json(search.read_text(), search), Path(model).name) if search.is_file() else None


def parse_labels(text: str, source: object = "the labels file") -> dict[str, str]:
    """Label -> category from a ``labels.json`` (a mapping) or a prepare ``manifest.json`` (its ``labels``)."""
    data = parse_json(text, source)
    return data.get("labels", data) if isinstance(data, dict) else {}


def category_name(label: str, categories: dict[str, str]) -> str:
    return categories.get(label, label[len(LABEL_PREFIX):] if label.startswith(LABEL_PREFIX) else label)


def split_described(manifest: dict) -> str:
    """How prepare assigned the lines to splits, as the report and the model card say it."""
    group = manifest.get("split_group_column")
    seed = f" (seed {manifest['seed']})" if manifest.get("seed") is not None else ""
    if group:
        return f"grouped by `{group}`{seed}: all texts of one `{group}` in one split, so the test measures " \
               f"unseen {group} values"
    return f"random by text{seed}: texts of one product, author or ticket thread can sit in train and test " \
           "alike, which flatters the test (`prepare --group-column` keeps groups apart)"


def beside_json(model: str, name: str) -> dict | None:
    """A JSON file training left next to the model (labels.json, search.json), if it is there."""
    path = Path(model).with_name(name)
    return parse_json(path.read_text(), path) if path.is_file() else None
