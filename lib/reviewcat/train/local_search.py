"""The local backend: the SageMaker search space, searched with fastText on this machine.

Successive halving: sample more configurations than the budget could train in full (a Latin
hypercube, so every range is covered evenly), train all of them with a third of their epochs, keep
the best third and train those in full. For the compute of ``max_jobs`` full trainings it tries
about 1.5x as many configurations as random search. ``strategy="random"`` trains ``max_jobs``
configurations in full instead (one rung), for comparison.

Every trial runs single-threaded with its own seed, ``max_parallel`` at a time in worker
processes: fastText's multi-threaded training is not reproducible, this is.
"""
from __future__ import annotations

import csv
import logging
import math
import shutil
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import ReviewcatError
from ..storage import json_text
from .data import Prepared, read_labeled
from .space import FASTTEXT_NAMES, SearchSpace

log = logging.getLogger(__name__)

ETA = 3
MODEL_FILE = "model.bin"
TRIALS_FILE = "trials.csv"
SEARCH_FILE = "search.json"
LABELS_FILE = "labels.json"


@dataclass(frozen=True)
class Trial:
    trial: int
    rung: int
    params: dict[str, Any]
    epochs: int
    accuracy: float
    seconds: float
    failure: str = ""


@dataclass(frozen=True)
class SearchResult:
    best: Trial
    trials: list[Trial]
    model_path: Path


