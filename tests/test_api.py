"""The DataFrame API exported from `reviewcat`: the same rows and lines the jobs write."""
import subprocess
import sys
from pathlib import Path

import reviewcat
from reviewcat.prep import balance, prepare
from reviewcat.runtime.options import namespace
from reviewcat.schema import SPLITS


def ids(frame):
    return sorted(r[0] for r in frame.select("review_id").collect())


def test_balanced_frames_keep_the_rows_the_balance_job_writes(rt, spark, raw_path, tmp_path):
    reviews = spark.read.parquet(raw_path)
    for name, options in (("category", dict(min_class_size=150)),
                          ("sentiment", dict(label="sentiment", within="product_category", min_class_size=20))):
        out = str(tmp_path / name)
        job = balance.run(rt, namespace(balance.OPTIONS, input_path=raw_path, output_path=out, seed=4, **options))
        result = reviewcat.balanced(reviews, seed=4, **options)
        assert result.plan == job.plan
        assert ids(result.rows) == ids(spark.read.parquet(out))
        assert set(result.rows.columns) == set(reviews.columns)


def test_lines_and_splits_of_a_frame_are_the_prepare_jobs_files(rt, spark, raw_path, tmp_path):
    balanced = str(tmp_path / "balanced")
    balance.run(rt, namespace(balance.OPTIONS, input_path=raw_path, output_path=balanced, min_category_size=150))
    out = tmp_path / "prepared"
    prepare.run(rt, namespace(prepare.OPTIONS, input_path=balanced, output_path=str(out), seed=9))
    lines = reviewcat.fasttext_lines(spark.read.parquet(balanced))
    assert set(lines.columns) == {"review_id", "label", "tokens"}
    splits = reviewcat.split_lines(lines, "0.6,0.2,0.2", seed=9)
    for split in SPLITS:
        written = (out / split / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        assert [r["line"] for r in splits[split].collect()] == written, split


def test_bias_table_and_predicted_are_the_jobs_functions_and_import_stays_cheap():
    from reviewcat.prep.bias import frame_bias
    from reviewcat.scoring.predictions import predicted
    assert reviewcat.bias_table is frame_bias and reviewcat.predicted is predicted
    # The CLI imports the package first: the API must not pull Spark in with it.
    probe = "import sys, reviewcat; print('pyspark' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent)
    assert done.stdout.strip() == "False", done.stderr
