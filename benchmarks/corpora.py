"""Labelled corpora of real, human-written text found on this machine, for measuring the search.

Generated reviews are templated: any configuration learns them. Short texts people wrote, in
many classes, are what tickets and reviews look like to a model, so the training benchmark also
builds two such corpora from what every machine with Python and man pages has. They are built in
the benchmark's own folder and never committed:

- ``man``: the one-line description of every manual page (``ls - list directory contents``),
  labelled by its section (user commands, system calls, library functions, file formats, ...);
- ``docstrings``: the first line of the docstrings of the installed Python packages, labelled by
  package (numpy, pandas, botocore, ...); also as a table with each text's module
  (``docstring_table``), for ``reviewcat prepare`` and its grouped split.

Each becomes a prepare-style folder (``train/train.txt``, ``validation/...``, ``test/...``,
``manifest.json``), tokenized by ``reviewcat.prep.text.normalize`` as prepare does, split by a hash of
the text so that a text repeated in two places lands in one split.
"""
from __future__ import annotations

import ast
import gzip
import hashlib
import re
import sysconfig
from pathlib import Path
from typing import Iterable, Iterator

from reviewcat.prep.text import label_for, normalize
from reviewcat.runtime.storage import json_text

SPLIT = (("train", 0.6), ("validation", 0.2), ("test", 0.2))
MAN_ROOT = Path("/usr/share/man")
# roff escapes in NAME lines: fonts (\fB), named characters (\(em), the minus sign (\-).
_ROFF = re.compile(r"\\f[BIRP]|\\f\(..|\\\(..|\\[&|^]")


def _man_descriptions(root: Path) -> Iterator[tuple[str, str]]:
    """(section, description) for every English manual page under ``root``."""
    for folder in sorted(root.glob("man[1-8]")):
        for page in sorted(folder.iterdir()):
            try:
                with gzip.open(page, "rt", errors="replace") if page.suffix == ".gz" else page.open(errors="replace") as f:
                    lines = f.read(20_000).splitlines()
            except OSError:
                continue
            for i, line in enumerate(lines):
                if re.match(r'\.S[Hh]\s+"?NAME"?\s*$', line):
                    name = " ".join(l for l in lines[i + 1:i + 4] if l and not l.startswith("."))
                    _, dash, description = name.replace("\\-", "-").partition(" - ")
                    if dash and description.strip():
                        yield folder.name[3:], _ROFF.sub("", description).strip()
                    break


def _docstrings(site_packages: Path, packages: int) -> Iterator[tuple[str, str, str]]:
    """(package, module, first docstring line) from the ``packages`` installed packages with most modules."""
    roots = [p for p in site_packages.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    roots = sorted(roots, key=lambda p: (-sum(1 for _ in p.rglob("*.py")), p.name))[:packages]
    for root in sorted(roots):
        for module in sorted(root.rglob("*.py")):
            if "test" in module.parts[-2] or module.name.startswith("test"):
                continue
            parts = module.relative_to(root.parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            try:
                tree = ast.parse(module.read_text(errors="replace"))
            except (SyntaxError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc and doc.strip():
                        yield root.name, name, doc.strip().splitlines()[0]


def _split_of(text: str) -> str:
    point = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 2 ** 32
    for split, fraction in SPLIT:
        if point < fraction:
            return split
        point -= fraction
    return SPLIT[-1][0]


def write_corpus(pairs: Iterable[tuple[str, str]], output: Path, per_class: int, min_class: int) -> dict:
    """A prepare-style folder of ``pairs`` (class, text): each text once, at most ``per_class`` a
    class, classes with fewer than ``min_class`` texts left out. Returns the manifest."""
    by_class: dict[str, dict[str, None]] = {}
    seen: set[str] = set()
    for label, text in pairs:
        tokens = normalize(text)
        if len(tokens.split()) >= 2 and tokens not in seen and len(by_class.setdefault(label, {})) < per_class:
            seen.add(tokens)
            by_class[label][tokens] = None
    kept = {label: list(texts) for label, texts in sorted(by_class.items()) if len(texts) >= min_class}
    lines: dict[str, list[str]] = {split: [] for split, _ in SPLIT}
    for label, texts in kept.items():
        for tokens in texts:
            lines[_split_of(tokens)].append(f"{label_for(label)} {tokens}")
    files = {}
    for split, split_lines in lines.items():
        # A seeded order that does not group lines by class, as prepare's shuffle.
        split_lines.sort(key=lambda line: hashlib.sha256(line.encode()).digest())
        (output / split).mkdir(parents=True, exist_ok=True)
        (output / split / f"{split}.txt").write_text("".join(f"{line}\n" for line in split_lines))
        labels: dict[str, int] = {}
        for line in split_lines:
            labels[line.split(" ", 1)[0]] = labels.get(line.split(" ", 1)[0], 0) + 1
        files[split] = {"path": f"{split}/{split}.txt", "rows": len(split_lines), "labels": dict(sorted(labels.items()))}
    manifest = {"source": str(output.name), "labels": {label_for(c): c for c in kept}, "files": files}
    (output / "manifest.json").write_text(json_text(manifest))
    return manifest


def man_corpus(output: Path, root: Path = MAN_ROOT, per_class: int = 1500) -> dict:
    return write_corpus(_man_descriptions(root), output, per_class, min_class=100)


def docstring_corpus(output: Path, site_packages: Path | None = None, packages: int = 50,
                     per_class: int = 300) -> dict:
    site = site_packages or Path(sysconfig.get_paths()["purelib"])
    return write_corpus(((package, text) for package, _, text in _docstrings(site, packages)), output, per_class,
                        min_class=50)


def docstring_table(output: Path, site_packages: Path | None = None, packages: int = 30,
                    per_class: int = 600) -> dict[str, int]:
    """A review-like table of docstrings for ``reviewcat prepare``: ``review_body`` the first line,
    partitioned by package as ``product_category``, with its ``module``: texts of one module share
    its names, the groups a grouped split keeps apart. At most ``per_class`` distinct texts a
    package, picked by a hash of the text (not the first modules in name order). Returns the rows
    per package."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    site = site_packages or Path(sysconfig.get_paths()["purelib"])
    by_package: dict[str, dict[str, str]] = {}
    for package, module, text in _docstrings(site, packages):
        by_package.setdefault(package, {}).setdefault(text, module)
    counts = {}
    for package, texts in sorted(by_package.items()):
        chosen = sorted(texts, key=lambda text: hashlib.sha256(text.encode()).digest())[:per_class]
        folder = output / f"product_category={package}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"review_id": [hashlib.sha256(t.encode()).hexdigest()[:16] for t in chosen],
                                 "review_body": chosen, "module": [texts[t] for t in chosen]}),
                       folder / "part-0.parquet")
        counts[package] = len(chosen)
    return counts