def sample_configs(space: SearchSpace, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` points of a seeded Latin hypercube over the ranges (BlazingText names)."""
    rng = np.random.default_rng(seed)
    names = sorted(space.ranges)
    strata = np.stack([rng.permutation(count) for _ in names], axis=1)
    u = (strata + rng.random((count, len(names)))) / count
    return [{name: space.ranges[name].value(u[i, j]) for j, name in enumerate(names)} for i in range(count)]


def plan_rungs(max_jobs: int, strategy: str) -> tuple[int, list[float]]:
    """Configurations to start with and the epoch fraction of each rung, within ``max_jobs`` full trainings."""
    if strategy == "random" or max_jobs < ETA:
        return max_jobs, [1.0]
    fractions = [1.0 / ETA, 1.0]
    count = max_jobs
    while sum(math.ceil((count + 1) / ETA ** r) * f for r, f in enumerate(fractions)) <= max_jobs:
        count += 1
    return count, fractions


def fasttext_arguments(params: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    return {FASTTEXT_NAMES[name]: value for name, value in {**fixed, **params}.items() if name in FASTTEXT_NAMES}


def _train_trial(train: str, validation: str, arguments: dict[str, Any], seed: int,
                 save_to: str | None) -> tuple[float, float, str]:
    """One fastText training in a worker process: (validation accuracy, seconds, failure or "").

    A diverging configuration (fastText raises "Encountered NaN") is a failed trial with accuracy 0,
    as a failed training job is in a SageMaker tuning job, not the end of the search.
    """
    import fasttext
    started = time.perf_counter()
    try:
        model = fasttext.train_supervised(input=train, thread=1, seed=seed, verbose=0, **arguments)
    except RuntimeError as exc:
        return 0.0, time.perf_counter() - started, str(exc)
    _, precision_at_1, _ = model.test(validation)
    if save_to:
        model.save_model(save_to)
    return float(precision_at_1), time.perf_counter() - started, ""


def run_search(prepared: Prepared, space: SearchSpace, output: Path, seed: int,
               strategy: str = "halving") -> SearchResult:
    """Search, keep the best model as ``model.bin`` beside ``trials.csv``, ``search.json``, ``labels.json``."""
    if strategy not in ("halving", "random"):
        raise ReviewcatError(f"unknown search strategy {strategy!r}: use halving or random")
    train, validation = prepared.file("train"), prepared.file("validation")
    train_labels = set(read_labeled(train, keep_text=False).labels)
    unseen = [label for label in read_labeled(validation, keep_text=False).labels if label not in train_labels]
    if unseen:
        log.warning("%d validation lines have labels never seen in training (%s); fastText ignores them",
                    len(unseen), ", ".join(sorted(set(unseen))))
    fixed = space.fixed()
    count, fractions = plan_rungs(space.max_jobs, strategy)
    configs = sample_configs(space, count, seed)
    total = sum(math.ceil(count / ETA ** r) for r in range(len(fractions)))
    log.info("local %s search: %d configurations, %d trainings in %d rung(s), %d at a time",
             strategy, count, total, len(fractions), space.max_parallel)
    scratch = output / f".trials-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    trials: list[Trial] = []
    survivors = list(range(count))
    progress = tqdm(total=total, desc="trials", unit="trial", disable=None)
    try:
        with ProcessPoolExecutor(space.max_parallel, mp_context=get_context("spawn")) as pool:
            for rung, fraction in enumerate(fractions):
                final = rung == len(fractions) - 1
                jobs = {}
                for i in survivors:
                    params = configs[i]
                    epochs = max(1, round(int({**fixed, **params}["epochs"]) * fraction))
                    arguments = {**fasttext_arguments(params, fixed), "epoch": epochs}
                    save_to = str(scratch / f"{i}.bin") if final else None
                    future = pool.submit(_train_trial, str(train), str(validation), arguments, seed + i, save_to)
                    jobs[future] = (i, epochs)
                rung_trials = []
                for future in as_completed(jobs):
                    i, epochs = jobs[future]
                    accuracy, seconds, failure = future.result()
                    if failure:
                        log.warning("trial %d failed: %s (%s)", i, failure, configs[i])
                    rung_trials.append(Trial(i, rung, configs[i], epochs, accuracy, round(seconds, 3), failure))
                    best_so_far = max(t.accuracy for t in trials + rung_trials)
                    progress.set_postfix_str(f"best accuracy {best_so_far:.4f}")
                    progress.update()
                rung_trials.sort(key=lambda t: (-t.accuracy, t.trial))
                trials.extend(rung_trials)
                keep = math.ceil(len(survivors) / ETA)
                log.info("rung %d (%.0f%% of epochs): best %.4f, keeping %d", rung, fraction * 100,
                         rung_trials[0].accuracy, keep if not final else 1)
                survivors = sorted(t.trial for t in rung_trials[:keep])
        finished = [t for t in trials if t.rung == len(fractions) - 1 and not t.failure]
        if not finished:
            raise ReviewcatError(f"every trial failed ({trials[-1].failure}): narrow the ranges, "
                                 "e.g. --range learning_rate=0.01:0.05")
        best = min(finished, key=lambda t: (-t.accuracy, t.trial))
        model_path = output / MODEL_FILE
        (scratch / f"{best.trial}.bin").replace(model_path)
    finally:
        progress.close()
        shutil.rmtree(scratch, ignore_errors=True)
    _write_trials(output / TRIALS_FILE, trials, sorted(space.ranges))
    (output / SEARCH_FILE).write_text(json_text(
        {"backend": "local", "strategy": strategy, "seed": seed, "space": space.to_dict(),
         "best": {**asdict(best), "hyperparameters": {**fixed, **best.params, "epochs": best.epochs}}}))
    (output / LABELS_FILE).write_text(json_text(prepared.categories))
    log.info("best trial %d: validation accuracy %.4f with %s", best.trial, best.accuracy, best.params)
    return SearchResult(best, trials, model_path)


def _write_trials(path: Path, trials: list[Trial], names: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial", "rung", *names, "epochs_trained", "validation_accuracy", "seconds", "failure"])
        for t in sorted(trials, key=lambda t: (t.rung, t.trial)):
            writer.writerow([t.trial, t.rung, *(t.params[n] for n in names), t.epochs, f"{t.accuracy:.6f}", t.seconds,
                             t.failure])
