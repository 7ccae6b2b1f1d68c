"""Early stopping for the local backend: BlazingText's ``early_stopping``, as near as fastText allows.

BlazingText checks validation accuracy after every epoch from ``min_epochs`` on and stops once it
has not improved for ``patience`` epochs. fastText can neither stop a training nor continue one, and
its learning rate falls to zero over the epochs it was given, so here the search's best
configuration is trained again for ``min_epochs``, ``min_epochs + 1``, ... epochs, each from the
start with the trial's own seed, until ``patience`` counts in a row bring no better validation
accuracy (or the configuration's own count is reached, which the search already trained). The
count with the best validation accuracy wins, the fewer epochs on a tie. That costs up to
``epochs - min_epochs`` more trainings of growing length, ``max_parallel`` at a time: worth it
where the search's epochs overfit, and an opt-in because it is not free.
"""
from __future__ import annotations

import logging
import multiprocessing
import shutil
import signal
import uuid
from typing import Any

from reviewcat.train.data import Prepared
from reviewcat.train.local_search import SearchResult, fasttext_arguments, train_trial
from reviewcat.train.model_file import describe
from reviewcat.train.space import EarlyStopping, SearchSpace

log = logging.getLogger(__name__)


def stopped_at(accuracies: dict[int, float], min_epochs: int, patience: int) -> int | None:
    """The epoch count after which BlazingText's rule stops, given the accuracies so far (counts
    from ``min_epochs`` up without gaps), or None while it goes on."""
    best_count, best = None, -1.0
    for count in range(min_epochs, min_epochs + len(accuracies)):
        if accuracies[count] > best:
            best_count, best = count, accuracies[count]
        elif count - best_count >= patience:
            return count
    return None


def stop_early(result: SearchResult, prepared: Prepared, space: SearchSpace, stopping: EarlyStopping,
               seed: int, threads: int = 1) -> dict[str, Any]:
    """Trains the best configuration for fewer epochs as described above; replaces ``result``'s
    model file when a count does better on validation. Returns the record for ``search.json``."""
    best, full = result.best, result.best.epochs
    record: dict[str, Any] = {"patience": stopping.patience, "min_epochs": stopping.min_epochs, "searched_epochs": full}
    if full <= stopping.min_epochs:
        log.info("early stopping: the best configuration trains %d epochs, no more than --min-epochs %d", full,
                 stopping.min_epochs)
        return {**record, "epochs": full, "validation_accuracy": best.accuracy,
                "accuracies": {str(full): best.accuracy}}
    arguments = fasttext_arguments(best.params, space.fixed())
    log.info("early stopping: training the best configuration again for %d to at most %d epochs (after the "
             "search, outside any --time-budget)", stopping.min_epochs, full - 1)
    scratch = result.model_path.parent / f".early-{uuid.uuid4().hex[:8]}"
    accuracies: dict[int, float] = {}
    kept: tuple[int, float] | None = None  # the best count so far, the one model file kept
    stop, pool = None, None
    try:
        scratch.mkdir()
        pool = multiprocessing.get_context("spawn").Pool(space.max_parallel, signal.signal,
                                                         (signal.SIGINT, signal.SIG_IGN))
        count = stopping.min_epochs
        while count < full and stop is None:
            wave = range(count, min(full, count + space.max_parallel))
            jobs = {n: pool.apply_async(train_trial, (str(prepared.file("train")), str(prepared.file("validation")),
                                                      {**arguments, "epoch": n, "thread": threads},
                                                      seed + best.trial, str(scratch / f"{n}.bin"),
                                                      kept[1] if kept else 0.0))
                    for n in wave}
            for n, job in jobs.items():  # in order of the count: the rule reads them so
                accuracy, _, failure = job.get()
                if stop is not None:  # trained beside the count the rule stopped at
                    (scratch / f"{n}.bin").unlink(missing_ok=True)
                    continue
                if failure:
                    log.warning("early stopping: training for %d epochs failed (%s)", n, failure)
                accuracies[n] = accuracy
                log.info("early stopping: %d epochs, validation accuracy %.4f", n, accuracy)
                if not failure and (kept is None or accuracy > kept[1]):
                    if kept:
                        (scratch / f"{kept[0]}.bin").unlink()
                    kept = (n, accuracy)
                else:
                    (scratch / f"{n}.bin").unlink(missing_ok=True)
                stop = stopped_at(accuracies, stopping.min_epochs, stopping.patience)
            count = wave[-1] + 1
        # The fewer epochs on a tie: a count below the search's own wins when it does as well.
        chosen, accuracy = kept if kept and kept[1] >= best.accuracy else (full, best.accuracy)
        if chosen != full:
            (scratch / f"{chosen}.bin").replace(result.model_path)
            log.info("early stopping: %d epochs instead of %d, validation accuracy %.4f against %.4f", chosen, full,
                     accuracy, best.accuracy)
        else:
            log.info("early stopping: no count below %d epochs does as well (%.4f)", full, best.accuracy)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        shutil.rmtree(scratch, ignore_errors=True)
    return {**record, "epochs": chosen, "validation_accuracy": accuracy,
            **({"stopped_after": stop} if stop is not None else {}),
            "accuracies": {str(n): a for n, a in sorted({**accuracies, full: best.accuracy}.items())},
            "model_file": describe(str(result.model_path))}


def applied(search: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """``search.json`` after early stopping: its record, and the epochs and model file it kept."""
    best = search["best"]
    return {**search, "early_stopping": record, "model_file": {**search["model_file"], **record.get("model_file", {})},
            "best": {**best, "epochs": record["epochs"], "accuracy": record["validation_accuracy"],
                     "hyperparameters": {**best["hyperparameters"], "epochs": record["epochs"]}}}

