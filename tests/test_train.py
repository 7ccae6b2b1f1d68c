import csv
import json
import logging
import re
import shutil
import subprocess
import sys
import time
import tarfile
from pathlib import Path

import numpy as np
import pytest

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.scoring.predict import predict
from reviewcat.train.commands import train
from reviewcat.train.early_stopping import stopped_at
from reviewcat.train.evaluate import classification_metrics, evaluate, top_k_accuracy, wilson_interval, write_report
from reviewcat.train.error_analysis import baselines, calibration, confused_pairs
from reviewcat.train.local_search import (_OutOfTime, _fitting_fraction, _run_rung, estimate_seconds,
                                          jobs_for_budget, plan_rungs, refine_configs, refines, sample_configs)
from reviewcat.train.model import load_model, top_k
from reviewcat.train.space import DEFAULT_SPACE, DataStats, build_space, derive_space

from conftest import FAST, cli_env
from helpers import recorded_paths

def majority_share(prepared_dir: str) -> float:
    files = json.loads(Path(prepared_dir, "manifest.json").read_text())["files"]
    top = max(files["train"]["labels"], key=files["train"]["labels"].get)
    return files["test"]["labels"].get(top, 0) / files["test"]["rows"]


def test_local_search_end_to_end_beats_the_majority_baseline(trained, prepared_dir):
    assert sorted(p.name for p in trained.iterdir()) == sorted([
        "model.bin", "trials.csv", "search.json", "labels.json", "metrics.json", "confusion_matrix.csv",
        "confusion_matrix.png", "report.md", "drift_reference.json", "_reviewcat.json", "predictions.parquet",
        "reliability.png", "model_card.md", "model.ftz"])
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["accuracy"] > majority_share(prepared_dir) + 0.4, metrics["accuracy"]
    assert metrics["baselines"]["majority"]["accuracy"] == pytest.approx(majority_share(prepared_dir))
    card = (trained / "model_card.md").read_text()
    low, high = metrics["accuracy_ci95"]
    assert f"- accuracy {metrics['accuracy']:.4f} (95% CI {low:.4f}-{high:.4f})" in card
    assert metrics["model_file"]["sha256"] in card and "## Intended use and limits" in card
    assert "## Training" in card and "- chosen: buckets=20000" in card
    low, high = metrics["accuracy_ci95"]
    assert low < metrics["accuracy"] < high
    count, fractions = plan_rungs(4, "halving")
    with (trained / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == count + -(-count // 3) + 2 and {r["rung"] for r in rows} == {"0", "1", "2"}
    search = json.loads((trained / "search.json").read_text())
    best = max(rows, key=lambda r: (float(r["validation_accuracy"]), r["rung"]))
    # The refine rung: the best of the halving rungs at half and a quarter of its rate, 2x and 4x its epochs.
    halving_best = max(rows[:-2], key=lambda r: (float(r["validation_accuracy"]), r["rung"]))
    refined = [r for r in rows if r["rung"] == "2"]
    assert [r["trial"] for r in refined] == [str(count), str(count + 1)]
    for r, rate in zip(refined, (0.5, 0.25)):
        assert float(r["learning_rate"]) == pytest.approx(float(halving_best["learning_rate"]) * rate, abs=1e-6)
        assert int(r["epochs_trained"]) == int(r["epochs"]) == round(int(halving_best["epochs_trained"]) / rate)
        assert r["vector_dim"] == halving_best["vector_dim"] and r["word_ngrams"] == halving_best["word_ngrams"]
    assert search["refine_rates"] == [0.5, 0.25]
    assert search["best"]["accuracy"] == pytest.approx(float(best["validation_accuracy"]), abs=1e-6)
    assert search["space"]["derived_from"]["set_by_user"] == ["buckets", "learning_rate"]
    assert search["best"]["hyperparameters"]["buckets"] == 20000
    top = metrics["top_k"]
    assert top["k"] == 3 and metrics["accuracy"] < top["accuracy"] <= 1 and top["ci95"][0] < top["accuracy"]
    report = (trained / "report.md").read_text()
    assert f"{metrics['accuracy']:.4f}" in report and "Pet_Products" in report and "learning_rate=" in report
    assert f"top-3 accuracy: **{top['accuracy']:.4f}**" in report
    assert "- refine rung: the best configuration again at 0.5x its learning rate for 2x its epochs" in report
    assert "- space derived from the data: " in report and "learning_rate 0.3-1.0, " in report
    assert (trained / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_is_reproducible_by_seed(trained, prepared_dir, tmp_path):
    again = train(data=prepared_dir, output_path=str(tmp_path / "again"), **FAST)

    def scores(folder):
        with (folder / "trials.csv").open() as f:
            return [(r["trial"], r["rung"], r["validation_accuracy"]) for r in csv.DictReader(f)]
    assert scores(again) == scores(trained)
    assert (again / "model.bin").read_bytes() == (trained / "model.bin").read_bytes()


def test_random_strategy_trains_every_configuration_in_full(prepared_dir, tmp_path):
    out = train(data=prepared_dir, output_path=str(tmp_path / "random"), strategy="random",
                **{**FAST, "max_jobs": 2})
    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["rung"] for r in rows] == ["0", "0"]
    assert all(int(r["epochs_trained"]) == int(r["epochs"]) for r in rows)


def test_no_refine_ends_the_search_with_its_halving_rungs(prepared_dir, tmp_path):
    out = train(data=prepared_dir, output_path=str(tmp_path / "plain"), no_refine=True,
                **{**FAST, "max_jobs": 3})
    with (out / "trials.csv").open() as f:
        assert {r["rung"] for r in csv.DictReader(f)} == {"0", "1"}
    assert json.loads((out / "search.json").read_text())["refine_rates"] == []
    assert "refine rung" not in (out / "report.md").read_text()


def test_halving_tries_more_configurations_within_the_same_budget():
    for budget in (5, 10, 30):
        count, fractions = plan_rungs(budget, "halving")
        cost = sum(-(-count // 3 ** r) * f for r, f in enumerate(fractions))
        assert count > budget and cost <= budget
    assert plan_rungs(10, "random") == (10, [1.0])


def test_configurations_cover_the_ranges_and_depend_on_the_seed():
    configs = sample_configs(DEFAULT_SPACE, 12, seed=1)
    assert configs == sample_configs(DEFAULT_SPACE, 12, seed=1) != sample_configs(DEFAULT_SPACE, 12, seed=2)
    rates = sorted(c["learning_rate"] for c in configs)
    assert 0.01 <= rates[0] < 0.02 and 0.07 < rates[-1] <= 0.08  # one point per stratum
    assert {c["word_ngrams"] for c in configs} == {1, 2, 3}
    assert all(100 <= c["vector_dim"] <= 200 and isinstance(c["vector_dim"], int) for c in configs)


def test_metrics_match_a_hand_computed_confusion_matrix():
    true = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    metrics, labels, matrix = classification_metrics(true, predicted)
    assert labels == ["a", "b", "c"]
    assert matrix.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    per = metrics["per_class"]
    assert (per["a"]["precision"], per["a"]["recall"], per["a"]["f1"]) == pytest.approx((1.0, 2 / 3, 0.8))
    assert (per["b"]["precision"], per["b"]["recall"], per["b"]["f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert (per["c"]["precision"], per["c"]["recall"], per["c"]["f1"]) == pytest.approx((0.5, 1.0, 2 / 3))
    assert metrics["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert [per[x]["support"] for x in "abc"] == [3, 2, 1]
    # Wilson interval of 4/6 at z=1.96, worked out by hand.
    assert metrics["accuracy_ci95"] == pytest.approx([0.3000, 0.9032], abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_confused_pairs_baselines_and_calibration_by_hand():
    true = ["a", "a", "a", "a", "b", "b", "c", "c"]
    predicted = ["a", "b", "b", "c", "a", "b", "c", "a"]
    texts = [f"text {i}" for i in range(8)]
    pairs = confused_pairs(true, predicted, texts, top=2, examples=1)
    assert pairs == [{"true": "a", "predicted": "b", "count": 2, "share_of_true": 0.5, "examples": ["text 1"]},
                     {"true": "a", "predicted": "c", "count": 1, "share_of_true": 0.25, "examples": ["text 3"]}]
    # The majority class is training's (b), scored on the test lines; uniform: one of three classes.
    gold = [(label,) for label in true]
    assert baselines(gold, {"a": 1, "b": 5, "c": 2}, k=2) == {
        "majority": {"label": "b", "accuracy": 0.25, "from": "the training split"},
        "uniform": {"accuracy": pytest.approx(1 / 3), "top_k": pytest.approx(2 / 3)}}
    assert baselines(gold, None, k=2)["majority"] == {"label": "a", "accuracy": 0.5, "from": "the test split"}
    # Lines of two labels: the majority is right on either, a uniform guess has two chances in three.
    assert baselines([("a", "b"), ("c",)], {"b": 2, "a": 1}, k=2) == {
        "majority": {"label": "b", "accuracy": 0.5, "from": "the training split"},
        "uniform": {"accuracy": pytest.approx((2 / 3 + 1 / 3) / 2), "top_k": pytest.approx((1 + 2 / 3) / 2)}}
    # Bins [0.9, 1.0]: 0.95 and 1.0 (one right), [0.5, 0.6): 0.55 right, 0.5 wrong.
    curve = calibration([0.95, 1.0, 0.55, 0.5], [True, False, True, False], bins=10)
    assert [(b["low"], b["count"]) for b in curve["bins"]] == [(0.5, 2), (0.9, 2)]
    assert curve["ece"] == pytest.approx(0.5 * abs(0.5 - 0.525) + 0.5 * abs(0.5 - 0.975))


def test_top_k_accuracy_counts_the_true_label_among_the_first_k():
    true = ["a", "b", "c", "a"]
    ranked = [["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"], ["b"]]
    assert top_k_accuracy(true, ranked, 1)["accuracy"] == 0.25
    assert top_k_accuracy(true, ranked, 2)["accuracy"] == 0.5
    three = top_k_accuracy(true, ranked, 3)
    assert three["accuracy"] == 0.75 and three["ci95"] == pytest.approx(list(wilson_interval(3, 4)))


def test_unseen_test_labels_are_counted_and_warned(trained, tmp_path, caplog):
    test_file = tmp_path / "test.txt"
    test_file.write_text("__label__books a great novel with fine characters\n"
                         "__label__toys my son loves this lego set\n__label__toys kids puzzle\n")
    with caplog.at_level(logging.WARNING):
        metrics = evaluate(str(trained / "model.bin"), test_file, tmp_path / "eval", {})
    assert metrics["unseen_label_examples"] == 2 and metrics["examples"] == 3
    assert metrics["per_class"]["toys"] == {**metrics["per_class"]["toys"], "label": "__label__toys", "recall": 0.0}
    assert "2 test lines have labels never seen in training (__label__toys)" in caplog.text


def test_blazingtext_model_tar_gz_loads_like_model_bin(trained, tmp_path):
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(trained / "model.bin", arcname="model.bin")
    texts = ["the camera lens and tripod are great"]
    assert top_k(load_model(str(archive)), texts, 2) == top_k(load_model(str(trained / "model.bin")), texts, 2)
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        tar.add(trained / "labels.json", arcname="labels.json")
    with pytest.raises(ReviewcatError, match="holds no model.bin"):
        load_model(str(empty))
    with pytest.raises(ReviewcatError, match="not found"):
        load_model(str(tmp_path / "nope.bin"))


def test_predict_top_k_with_category_names_under_numpy_2(trained):
    assert int(np.__version__.split(".")[0]) >= 2
    model = load_model(str(trained / "model.bin"))
    with pytest.raises(ValueError, match="copy"):
        model.predict("my dog loves these treats")  # upstream fastText 0.9.2 under numpy 2
    answers = predict(str(trained / "model.bin"), None,
                      ["My <b>dog</b> loves these treats &amp; the new leash!", "Great camera, sharp lens."], 3)
    assert [a[0][0] for a in answers] == ["Pet_Products", "Camera"]
    for pairs in answers:
        probabilities = [p for _, p in pairs]
        assert len(pairs) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) <= 1.0 + 1e-4 and len({p for p in probabilities}) == 3


def test_predict_command_reads_arguments_and_stdin(trained, tmp_path):
    command = [sys.executable, "-m", "reviewcat.cli", "predict", "--model", str(trained / "model.bin"), "-k", "2"]
    one = subprocess.run(command + ["my cat needs more litter"], capture_output=True, text=True,
                         env=cli_env(tmp_path), timeout=120)
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("Pet_Products ") and len(one.stdout.split()) == 4
    many = subprocess.run(command, input="great novel, loved the author\nsharp lens and zoom\n", capture_output=True,
                          text=True, env=cli_env(tmp_path), timeout=120)
    lines = many.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Books ") and lines[1].startswith("Camera ")


def test_predict_for_scripts_json_ids_threshold_and_whole_texts(trained, tmp_path):
    command = [sys.executable, "-m", "reviewcat.cli", "predict", "--model", str(trained / "model.bin")]
    long_text = "great novel, loved the author and the plot; " * 5
    lines = f"b-1\t{long_text}\nc 2\tsharp lens and zoom\n"
    done = subprocess.run(command + ["--with-ids", "--json", "-k", "3", "--threshold", "0.05"], input=lines,
                          capture_output=True, text=True, env=cli_env(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = [json.loads(line) for line in done.stdout.splitlines()]
    assert first["id"] == "b-1" and first["labels"][0] == "Books" and second["id"] == "c 2"
    assert all(p >= 0.05 for p in first["probabilities"] + second["probabilities"])
    assert len(first["labels"]) == len(first["probabilities"]) < 3  # the threshold dropped the unlikely ones
    plain = subprocess.run(command, input=long_text + "\n", capture_output=True, text=True, env=cli_env(tmp_path),
                           timeout=120)
    assert plain.stdout.rstrip("\n").split("\t")[1] == long_text  # never cut
    certain = subprocess.run(command + ["--threshold", "1", "--json", "a", "b"], capture_output=True, text=True,
                             env=cli_env(tmp_path), timeout=120)
    assert [json.loads(line) for line in certain.stdout.splitlines()] == [
        {"id": "1", "labels": [], "probabilities": []}, {"id": "2", "labels": [], "probabilities": []}]
    # ids are line numbers, blank lines counted; stdin that is not UTF-8 is one line
    numbered = subprocess.run(command + ["--json"], input="\nsharp lens\n\ngreat novel\n", capture_output=True,
                              text=True, env=cli_env(tmp_path), timeout=120)
    assert [json.loads(line)["id"] for line in numbered.stdout.splitlines()] == ["2", "4"]
    latin = subprocess.run(command, input="caf\xe9 au lait\n".encode("latin-1"), capture_output=True,
                           env=cli_env(tmp_path), timeout=120)
    assert latin.returncode == 2 and latin.stderr.decode().strip().splitlines() == [
        "reviewcat predict: error: line 1 of stdin is not UTF-8 (b'caf\\xe9 au lait'): convert the input first, "
        "e.g. iconv -f windows-1252 -t UTF-8"]
    for extra, stdin, message in [(["--with-ids"], "\nno tab here\n", "line 2 is not id<TAB>text"),
                                  (["--region", "eu-west-1", "x"], None, "--region goes with --endpoint"),
                                  ([], "\n  \n", "nothing to predict")]:
        refused = subprocess.run(command + extra, input=stdin or "", capture_output=True, text=True,
                                 env=cli_env(tmp_path), timeout=120)
        assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
            f"reviewcat predict: error: {refused.stderr.split('error: ', 1)[1].strip()}"]
        assert message in refused.stderr


def test_predict_answers_each_line_as_it_arrives_and_stops_quietly_when_the_reader_does(trained, tmp_path):
    command = [sys.executable, "-m", "reviewcat.cli", "predict", "--model", str(trained / "model.bin"), "--json"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=cli_env(tmp_path)) as talk:
        for i, text in enumerate(["great novel, loved the author", "sharp lens and zoom"], 1):
            talk.stdin.write(text + "\n")
            talk.stdin.flush()  # and wait: the answer comes before any more input
            assert json.loads(talk.stdout.readline())["id"] == str(i)
        talk.stdin.close()
        assert talk.wait(timeout=60) == 0
    many = "".join(f"review number {i} of a great novel\n" for i in range(3000))
    head = subprocess.run(f"{' '.join(command)} | head -n 2", shell=True, input=many, capture_output=True, text=True,
                          env=cli_env(tmp_path), timeout=120)
    assert len(head.stdout.splitlines()) == 2 and head.stderr == ""


def test_predict_asks_an_endpoint_in_the_region_given(monkeypatch):
    from reviewcat.scoring import predict as predicting
    from reviewcat.train import model as model_module
    made = []

    class Runtime:
        def invoke_endpoint(self, EndpointName, Body, **_):
            import io
            texts = json.loads(Body)["instances"]
            made.append((EndpointName, texts))
            return {"Body": io.BytesIO(json.dumps([{"label": ["__label__books", "__label__camera"], "prob": [0.9, 0.1]}
                                                   for _ in texts]).encode())}

    monkeypatch.setattr(predicting, "sagemaker_runtime", lambda region: made.append(region) or Runtime())
    answers = predict(None, "reviewcat", ["A <b>great</b> novel", "more"], 2, region="eu-west-1", threshold=0.5)
    assert made[0] == "eu-west-1" and made[1] == ("reviewcat", ["a great novel", "more"])
    assert answers == [[("books", 0.9)], [("books", 0.9)]]
    assert model_module.sagemaker_runtime("eu-west-1").meta.region_name == "eu-west-1"


def test_search_space_overrides_and_errors(tmp_path):
    space = build_space(ranges=["learning_rate=0.02:0.05", "min_count=1:10"], static=["word_ngrams=2"])
    assert (space.ranges["learning_rate"].low, space.ranges["learning_rate"].high) == (0.02, 0.05)
    assert "word_ngrams" not in space.ranges and space.fixed()["word_ngrams"] == 2
    config = tmp_path / "space.yaml"
    config.write_text("ranges:\n  vector_dim: [32, 64]\nmax_jobs: 3\n")
    from_file = build_space(str(config), max_parallel=1)
    assert from_file.ranges["vector_dim"].high == 64 and from_file.max_jobs == 3 and from_file.max_parallel == 1
    for kwargs, message in [
        (dict(ranges=["learning_rate=0.5:0.1"]), "invalid range for learning_rate: min 0.5 is above max 0.1"),
        (dict(ranges=["dropout=0.1:0.2"]), "unknown hyperparameter 'dropout'"),
        (dict(ranges=["vector_dim=10.5:20"]), "vector_dim takes whole numbers"),
        (dict(ranges=["learning_rate"]), "write name=min:max"),
        (dict(file=str(tmp_path / "none.json")), "not found"),
    ]:
        with pytest.raises(ReviewcatError, match=message):
            build_space(**kwargs)


def test_the_early_stopping_rule_is_blazingtexts():
    # From min_epochs 5: stop once `patience` counts in a row bring nothing better than the best.
    assert stopped_at({5: 0.5, 6: 0.6, 7: 0.6}, 5, 2) is None
    assert stopped_at({5: 0.5, 6: 0.6, 7: 0.6, 8: 0.59}, 5, 2) == 8
    assert stopped_at({5: 0.5, 6: 0.4}, 5, 1) == 6
    assert stopped_at({}, 5, 1) is None


def test_loss_threads_and_early_stopping_in_the_local_search(prepared_dir, tmp_path, cli):
    out = train(data=prepared_dir, output_path=str(tmp_path / "m"), loss="ova", threads=2, early_stopping=True,
                patience=2, min_epochs=3, **FAST)
    search = json.loads((out / "search.json").read_text())
    assert search["threads"] == 2 and search["space"]["static"]["loss"] == "ova"
    assert {k: search["space"]["static"][k] for k in ("early_stopping", "patience", "min_epochs")} == \
        {"early_stopping": True, "patience": 2, "min_epochs": 3}
    stopping = search["early_stopping"]
    counts = sorted(int(n) for n in stopping["accuracies"])
    full = stopping["searched_epochs"]
    assert counts[0] == 3 and counts[-1] == full and full > 3
    tried = [n for n in counts if n != full]
    assert tried == list(range(3, tried[-1] + 1))  # every count from min_epochs, none skipped
    best = max(stopping["accuracies"].values())
    assert stopping["validation_accuracy"] == best == search["best"]["accuracy"]
    assert stopping["epochs"] == min(int(n) for n, a in stopping["accuracies"].items() if a == best)
    assert search["best"]["hyperparameters"]["epochs"] == stopping["epochs"]
    model = load_model(str(out / "model.bin"))
    assert model.f.getArgs().loss.name == "ova" and model.f.getArgs().epoch == stopping["epochs"]
    for page in ("report.md", "model_card.md"):
        assert "early stopping (patience 2 after 3 epochs)" in (out / page).read_text(), page
    assert json.loads((out / "metrics.json").read_text())["accuracy"] > majority_share(prepared_dir)

    code, _, err = cli("train", "--data", prepared_dir, "--output-path", tmp_path / "m2", "--patience", "3")
    assert (code, err) == (2, "reviewcat train: error: --patience go with --early-stopping: add it, or leave them "
                              "out\n")
    with pytest.raises(SystemExit, match="2"):  # argparse's own refusal: "argument --loss: invalid choice: 'ns'"
        cli("train", "--data", prepared_dir, "--output-path", tmp_path / "m2", "--loss", "ns")
    code, _, err = cli("train", "--data", prepared_dir, "--output-path", tmp_path / "m2", "--early-stopping",
                       "--min-epochs", "500")
    assert code == 2 and "--min-epochs is 500, above the most epochs the search trains" in err
    assert not (tmp_path / "m2").exists()


def test_bad_split_files(prepared_dir, tmp_path):
    def broken(name, mutate):
        copy = tmp_path / name
        shutil.copytree(prepared_dir, copy)
        mutate(copy)
        return str(copy)
    cases = [
        (broken("missing", lambda p: (p / "validation" / "validation.txt").unlink()), "validation.txt is missing"),
        (broken("empty", lambda p: (p / "test" / "test.txt").write_text("")), "test.txt is empty"),
        (broken("nolabel", lambda p: (p / "train" / "train.txt").write_text("__label__books fine\nno label here\n")),
         "train.txt line 2 does not start with a __label__<name>"),
        (broken("notext", lambda p: (p / "train" / "train.txt").write_text("__label__books\n")),
         "line 1 has a label but no text"),
        (str(tmp_path / "nothing"), "not found: give the --output-path of `reviewcat prepare`"),
    ]
    for data, message in cases:
        with pytest.raises(ReviewcatError, match=message):
            train(data=data, output_path=str(tmp_path / "out"), **FAST)
        assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out.__*"))


def test_train_command_bad_range_is_one_line(prepared_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "train", "--data", prepared_dir, "--output-path",
                           str(tmp_path / "m"), "--range", "epochs=15:5"], capture_output=True, text=True,
                          env=cli_env(tmp_path), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["reviewcat train: error: invalid range for epochs: min 15 is above max 5"]


def test_evaluate_command_scores_a_model_on_the_test_split(trained, prepared_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "evaluate", "--model", str(trained / "model.bin"),
                           "--data", prepared_dir, "--output-path", str(tmp_path / "eval"), "-k", "2"],
                          capture_output=True, text=True, env=cli_env(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"report: {tmp_path / 'eval' / 'report.md'}"
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["accuracy"] == json.loads((trained / "metrics.json").read_text())["accuracy"]
    assert metrics["top_k"]["k"] == 2 and "- top-2 accuracy: **" in (tmp_path / "eval" / "report.md").read_text()
    assert "## Model" in (tmp_path / "eval" / "report.md").read_text()  # search.json beside the model is used
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "- baselines: always " in report and "## Most confused" in report and "## Calibration" in report
    assert (tmp_path / "eval" / "reliability.png").stat().st_size > 0
    import pyarrow.parquet as pq
    answers = pq.read_table(tmp_path / "eval" / "predictions.parquet").to_pylist()
    assert len(answers) == metrics["examples"] and answers[0]["id"] == 1
    assert all(len(a["categories"]) == len(a["probabilities"]) == 2 for a in answers)
    assert sum(a["correct"] for a in answers) / len(answers) == pytest.approx(metrics["accuracy"])
    assert metrics["per_class"]["Books"]["label"] == "__label__books"
    assert metrics["baselines"]["majority"]["from"] == "the training split"
    recorded = recorded_paths(tmp_path / "eval", tmp_path.parent)
    assert recorded["metrics.json"] == [str(trained / "model.bin"), f"{prepared_dir}/test/test.txt"], recorded
    assert all(Path(path).exists() for paths in recorded.values() for path in paths), recorded
    again = subprocess.run(proc.args, capture_output=True, text=True, env=cli_env(tmp_path), timeout=120)
    assert again.returncode == 2 and "--overwrite" in again.stderr  # an earlier evaluation is not replaced silently


def test_a_test_split_with_several_labels_a_line_is_scored_by_all_of_them(trained, prepared_dir, tmp_path):
    """fastText reads every leading __label__ of a line as a label: so does evaluation."""
    test = tmp_path / "test.txt"
    lines = (Path(prepared_dir) / "test" / "test.txt").read_text().splitlines()
    second = {"__label__books": "__label__camera"}  # every other line gets a second label
    test.write_text("".join(f"{line.split(' ', 1)[0]} {second.get(line.split(' ', 1)[0], '__label__books')} "
                            f"{line.split(' ', 1)[1]}\n" if i % 2 else f"{line}\n" for i, line in enumerate(lines)))
    categories = json.loads((Path(prepared_dir) / "manifest.json").read_text())["labels"]
    single = json.loads((trained / "metrics.json").read_text())
    metrics = evaluate(str(trained / "model.bin"), test, tmp_path / "eval", categories,
                       json.loads((trained / "search.json").read_text()))
    several = metrics["several_labels"]
    assert several["lines_with_several_labels"] == len(lines) // 2 and several["labels"] == len(lines) + len(lines) // 2
    # Right when the answer is any of the line's labels: never below the single-label score.
    assert metrics["accuracy"] > single["accuracy"] and several["at_1"]["precision"] == pytest.approx(metrics["accuracy"])
    assert several["at_1"]["recall"] == pytest.approx(metrics["accuracy"] * len(lines) / several["labels"])
    assert several["at_3"]["recall"] > several["at_1"]["recall"] and metrics["top_k"]["accuracy"] >= metrics["accuracy"]
    import pyarrow.parquet as pq
    answers = pq.read_table(tmp_path / "eval" / "predictions.parquet").to_pylist()
    assert not any("__label__" in a["text"] for a in answers)  # the second label is not read as a word
    assert answers[1]["true_categories"][1] in ("Books", "Camera") and len(answers[0]["true_categories"]) == 1
    assert sum(a["correct"] for a in answers) / len(answers) == pytest.approx(metrics["accuracy"])
    write_report(tmp_path / "eval", metrics, categories, None, None)
    assert f"- {len(lines) // 2:,} test lines carry several labels" in (tmp_path / "eval" / "report.md").read_text()


SMALL = DataStats(lines=8_000, tokens=80_000, labels=49)  # the docstring corpus's shape
LARGE = DataStats(lines=2_000_000, tokens=70_000_000, labels=30)


def test_small_data_gets_larger_learning_rates_and_more_epochs_large_data_blazingtexts_ranges():
    small, large = derive_space(SMALL), derive_space(LARGE)
    bounds = lambda space, name: (space.ranges[name].low, space.ranges[name].high)  # noqa: E731
    assert bounds(small, "learning_rate") == (0.3, 3.0) and bounds(small, "epochs") == (10, 80)
    assert bounds(large, "learning_rate") == (0.02, 0.1) and bounds(large, "epochs") == (5, 15)
    assert small.ranges["learning_rate"].log and small.ranges["epochs"].log
    assert "subwords" in small.ranges and "subwords" not in large.ranges
    # Character n-grams cost with each line's length: a small set of long reviews does without them.
    assert "subwords" not in derive_space(DataStats(lines=8_000, tokens=8_000 * 38, labels=49)).ranges
    assert small.static == {"min_count": 1, "buckets": 100_000}
    assert large.static == {"min_count": 5, "buckets": 2_000_000}
    middle = derive_space(DataStats(lines=150_000, tokens=5_000_000, labels=30))
    for name in ("learning_rate", "epochs"):
        assert bounds(large, name) < bounds(middle, name) < bounds(small, name)
    assert "163 a label), 80,000 tokens (10 a line)" in small.derived_from["reason"] and small.to_dict()["derived_from"]["lines"] == 8_000
    # Every sampled point lies in the ranges, the log ones spread over each decade.
    configs = sample_configs(small, 30, seed=5)
    rates = [c["learning_rate"] for c in configs]
    assert all(0.3 <= r <= 3.0 for r in rates) and sum(r < 0.95 for r in rates) in range(12, 19)
    assert {c["subwords"] for c in configs} == {0, 1} and all(10 <= c["epochs"] <= 80 for c in configs)


def test_the_users_ranges_and_values_win_over_the_derived_space(tmp_path):
    space = build_space(ranges=["learning_rate=0.01:0.02", "min_count=1:4"], static=["subwords=0"], stats=SMALL)
    assert (space.ranges["learning_rate"].low, space.ranges["learning_rate"].high) == (0.01, 0.02)
    assert not space.ranges["learning_rate"].log
    assert "min_count" in space.ranges and "min_count" not in space.static  # a range replaces a derived value
    assert "subwords" not in space.ranges and space.fixed()["subwords"] == 0
    assert space.ranges["epochs"].high == 80 and space.static["buckets"] == 100_000
    assert space.derived_from["set_by_user"] == ["learning_rate", "min_count", "subwords"]
    config = tmp_path / "space.json"
    config.write_text(json.dumps({"ranges": {"learning_rate": [0.05, 0.5, "log"]}, "static": {"epochs": 7}}))
    from_file = build_space(str(config), stats=SMALL)
    assert from_file.ranges["learning_rate"].log and from_file.fixed()["epochs"] == 7
    with pytest.raises(ReviewcatError, match="subwords: values are 0 or 1"):
        build_space(ranges=["subwords=0:2"])
    with pytest.raises(ReviewcatError, match="invalid range for learning_rate: scale 'exp' is not log or linear"):
        build_space(ranges=["learning_rate=0.1:1:exp"])
    with pytest.raises(ReviewcatError, match="write name=min:max.:log., e.g. learning_rate=0.01:0.08"):
        build_space(ranges=["learning_rate=0.1:1:log:x"])


def _cost(params, epochs):
    return epochs * params["vector_dim"] / 100


def test_a_time_budget_buys_as_many_trainings_as_its_estimate_fits():
    space = build_space(max_parallel=2)
    jobs = [jobs_for_budget(space, budget, "halving", 42, _cost, cap=200)[0] for budget in (1, 20, 100, 200)]
    assert jobs[0] == 1 and jobs == sorted(jobs) and jobs[-1] > jobs[2] > jobs[1] >= 2
    for budget, count in zip((20, 100, 200), jobs[1:]):
        assert estimate_seconds(space, count, "halving", 42, _cost) <= budget
        assert all(estimate_seconds(space, more, "halving", 42, _cost) > budget for more in range(count + 1, 201))
    assert jobs_for_budget(space, 10_000, "halving", 42, _cost, cap=10) == (10, True)
    # Below one full training: as many of a configuration's epochs as fit, one at least.
    config = {"epochs": 10, "vector_dim": 100}
    assert _fitting_fraction(config, {}, _cost, 4.5) == 0.4 and _fitting_fraction(config, {}, _cost, 0.1) == 0.1


def test_the_refine_rung_is_priced_and_runs_only_where_it_can():
    space = build_space(max_parallel=2)
    assert refines(space, 3, "halving") and not refines(space, 2, "halving") and not refines(space, 10, "random")
    assert not refines(build_space(static=["epochs=10"]), 10, "halving")  # a value the user fixed stays fixed
    assert not refines(build_space(static=["learning_rate=0.1"]), 10, "halving")
    halving = estimate_seconds(space, 3, "halving", 42, _cost)
    configs = sample_configs(space, plan_rungs(3, "halving")[0], 42)
    # Side by side, the refine rung lasts as long as its longer trial: 4x the epochs of an average configuration.
    quadruple = sum(c["epochs"] * 4 * c["vector_dim"] / 100 for c in configs) / len(configs)
    without = estimate_seconds(build_space(max_parallel=2, static=["learning_rate=0.05"]), 3, "halving", 42, _cost)
    assert halving == pytest.approx(without + quadruple, rel=0.02)
    # A budget that cannot hold halving beside the refine rung halves without it (replayed with --no-refine).
    assert jobs_for_budget(space, 100, "halving", 42, _cost, cap=200) == (6, True)
    jobs, refine = jobs_for_budget(space, 60, "halving", 42, _cost, cap=200)
    assert jobs >= 3 and not refine and estimate_seconds(space, jobs, "halving", 42, _cost, refine=False) <= 60
    assert refine_configs({"learning_rate": 0.4, "epochs": 30, "vector_dim": 50}, 15) == [
        {"learning_rate": 0.2, "epochs": 30, "vector_dim": 50}, {"learning_rate": 0.1, "epochs": 60, "vector_dim": 50}]


class _Job:
    """A fake pool job, ready ``after`` seconds from now (never without)."""
    def __init__(self, after=None):
        self.ready_at = None if after is None else time.monotonic() + after

    def ready(self):
        return self.ready_at is not None and time.monotonic() >= self.ready_at

    def get(self):
        return 0.5, 0.1, ""


def test_the_deadline_stops_a_rung_that_would_run_past_it():
    started = []
    with pytest.raises(_OutOfTime):
        _run_rung([(0, 5), (1, 5), (2, 5)], 2, lambda i, e: started.append(i) or _Job(), time.monotonic() + 0.1,
                  lambda *_: None, lambda: True)
    assert started == [0, 1]  # never more than max_parallel at once


def test_past_the_deadline_without_a_model_the_running_trials_go_on_until_one_finishes():
    started, done = [], []
    with pytest.raises(_OutOfTime):
        _run_rung([(0, 5), (1, 5), (2, 5)], 2, lambda i, e: started.append(i) or _Job(after=0.4 if i == 0 else 0.3),
                  time.monotonic() + 0.1, lambda i, e, result: done.append(i), lambda: bool(done))
    # Nothing new starts once the time is up; the first trial to finish gives the model and ends the rung.
    assert started == [0, 1] and done == [1]


def test_a_time_budget_that_is_not_a_positive_number_is_one_line(prepared_dir, tmp_path):
    for value, message in (("0", "expected a number above 0, got 0"), ("soon", "expected a number, got 'soon'")):
        proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "train", "--data", prepared_dir, "--output-path",
                               str(tmp_path / "m"), "--time-budget", value], capture_output=True, text=True,
                              env=cli_env(tmp_path), timeout=120)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].endswith(message), proc.stderr
        assert "Traceback" not in proc.stderr and not (tmp_path / "m").exists()


def test_a_budget_too_small_for_any_trial_still_ends_with_a_model_and_says_what_fits(prepared_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "train", "--data", prepared_dir, "--output-path",
                           str(tmp_path / "m"), "--backend", "local", "--time-budget", "0.01"],
                          capture_output=True, text=True, env=cli_env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"more than its time budget of 0.01 s to finish one training: give this data --time-budget "
                     r"\d+ or more", proc.stderr), proc.stderr
    search = json.loads((tmp_path / "m" / "search.json").read_text())
    # One configuration, one epoch: the least training there is.
    assert search["epochs_fitted"] == 1 and search["best"]["epochs"] == 1 and search["seconds"] > 0.01
    assert (tmp_path / "m" / "model.bin").is_file()


def test_a_budgeted_search_records_its_trial_count_and_replays_exactly(prepared_dir, tmp_path):
    # --max-jobs 4 within a budget far above it: a loaded machine (CI) cannot push the plan to its deadline.
    options = {**FAST, "static": ["buckets=20000", "subwords=0"]}
    budgeted = train(data=prepared_dir, output_path=str(tmp_path / "budget"), time_budget=60,
                     **options)
    search = json.loads((budgeted / "search.json").read_text())
    assert search["time_budget"] == 60 and search["max_jobs"] == 4 and search["estimated_seconds"] <= 60
    # A plan that fits is searched as planned: two rungs, no configuration cut short.
    assert "epochs_fitted" not in search and "stopped_trials" not in search
    assert {r for _, r, _ in _trial_scores(budgeted)} == {"0", "1", "2"}
    replay = train(data=prepared_dir, output_path=str(tmp_path / "replay"),
                   **{**options, "max_jobs": search["max_jobs"]})
    assert _trial_scores(replay) == _trial_scores(budgeted)
    assert (replay / "model.bin").read_bytes() == (budgeted / "model.bin").read_bytes()
    assert "time_budget" not in json.loads((replay / "search.json").read_text())


def _trial_scores(folder):
    with (folder / "trials.csv").open() as f:
        return [(r["trial"], r["rung"], r["validation_accuracy"]) for r in csv.DictReader(f)]


def test_quantize_keeps_a_small_copy_that_every_command_takes(rt, spark, trained, prepared_dir, table, tmp_path,
                                                             aws_env):
    out = trained  # trained with --quantize
    search = json.loads((out / "search.json").read_text())
    small = search["quantized"]
    assert small["kept"] and small["name"] == "model.ftz" and small["cutoff"] == 20_000
    assert (out / "model.ftz").stat().st_size == small["bytes"] < small["full_bytes"] == (out / "model.bin").stat().st_size
    assert small["full_validation_accuracy"] - small["validation_accuracy"] <= 0.005
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quantized"] == small
    assert "## Model size" in (out / "report.md").read_text() and "quantized copy: `model.ftz`" in \
        (out / "model_card.md").read_text()
    # predict checks the copy against its record, and evaluate scores it like the full model.
    answer = predict(str(out / "model.ftz"), None, ["my dog loves these treats"], 2)
    assert len(answer[0]) == 2
    evaluated = evaluate(str(out / "model.ftz"), Path(prepared_dir) / "test" / "test.txt", tmp_path / "eval",
                         {}, search)
    assert evaluated["accuracy"] == pytest.approx(small["test_accuracy"], abs=0.002)
    from reviewcat.scoring.predict_table import predict_table  # the executors load the copy too
    predict_table(rt, input_path=table, model=str(out / "model.ftz"), output_path=str(tmp_path / "scored"))
    assert spark.read.parquet(str(tmp_path / "scored")).count() == spark.read.parquet(table).count()
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    with (damaged / "model.ftz").open("r+b") as f:
        f.seek(small["bytes"] // 2)
        f.write(b"\0" * 64)
    with pytest.raises(ReviewcatError, match="is not the file training wrote"):
        predict(str(damaged / "model.ftz"), None, ["text"], 1)
    with pytest.raises(ReviewcatError, match="--quantize is for the local search"):
        train(data=prepared_dir, output_path=str(tmp_path / "sm"), quantize=True, backend="sagemaker",
              role="arn:aws:iam::1:role/r", region="us-east-1", s3_output="s3://b/x")


def test_a_model_card_of_data_balanced_within_a_column_counts_its_cells(trained, tmp_path):
    """Balance --within: the manifest's counts are {value: {class: rows}}, cells not classes."""
    from reviewcat.train.model_card import write_model_card
    metrics = json.loads((trained / "metrics.json").read_text())
    manifest = {"source": "lake/balanced", "labels": {"__label__positive": "positive"}, "files": {},
                "balance": {"label": {"name": "sentiment"}, "dropped": [["Books", "neutral"]],
                            "counts": {"Apparel": {"negative": 142, "positive": 1734}, "Books": {"negative": 935}}}}
    card = write_model_card(tmp_path, "model.bin", metrics, {}, manifest, None).read_text()
    assert "- balanced by sentiment: 142 to 1,734 rows a cell before; left out for too few rows: " in card
