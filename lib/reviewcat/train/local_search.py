"""The local backend: the SageMaker search space, searched with fastText on this machine.

Successive halving: sample more configurations than the budget could train in full (a Latin
hypercube, so every range is covered evenly), train all of them with half their epochs, keep the
best third and train those in full. For the compute of ``max_jobs`` full trainings it tries about
1.2x as many configurations as random search (each costs half a training, and a third of them a
full one more: 5/6 of a training apiece). ``strategy="random"`` trains ``max_jobs``
configurations in full instead (one rung), for comparison.

Why half: the first rung must rank configurations as their full trainings would. Measured as the
Spearman correlation between first-rung and full validation accuracy over 18-24 sampled
configurations, a third of the epochs gave 0.38 on docstrings and 0.64 on generated reviews
(character n-grams learn slowly, so a short run condemns them); half gave 0.85 and 0.77, and
kept the best full configuration in its top three on both.

The search ends with a refine rung: the best configuration again at 1/2 and 1/4 of its learning
rate over 2x and 4x its epochs (the same learning_rate x epochs, in smaller steps), side by side,
and validation decides as for any trial. The halving rungs rank configurations by how well they
fit in their epochs; a smaller step then averages out SGD's noise. Measured on generated reviews
(18.5k lines, 10 classes) it lifted the best configuration from 0.833 to 0.837 and 0.839 on
validation (test 0.825 to 0.830 and 0.831, three seeds agreeing to 0.001), where fastText's
autotune, which searches epochs up to 100, had led by 0.006; on man pages, docstrings and 173k
reviews it changed validation by -0.02 to +0.004, so validation keeps the model it had there.
It runs when ``max_jobs`` allows halving and both the learning rate and the epochs are searched
(a value the user fixed stays fixed).

Every trial runs single-threaded with its own seed, ``max_parallel`` at a time in worker
processes: fastText's multi-threaded training is not reproducible, this is (``threads`` trades
that for speed).

A time budget is turned into a trial count before the search starts: two short trainings on a
slice of the data time the machine, a cost model (seconds per token, epoch and dimension, and
what character n-grams add) prices every sampled configuration, and the largest ``max_jobs``
whose rungs fit is searched. So the same seed and count give the same trials and the same model;
what a budget can change from run to run is only the count, which ``search.json`` records (rerun
with ``--max-jobs N`` to replay it). If the estimate was wrong the deadline still holds: running
trials are stopped and the best finished one is kept.
"""
from __future__ import annotations

import csv
import logging
import math
import multiprocessing
import shutil
import signal
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.storage import json_text
from reviewcat.schema import LABELS_FILE, SEARCH_FILE
from reviewcat.train.data import Prepared, read_labeled
from reviewcat.train.model_file import check_written, describe
from reviewcat.train.space import FASTTEXT_NAMES, LOCAL_ONLY, SearchSpace

log = logging.getLogger(__name__)

ETA = 3
FIRST_RUNG = 0.5  # of each configuration's epochs
REFINE_RATES = (0.5, 0.25)  # of the best configuration's learning rate, with its epochs scaled up as much
MODEL_FILE = "model.bin"
TRIALS_FILE = "trials.csv"
# A budget without --max-jobs searches at most this many full-training equivalents.
MAX_BUDGET_JOBS = 200
CALIBRATION_LINES = 20_000
LONG_EPOCHS = 8  # more than the short calibration run: enough for the difference to stand above the timing noise
POLL_SECONDS = 0.02
BUDGET_MARGIN = 0.85


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
    fractions = [FIRST_RUNG, 1.0]
    count = max_jobs
    while sum(math.ceil((count + 1) / ETA ** r) * f for r, f in enumerate(fractions)) <= max_jobs:
        count += 1
    return count, fractions


def refines(space: SearchSpace, max_jobs: int, strategy: str) -> bool:
    """Whether a search of ``max_jobs`` ends with the refine rung (see the module docstring)."""
    return strategy == "halving" and max_jobs >= ETA and {"learning_rate", "epochs"} <= set(space.ranges)


