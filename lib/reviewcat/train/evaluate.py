"""Test-set evaluation: accuracy with a confidence interval, top-k accuracy, per-class metrics,
confusion matrix, report."""
from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reviewcat.runtime.storage import json_text
from reviewcat.schema import DRIFT_REFERENCE, METRICS_FILE, REPORT_FILE, SPLITS
from reviewcat.scoring import drift
from reviewcat.train import error_analysis
from reviewcat.train.data import Prepared, category_name, read_labeled, split_described
from reviewcat.train.model import load_model, model_vocabulary, top_k, unseen_tokens
from reviewcat.train.model_file import describe, match_record, recorded
from reviewcat.train.space import early_stopping_described

log = logging.getLogger(__name__)

MATRIX_CSV = "confusion_matrix.csv"
BIAS_FILE = "bias.json"
MATRIX_PNG = "confusion_matrix.png"
# A triage tool suggests a few queues for a person to pick from (the talk showed three guesses):
# how often the right one is among them is the number that tool lives by.
TOP_K = 3


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval for a proportion; unlike the normal approximation it stays inside [0, 1]."""
    if total == 0:
        return 0.0, 0.0
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def confusion_matrix(true: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts with true labels as rows and predicted labels as columns."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, ([index[t] for t in true], [index[p] for p in predicted]), 1)
    return matrix


def classification_metrics(true: Sequence[str], predicted: Sequence[str]) -> tuple[dict[str, Any], list[str], np.ndarray]:
    """Accuracy (with 95% CI), per-class and macro precision/recall/F1 over every label seen in either."""
    labels = sorted(set(true) | set(predicted))
    matrix = confusion_matrix(true, predicted, labels)
    hits = np.diag(matrix)
    support, predicted_count = matrix.sum(axis=1), matrix.sum(axis=0)
    precision = np.divide(hits, predicted_count, out=np.zeros(len(labels)), where=predicted_count > 0)
    recall = np.divide(hits, support, out=np.zeros(len(labels)), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(labels)),
                   where=(precision + recall) > 0)
    correct, total = int(hits.sum()), int(matrix.sum())
    low, high = wilson_interval(correct, total)
    metrics = {
        "examples": total,
        "accuracy": correct / total if total else 0.0,
        "accuracy_ci95": [low, high],
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "per_class": {label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                              "support": int(support[i])} for i, label in enumerate(labels)},
    }
    return metrics, labels, matrix


def top_k_accuracy(true: Sequence[str], ranked: Sequence[Sequence[str]], k: int) -> dict[str, Any]:
    """How often the true label is among the first ``k`` of each ranking, with its 95% interval."""
    hits = sum(1 for label, labels in zip(true, ranked) if label in labels[:k])
    low, high = wilson_interval(hits, len(true))
    return {"k": k, "accuracy": hits / len(true) if true else 0.0, "ci95": [low, high]}


def _plot(matrix: np.ndarray, names: list[str], accuracy: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    n = len(names)
    size = max(6.0, 0.3 * n + 3)
    font = 10 if n <= 15 else 7
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), names, rotation=90, fontsize=font)
    ax.set_yticks(range(n), names, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix, row-normalised (accuracy {accuracy:.3f})")
    if n <= 15:
        for (i, j), value in np.ndenumerate(normalised):
            if value > 0:
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=font,
                        color="white" if value > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(model_path: str, test_file: Path, output: Path, categories: dict[str, str],
             search: dict | None = None, recorded_as: str | None = None, k: int = TOP_K,
             train_counts: dict[str, int] | None = None, test_shown: str | None = None) -> dict[str, Any]:
    """Score the model on the test split and write metrics.json, the confusion matrix (CSV, PNG),
    every test answer (predictions.parquet) and the reliability diagram.

    ``search`` is training's ``search.json`` of the model, whose record of the file it must match;
    ``recorded_as`` is where the model stays, when ``model_path`` is a copy or a staging folder's;
    ``k``: how many of the model's best guesses the top-k accuracy looks at; ``train_counts``: lines
    per label of the training split, whose most common label is the majority baseline; ``test_shown``:
    where the test file is, when ``test_file`` is a copy.
    """
    name = Path(model_path).name
    record = recorded(search, name)
    file_record = {"name": name, **(match_record(model_path, record) or describe(model_path))}
    model = load_model(model_path)  # the record is matched: the layout is still walked
    data = read_labeled(test_file)
    known = set(model.get_labels())
    unseen = [label for label in data.labels if label not in known]
    if unseen:
        log.warning("%d test lines have labels never seen in training (%s): counted as errors", len(unseen),
                    ", ".join(sorted(set(unseen))))
    answers = top_k(model, data.texts, k)
    ranked = [[label for label, _ in pairs] for pairs in answers]
    predicted = [r[0] if r else "" for r in ranked]
    gold = [data.gold(i) for i in range(len(data.labels))]
    # A line of several labels is answered right by any of them, and counts against that one (else its first).
    true = [p if p in own else t for t, p, own in zip(data.labels, predicted, gold)]
    metrics, labels, matrix = classification_metrics(true, predicted)
    named = lambda label: category_name(label, categories)  # noqa: E731
    # Keyed by the names a reader knows; the label as fastText wrote it stays beside.
    metrics["per_class"] = {named(label): {"label": label, **values} for label, values in metrics["per_class"].items()}
    metrics["top_k"] = top_k_accuracy([next((r for r in answer[:k] if r in own), t)
                                       for t, answer, own in zip(true, ranked, gold)], ranked, k)
    if data.others:
        metrics["several_labels"] = error_analysis.several_labels(gold, ranked, k)
    metrics["baselines"] = error_analysis.baselines(gold, train_counts, k)
    metrics["baselines"]["majority"]["category"] = named(metrics["baselines"]["majority"]["label"])
    metrics["calibration"] = error_analysis.calibration([pairs[0][1] if pairs else 0.0 for pairs in answers],
                                                        [p == t for p, t in zip(predicted, true)])
    metrics["confused_pairs"] = error_analysis.confused_pairs([named(t) for t in true],
                                                              [named(p) for p in predicted], data.texts)
    metrics["unseen_label_examples"] = len(unseen)
    metrics["model"] = recorded_as or str(model_path)
    metrics["model_file"] = file_record
    if (search or {}).get("quantized") and name == (search.get("model_file") or {}).get("name"):
        metrics["quantized"] = search["quantized"]  # training's quantized copy of this model, on the same splits
    metrics["test_file"] = test_shown or str(test_file)
    names = [category_name(label, categories) for label in labels]
    output.mkdir(parents=True, exist_ok=True)
    with (output / MATRIX_CSV).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *names])
        for name, row in zip(names, matrix):
            writer.writerow([name, *row.tolist()])
    _plot(matrix, names, metrics["accuracy"], output / MATRIX_PNG)
    error_analysis.plot_reliability(metrics["calibration"], output / error_analysis.RELIABILITY_PNG)
    error_analysis.write_predictions(output / error_analysis.PREDICTIONS_FILE, true, data.texts, answers,
                                     categories, gold if data.others else None)
    (output / METRICS_FILE).write_text(json_text(metrics))
    low, high = metrics["accuracy_ci95"]
    log.info("test accuracy %.4f (95%% CI %.4f-%.4f), top-%d %.4f, macro F1 %.4f on %d examples",
             metrics["accuracy"], low, high, k, metrics["top_k"]["accuracy"], metrics["macro_f1"],
             metrics["examples"])
    return metrics


def write_evaluation(model_path: str, prepared: Prepared, output: Path, categories: dict[str, str],
                     search: dict | None, recorded_as: str | None = None, k: int = TOP_K) -> dict[str, Any]:
    """Everything an evaluation writes into ``output``: the test metrics and confusion matrix
    (``evaluate``), the drift reference and the report; training and ``reviewcat evaluate`` both end so."""
    train_counts = ((prepared.manifest or {}).get("files", {}).get("train") or {}).get("labels")
    metrics = evaluate(model_path, prepared.file("test"), output, categories, search, recorded_as, k, train_counts,
                       prepared.shown("test"))
    bias = (prepared.manifest or {}).get("bias")
    if bias:  # the data's bias before and after balancing, beside the model it trained (and registered with it)
        (output / BIAS_FILE).write_text(json_text(bias))
    write_drift_reference(model_path, prepared, output, categories)
    write_report(output, metrics, categories, prepared.manifest, search)
    return metrics


def write_drift_reference(model_path: str, prepared: Prepared, output: Path, categories: dict[str, str]) -> dict | None:
    """``drift.REFERENCE_FILE`` in ``output``: what new data is compared with (``reviewcat drift``,
    predict-table's summary), from the validation split and the category mix training sampled from.

    That mix is the table's before balancing (the manifest's balance counts), as new data arrives
    with the table's mix, not the even one balancing made; without those counts, the training split's."""
    if not prepared.file("validation").is_file():
        log.warning("no validation split: no %s, so no drift summary for this model", DRIFT_REFERENCE)
        return None
    model = load_model(model_path)
    vocabulary = model_vocabulary(model_path)
    data = read_labeled(prepared.file("validation"))
    answers = top_k(model, data.texts, 1)
    counted = [unseen_tokens(text, vocabulary) for text in data.texts]
    manifest = prepared.manifest or {}
    source = (manifest.get("balance") or {}).get("counts")
    if source:
        mix, mix_from = {c: n for c, n in source.items() if c in set(categories.values())}, "the table before balancing"
    else:
        train = read_labeled(prepared.file("train"), keep_text=False).labels
        mix, mix_from = {}, "the training split"
        for label in train:
            name = category_name(label, categories)
            mix[name] = mix.get(name, 0) + 1
    ref = drift.reference([category_name(label, categories) for label in data.labels],
                          [category_name(a[0][0], categories) if a else "" for a in answers],
                          [a[0][1] if a else 0.0 for a in answers], sum(n for n, _ in counted),
                          sum(u for _, u in counted), mix, mix_from,
                          {label: category_name(label, categories) for label in model.get_labels()})
    output.mkdir(parents=True, exist_ok=True)
    (output / DRIFT_REFERENCE).write_text(json_text(ref))
    return ref


def _top_k_line(metrics: dict[str, Any]) -> list[str]:
    top = metrics.get("top_k")  # absent from metrics written before it was reported
    if not top:
        return []
    low, high = top["ci95"]
    return [f"- top-{top['k']} accuracy: **{top['accuracy']:.4f}** (95% CI {low:.4f}-{high:.4f}): the true "
            f"category is among the model's {top['k']} best guesses"]


def _space_lines(search: dict) -> list[str]:
    """Which space was searched, why, and what bounded the search: what a reader needs to trust the model."""
    space = search.get("space", {})
    lines = ["- searched: " + ", ".join(f"{n} {r[0]}-{r[1]}" + (" (log)" if len(r) > 2 else "")
                                        for n, r in sorted(space.get("ranges", {}).items()))] if space else []
    if space.get("derived_from"):
        lines.append(f"- space derived from the data: {space['derived_from']['reason']}")
    if search.get("refine_rates"):
        lines.append("- refine rung: the best configuration again at " + " and ".join(
            f"{r:g}x its learning rate for {1 / r:g}x its epochs" for r in search["refine_rates"]))
    if "time_budget" in search:
        lines.append(f"- time budget {search['time_budget']:g} s: {search['max_jobs']} full-training equivalents "
                     f"(replay with {search['replay']})")
    if search.get("early_stopping"):
        lines.append(f"- {early_stopping_described(search['early_stopping'])}")
    return lines


def _bias_lines(bias: dict | None) -> list[str]:
    """The label's bias across categories in the balance job's input and output, when it measured one."""
    if not bias:
        return []
    from reviewcat.prep.bias_metrics import markdown_table
    first = bias["before"]
    lines = [f"## Bias of {first['label']} across {first['facet']}", "",
             f"SageMaker Clarify's pre-training metrics, each {first['facet']} against the rest (DPL: the "
             f"'{first['positive']}' share of the rest minus its own). Near 0 is balanced.", ""]
    for name in ("before", "after"):
        lines += [f"{name.capitalize()} balancing:", "", markdown_table(bias[name]), ""]
    return lines


def _size_lines(metrics: dict[str, Any]) -> list[str]:
    small = metrics.get("quantized")
    if not small:
        return []
    full = f"{metrics['model_file']['name']} {small['full_bytes'] / 1e6:.1f} MB"
    if not small["kept"]:
        lost = small["full_validation_accuracy"] - small["validation_accuracy"]
        return ["## Model size", "", f"- {full}; quantized it lost {lost:.4f} validation accuracy, more than allowed, "
                "so no model.ftz was kept", ""]
    return ["## Model size", "",
            f"- {full}, test accuracy {metrics['accuracy']:.4f}",
            f"- {small['name']} {small['bytes'] / 1e6:.1f} MB (quantized, {small['cutoff']:,} rows kept), test "
            f"accuracy {small['test_accuracy']:.4f}; validation {small['validation_accuracy']:.4f} against "
            f"{small['full_validation_accuracy']:.4f}: predict, predict-table and evaluate take either", ""]


def _baseline_lines(metrics: dict[str, Any]) -> list[str]:
    base = metrics.get("baselines")
    if not base:
        return []
    majority, uniform = base["majority"], base["uniform"]
    top = metrics.get("top_k", {}).get("k")
    return [f"- baselines: always {majority['category']} (the most common class of {majority['from']}) "
            f"{majority['accuracy']:.4f}; a uniform guess {uniform['accuracy']:.4f}"
            + (f" (top-{top} {uniform['top_k']:.4f})" if top else "")]


def _confusion_lines(metrics: dict[str, Any]) -> list[str]:
    pairs = metrics.get("confused_pairs")
    if not pairs:
        return []
    lines = ["## Most confused", "", "| true | predicted as | test lines | share of the true class |",
             "|---|---|---:|---:|"]
    lines += [f"| {p['true']} | {p['predicted']} | {p['count']} | {p['share_of_true']:.1%} |" for p in pairs]
    lines.append("")
    for pair in pairs:
        lines += [f"{pair['true']} taken for {pair['predicted']}:", ""]
        lines += [f"- `{example.replace('`', chr(39))}`" for example in pair["examples"]]
        lines.append("")
    lines += [f"Every test answer: [{error_analysis.PREDICTIONS_FILE}]({error_analysis.PREDICTIONS_FILE}).", ""]
    return lines


def _calibration_lines(metrics: dict[str, Any]) -> list[str]:
    curve = metrics.get("calibration")
    if not curve:
        return []
    return ["## Calibration", "",
            f"Expected calibration error {curve['ece']:.4f}: how far the top-1 probability is from the share of "
            "answers that are right, on average (`predict --threshold` relies on these probabilities).", "",
            f"![reliability diagram]({error_analysis.RELIABILITY_PNG})", ""]


def write_report(output: Path, metrics: dict[str, Any], categories: dict[str, str],
                 manifest: dict | None, search: dict | None) -> Path:
    """One markdown page tying the data, the chosen hyperparameters and the test metrics together."""
    low, high = metrics["accuracy_ci95"]
    lines = ["# reviewcat model report", ""]
    if manifest:
        files = manifest.get("files", {})
        lines += ["## Data", "", f"- source: `{manifest.get('source')}`, seed {manifest.get('seed')}, "
                  f"min_chars {manifest.get('min_chars')}",
                  f"- labels: {len(manifest.get('labels', {}))}; rows: "
                  + ", ".join(f"{s} {files[s]['rows']:,}" for s in SPLITS if s in files),
                  f"- split: {split_described(manifest)}", ""]
        lines += _bias_lines(manifest.get("bias"))
    if search:
        best = search["best"]
        lines += ["## Model", "", f"- backend: {search['backend']}"
                  + (f" ({search['strategy']} search)" if search.get("strategy") else ""),
                  f"- best validation accuracy: {best['accuracy']:.4f}",
                  "- hyperparameters: " + ", ".join(f"{k}={v}" for k, v in sorted(best["hyperparameters"].items())),
                  *_space_lines(search), ""]
    lines += _size_lines(metrics)
    lines += ["## Test metrics", "",
              f"- accuracy: **{metrics['accuracy']:.4f}** (95% CI {low:.4f}-{high:.4f}, {metrics['examples']:,} examples)",
              *_top_k_line(metrics),
              f"- macro precision {metrics['macro_precision']:.4f}, recall {metrics['macro_recall']:.4f}, "
              f"F1 {metrics['macro_f1']:.4f}"]
    if metrics.get("unseen_label_examples"):
        lines.append(f"- {metrics['unseen_label_examples']} test examples have labels never seen in training")
    if metrics.get("several_labels"):
        lines.append(f"- {error_analysis.several_labels_line(metrics['several_labels'])}")
    lines += _baseline_lines(metrics)
    lines += ["", "| category | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, m in metrics["per_class"].items():
        lines.append(f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    lines += ["", f"![confusion matrix]({MATRIX_PNG})", "", f"Counts: [{MATRIX_CSV}]({MATRIX_CSV})", ""]
    lines += _confusion_lines(metrics) + _calibration_lines(metrics)
    path = output / REPORT_FILE
    path.write_text("\n".join(lines))
    return path
