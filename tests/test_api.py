"""The DataFrame API exported from `reviewcat`: the same rows and lines the jobs write."""
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import reviewcat
from reviewcat.runtime.options import RUNTIME_ONLY
from reviewcat.prep import balance, prepare
from reviewcat.schema import SPLITS


def ids(frame):
    return sorted(r[0] for r in frame.select("review_id").collect())


def test_balanced_frames_keep_the_rows_the_balance_job_writes(rt, spark, raw_path, tmp_path):
    reviews = spark.read.parquet(raw_path)
    for name, options in (("category", dict(min_class_size=150)),
                          ("sentiment", dict(label="sentiment", within="product_category", min_class_size=20))):
        out = str(tmp_path / name)
        job = balance.balance(rt, input_path=raw_path, output_path=out, seed=4, **options)
        result = reviewcat.balanced(reviews, seed=4, **options)
        assert result.plan == job.plan
        assert ids(result.rows) == ids(spark.read.parquet(out))
        assert set(result.rows.columns) == set(reviews.columns)


def test_lines_and_splits_of_a_frame_are_the_prepare_jobs_files(rt, spark, raw_path, tmp_path):
    balanced = str(tmp_path / "balanced")
    balance.balance(rt, input_path=raw_path, output_path=balanced, min_class_size=150)
    out = tmp_path / "prepared"
    prepare.prepare(rt, input_path=balanced, output_path=str(out), seed=9)
    lines = reviewcat.fasttext_lines(spark.read.parquet(balanced))
    assert set(lines.columns) == {"review_id", "label", "tokens"}
    splits = reviewcat.split_lines(lines, "0.6,0.2,0.2", seed=9)
    for split in SPLITS:
        written = (out / split / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        assert [r["line"] for r in splits[split].collect()] == written, split
    # Lines that carry their group are split as prepare --group-column splits them.
    prepare.prepare(rt, input_path=balanced, output_path=str(tmp_path / "grouped"), seed=9,
                    group_column="product_parent")
    grouped = reviewcat.split_lines(reviewcat.fasttext_lines(spark.read.parquet(balanced),
                                                             group_column="product_parent"), seed=9)
    for split in SPLITS:
        written = (tmp_path / "grouped" / split / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        assert [r["line"] for r in grouped[split].collect()] == written, split
    assert written != (out / "test" / "test.txt").read_text(encoding="utf-8").splitlines()


def test_bias_table_and_predicted_are_the_jobs_functions_and_import_stays_cheap():
    from reviewcat.prep.bias import frame_bias
    from reviewcat.scoring.predictions import predicted
    assert reviewcat.bias_table is frame_bias and reviewcat.predicted is predicted
    # The CLI imports the package first: the API must not pull Spark in with it.
    probe = "import sys, reviewcat; print('pyspark' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("function, options", [
    ("reviewcat.ingest.importer:import_table", "reviewcat.ingest.importer:OPTIONS"),
    ("reviewcat.prep.balance:balance", "reviewcat.prep.balance:OPTIONS"),
    ("reviewcat.prep.prepare:prepare", "reviewcat.prep.prepare:OPTIONS"),
    ("reviewcat.prep.bias:bias", "reviewcat.prep.bias:OPTIONS"),
    ("reviewcat.scoring.predict_table:predict_table", "reviewcat.scoring.predict_table:OPTIONS"),
    ("reviewcat.scoring.drift_job:measure_drift", "reviewcat.scoring.drift_job:OPTIONS"),
    ("reviewcat.train.commands:train", "reviewcat.train.commands:TRAIN"),
    ("reviewcat.train.commands:evaluate", "reviewcat.train.commands:EVALUATE"),
])
def test_each_stage_takes_its_commands_flags_with_the_same_defaults(function, options):
    """The CLI, Glue and the pipeline pass a command's every option by name: a stage function's
    keywords are exactly those options, with the same defaults (a required one has none)."""
    def resolve(spec):
        module, name = spec.split(":")
        return getattr(importlib.import_module(module), name)
    stage, declared = resolve(function), resolve(options)
    parameters = {p.name: p for p in inspect.signature(stage).parameters.values() if p.kind is p.KEYWORD_ONLY}
    expected = {o.dest: (False if o.switch else o.default) for o in declared if o.dest not in RUNTIME_ONLY}
    expected.pop("json", None)  # drift's --json only chooses how the command prints
    assert set(parameters) == set(expected)
    for name, parameter in parameters.items():
        if parameter.default is inspect.Parameter.empty:
            assert expected[name] is None, name  # required here: a flag without a default
        else:
            assert parameter.default == expected[name], name
    assert getattr(reviewcat, stage.__name__ if stage.__name__ != "train" else "train_model") is stage


def test_every_exported_name_is_what_reviewcat_exports():
    assert set(reviewcat.__all__) == {"__version__", *reviewcat._API}


def test_categories_may_come_as_a_list_or_as_the_text_a_notebook_writes():
    from reviewcat.tables.sources import select_categories
    available = ["Books", "Camera", "Watches"]
    assert select_categories(available, ["Watches", "Books"]) == select_categories(available, "Watches, Books") \
        == ["Books", "Watches"]
    assert select_categories(available, None) == select_categories(available, "") == available
