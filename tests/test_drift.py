"""Drift: new data against the model's training-side reference, in the drift job and predict-table."""
import json
import subprocess
import sys

import pytest

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import namespace
from reviewcat.schema import DRIFT_REFERENCE
from reviewcat.scoring import drift, drift_job, predict_table

from conftest import TRAIN_CATEGORIES, cli_env

REFERENCE = {"expected_predicted_mix": {"a": 0.5, "b": 0.3, "c": 0.2}, "mean_top1_probability": 0.8,
             "unseen_token_share": 0.02}


def observed(counts, confidence=0.8, tokens=1000, unseen=20):
    return drift.Observed(counts, confidence * sum(counts.values()), tokens, unseen)


def test_each_signal_and_its_limit():
    calm = drift.compare(REFERENCE, observed({"a": 5000, "b": 3000, "c": 2000}))
    assert calm["retrain"] is False and calm["predicted_mix_tvd"] == pytest.approx(0)
    moved = drift.compare(REFERENCE, observed({"a": 2000, "b": 3000, "c": 5000}))
    assert moved["retrain"] and moved["predicted_mix_tvd"] == pytest.approx(0.3)
    assert moved["reasons"] == ["the predicted category mix moved (TVD 0.300 > 0.100; most: a 50.0% -> 20.0%, "
                                "c 20.0% -> 50.0%, b 30.0% -> 30.0%)"]
    assert moved["predicted_mix_js"] > 0
    # a class the reference never predicts still counts: the full support, not the common labels
    new_class = drift.compare(REFERENCE, observed({"a": 3500, "b": 2100, "c": 1400, "d": 3000}))
    assert new_class["predicted_mix_tvd"] == pytest.approx(0.3) and new_class["retrain"]
    # ten rows cannot tell a mix: the limit grows with sampling noise
    few = drift.compare(REFERENCE, observed({"a": 2, "b": 3, "c": 5}))
    assert few["predicted_mix_tvd_limit"] > 0.3 and not few["retrain"]
    words = drift.compare(REFERENCE, observed({"a": 500, "b": 300, "c": 200}, unseen=300))
    assert words["retrain"] and words["unseen_token_share"] == 0.3 and "never saw" in words["reasons"][0]
    unsure = drift.compare(REFERENCE, observed({"a": 500, "b": 300, "c": 200}, confidence=0.6))
    assert unsure["retrain"] and "less sure" in unsure["reasons"][0]
    assert drift.lines(unsure)[-1].startswith("retraining suggested: the model is less sure")
    assert drift.compare(REFERENCE, observed({}))["retrain"] is False


def test_the_reference_expects_the_tables_mix_as_the_model_predicts_it():
    # validation: a is always right, b is half the time taken for a; the table was 80% a, 20% b
    true, predicted = ["a"] * 4 + ["b"] * 4, ["a"] * 4 + ["a", "a", "b", "b"]
    ref = drift.reference(true, predicted, [0.9] * 8, 100, 5, {"a": 800, "b": 200}, "the table before balancing",
                          {"__label__a": "a", "__label__b": "b"})
    assert ref["expected_predicted_mix"] == pytest.approx({"a": 0.9, "b": 0.1})
    assert ref["mix"] == {"a": 0.8, "b": 0.2} and ref["unseen_token_share"] == 0.05
    assert ref["mean_top1_probability"] == pytest.approx(0.9) and ref["limits"] == drift.LIMITS
    assert ref["labels"] == {"__label__a": "a", "__label__b": "b"}


def run_drift(rt, **values):
    """As `reviewcat drift` runs it: the summary returned and printed."""
    return drift_job.run(rt, namespace(drift_job.OPTIONS, **values))


