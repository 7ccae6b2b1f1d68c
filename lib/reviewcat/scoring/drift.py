"""Drift: whether new data still looks like what the model learned from, and when to retrain.

A classifier's accuracy is measured once, on a test split drawn from the training data; new
tickets cannot be measured that way, as nobody has labelled them. Three signals need no labels:

- **the predicted category mix.** Training leaves a reference (``REFERENCE_FILE`` beside the
  model): the mix of the table training sampled from, before balancing made it even on purpose,
  turned into the mix of *predictions* that data would get, through the validation split's
  confusion matrix (P(predicted | true)). New data whose predicted mix is far from that expected
  mix (total variation distance, with Jensen-Shannon beside it, as the bias metrics define them)
  has changed its mix, or the model reads it differently.
- **the share of tokens the model has never seen**, against the validation split's share: words
  the model has no weights for carry no evidence, so a vocabulary that moved (a new product line,
  another language, a new ticket template) shows here first.
- **the mean top-1 probability**, against the validation split's: a model that grows unsure of
  new data is seeing data unlike its training.

Each signal has a documented limit (``LIMITS``); crossing one suggests retraining, with the reason.
The distance limit is never below three times the distance that sampling alone gives on that many
rows, so a small batch of new data does not raise a false alarm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


# How far new data may move before retraining is suggested (see the module docstring).
LIMITS = {"predicted_mix_tvd": 0.10, "unseen_token_share_rise": 0.10, "mean_top1_probability_drop": 0.10}
NOISE_FACTOR = 3  # the distance limit is at least this many times the distance of sampling alone


@dataclass(frozen=True)
class Observed:
    """What scoring new rows gives, summed: predicted rows per category, the sum of their top-1
    probabilities, their tokens and unseen tokens (None when not counted), and the rows that got
    no category at all."""
    predicted: Mapping[str, int]
    top1_probability_sum: float
    tokens: int | None = None
    unseen_tokens: int | None = None
    without_category: int = 0

    @property
    def rows(self) -> int:
        return sum(self.predicted.values()) + self.without_category


def _shares(counts: Mapping[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in sorted(counts.items())} if total else {}


def reference(true: Sequence[str], predicted: Sequence[str], top1: Sequence[float], tokens: int, unseen: int,
              mix: Mapping[str, int], mix_from: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The training-side reference, from the validation split (true and predicted category of each
    line, its top-1 probability, its tokens and unseen ones) and the category ``mix`` (rows per
    category of ``mix_from``: the table before balancing, or the training split). ``labels`` maps
    the model's labels to the category names all of it is keyed by, so that new rows scored
    without a ``labels.json`` are named alike."""
    by_true: dict[str, dict[str, int]] = {}
    for t, p in zip(true, predicted):
        row = by_true.setdefault(t, {})
        row[p] = row.get(p, 0) + 1
    weights = _shares({c: n for c, n in mix.items() if c in by_true})
    expected: dict[str, float] = {}
    for category, weight in weights.items():
        row = by_true[category]
        total = sum(row.values())
        for p, n in row.items():
            expected[p] = expected.get(p, 0.0) + weight * n / total
    return {
        "mix": _shares(mix), "mix_from": mix_from,
        "expected_predicted_mix": dict(sorted(expected.items())),
        "validation_lines": len(true),
        "mean_top1_probability": sum(top1) / len(top1) if top1 else None,
        "unseen_token_share": unseen / tokens if tokens else None,
        "limits": dict(LIMITS),
        "labels": dict(sorted(labels.items())),
    }


def sampling_tvd(shares: Mapping[str, float], rows: int) -> float:
    """The total variation distance that ``rows`` draws from ``shares`` are expected to show from
    ``shares`` itself: half the sum of each category's mean absolute deviation (normal
    approximation, sqrt(2 p (1 - p) / (pi n)))."""
    if rows <= 0:
        return 1.0
    return 0.5 * sum(math.sqrt(2 * p * (1 - p) / (math.pi * rows)) for p in shares.values())


