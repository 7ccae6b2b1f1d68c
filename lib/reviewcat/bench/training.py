"""Local training: our successive-halving search, plain random search and fastText's own autotune.

All three get the same splits and the same time: halving runs first, and its wall time becomes
autotune's ``autotuneDuration``; random search trains as many full models as halving's budget
(``max_jobs``). fastText retrains autotune's best configuration once its time is up, so its wall
time comes out longer than the budget: the report shows each one's real time beside its accuracy.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..prepare import MANIFEST
from ..train.data import open_prepared
from ..train.local_search import run_search
from ..train.space import build_space
from .measure import measure


def _accuracy(model: Any, path: Path) -> float:
    """Precision at 1, which is accuracy when every line has one label."""
    return round(float(model.test(str(path))[1]), 4)


def compare_searches(prepared_dir: Path, output: Path, seed: int, max_jobs: int,
                     search: Mapping[str, Any]) -> dict[str, Any]:
    import fasttext
    prepared = open_prepared(str(prepared_dir))
    train_lines = json.loads((prepared_dir / MANIFEST).read_text())["files"]["train"]["rows"]
    space = build_space(ranges=search["range"], static=search["static"], max_jobs=max_jobs)
    validation, test = prepared.file("validation"), prepared.file("test")
    results = {}
    for strategy in ("halving", "random"):
        def step(strategy: str = strategy) -> dict[str, Any]:
            found = run_search(prepared, space, output / strategy, seed, strategy)
            model = fasttext.load_model(str(found.model_path))
            return {"validation_accuracy": round(found.best.accuracy, 4), "test_accuracy": _accuracy(model, test),
                    "configurations": len({t.trial for t in found.trials}), "trainings": len(found.trials)}
        results[strategy] = measure(f"reviewcat local search ({strategy})", train_lines, step, 1)
    budget = max(1, round(results["halving"].median))

    def autotune() -> dict[str, Any]:
        model = fasttext.train_supervised(input=str(prepared.file("train")), autotuneValidationFile=str(validation),
                                          autotuneDuration=budget, thread=os.cpu_count() or 1, verbose=0)
        return {"validation_accuracy": _accuracy(model, validation), "test_accuracy": _accuracy(model, test),
                "budget_seconds": budget}
    results["autotune"] = measure("fastText autotune", train_lines, autotune, 1)
    labels = sorted(json.loads((prepared_dir / MANIFEST).read_text())["files"]["train"]["labels"])
    return {"train_lines": train_lines, "labels": labels, "max_jobs": max_jobs, "space": space.to_dict(),
            **{name: m.to_dict() for name, m in results.items()}}
