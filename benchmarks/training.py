"""Local training: our default search against fastText's own autotune, per corpus, as a user runs both.

Per corpus: our search with its defaults (the space derived from the data, the default budget),
our search given autotune's durations as ``time_budget`` (30 s and 120 s), and autotune at 30 s,
120 s and at our default's wall time. Wall times are measured around each whole call: autotune
retrains its best configuration once its time is up, so it takes longer than its budget, and our
search calibrates, trains and saves its model. Both use the machine's cores: autotune as threads,
ours as single-threaded trials side by side.

The rank correlation of the first halving rung with full training is measured here too, on the
corpora small enough to train every sampled configuration twice.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from benchmarks.measure import measure
from reviewcat.train.commands import DEFAULT_TIME_BUDGET
from reviewcat.train.data import Prepared, open_prepared, read_labeled
from reviewcat.train.local_search import (FIRST_RUNG, epochs_for, fasttext_arguments, run_search, sample_configs,
                                          train_trial)
from reviewcat.train.space import SearchSpace, build_space

AUTOTUNE_SECONDS = (30, 120)
# Configurations trained at both fidelities for the rank correlation, and the largest corpus it runs on.
RANK_CONFIGS = 18
RANK_MAX_LINES = 300_000
AUTOTUNE_MEMORY = 0.5  # of the machine's memory: autotune's address space cap
AUTOTUNE_PATIENCE = 600  # seconds past its budget before a run of autotune is stopped


def _accuracy(model: Any, path: Path) -> float:
    """Precision at 1, which is accuracy when every line has one label."""
    return round(float(model.test(str(path))[1]), 4)


def rung_correlation(prepared: Prepared, space: SearchSpace, seed: int, count: int = RANK_CONFIGS,
                     fraction: float = FIRST_RUNG) -> dict[str, Any]:
    """Spearman correlation between the validation accuracy of ``count`` configurations trained with
    ``fraction`` of their epochs and in full, and whether the first rung keeps the best one."""
    from scipy.stats import spearmanr
    configs, fixed = sample_configs(space, count, seed), space.fixed()
    train, validation = str(prepared.file("train")), str(prepared.file("validation"))
    scores = {}
    with ProcessPoolExecutor(space.max_parallel) as pool:
        for f in (fraction, 1.0):
            futures = [pool.submit(train_trial, train, validation,
                                   {**fasttext_arguments(c, fixed), "epoch": epochs_for(c, fixed, f)}, seed + i, None)
                       for i, c in enumerate(configs)]
            scores[f] = [future.result()[0] for future in futures]
    best = max(range(count), key=lambda i: scores[1.0][i])
    kept = sorted(range(count), key=lambda i: -scores[fraction][i])[:-(-count // 3)]
    return {"fraction": fraction, "configurations": count,
            "spearman": round(float(spearmanr(scores[fraction], scores[1.0])[0]), 3),
            "first_rung_keeps_the_best": best in kept}


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _autotune(train: str, validation: str, test: str, budget: int) -> dict[str, Any]:
    import fasttext
    try:
        model = fasttext.train_supervised(input=train, autotuneValidationFile=validation, autotuneDuration=budget,
                                          thread=os.cpu_count() or 1, verbose=0)
    except RuntimeError as exc:  # "Didn't have enough time to train once"
        return {"validation_accuracy": None, "test_accuracy": None, "budget_seconds": budget, "error": str(exc)}
    return {"validation_accuracy": _accuracy(model, Path(validation)), "test_accuracy": _accuracy(model, Path(test)),
            "budget_seconds": budget}


def _capped_call(send: Any, limit: int, function: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    _limit_memory(limit)
    try:
        send.send((True, function(*args, **kwargs)))
    except BaseException as exc:  # handed to the parent, which raises it
        send.send((False, exc))


def run_capped(limit: int, function: Callable[..., Any], *args: Any, timeout: float | None = None,
               **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` in a child process whose address space is capped at ``limit`` bytes,
    stopped after ``timeout`` seconds (``TimeoutError``); a child that dies raises ``EOFError``."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_capped_call, args=(send, limit, function, args, kwargs), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(timeout):
            raise TimeoutError(f"no result after {timeout:g} s")
        ok, value = receive.recv()
    finally:
        process.kill()
        process.join()
    if not ok:
        raise value
    return value


def run_autotune(train: Path, validation: Path, test: Path, budget: int,
                 memory_fraction: float = AUTOTUNE_MEMORY, patience: int = AUTOTUNE_PATIENCE) -> dict[str, Any]:
    """fastText's autotune for ``budget`` seconds, as a user runs it, in a child process whose address
    space is capped at ``memory_fraction`` of the machine's memory, stopped ``patience`` seconds
    after its budget.

    Autotune samples dimensions up to 1,000 and buckets up to 10M: a 40 GB model. Linux grants such an
    allocation lazily and the kernel's OOM killer ended a test run at 22.9 GB here; under the cap it
    fails at once, and autotune skips that sample (it catches ``std::bad_alloc``), as it would on a
    machine with that much memory. Its retraining of the best configuration after the budget is not
    bounded: once, on 148k lines, a 30 s autotune was still training 22 minutes later.
    """
    limit = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * memory_fraction)
    failed = {"validation_accuracy": None, "test_accuracy": None, "budget_seconds": budget}
    try:
        return run_capped(limit, _autotune, str(train), str(validation), str(test), budget,
                          timeout=budget + patience)
    except TimeoutError:
        return {**failed, "error": f"still running {patience} s after its budget: stopped"}
    except EOFError:
        return {**failed, "error": "autotune's process died"}


def compare_searches(prepared_dir: Path, output: Path, seed: int, budgets: tuple[int, ...] = AUTOTUNE_SECONDS,
                     default_budget: float = DEFAULT_TIME_BUDGET, patience: int = AUTOTUNE_PATIENCE) -> dict[str, Any]:
    """Our default search, ours at each of ``budgets`` seconds, autotune at each and at our wall time
    (each stopped ``patience`` seconds after its budget)."""
    import fasttext
    prepared = open_prepared(str(prepared_dir))
    stats = read_labeled(prepared.file("train"), keep_text=False).stats()
    space = build_space(stats=stats)
    validation, test = prepared.file("validation"), prepared.file("test")

    def ours(budget: float, name: str, caps_jobs: bool) -> Callable[[], dict[str, Any]]:
        def step() -> dict[str, Any]:
            found = run_search(prepared, space, output / name, seed, "halving", budget, caps_jobs)
            model = fasttext.load_model(str(found.model_path))
            return {"validation_accuracy": round(found.best.accuracy, 4), "test_accuracy": _accuracy(model, test),
                    "trainings": len(found.trials), "budget_seconds": budget}
        return step

    def autotune(budget: int) -> Callable[[], dict[str, Any]]:
        def step() -> dict[str, Any]:
            return run_autotune(prepared.file("train"), validation, test, budget, patience=patience)
        return step

    lines = stats.lines
    runs = {"ours (default)": measure("reviewcat train (default)", lines,
                                      ours(default_budget, "default", True), 1)}
    for seconds in budgets:
        runs[f"ours ({seconds} s)"] = measure(f"reviewcat train --time-budget {seconds}", lines,
                                              ours(seconds, f"budget-{seconds}", False), 1)
    our_wall = max(1, round(runs["ours (default)"].median))
    for seconds in dict.fromkeys((*budgets, our_wall)):
        runs[f"autotune ({seconds} s)"] = measure(f"fastText autotune {seconds} s", lines, autotune(seconds), 1)
    result = {"train_lines": lines, "tokens": stats.tokens, "labels": stats.labels, "space": space.to_dict(),
              "our_wall_seconds": our_wall, "runs": {name: m.to_dict() for name, m in runs.items()}}
    if lines <= RANK_MAX_LINES:
        result["first_rung"] = rung_correlation(prepared, space, seed)
    return result


def size_variants(prepared_dir: Path, model_dir: Path) -> dict[str, Any]:
    """The configuration ``reviewcat train`` chose (its ``search.json`` in ``model_dir``) trained again
    with other bucket counts and a smaller dimension, each with its file size and accuracies, beside
    the chosen model and its quantized copy as training wrote them: what the sizing costs in accuracy."""
    import fasttext
    import json
    import tempfile
    prepared = open_prepared(str(prepared_dir))
    validation, test = prepared.file("validation"), prepared.file("test")
    search = json.loads((model_dir / "search.json").read_text())
    chosen = search["best"]["hyperparameters"]
    arguments = fasttext_arguments(chosen, {})  # with the trial's seed, as the search trained it

    def row(name: str, path: Path, **changed: Any) -> dict[str, Any]:
        model = fasttext.load_model(str(path))
        args = model.f.getArgs()
        return {"model": name, "buckets": args.bucket, "dim": args.dim, "bytes": path.stat().st_size,
                "validation_accuracy": _accuracy(model, validation), "test_accuracy": _accuracy(model, test), **changed}
    rows = [row("as trained (model.bin)", model_dir / "model.bin")]
    quantized = search.get("quantized")
    if quantized and quantized["kept"]:
        rows.append(row("quantized (model.ftz)", model_dir / "model.ftz"))
    elif quantized:  # training measured it, and left it out for the validation accuracy it lost
        rows.append({**rows[0], "model": "quantized, not kept (lost too much validation accuracy)",
                     "bytes": quantized["bytes"], "validation_accuracy": round(quantized["validation_accuracy"], 4),
                     "test_accuracy": round(quantized["test_accuracy"], 4)})
    variants = {"BlazingText's 2M buckets": {"bucket": 2_000_000},
                "a quarter of the buckets": {"bucket": max(10_000, arguments["bucket"] // 4)},
                "half the dimension": {"dim": max(10, arguments["dim"] // 2)}}
    with tempfile.TemporaryDirectory(dir=model_dir.parent) as scratch:
        for name, changed in variants.items():
            path = Path(scratch) / "variant.bin"
            model = fasttext.train_supervised(input=str(prepared.file("train")), thread=1, verbose=0,
                                              seed=search["seed"] + search["best"]["trial"], **{**arguments, **changed})
            model.save_model(str(path))
            rows.append(row(name, path))
            path.unlink()
    return {"hyperparameters": chosen, "rows": rows}
