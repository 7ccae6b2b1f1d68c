"""``model.ftz``: the chosen model quantized, kept beside ``model.bin`` when it loses (almost) no
validation accuracy.

fastText's quantization keeps the input matrix's ``cutoff`` rows of largest norm (words and word
n-gram buckets) and compresses them by product quantization; the output matrix and the vocabulary
stay. Without retraining it is a single pass; the cutoff bounds both its time and the file's size,
whatever the buckets (measured on the demo's model in docs/training-and-scoring.md). The quantized model
loads and predicts as the full one does (fastText and fasttext-predict read ``.ftz``), so predict,
predict-table, the Glue job and evaluate take either.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from reviewcat.train.data import Prepared, read_labeled
from reviewcat.train.model import load_model, top_k
from reviewcat.train.model_file import check_written, describe

log = logging.getLogger(__name__)

QUANTIZED_FILE = "model.ftz"
# Rows of the input matrix kept: the words and word n-gram buckets of largest norm.
CUTOFF = 20_000
# Validation accuracy the quantized model may lose against the full one and still be kept.
TOLERANCE = 0.005


def _accuracy(model: Any, path: Path) -> float:
    """Accuracy on a split as evaluation counts it: a line whose label the model never saw is an
    error (fastText's own ``test`` leaves such lines out)."""
    data = read_labeled(path)
    answers = top_k(model, data.texts, 1)
    return sum(1 for i, pairs in enumerate(answers) if pairs and pairs[0][0] in data.gold(i)) / len(data.labels)


def quantize(model_path: Path, prepared: Prepared, folder: Path, threads: int = 2) -> dict[str, Any]:
    """Writes ``folder/model.ftz`` when its validation accuracy is within ``TOLERANCE`` of the
    model's; returns the record of what was measured either way (``kept`` says which)."""
    model = load_model(str(model_path))
    before = _accuracy(model, prepared.file("validation"))
    started = time.monotonic()
    model.quantize(input=str(prepared.file("train")), qnorm=True, retrain=False, cutoff=CUTOFF, thread=threads)
    target = folder / QUANTIZED_FILE
    model.save_model(str(target))
    check_written(str(target))  # fastText does not check its writes: a full disk leaves a cut file
    seconds = time.monotonic() - started
    after = _accuracy(model, prepared.file("validation"))
    record = {"name": QUANTIZED_FILE, **describe(str(target)), "cutoff": CUTOFF, "seconds": round(seconds, 1),
              "validation_accuracy": after, "full_validation_accuracy": before,
              "test_accuracy": _accuracy(model, prepared.file("test")), "full_bytes": os.path.getsize(model_path),
              "kept": before - after <= TOLERANCE}
    if record["kept"]:
        log.info("quantized %s: %s, %.1f MB instead of %.1f MB, validation accuracy %.4f against %.4f (%.0f s)",
                 model_path.name, QUANTIZED_FILE, record["bytes"] / 1e6, record["full_bytes"] / 1e6, after, before,
                 seconds)
    else:
        target.unlink()
        log.warning("the quantized model lost %.4f validation accuracy (%.4f against %.4f), more than %.3f: only "
                    "%s is kept", before - after, after, before, TOLERANCE, model_path.name)
    return record
