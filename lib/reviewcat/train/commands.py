"""``reviewcat train``, ``evaluate`` and ``predict``: the training side's command-line edges."""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import uuid
from pathlib import Path
from typing import Iterable

from ..errors import ReviewcatError
from ..options import Option, positive_int
from ..text import normalize
from .data import category_name, open_prepared
from .evaluate import evaluate, write_report
from .local_search import LABELS_FILE, SEARCH_FILE, run_search
from .model import endpoint_top_k, load_model, top_k
from .space import build_space

log = logging.getLogger(__name__)

SEARCH_OPTIONS = [
    Option("max-jobs", "training budget: trainings (SageMaker) or full-training equivalents (local)", positive_int),
    Option("max-parallel", "trials running at once", positive_int),
    Option("range", "tune a hyperparameter over min:max, e.g. learning_rate=0.01:0.08 (repeatable)", repeat=True),
    Option("static", "fix a hyperparameter, e.g. min_count=2 (repeatable)", repeat=True),
    Option("search-config", "JSON or YAML file with ranges, static, max_jobs, max_parallel"),
]

TRAIN = [
    Option("data", "the --output-path of `reviewcat prepare`"),
    Option("output-path", "folder for model.bin, trials.csv, metrics and report", default="model"),
    Option("backend", "where to train", default="local", choices=("local",)),
    Option("strategy", "local search: successive halving or plain random", default="halving",
           choices=("halving", "random")),
    Option("seed", "random seed of the search", int, 42),
    Option("overwrite", "replace --output-path if it exists", switch=True),
] + SEARCH_OPTIONS

EVALUATE = [
    Option("model", "model.bin or a BlazingText model.tar.gz"),
    Option("data", "the --output-path of `reviewcat prepare` (its test split is scored)"),
    Option("output-path", "folder for metrics.json, confusion_matrix.png/.csv and report.md", default="evaluation"),
]

PREDICT = [
    Option("model", "model.bin or a BlazingText model.tar.gz (with labels.json beside it for category names)"),
    Option("endpoint", "name of a deployed BlazingText endpoint to ask instead of a local model"),
    Option("top-k", "how many labels per text", positive_int, 3, short="-k"),
]


def _staging(output: Path, overwrite: bool) -> Path:
    if output.exists() and not overwrite:
        raise ReviewcatError(f"output path {output} already exists: choose another --output-path or pass --overwrite")
    staging = output.with_name(f"{output.name}.__tmp-{uuid.uuid4().hex[:12]}")
    staging.mkdir(parents=True)
    return staging


def _publish(staging: Path, output: Path) -> None:
    if output.exists():
        shutil.rmtree(output)
    staging.replace(output)


def train(args: argparse.Namespace) -> Path:
    """Search, keep the best model, evaluate it on the test split and write the report."""
    if not args.data:
        raise ReviewcatError("--data is required: the --output-path of `reviewcat prepare`")
    prepared = open_prepared(str(args.data))
    space = build_space(args.search_config, args.range or (), args.static or (), args.max_jobs, args.max_parallel)
    output = Path(args.output_path).resolve()
    log.info("backend: local (fastText on this machine)")
    staging = _staging(output, args.overwrite)
    try:
        result = run_search(prepared, space, staging, args.seed, args.strategy)
        metrics = evaluate(str(result.model_path), prepared.file("test"), staging, prepared.categories)
        search = json.loads((staging / SEARCH_FILE).read_text())
        write_report(staging, metrics, prepared.categories, prepared.manifest, search)
        _publish(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("model, trials, metrics and report in %s", output)
    return output


def evaluate_command(args: argparse.Namespace) -> Path:
    if not args.model or not args.data:
        raise ReviewcatError("evaluate needs --model and --data")
    prepared = open_prepared(args.data)
    output = Path(args.output_path).resolve()
    categories = prepared.categories or _labels_beside(args.model)
    metrics = evaluate(args.model, prepared.file("test"), output, categories)
    return write_report(output, metrics, categories, prepared.manifest, _search_beside(args.model))


def _labels_beside(model: str) -> dict[str, str]:
    path = Path(model).with_name(LABELS_FILE)
    return json.loads(path.read_text()) if path.is_file() else {}


def _search_beside(model: str) -> dict | None:
    path = Path(model).with_name(SEARCH_FILE)
    return json.loads(path.read_text()) if path.is_file() else None


def predict(model: str | None, endpoint: str | None, texts: Iterable[str], k: int) -> list[list[tuple[str, float]]]:
    """Top-k (category, probability) for raw review texts, cleaned and tokenized as in training."""
    if bool(model) == bool(endpoint):
        raise ReviewcatError("give either --model or --endpoint")
    tokenized = [normalize(t) for t in texts]
    if endpoint:
        answers = endpoint_top_k(endpoint, tokenized, k)
        categories: dict[str, str] = {}
    else:
        answers = top_k(load_model(model), tokenized, k)
        categories = _labels_beside(model)
    return [[(category_name(label, categories), p) for label, p in pairs] for pairs in answers]


def predict_command(args: argparse.Namespace) -> None:
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise ReviewcatError("nothing to predict: give texts as arguments or one per line on stdin")
    for text, pairs in zip(texts, predict(args.model, args.endpoint, texts, args.top_k)):
        shown = "  ".join(f"{name} {p:.3f}" for name, p in pairs)
        print(f"{shown}\t{text[:80]}" if len(texts) > 1 else shown)
