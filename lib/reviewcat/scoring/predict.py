"""``reviewcat predict``: a model's top-k categories for texts, from the command line or a script.

A local model or a deployed BlazingText endpoint answers; texts are cleaned and tokenized exactly
as training's were, and stdin is answered line by line as it arrives.
"""
from __future__ import annotations

import json
import os
import sys
from argparse import Namespace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from reviewcat.prep.text import normalize
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import Option, fraction, positive_int
from reviewcat.schema import LABELS_FILE
from reviewcat.scoring.line_batches import line_batches
from reviewcat.train.data import beside_json, category_name, model_record, parse_labels
from reviewcat.train.model import endpoint_top_k, load_model, sagemaker_runtime, top_k

PREDICT = [
    Option("model", "model.bin or a BlazingText model.tar.gz (with labels.json beside it for category names)"),
    Option("endpoint", "name of a deployed BlazingText endpoint to ask instead of a local model"),
    Option("top-k", "how many labels per text", positive_int, 3, short="-k"),
    Option("labels", "labels.json or manifest.json naming the categories (default: labels.json beside --model)"),
    Option("threshold", "of the top -k, leave out the labels whose probability is below this (a text may then get "
           "none)", fraction, 0.0),
    Option("with-ids", "each text (argument or stdin line) is id<TAB>text; the output names the id", switch=True),
    Option("json", "one JSON object per text: id (given, else the argument's or line's number from 1), labels, "
           "probabilities", switch=True),
    Option("region", "--endpoint: its AWS region (default: the AWS configuration's)"),
]
# Texts asked of a model or endpoint at once, at most: output follows input as it streams, and an
# endpoint request stays below SageMaker's 6 MB payload limit.
PREDICT_BATCH = 500
PREDICT_BATCH_CHARS = 1_000_000


def _labels_file(path: str) -> dict[str, str]:
    """Label -> category from a labels.json or a prepare manifest.json."""
    file = Path(path)
    if not file.is_file():
        raise ReviewcatError(f"labels file {path} not found")
    return parse_labels(file.read_text(), path)


def predict(model: str | None, endpoint: str | None, texts: Iterable[str], k: int, labels: str | None = None,
            client: object = None, threshold: float = 0.0, region: str | None = None) -> list[list[tuple[str, float]]]:
    """Top-k (category, probability) for raw review texts, cleaned and tokenized as in training;
    labels under ``threshold`` are left out, so a text may get none."""
    return list(predictor(model, endpoint, k, labels, client, threshold, region)(list(texts)))


def predictor(model: str | None, endpoint: str | None, k: int, labels: str | None = None, client: object = None,
              threshold: float = 0.0,
              region: str | None = None) -> Callable[[list[str]], list[list[tuple[str, float]]]]:
    """A function from raw texts to their top-k (category, probability): the model is loaded (or the
    endpoint's client made) once, for every batch of a stream."""
    if bool(model) == bool(endpoint):
        raise ReviewcatError("give either --model or --endpoint")
    if region and not endpoint:
        raise ReviewcatError("--region goes with --endpoint: a local --model needs no region")
    if endpoint:
        client = client or sagemaker_runtime(region)
        categories = _labels_file(labels) if labels else {}
        ask = lambda tokenized: endpoint_top_k(endpoint, tokenized, k, client)  # noqa: E731
    else:
        loaded = load_model(model, model_record(model))
        categories = _labels_file(labels) if labels else (beside_json(model, LABELS_FILE) or {})
        ask = lambda tokenized: top_k(loaded, tokenized, k)  # noqa: E731

    def answer(texts: list[str]) -> list[list[tuple[str, float]]]:
        answers = ask([normalize(t) for t in texts]) if texts else []
        return [[(category_name(label, categories), p) for label, p in pairs if p >= threshold] for pairs in answers]
    return answer


def _batches(args: Namespace) -> Iterator[list[tuple[str, str]]]:
    """(id, text) of the texts to predict, in batches: the arguments, else stdin's non-blank lines
    as they arrive (``line_batches``). Without --with-ids a text's id is its argument's or line's
    number, from 1."""
    if args.texts:
        numbered = [[(i, text) for i, text in enumerate(args.texts, 1) if text.strip()]]
    else:
        numbered = line_batches(sys.stdin.fileno(), PREDICT_BATCH, PREDICT_BATCH_CHARS)
    for batch in numbered:
        if not args.with_ids:
            yield [(str(number), text) for number, text in batch]
            continue
        pairs = []
        for number, line in batch:
            key, tab, text = line.partition("\t")
            if not tab or not key.strip():
                raise ReviewcatError(f"line {number} is not id<TAB>text, as --with-ids reads: {line[:60]!r}")
            pairs.append((key, text))
        yield pairs


def predict_command(args: Namespace) -> None:
    """Predictions printed as the texts stream in: a line per text (its id with --with-ids, the
    whole text when there are several), or one JSON object per text with --json."""
    answer = predictor(args.model, args.endpoint, args.top_k, args.labels, threshold=args.threshold,
                        region=args.region)
    several = args.with_ids or not args.texts or len(args.texts) > 1
    seen = 0
    try:
        for batch in _batches(args):
            for (key, text), pairs in zip(batch, answer([text for _, text in batch])):
                if args.json:
                    line = json.dumps({"id": key, "labels": [n for n, _ in pairs],
                                       "probabilities": [round(p, 6) for _, p in pairs]}, ensure_ascii=False)
                else:
                    shown = "  ".join(f"{name} {p:.3f}" for name, p in pairs)
                    line = f"{key}\t{shown}" if args.with_ids else f"{shown}\t{text}" if several else shown
                print(line, flush=False)
            sys.stdout.flush()
            seen += len(batch)
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say, and no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if not seen:
        raise ReviewcatError("nothing to predict: give texts as arguments or one per line on stdin")
