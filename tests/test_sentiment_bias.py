"""Sentiment and star labels, balance by class or by (category, class) cell, and Clarify's bias metrics."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from reviewcat.prep import balance, bias, prepare
from reviewcat.prep.bias_metrics import METRICS, cell_count_query
from reviewcat.prep.labels import label_spec
from reviewcat.prep.sampling import uniform_key
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.tables import sources
from reviewcat.tables.writers import write_partitioned
from reviewcat.train.commands import train

from conftest import FAST, cli_env
from helpers import leftovers

# Star shares (1..5) per category: uneven on purpose, as in real data (gift cards are loved, gadgets less so).
SKEW = {"Books": (0.05, 0.05, 0.1, 0.25, 0.55), "Wireless": (0.25, 0.15, 0.2, 0.2, 0.2),
        "Kitchen": (0.1, 0.1, 0.15, 0.25, 0.4), "Camera": (0.15, 0.05, 0.1, 0.3, 0.4),
        "Watches": (0.1, 0.1, 0.1, 0.2, 0.5), "Gift_Card": (0.02, 0.02, 0.06, 0.1, 0.8)}


def _with_ratings(spark, raw_path: str, out: Path, rating=None) -> str:
    """The raw table with star ratings drawn per category from SKEW (or set by ``rating``)."""
    frame = spark.read.parquet(raw_path)
    if rating is None:
        u = uniform_key(11, "stars")
        rating = F.lit(5)
        for category, shares in SKEW.items():
            edges = [sum(shares[:i + 1]) for i in range(4)]
            stars = F.when(u < edges[0], 1).when(u < edges[1], 2).when(u < edges[2], 3).when(u < edges[3], 4).otherwise(5)
            rating = F.when(F.col(sources.CATEGORY) == category, stars).otherwise(rating)
    write_partitioned(frame.withColumn("star_rating", rating.cast("int")), str(out))
    return str(out)


@pytest.fixture(scope="module")
def rated_path(spark, raw_path, tmp_path_factory) -> str:
    return _with_ratings(spark, raw_path, tmp_path_factory.mktemp("rated") / "reviews")


def _classes(spark, path: str, within: bool = False) -> dict:
    frame = spark.read.parquet(path).withColumn("c", label_spec("sentiment").expression())
    keys = [sources.CATEGORY, "c"] if within else ["c"]
    return {tuple(r[k] for k in keys) if within else r["c"]: r["count"]
            for r in frame.groupBy(*keys).count().collect()}


def test_sentiment_and_stars_classes_come_from_the_rating_and_anything_else_is_no_class(spark):
    frame = spark.createDataFrame([(1.0,), (2.0,), (3.0,), (4.0,), (5.0,), (0.0,), (4.5,), (None,)], "star_rating double")
    sentiment = [r[0] for r in frame.select(label_spec("sentiment").expression()).collect()]
    stars = [r[0] for r in frame.select(label_spec("stars").expression()).collect()]
    assert sentiment == ["negative", "negative", "neutral", "positive", "positive", None, None, None]
    assert stars == ["1", "2", "3", "4", "5", None, None, None]
    assert label_spec("sentiment").meaning == {"negative": "star_rating 1-2", "neutral": "star_rating 3",
                                               "positive": "star_rating 4-5"}
    assert label_spec("product_category") == label_spec("category") == label_spec(None)


def test_class_counts_read_only_the_rating_and_the_partition(rt, rated_path):
    frame = sources.read(rt, sources.Source(path=rated_path), ["Books", "Camera"])
    plan = cell_count_query(frame, sources.CATEGORY, label_spec("sentiment").expression())._jdf \
        .queryExecution().executedPlan().toString()
    schemas = [line.split("ReadSchema: ")[1] for line in plan.splitlines() if "ReadSchema: " in line]
    assert schemas and all(s.startswith("struct<star_rating:int>") for s in schemas), plan
    assert "review_body" not in "".join(schemas) and "review_headline" not in "".join(schemas)


def test_balance_by_sentiment_keeps_exactly_the_smallest_class_of_each_and_reports_bias(rt, spark, rated_path, tmp_path):
    before = _classes(spark, rated_path)
    out = str(tmp_path / "balanced")
    result = balance.balance(rt, input_path=rated_path, output_path=out, label="sentiment",
                             seed=3)
    smallest = min(before.values())
    assert result.plan.targets == dict.fromkeys(("negative", "neutral", "positive"), smallest)
    assert _classes(spark, out) == dict.fromkeys(("negative", "neutral", "positive"), smallest)
    # The table keeps its columns and partitions; the sampling's own column is gone.
    assert spark.read.parquet(out).columns == spark.read.parquet(rated_path).columns
    summary = json.loads(Path(out, "_balance.json").read_text())
    assert summary["label"]["name"] == "sentiment" and summary["targets"]["neutral"] == smallest
    bias_file = json.loads(Path(out, "_bias.json").read_text())
    assert set(bias_file) == {"before", "after"} and bias_file["before"]["positive"] == "positive"
    assert set(bias_file["before"]["metrics"]) == set(SKEW)
    assert sum(sum(c.values()) for c in bias_file["after"]["counts"].values()) == 3 * smallest
    # Seeded and exact: the same seed gives the same rows, another seed others.
    again = str(tmp_path / "again")
    balance.balance(rt, input_path=rated_path, output_path=again, label="sentiment", seed=3)
    ids = lambda p: sorted(r[0] for r in spark.read.parquet(p).select("review_id").collect())  # noqa: E731
    assert ids(out) == ids(again)


def test_balance_within_category_evens_every_cell(rt, spark, rated_path, tmp_path):
    out = str(tmp_path / "cells")
    # Small categories have tiny 1-3 star cells: a category with a cell under 20 reviews is left out whole.
    result = balance.balance(rt, input_path=rated_path, output_path=out, label="sentiment",
                             within=sources.CATEGORY, min_class_size=20, seed=5)
    before = _classes(spark, rated_path, within=True)
    weak = {k[0] for k, n in before.items() if n < 20}
    kept = {k: n for k, n in before.items() if k[0] not in weak}
    assert weak and len({k[0] for k in kept}) >= 3 and set(result.plan.dropped) == set(before) - set(kept)
    target = min(kept.values())
    assert result.plan.targets == dict.fromkeys(kept, target)
    assert _classes(spark, out, within=True) == dict.fromkeys(kept, target)
    summary = json.loads(Path(out, "_balance.json").read_text())
    assert summary["within"] == sources.CATEGORY and summary["targets"]["Books"]["neutral"] == target
    after = json.loads(Path(out, "_bias.json").read_text())["after"]["metrics"]
    # Every category now has the same sentiment mix: no distance between any category and the rest.
    assert all(abs(after[c][m]) < 1e-12 for c in after for m in ("DPL", "KL", "JS", "LP", "TVD", "KS"))


def test_prepare_writes_sentiment_labels_and_carries_the_bias_into_the_manifest(rt, rated_path, tmp_path):
    balanced = str(tmp_path / "balanced")
    balance.balance(rt, input_path=rated_path, output_path=balanced, label="sentiment")
    result = prepare.prepare(rt, input_path=balanced, output_path=str(tmp_path / "p"),
                             label="sentiment")
    manifest = result.manifest
    assert manifest["labels"] == {"__label__negative": "negative", "__label__neutral": "neutral",
                                  "__label__positive": "positive"}
    assert manifest["label"]["meaning"]["neutral"] == "star_rating 3" and manifest["label_column"] == "star_rating"
    assert set(manifest["bias"]) == {"before", "after"} and manifest["balance"]["label"]["name"] == "sentiment"
    for split in ("train", "validation", "test"):
        labels = {line.split(" ", 1)[0] for line in Path(tmp_path, "p", split, f"{split}.txt").read_text().splitlines()}
        assert labels == set(manifest["labels"]), split
    # Trained on sentiment, the model's report shows the bias before and after balancing.
    model = train(data=str(tmp_path / "p"), output_path=str(tmp_path / "m"), **FAST)
    report = (model / "report.md").read_text()
    assert "## Bias of sentiment across product_category" in report and "After balancing:" in report
    assert "| positive |" in report  # per-class metrics name the sentiment classes


def _smclarify(frame: pd.DataFrame, facet: str, positive: str) -> dict:
    from smclarify.bias.metrics import pretraining
    label, facet_index = frame["label"], frame["facet"] == facet
    positive_index = frame["label"] == positive
    return {"CI": pretraining.CI(label, facet_index), "DPL": pretraining.DPL(label, facet_index, positive_index),
            "KL": pretraining.KL(label, facet_index), "JS": pretraining.JS(label, facet_index),
            "LP": pretraining.LP(label, facet_index), "TVD": pretraining.TVD(label, facet_index),
            "KS": pretraining.KS(label, facet_index)}


@pytest.mark.parametrize("label,positive", [("sentiment", None), ("stars", "1")])
def test_bias_metrics_equal_smclarifys_on_the_same_rows(rt, spark, rated_path, label, positive):
    frame = sources.read(rt, sources.Source(path=rated_path), list(SKEW))
    report = bias.frame_bias(frame, sources.CATEGORY, label, positive)
    rows = frame.select(F.col(sources.CATEGORY).alias("facet"), label_spec(label).expression().alias("label")).toPandas()
    assert report["positive"] == (positive or "positive") and set(report["metrics"]) == set(SKEW)
    for facet, metrics in report["metrics"].items():
        expected = _smclarify(rows, facet, report["positive"])
        assert list(metrics) == list(METRICS)
        for name in METRICS:
            assert metrics[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-15), (facet, name)


def _reviewcat(tmp_path, *argv: str, code: int = 0) -> subprocess.CompletedProcess:
    """A ``reviewcat`` command as a user runs it, ending with exit code ``code``."""
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", *argv], capture_output=True, text=True,
                          env=cli_env(tmp_path), timeout=300)
    assert proc.returncode == code, proc.stderr
    return proc


def test_bias_job_writes_json_markdown_and_chart(rt, rated_path, tmp_path):
    """The command itself runs in the README's sentiment recipe (tests/test_readme_recipes.py)."""
    out = tmp_path / "bias"
    bias.bias(rt, input_path=rated_path, output_path=str(out), facet="product_category", label="sentiment")
    report = json.loads((out / "bias.json").read_text())
    assert (report["facet"], report["label"], report["positive"]) == ("product_category", "sentiment", "positive")
    assert set(report["metrics"]["Gift_Card"]) == set(METRICS)
    # Gift cards are the most positive category: the rest has a smaller share of positive reviews.
    assert report["metrics"]["Gift_Card"]["DPL"] < 0 < report["metrics"]["Wireless"]["DPL"]
    assert "| Gift_Card |" in (out / "bias.md").read_text()
    assert (out / "bias.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A bad input: its one line, nothing written.
    with pytest.raises(ReviewcatError, match="^--facet shop: no such column"):
        bias.bias(rt, input_path=rated_path, output_path=str(tmp_path / "bad"), facet="shop")
    assert not (tmp_path / "bad").exists() and leftovers(str(tmp_path / "bad")) == []


def test_bad_label_and_bias_inputs_are_one_line_and_write_nothing(rt, spark, raw_path, rated_path, tmp_path):
    no_rating = str(tmp_path / "no-rating")
    write_partitioned(spark.read.parquet(raw_path).drop("star_rating"), no_rating)
    off_scale = _with_ratings(spark, raw_path, tmp_path / "off-scale",
                              F.when(F.col("review_id").endswith("7"), 7).when(F.col("review_id").endswith("3"), 0)
                              .otherwise(4))
    out = str(tmp_path / "out")
    balance_cases = [
        (dict(input_path=no_rating, label="sentiment"), "--label sentiment needs a star_rating column: .* has no "
                                                        "column star_rating"),
        (dict(input_path=off_scale, label="sentiment"), r"[\d,]+ reviews in .* have a star_rating outside 1-5 \(0, 7\)"),
        (dict(input_path=rated_path, label="sentiment", within="shop"), "--within shop: no such column"),
        (dict(input_path=rated_path, label="stars_given"), "has no column stars_given"),
        (dict(input_path=rated_path, label="category", within=sources.CATEGORY), "every product_category is one class"),
    ]
    for values, message in balance_cases:
        with pytest.raises(ReviewcatError, match=message):
            balance.balance(rt, output_path=out, **values)
        assert not Path(out).exists() and leftovers(out) == []
    with pytest.raises(ReviewcatError, match=r"reviews in .* have a star_rating outside 1-5"):
        prepare.prepare(rt, input_path=off_scale, output_path=out, label="sentiment")
    assert not Path(out).exists() and leftovers(out) == []
    # No neutral review in either category: a class with no rows after --categories.
    neutral_free = _with_ratings(spark, raw_path, tmp_path / "no-neutral",
                                 F.when(F.col("review_id").endswith("1"), 1).otherwise(5))
    bias_cases = [
        (dict(input_path=rated_path, facet="shop"), "--facet shop: no such column"),
        (dict(input_path=neutral_free, categories=["Books", "Camera"]), "no review in .* has the sentiment class neutral"),
        (dict(input_path=rated_path, positive="delighted"), "--positive delighted: no row has that class"),
        (dict(input_path=rated_path, categories=["Books"]), "the facet has one value only .Books."),
        (dict(input_path=no_rating), "--label sentiment needs a star_rating column"),
    ]
    for values, message in bias_cases:
        with pytest.raises(ReviewcatError, match=message):
            bias.bias(rt, output_path=out, **values)
        assert not Path(out).exists() and leftovers(out) == []


def test_old_flag_names_still_work(rated_path, tmp_path):
    out = tmp_path / "b"
    _reviewcat(tmp_path, "balance", "--input-path", rated_path, "--output-path", str(out), "--per-category", "40",
               "--min-category-size", "30")
    targets = json.loads((out / "_balance.json").read_text())["targets"]
    assert targets and set(targets.values()) == {40} and "Gift_Card" not in targets


def test_a_review_without_a_facet_value_is_refused_not_a_stack_trace(spark):
    frame = spark.createDataFrame([("a", 5), ("b", 1), (None, 3)], "shop string, star_rating int")
    with pytest.raises(ReviewcatError, match="1 reviews in the input have no shop: filter them out or choose "
                                             "another --facet column"):
        bias.frame_bias(frame, "shop", "sentiment")
