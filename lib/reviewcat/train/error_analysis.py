"""Why a model errs, from its answers on the test split: the pairs it confuses, the baselines its
accuracy should be read against, how far its probabilities can be trusted, and every answer.

Pure functions of the test lines and the model's ranked answers, plus the two writers at the end
(the predictions table and the reliability diagram); ``evaluate`` puts them in metrics.json and
the report.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

# The report lists this many confused pairs, each with this many of its test texts.
CONFUSED_PAIRS = 10
EXAMPLES_PER_PAIR = 3
EXAMPLE_CHARS = 160
# Equal-width bins of the top-1 probability for the calibration error and its diagram.
CALIBRATION_BINS = 10
PREDICTIONS_FILE = "predictions.parquet"
RELIABILITY_PNG = "reliability.png"


def confused_pairs(true: Sequence[str], predicted: Sequence[str], texts: Sequence[str],
                   top: int = CONFUSED_PAIRS, examples: int = EXAMPLES_PER_PAIR) -> list[dict[str, Any]]:
    """The ``top`` (true, predicted) pairs the model gets wrong most often, most first (ties by name),
    each with its count, its share of the true class's lines and its first ``examples`` test texts."""
    counts = Counter((t, p) for t, p in zip(true, predicted) if t != p)
    support = Counter(true)
    chosen = sorted(counts, key=lambda pair: (-counts[pair], pair))[:top]
    found: dict[tuple[str, str], list[str]] = {pair: [] for pair in chosen}
    for t, p, text in zip(true, predicted, texts):
        shown = found.get((t, p))
        if shown is not None and len(shown) < examples:
            shown.append(text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS - 3] + "...")
    return [{"true": t, "predicted": p, "count": counts[(t, p)], "share_of_true": counts[(t, p)] / support[t],
             "examples": found[(t, p)]} for t, p in chosen]


def baselines(gold: Sequence[Sequence[str]], train_counts: Mapping[str, int] | None, k: int) -> dict[str, Any]:
    """What a model that learned nothing scores on these lines (each with its labels): always the
    training split's most common class (the test split's own when training's counts are unknown),
    or a uniform guess among the classes (its top-k: k of them), right when among a line's labels."""
    counts = dict(train_counts) if train_counts else Counter(label for labels in gold for label in labels)
    classes = len(set(counts).union(*gold))
    majority = max(sorted(counts), key=counts.get) if counts else ""
    hits = sum(1 for labels in gold if majority in labels)

    def uniform(picks: int) -> float:  # the chance that `picks` random classes include one of the line's
        picks = min(picks, classes)
        return sum(1 - math.comb(classes - len(labels), picks) / math.comb(classes, picks)
                   for labels in gold) / len(gold) if gold and classes else 0.0
    return {"majority": {"label": majority, "accuracy": hits / len(gold) if gold else 0.0,
                         "from": "the training split" if train_counts else "the test split"},
            "uniform": {"accuracy": uniform(1), "top_k": uniform(k)}}


def calibration(confidences: Sequence[float], correct: Sequence[bool], bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """The expected calibration error of the top-1 probabilities (the lines' share-weighted gap
    between a bin's mean probability and its accuracy), and the bins it is made of."""
    total = len(confidences)
    rows, error = [], 0.0
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        members = [i for i, p in enumerate(confidences)
                   if low <= p < high or (index == bins - 1 and p == high)]
        if not members:
            continue
        confidence = sum(confidences[i] for i in members) / len(members)
        accuracy = sum(1 for i in members if correct[i]) / len(members)
        error += len(members) / total * abs(accuracy - confidence)
        rows.append({"low": low, "high": high, "count": len(members), "confidence": confidence, "accuracy": accuracy})
    return {"ece": error, "bins": rows}


def plot_reliability(curve: dict[str, Any], path: Path) -> None:
    """Accuracy against mean top-1 probability per bin, with the diagonal a calibrated model follows."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 5))
    bins = curve["bins"]
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="calibrated")
    ax.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins],
           width=[(b["high"] - b["low"]) * 0.9 for b in bins], alpha=0.7, label="accuracy of the bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color="black",
            label="mean probability -> accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top-1 probability")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability (expected calibration error {curve['ece']:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def several_labels(gold: Sequence[Sequence[str]], ranked: Sequence[Sequence[str]], k: int) -> dict[str, Any]:
    """Precision and recall at 1 and at ``k`` for lines with any number of labels, pooled over the
    lines as fastText's ``test`` counts them: right answers among all answers given, and among all
    labels the lines carry."""
    total = sum(len(labels) for labels in gold)
    out: dict[str, Any] = {"lines_with_several_labels": sum(len(labels) > 1 for labels in gold), "labels": total}
    for n in sorted({1, k}):
        given = sum(min(n, len(answers)) for answers in ranked)
        right = sum(len(set(answers[:n]) & set(labels)) for answers, labels in zip(ranked, gold))
        out[f"at_{n}"] = {"precision": right / given if given else 0.0, "recall": right / total if total else 0.0}
    return out


def several_labels_line(several: Mapping[str, Any]) -> str:
    """``several_labels`` in a line, for the report and the model card."""
    return (f"{several['lines_with_several_labels']:,} test lines carry several labels: an answer among them is "
            "right (and is the label the matrix counts). Pooled over the lines as fastText's test counts them: "
            + "; ".join(f"precision@{key[3:]} {value['precision']:.4f}, recall@{key[3:]} {value['recall']:.4f}"
                        for key, value in several.items() if key.startswith("at_")))


def write_predictions(path: Path, true: Sequence[str], texts: Sequence[str],
                      answers: Sequence[Sequence[tuple[str, float]]], categories: Mapping[str, str],
                      all_labels: Sequence[Sequence[str]] | None = None) -> None:
    """Every test line's answer as parquet: its line number (``id``), text, true category and label,
    the top-k categories with their probabilities, and whether the first is right; for a test split
    with several labels a line, ``true_categories`` lists them all."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reviewcat.train.data import category_name
    names = dict(categories)
    table = pa.table({
        "id": pa.array(range(1, len(true) + 1), pa.int64()),
        "text": pa.array(list(texts), pa.string()),
        "true_category": pa.array([category_name(label, names) for label in true], pa.string()),
        "true_label": pa.array(list(true), pa.string()),
        "categories": pa.array([[category_name(label, names) for label, _ in pairs] for pairs in answers],
                               pa.list_(pa.string())),
        "probabilities": pa.array([[p for _, p in pairs] for pairs in answers], pa.list_(pa.float64())),
        "correct": pa.array([bool(pairs) and pairs[0][0] == label for label, pairs in zip(true, answers)],
                            pa.bool_()),
        **({"true_categories": pa.array([[category_name(label, names) for label in labels] for labels in all_labels],
                                         pa.list_(pa.string()))} if all_labels is not None else {}),
    })
    pq.write_table(table, path)
