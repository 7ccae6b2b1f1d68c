"""``model_card.md``: what a model is for, what it was made from, how well it does and where it
stops, for the person who decides whether to ship it (the report is for the one who tunes it).

Built only from what training already wrote: the prepare manifest (data, balance, bias), the
search record and the test metrics; nothing is measured here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from reviewcat import __version__
from reviewcat.schema import SPLITS
from reviewcat.train.data import category_name, split_described
from reviewcat.train.error_analysis import several_labels_line
from reviewcat.train.space import early_stopping_described

MODEL_CARD = "model_card.md"
# The weakest classes a card names, by F1.
WEAKEST = 3


def _data(manifest: Mapping[str, Any], categories: Mapping[str, str]) -> list[str]:
    files = manifest.get("files", {})
    lines = ["## Data", "", f"- input: `{manifest.get('source')}` (text column `{manifest.get('text_column')}`, "
             f"label {manifest.get('label', {}).get('name', manifest.get('label_column'))})",
             f"- cleaning: {manifest.get('rows_in', 0):,} rows in, {manifest.get('rows_out', 0):,} kept (texts under "
             f"{manifest.get('min_chars')} characters, empty ones and duplicates removed): "
             + ", ".join(f"{s} {files[s]['rows']:,}" for s in SPLITS if s in files),
             f"- split: {split_described(manifest)}"]
    train = (files.get("train") or {}).get("labels") or {}
    if train:
        counts = sorted(train.values())
        lines.append(f"- training lines per class: {counts[0]:,} to {counts[-1]:,} over {len(counts)} classes")
    balance = manifest.get("balance")
    if balance:
        # Rows per class, or per (value, class) cell when balanced --within a column: {value: {class: n}}.
        before = [n for count in (balance.get("counts") or {}).values()
                  for n in (count.values() if isinstance(count, dict) else [count])]
        dropped = balance.get("dropped") or []
        label = balance.get("label")
        unit = "cell" if any(isinstance(c, dict) for c in (balance.get("counts") or {}).values()) else "class"
        lines.append(f"- balanced by {label.get('name') if isinstance(label, dict) else label}: " + (
            f"{min(before):,} to {max(before):,} rows a {unit} before" if before else "")
            + (f"; left out for too few rows: {', '.join(map(str, dropped))}" if dropped else ""))
    return lines + [""]


def _training(search: Mapping[str, Any]) -> list[str]:
    best = search.get("best") or {}
    space = search.get("space") or {}
    lines = ["## Training", "", f"- backend: {search.get('backend')}"
             + (f", {search['strategy']} search" if search.get("strategy") else "")
             + (f", tuning job {search['tuning_job']}" if search.get("tuning_job") else "")]
    if space.get("ranges"):
        lines.append("- searched: " + ", ".join(f"{name} {r[0]}-{r[1]}" for name, r in sorted(space["ranges"].items())))
    if best:
        lines.append("- chosen: " + ", ".join(f"{k}={v}" for k, v in sorted(best.get("hyperparameters", {}).items()))
                     + (f" (validation accuracy {best['accuracy']:.4f})" if best.get("accuracy") is not None else ""))
    if search.get("early_stopping"):
        lines.append(f"- {early_stopping_described(search['early_stopping'])}")
    if search.get("seconds") is not None:
        lines.append(f"- search time: {search['seconds']:.0f} s")
    return lines + [""]


def _evaluation(metrics: Mapping[str, Any]) -> list[str]:
    low, high = metrics["accuracy_ci95"]
    lines = ["## Evaluation (test split)", "",
             f"- accuracy {metrics['accuracy']:.4f} (95% CI {low:.4f}-{high:.4f}) on {metrics['examples']:,} texts; "
             f"macro F1 {metrics['macro_f1']:.4f}"]
    top = metrics.get("top_k")
    if top:
        low, high = top["ci95"]
        lines.append(f"- top-{top['k']} accuracy {top['accuracy']:.4f} (95% CI {low:.4f}-{high:.4f})")
    if metrics.get("several_labels"):
        lines.append(f"- {several_labels_line(metrics['several_labels'])}")
    base = metrics.get("baselines")
    if base:
        lines.append(f"- against: always {base['majority'].get('category', base['majority']['label'])} "
                     f"{base['majority']['accuracy']:.4f}, a uniform guess {base['uniform']['accuracy']:.4f}")
    per_class = metrics.get("per_class", {})
    weakest = sorted(per_class.items(), key=lambda item: item[1]["f1"])[:WEAKEST]
    if weakest:
        lines.append("- weakest classes (F1): " + ", ".join(f"{name} {m['f1']:.3f}" for name, m in weakest))
    return lines + [""]


def _bias(bias: Mapping[str, Any] | None) -> list[str]:
    if not bias:
        return ["## Bias", "", "Not measured with this data: `reviewcat bias --facet COLUMN --label LABEL` gives "
                "SageMaker Clarify's pre-training metrics of a label across a facet.", ""]
    from reviewcat.prep.bias_metrics import markdown_table
    first = bias["before"]
    return ["## Bias", "", f"{first['label']} across {first['facet']}, SageMaker Clarify's pre-training metrics "
            "(near 0 is balanced).", "", "Before balancing:", "", markdown_table(bias["before"]), "",
            "After balancing:", "", markdown_table(bias["after"]), ""]


def _use(metrics: Mapping[str, Any], manifest: Mapping[str, Any], categories: Mapping[str, str]) -> list[str]:
    names = sorted({category_name(label, dict(categories)) for label in manifest.get("labels", {})}) or \
        sorted(metrics.get("per_class", {}))
    curve = metrics.get("calibration")
    return ["## Intended use and limits", "",
            f"- Suggests which of {len(names)} classes a text belongs to ({', '.join(names[:12])}"
            + (", ..." if len(names) > 12 else "") + "), with probabilities; meant to rank or route texts for a "
            "person (the top-k), not to decide alone.",
            "- It knows only these classes: a text of another kind still gets one of them.",
            "- It was tested on a split of the same source: on texts from elsewhere (another shop, another "
            "language, another period) its accuracy is unknown. `reviewcat drift` compares new data with what it "
            "learned and says when to retrain.",
            "- The classes were balanced for training: its probabilities follow that even mix, not the mix "
            "real data arrives with."
            + (f" Calibration error on the test split: {curve['ece']:.3f}." if curve else ""),
            ""]


def write_model_card(output: Path, model: str, metrics: Mapping[str, Any], categories: Mapping[str, str],
                     manifest: Mapping[str, Any] | None, search: Mapping[str, Any] | None) -> Path:
    """``model_card.md`` in ``output`` for ``model`` (its file name there)."""
    manifest, search = manifest or {}, search or {}
    file = metrics.get("model_file") or {}
    lines = [f"# Model card: {Path(model).name}", "",
             f"- file: `{Path(model).name}`, {file.get('bytes', 0):,} bytes, SHA-256 `{file.get('sha256', '?')}`",
             f"- made by reviewcat {__version__}; details: [report.md](report.md), [metrics.json](metrics.json)"]
    small = metrics.get("quantized") or {}
    if small.get("kept"):
        lines.append(f"- quantized copy: `{small['name']}`, {small['bytes']:,} bytes, test accuracy "
                     f"{small['test_accuracy']:.4f} (the full model's {metrics['accuracy']:.4f}); either serves")
    lines.append("")
    lines += _use(metrics, manifest, categories)
    lines += _data(manifest, categories) if manifest else []
    lines += _training(search) if search else []
    lines += _evaluation(metrics)
    lines += _bias(manifest.get("bias"))
    path = output / MODEL_CARD
    path.write_text("\n".join(lines))
    return path
