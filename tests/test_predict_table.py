"""reviewcat predict-table: every row of a table scored in Spark, as `reviewcat predict` scores one text."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reviewcat import predict_table
from reviewcat.errors import ReviewcatError
from reviewcat.options import namespace
from reviewcat.sample_data import write_sample_data
from reviewcat.train.commands import predict

from conftest import TRAIN_CATEGORIES, cli_env
from helpers import leftovers

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> str:
    """Reviews the model never saw (another seed), with every row's text kept, empty ones too."""
    path = tmp_path_factory.mktemp("score") / "reviews"
    write_sample_data(str(path), 1500, seed=11, categories=TRAIN_CATEGORIES)
    return str(path)


def score(rt, **values):
    return predict_table.run(rt, namespace(predict_table.OPTIONS, **values))


def test_every_row_is_scored_best_first_with_category_names_as_predict_gives(rt, spark, trained, table, tmp_path):
    out = tmp_path / "scored"
    summary = score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), top_k=3)
    raw = spark.read.parquet(table)
    scored = spark.read.parquet(str(out))
    assert summary["rows"] == scored.count() == raw.count()
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == \
        sorted(f"product_category={c}" for c in TRAIN_CATEGORIES)  # partitioned like the input
    assert set(scored.columns) == {"review_id", "product_category", "labels", "probabilities"}
    rows = {r["review_id"]: r for r in scored.collect()}
    assert len(rows) == raw.select("review_id").distinct().count()  # the generator repeats some reviews
    for row in rows.values():
        assert len(row["labels"]) == 3 and set(row["labels"]) <= set(TRAIN_CATEGORIES)
        assert row["probabilities"] == sorted(row["probabilities"], reverse=True)
    # The same cleaning, tokens and model as `reviewcat predict` on each text.
    sample = raw.select("review_id", "review_body").limit(40).collect()
    expected = predict(str(trained / "model.bin"), None, [r["review_body"] for r in sample], 3)
    for r, pairs in zip(sample, expected):
        got = rows[r["review_id"]]
        assert got["labels"] == [name for name, _ in pairs]
        assert got["probabilities"] == pytest.approx([p for _, p in pairs], abs=1e-6)
    # Most unseen reviews land in their own category: the scores are the model's, not noise.
    right = sum(rows[r["review_id"]]["labels"][0] == r["product_category"]
                for r in raw.select("review_id", "product_category").collect())
    assert right / len(rows) > 0.6
    assert json.loads((out / "_predict.json").read_text())["top_k"] == 3


def test_bad_model_and_missing_text_column_are_one_line_errors_and_write_nothing(rt, trained, table, tmp_path):
    out = tmp_path / "scored"
    with pytest.raises(ReviewcatError, match="model .*nope.bin not found"):
        score(rt, input_path=table, model=str(tmp_path / "nope.bin"), output_path=str(out))
    broken = tmp_path / "broken.bin"
    broken.write_bytes(b"not a fastText model")
    with pytest.raises(ReviewcatError, match="cannot load model"):
        score(rt, input_path=table, model=str(broken), output_path=str(out))
    with pytest.raises(ReviewcatError, match="--model is required"):
        score(rt, input_path=table, output_path=str(out))
    with pytest.raises(ReviewcatError, match="labels file .*nope.json not found"):
        score(rt, input_path=table, model=str(trained / "model.bin"), labels=str(tmp_path / "nope.json"),
              output_path=str(out))
    with pytest.raises(ReviewcatError, match="has no column ticket_text"):
        score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), text_column="ticket_text")
    assert not out.exists() and not leftovers(str(out))


def test_the_glue_entry_point_scores_a_table_and_fails_in_one_line(trained, table, tmp_path):
    job = [sys.executable, str(ROOT / "glue_jobs" / "predict_table.py"), "--input-path", table,
           "--model", str(trained / "model.bin"), "-k", "2", "--output-path"]
    done = subprocess.run(job + [str(tmp_path / "out")], env=cli_env(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "_predict.json").read_text())["rows"] == 1500
    again = subprocess.run(job + [str(tmp_path / "out")], env=cli_env(tmp_path), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1].startswith("predict_table: error: output path")