def refine_configs(config: dict[str, Any], epochs: int) -> list[dict[str, Any]]:
    """``config`` trained ``epochs`` times, at each of ``REFINE_RATES`` of its rate for as many more epochs."""
    return [{**config, "learning_rate": round(config["learning_rate"] * rate, 6), "epochs": round(epochs / rate)}
            for rate in REFINE_RATES]


def fasttext_arguments(params: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    values = {**fixed, **params}
    arguments = {FASTTEXT_NAMES[name]: value for name, value in values.items() if name in FASTTEXT_NAMES}
    if "loss" in values:
        arguments["loss"] = values["loss"]
    for name, choices in LOCAL_ONLY.items():
        arguments.update(choices[int(values.get(name, 0))])
    return arguments


def epochs_for(params: dict[str, Any], fixed: dict[str, Any], fraction: float) -> int:
    return max(1, round(int({**fixed, **params}["epochs"]) * fraction))


def train_trial(train: str, validation: str, arguments: dict[str, Any], seed: int,
                save_to: str | None, save_from: float = 0.0) -> tuple[float, float, str]:
    """One fastText training in a worker process: (validation accuracy, seconds, failure or "").

    The model is saved to ``save_to`` only when it scores at least ``save_from`` (the best accuracy
    when the trial started): a model with 2M buckets is a 1 GB file, and most trials lose.
    A diverging configuration (fastText raises "Encountered NaN") is a failed trial with accuracy 0,
    as a failed training job is in a SageMaker tuning job, not the end of the search.
    """
    import fasttext
    started = time.perf_counter()
    try:
        model = fasttext.train_supervised(input=train, seed=seed, verbose=0, **{"thread": 1, **arguments})
    except RuntimeError as exc:
        return 0.0, time.perf_counter() - started, str(exc)
    _, precision_at_1, _ = model.test(validation) if validation else (0, 0.0, 0)
    if save_to and precision_at_1 >= save_from:
        model.save_model(save_to)
        check_written(save_to)
    return float(precision_at_1), time.perf_counter() - started, ""


CostModel = Callable[[dict[str, Any], int], float]


def calibrate(pool: Any, train: Path, lines: int, validation_lines: int, space: SearchSpace,
              scratch: Path) -> CostModel:
    """Seconds one trial takes, from short timed trainings on this machine, run by the search's own
    workers (side by side, as the trials will run).

    A trial costs a fixed part (allocating the n-gram bucket table, and saving it when the trial may
    be the best: 2M buckets x 100 dimensions is 0.8 GB), the reading of the training lines and the
    testing of the validation lines, and epochs x dim x the per-token work; character n-grams
    multiply that work by a factor that grows with the length of the lines, so the factor is
    measured too when the space searches them. Epochs are timed on a slice of ``train``, 1 against 9
    of them; the timed runs save nothing, since the time to write a 0.8 GB file varied by more than
    the eight epochs the difference measures. An epoch costs about the same per line on small and
    large files of reviews, so the slice's rate scales to the whole file (timings in
    docs/performance.md, Training).
    """
    sample, tiny, head = scratch / "calibration.txt", scratch / "calibration-tiny.txt", []
    with train.open(encoding="utf-8") as source, sample.open("w", encoding="utf-8") as target:
        for line in source:
            if len(head) == CALIBRATION_LINES:
                break
            target.write(line)
            head.append(line)
    tiny.write_text("".join(head[:20]), encoding="utf-8")
    taken = len(head)
    fixed = {**space.fixed(), "vector_dim": 100, "subwords": 0,
             "word_ngrams": space.ranges["word_ngrams"].high if "word_ngrams" in space.ranges
             else space.fixed()["word_ngrams"]}
    # name: (training file, epochs, subwords, tested, saved)
    runs = {"saved": (tiny, 1, 0, False, True), "table": (tiny, 1, 0, False, False),
            "short": (sample, 1, 0, True, False), "long": (sample, 1 + LONG_EPOCHS, 0, True, False)}
    if "subwords" in space.ranges:
        runs["subwords"] = (sample, 3, 1, True, False)
    # Each timing twice, averaged: single runs of the same training varied too much to trust one.
    jobs = {(name, repeat): pool.apply_async(train_trial, (
                str(path), str(sample) if tested else "",
                fasttext_arguments({**fixed, "epochs": epochs, "subwords": subwords}, {}), 1,
                str(scratch / f"calibration-{name}-{repeat}.bin") if saved else None))
            for repeat in range(2) for name, (path, epochs, subwords, tested, saved) in runs.items()}
    seconds = {name: sum(job.get()[1] for (n, _), job in jobs.items() if n == name) / 2 for name in runs}
    table, saved = seconds["table"], seconds["saved"]
    per_epoch = max(1e-4, (seconds["long"] - seconds["short"]) / LONG_EPOCHS)
    # Reading the slice and testing on it: scaled to the training and validation lines, half each.
    reading = max(0.0, seconds["short"] - table - per_epoch)
    subword_factor = 1.0
    if "subwords" in seconds:
        subword_factor = max(1.0, (seconds["subwords"] - table - reading) / (3 * per_epoch))
    epoch_scale, reading_scale = lines / taken, (lines + validation_lines) / (2 * taken)

    def cost(params: dict[str, Any], epochs: int) -> float:
        values = {**space.fixed(), **params}
        dims = values.get("vector_dim", 100) / 100
        work = epochs * dims * (subword_factor if values.get("subwords") else 1.0)
        return saved * dims + reading_scale * reading + epoch_scale * per_epoch * work
    log.info("calibration: %.2f s a trial, %.3f s reading and testing and %.3f s an epoch for %d lines "
             "(character n-grams %.1fx)", saved, reading * reading_scale, per_epoch * epoch_scale, lines,
             subword_factor)
    return cost


def estimate_seconds(space: SearchSpace, max_jobs: int, strategy: str, seed: int, cost: CostModel,
                     refine: bool = True) -> float:
    """Wall time of a search: ``max_parallel`` trials at once, and no rung ends before its longest trial."""
    count, fractions = plan_rungs(max_jobs, strategy)
    configs, fixed = sample_configs(space, count, seed), space.fixed()
    total = 0.0
    for rung, fraction in enumerate(fractions):
        costs = [cost(c, epochs_for(c, fixed, fraction)) for c in configs]
        # Which configurations survive a rung is unknown before the search: price an average one.
        survivors = math.ceil(count / ETA ** rung)
        mean = sum(costs) / len(costs)
        total += max(mean * survivors / space.max_parallel, mean if rung else max(costs))
    if refine and refines(space, max_jobs, strategy):
        # Which configuration is refined is unknown too: the refine trials of an average one.
        means = [sum(cost(r, r["epochs"]) for r in refined) / len(configs) for refined in
                 zip(*(refine_configs(c, epochs_for(c, fixed, 1.0)) for c in configs))]
        total += max(sum(means) / space.max_parallel, max(means))
    return total


def jobs_for_budget(space: SearchSpace, budget: float, strategy: str, seed: int, cost: CostModel,
                    cap: int, refine: bool = True) -> tuple[int, bool]:
    """The largest ``max_jobs`` (at most ``cap``) whose estimated wall time fits ``budget`` seconds, and
    whether its search refines.

    Every count is priced: each samples its own hypercube, so a larger count can be cheaper than a
    smaller one whose sample holds a dear configuration. The refine rung comes first while halving
    still fits beside it (it gained more than 40 extra configurations did on generated reviews);
    where it does not, halving without it: on docstrings, a budget that fit 2 configurations and the
    refine rung scored 0.631 on the test split, the same budget spent on 18 trainings without it
    0.644 (docs/performance.md, Training).
    """
    def most(refine: bool) -> int:
        return max((jobs for jobs in range(1, cap + 1)
                    if estimate_seconds(space, jobs, strategy, seed, cost, refine) <= budget), default=1)
    if refine:
        jobs = most(True)
        if refines(space, jobs, strategy):
            return jobs, True
    return most(False), False


def _fitting_fraction(config: dict[str, Any], fixed: dict[str, Any], cost: CostModel, seconds: float) -> float:
    """The largest fraction of ``config``'s epochs whose training fits ``seconds`` (one epoch at least)."""
    epochs = epochs_for(config, fixed, 1.0)
    fitting = [e for e in range(1, epochs + 1) if cost(config, e) <= seconds]
    return max(fitting, default=1) / epochs


def _rank(trial: Trial) -> tuple[float, int, int]:
    """Best first: validation decides, whatever the rung; the later rung wins a tie, then the lower trial."""
    return -trial.accuracy, -trial.rung, trial.trial


class _OutOfTime(Exception):
    pass


def _run_rung(tasks: list[tuple[int, int]], parallel: int, submit: Callable[[int, int], Any],
              deadline: float | None, on_done: Callable[[int, int, tuple[float, float, str]], None],
              have_model: Callable[[], bool]) -> None:
    """Run a rung's (configuration, epochs) tasks, ``parallel`` at a time, in order; past the deadline, stop.

    Tasks are submitted one by one as workers free up, so each starts knowing the best accuracy so far.
    The deadline stops the rung only once a model exists: a budget shorter than the first training
    lets the running trials go on until one finishes (autotune overruns the same way, by retraining
    its best configuration after its time), since a search that ends without a model is of no use.
    """
    waiting, running, overrun = list(tasks), {}, False
    while waiting or running:
        late = deadline is not None and time.monotonic() > deadline
        if late and have_model():
            raise _OutOfTime
        if late and not overrun:
            overrun = True
            log.warning("the time budget ran out before any trial finished: waiting for the first one, so that "
                        "there is a model")
        while waiting and len(running) < (parallel if not late else 0 if running else 1):
            i, epochs = waiting.pop(0)
            running[submit(i, epochs)] = (i, epochs)
        finished = [job for job in running if job.ready()]
        for job in finished:
            on_done(*running.pop(job), job.get())
        if not finished:
            time.sleep(POLL_SECONDS)


def run_search(prepared: Prepared, space: SearchSpace, output: Path, seed: int,
               strategy: str = "halving", time_budget: float | None = None,
               budget_caps_jobs: bool = True, refine: bool = True, threads: int = 1) -> SearchResult:
    """Search, keep the best model as ``model.bin`` beside ``trials.csv``, ``search.json``, ``labels.json``.

    With ``time_budget`` the search fits in that many seconds: ``space.max_jobs`` is then an upper
    bound (``budget_caps_jobs``) or, when False, the budget alone decides (up to ``MAX_BUDGET_JOBS``).
    ``refine=False`` leaves out the refine rung; a budget may leave it out too. ``threads`` above 1
    trains each trial on that many threads: faster, but fastText's threads race, so the same seed no
    longer gives the same model (the time budget's cost model still assumes one).
    """
    if strategy not in ("halving", "random"):
        raise ReviewcatError(f"unknown search strategy {strategy!r}: use halving or random")
    if time_budget is not None and time_budget <= 0:
        raise ReviewcatError(f"--time-budget must be above 0 seconds, got {time_budget}")
    started = time.monotonic()
    train, validation = prepared.file("train"), prepared.file("validation")
    train_lines, validation_lines = (read_labeled(f, keep_text=False).labels for f in (train, validation))
    train_labels = set(train_lines)
    unseen = [label for label in validation_lines if label not in train_labels]
    if unseen:
        log.warning("%d validation lines have labels never seen in training (%s); fastText ignores them",
                    len(unseen), ", ".join(sorted(set(unseen))))
    scratch = output / f".trials-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    fixed, max_jobs, budget_note, short_of_one = space.fixed(), space.max_jobs, {}, False
    # Ctrl-C reaches the whole process group: the trials leave it to this process, which ends them.
    pool = multiprocessing.get_context("spawn").Pool(space.max_parallel, signal.signal,
                                                     (signal.SIGINT, signal.SIG_IGN))
    try:
        if time_budget is not None:
            cost = calibrate(pool, train, len(train_lines), len(validation_lines), space, scratch)
            # The plan leaves a margin: a search the deadline cuts loses its final rung.
            left = (time_budget - (time.monotonic() - started)) * BUDGET_MARGIN
            cap = space.max_jobs if budget_caps_jobs else MAX_BUDGET_JOBS
            max_jobs, fits = jobs_for_budget(space, left, strategy, seed, cost, cap, refine)
            estimate = estimate_seconds(space, max_jobs, strategy, seed, cost, fits)
            replay = f"--max-jobs {max_jobs}" + (" --no-refine" if refine and not fits
                                                 and refines(space, max_jobs, strategy) else "")
            refine = fits
            budget_note = {"time_budget": time_budget, "max_jobs": max_jobs, "estimated_seconds": round(estimate, 1),
                           "replay": replay}
            log.info("time budget %g s: %d full-training equivalents%s (estimated %.0f s); %s replays this search",
                     time_budget, max_jobs, " and the refine rung" * fits, estimate, replay)
            short_of_one = estimate > left  # only when even one full training does not fit
        count, fractions = plan_rungs(max_jobs, strategy)
        configs = sample_configs(space, count, seed)
        if short_of_one:
            # Not even one full training fits: one configuration, with as many epochs as fit.
            fractions = [_fitting_fraction(configs[0], fixed, cost, left)]
            budget_note["epochs_fitted"] = epochs_for(configs[0], fixed, fractions[0])
            log.warning("the time budget of %g s fits no full training here (about %.1f s): training one "
                        "configuration for %d of its %d epochs", time_budget, budget_note["estimated_seconds"],
                        budget_note["epochs_fitted"], epochs_for(configs[0], fixed, 1.0))
            budget_note["estimated_seconds"] = round(cost(configs[0], budget_note["epochs_fitted"]), 1)
        refine = refine and refines(space, max_jobs, strategy) and not short_of_one
        total = sum(math.ceil(count / ETA ** r) for r in range(len(fractions))) + refine * len(REFINE_RATES)
        log.info("local %s search: %d configurations, %d trainings in %d rung(s)%s, %d at a time",
                 strategy, count, total, len(fractions), " and a refine rung" * refine, space.max_parallel)
        trials, stopped = _search(pool, train, validation, space, configs, fractions, refine, seed, scratch,
                                  None if time_budget is None else started + time_budget, total, threads)
        over = time.monotonic() - started - (time_budget or math.inf)
        if over > 1:  # the deadline cuts within a poll: more means the first training outlasted the budget
            log.warning("the search took %.0f s more than its time budget of %g s to finish one training: give "
                        "this data --time-budget %d or more", over, time_budget, math.ceil(time_budget + over))
        finished = [t for t in trials if not t.failure]
        if not finished:
            raise ReviewcatError(f"every trial failed ({trials[-1].failure}): narrow the ranges, "
                                 "e.g. --range learning_rate=0.01:0.05")
        best = min(finished, key=_rank)
        model_path = output / MODEL_FILE
        (scratch / f"{best.trial}-{best.rung}.bin").replace(model_path)
    finally:
        pool.terminate()
        pool.join()
        shutil.rmtree(scratch, ignore_errors=True)
    if stopped:
        budget_note["stopped_trials"] = stopped
    _write_trials(output / TRIALS_FILE, trials, sorted(space.ranges))
    (output / SEARCH_FILE).write_text(json_text(
        {"backend": "local", "strategy": strategy, "seed": seed, "threads": threads, "space": space.to_dict(),
         **budget_note,
         "refine_rates": list(REFINE_RATES) if refine else [],
         "model_file": {"name": MODEL_FILE, **describe(str(model_path))},
         "seconds": round(time.monotonic() - started, 1),
         "best": {**asdict(best), "hyperparameters": {**fixed, **best.params, "epochs": best.epochs}}}))
    (output / LABELS_FILE).write_text(json_text(prepared.categories))
    log.info("best trial %d (rung %d): validation accuracy %.4f with %s", best.trial, best.rung, best.accuracy,
             best.params)
    return SearchResult(best, trials, model_path)


def _search(pool: Any, train: Path, validation: Path, space: SearchSpace, configs: list[dict[str, Any]],
            fractions: list[float], refine: bool, seed: int, scratch: Path, deadline: float | None,
            total: int, threads: int) -> tuple[list[Trial], int]:
    """Run the rungs, then the refine rung; returns the finished trials and how many the deadline
    stopped or never started.

    Only the best model so far is kept on disk, so a search cut short by its deadline still has the
    best model it found. The refine rung's configurations join ``configs`` after the sampled ones.
    """
    fixed, trials, survivors = space.fixed(), [], list(range(len(configs)))
    kept: list[Trial] = []
    progress = tqdm(total=total, desc="trials", unit="trial", disable=None)
    stopped = 0
    try:
        for rung, fraction in enumerate([*fractions, *[None] * refine]):
            rung_trials: list[Trial] = []
            if fraction is None:
                best = kept[0]
                survivors = list(range(len(configs), len(configs) + len(REFINE_RATES)))
                configs.extend(refine_configs(best.params, best.epochs))
                log.info("refine rung: trial %d again at %s of its learning rate for %s its %d epochs", best.trial,
                         " and ".join(f"{r:g}" for r in REFINE_RATES),
                         " and ".join(f"{1 / r:g}x" for r in REFINE_RATES), best.epochs)

            def submit(i: int, epochs: int, rung: int = rung) -> Any:
                arguments = {**fasttext_arguments(configs[i], fixed), "epoch": epochs, "thread": threads}
                return pool.apply_async(train_trial, (str(train), str(validation), arguments, seed + i,
                                                      str(scratch / f"{i}-{rung}.bin"),
                                                      kept[0].accuracy if kept else 0.0))

            def done(i: int, epochs: int, result: tuple[float, float, str], rung: int = rung) -> None:
                accuracy, seconds, failure = result
                if failure:
                    log.warning("trial %d failed: %s (%s)", i, failure, configs[i])
                trial = Trial(i, rung, configs[i], epochs, accuracy, round(seconds, 3), failure)
                rung_trials.append(trial)
                if not failure and (not kept or _rank(trial) < _rank(kept[0])):
                    if kept:
                        (scratch / f"{kept[0].trial}-{kept[0].rung}.bin").unlink()
                    kept[:] = [trial]
                else:
                    (scratch / f"{i}-{rung}.bin").unlink(missing_ok=True)
                progress.set_postfix_str(f"best accuracy {kept[0].accuracy:.4f}" if kept else "")
                progress.update()
            tasks = [(i, epochs_for(configs[i], fixed, fraction or 1.0)) for i in survivors]
            try:
                _run_rung(tasks, space.max_parallel, submit, deadline, done, lambda: bool(kept))
            except _OutOfTime:
                stopped = len(tasks) - len(rung_trials)
                log.warning("time budget reached: %d trial(s) of rung %d stopped or not started; keeping the best "
                            "finished one", stopped, rung)
                trials.extend(sorted(rung_trials, key=lambda t: (-t.accuracy, t.trial)))
                break
            rung_trials.sort(key=lambda t: (-t.accuracy, t.trial))
            trials.extend(rung_trials)
            keep = math.ceil(len(survivors) / ETA)
            log.info("rung %d (%s): best %.4f, keeping %d", rung,
                     f"{fraction:.0%} of epochs" if fraction else "refine", rung_trials[0].accuracy,
                     keep if rung < len(fractions) - 1 else 1)
            survivors = sorted(t.trial for t in rung_trials[:keep])
    finally:
        progress.close()
    return trials, stopped


def _write_trials(path: Path, trials: list[Trial], names: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial", "rung", *names, "epochs_trained", "validation_accuracy", "seconds", "failure"])
        for t in sorted(trials, key=lambda t: (t.rung, t.trial)):
            writer.writerow([t.trial, t.rung, *(t.params[n] for n in names), t.epochs, f"{t.accuracy:.6f}", t.seconds,
                             t.failure])