def compare(ref: Mapping[str, Any], observed: Observed) -> dict[str, Any]:
    """The drift summary of new data against the reference: each signal, its limit, and whether
    retraining is suggested (``retrain``) with the reasons."""
    from reviewcat.prep.bias_metrics import distances  # with Spark's imports: training writes references without them
    rows = observed.rows
    summary: dict[str, Any] = {"rows": rows, "reasons": []}
    if not rows:
        summary.update(retrain=False, note="no rows: nothing to compare")
        return summary
    expected = ref.get("expected_predicted_mix") or {}
    mix = _shares(observed.predicted)
    measured = distances(mix, expected, common_only=False) if expected else {}
    limit = max(LIMITS["predicted_mix_tvd"], NOISE_FACTOR * sampling_tvd(expected, rows))
    summary["predicted_mix"] = mix
    summary["expected_predicted_mix"] = expected
    summary["predicted_mix_tvd"] = measured.get("TVD")
    summary["predicted_mix_js"] = measured.get("JS")
    summary["predicted_mix_tvd_limit"] = limit
    if measured.get("TVD") is not None and measured["TVD"] > limit:
        moved = sorted(set(mix) | set(expected), key=lambda c: (-round(abs(mix.get(c, 0) - expected.get(c, 0)), 9), c))[:3]
        shown = ", ".join(f"{c} {expected.get(c, 0):.1%} -> {mix.get(c, 0):.1%}" for c in moved)
        summary["reasons"].append(f"the predicted category mix moved (TVD {measured['TVD']:.3f} > {limit:.3f}; "
                                  f"most: {shown})")
    if observed.tokens:
        share = (observed.unseen_tokens or 0) / observed.tokens
        summary["unseen_token_share"] = share
        before = ref.get("unseen_token_share")
        summary["reference_unseen_token_share"] = before
        if before is not None and share - before > LIMITS["unseen_token_share_rise"]:
            summary["reasons"].append(f"{share:.1%} of the tokens are words the model never saw, against {before:.1%} "
                                      "in validation")
    confidence = observed.top1_probability_sum / rows
    summary["mean_top1_probability"] = confidence
    before = ref.get("mean_top1_probability")
    summary["reference_mean_top1_probability"] = before
    if before is not None and before - confidence > LIMITS["mean_top1_probability_drop"]:
        summary["reasons"].append(f"the model is less sure: mean top-1 probability {confidence:.3f} against "
                                  f"{before:.3f} in validation")
    summary["retrain"] = bool(summary["reasons"])
    return summary


def lines(summary: Mapping[str, Any]) -> list[str]:
    """The summary as a person reads it: one line per signal, then the verdict."""
    if not summary.get("rows"):
        return [f"drift: {summary.get('note', 'no rows')}"]
    out = [f"drift over {summary['rows']:,} rows:"]
    if summary.get("predicted_mix_tvd") is not None:
        out.append(f"  predicted category mix: TVD {summary['predicted_mix_tvd']:.3f} from the expected mix "
                   f"(limit {summary['predicted_mix_tvd_limit']:.3f}), JS {summary['predicted_mix_js']:.4f}")
    if "unseen_token_share" in summary:
        before = summary.get("reference_unseen_token_share")
        out.append(f"  unseen tokens: {summary['unseen_token_share']:.1%}"
                   + (f" (validation {before:.1%})" if before is not None else ""))
    before = summary.get("reference_mean_top1_probability")
    out.append(f"  mean top-1 probability: {summary['mean_top1_probability']:.3f}"
               + (f" (validation {before:.3f})" if before is not None else ""))
    if summary["retrain"]:
        out.append("retraining suggested: " + "; ".join(summary["reasons"]))
    else:
        out.append("no drift beyond the limits: the model still fits this data")
    return out