def real_text_table(spark, path, rows=300):
    """Sentences of this machine's Python docstrings: human-written, and nothing like reviews."""
    import argparse, csv as csv_module, json as json_module, logging, subprocess as sp
    texts = []
    for module in (argparse, csv_module, json_module, logging, sp):
        for name in dir(module):
            doc = getattr(getattr(module, name), "__doc__", None)
            if isinstance(doc, str) and len(doc) > 80:
                texts.append(" ".join(doc.split())[:400])
    spark.createDataFrame([{"review_body": t} for t in texts[:rows]]).write.parquet(str(path))
    return len(texts[:rows])


def test_train_leaves_a_reference_and_new_data_is_judged_against_it(rt, spark, trained, table, tmp_path, capsys):
    ref = json.loads((trained / DRIFT_REFERENCE).read_text())
    assert set(ref["expected_predicted_mix"]) <= set(TRAIN_CATEGORIES)
    assert ref["mix_from"] == "the table before balancing" and 0.5 < ref["mean_top1_probability"] <= 1
    model = str(trained / "model.bin")
    same = run_drift(rt, input_path=table, model=model)
    assert same["rows"] == 1500 and same["retrain"] is False, same["reasons"]
    assert capsys.readouterr().out.strip().endswith("no drift beyond the limits: the model still fits this data")
    # one category only: the mix moved
    spark.read.parquet(table).where("product_category = 'Books'").write.parquet(str(tmp_path / "books"))
    books = run_drift(rt, input_path=str(tmp_path / "books"), model=model, json=True)
    assert books["retrain"] and books["reasons"][0].startswith("the predicted category mix moved")
    assert json.loads(capsys.readouterr().out)["retrain"] is True
    # another vocabulary: real docstrings
    real_text_table(spark, tmp_path / "docs")
    docs = run_drift(rt, input_path=str(tmp_path / "docs"), model=model)
    assert docs["retrain"] and any("never saw" in r for r in docs["reasons"])
    assert docs["unseen_token_share"] > 0.5 > same["unseen_token_share"]


def test_predict_table_writes_the_same_summary(rt, spark, trained, table, tmp_path):
    out = tmp_path / "scored"
    spark.read.parquet(table).where("product_category = 'Books'").write.parquet(str(tmp_path / "books"))
    summary = predict_table.predict_table(rt, input_path=str(tmp_path / "books"),
                                          model=str(trained / "model.bin"), output_path=str(out))
    written = json.loads((out / "_predict.json").read_text())
    assert written["drift"] == summary["drift"] and written["drift"]["retrain"] is True
    alone = run_drift(rt, input_path=str(tmp_path / "books"), model=str(trained / "model.bin"))
    for key in ("rows", "predicted_mix", "unseen_token_share", "retrain"):
        assert written["drift"][key] == pytest.approx(alone[key])
    assert written["drift"]["mean_top1_probability"] == pytest.approx(alone["mean_top1_probability"])


def test_drift_errors_are_one_line(rt, trained, table, tmp_path):
    with pytest.raises(ReviewcatError, match="--model is required"):
        run_drift(rt, input_path=table)
    with pytest.raises(ReviewcatError, match="drift reference .*nope.json not found"):
        run_drift(rt, input_path=table, model=str(trained / "model.bin"), drift_reference=str(tmp_path / "nope.json"))
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.bin").write_bytes((trained / "model.bin").read_bytes())
    with pytest.raises(ReviewcatError, match=f"no {DRIFT_REFERENCE} beside .*: train or evaluate"):
        run_drift(rt, input_path=table, model=str(bare / "model.bin"))
    # without labels.json the reference names the categories: no false alarm from label names
    (bare / DRIFT_REFERENCE).write_bytes((trained / DRIFT_REFERENCE).read_bytes())
    named = run_drift(rt, input_path=table, model=str(bare / "model.bin"))
    assert set(named["predicted_mix"]) <= set(TRAIN_CATEGORIES) and not named["retrain"]


def test_the_drift_command(trained, table, tmp_path):
    done = subprocess.run([sys.executable, "-m", "reviewcat.cli", "drift", "--model", str(trained / "model.bin"),
                           "--input-path", table, "--json"], capture_output=True, text=True, env=cli_env(tmp_path),
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 1500
