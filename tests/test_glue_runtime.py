"""The Glue branch of the jobs, run against the real awsglue Python API.

Only GlueContext and Job need Glue's JVM classes, so those two are replaced by recorders; argument
parsing is the real ``getResolvedOptions`` and catalog reads go through the real
``DynamicFrameReader.from_catalog``, so a call that does not fit the Glue API fails here.
"""
import pytest

from reviewcat.ingest import importer
from reviewcat.prep import balance, prepare
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.jobs import run_job, running_on_glue
from reviewcat.runtime.options import from_resolved

from helpers import read_categories


def test_balance_job_on_glue_reads_through_push_down_predicate(glue, spark, raw_table, tmp_path):
    out = str(tmp_path / "balanced")
    argv = ["balance_reviews.py", "--JOB_NAME", "reviewcat-balance", "--database", "rawdb", "--table", "reviews",
            "--output-path", out, "--categories", "Camera,Watches", "--per-category", "50",
            "--output-table", "gluedb.balanced", "--job-bookmark-option", "job-bookmark-disable"]
    assert running_on_glue(argv)
    assert run_job(argv, balance.OPTIONS, "balance_reviews", "", balance.run) == 0
    assert glue["reads"] == [{"database": "rawdb", "table": "reviews", "ctx": "read_reviews",
                              "predicate": "product_category IN ('Camera', 'Watches')"}]
    assert glue["job"] == [("init", "reviewcat-balance", out), ("commit",)]
    assert read_categories(spark, out) == {"Camera": 50, "Watches": 50}


def test_on_glue_only_an_explicit_output_table_is_registered(glue, spark, raw_table, tmp_path):
    argv = ["balance_reviews.py", "--JOB_NAME", "j", "--database", "rawdb", "--table", "reviews",
            "--output-path", str(tmp_path / "b"), "--categories", "Camera", "--per-category", "10"]
    spark.sql("DROP TABLE IF EXISTS rawdb.reviews_balanced")
    assert run_job(argv, balance.OPTIONS, "balance_reviews", "", balance.run) == 0
    assert not spark.catalog.tableExists("rawdb.reviews_balanced")  # the balanced crawler's job on Glue


def test_prepare_job_on_glue_with_switch_and_defaults(glue, spark, raw_table, tmp_path):
    out = tmp_path / "prepared"
    out.mkdir()
    argv = ["prepare_splits.py", "--JOB_NAME", "reviewcat-prepare", "--database", "rawdb", "--table", "reviews",
            "--output-path", str(out), "--overwrite", "true", "--min-chars", "30"]
    assert run_job(argv, prepare.OPTIONS, "prepare_splits", "", prepare.run) == 0
    assert (out / "train" / "train.txt").exists()
    assert glue["reads"][0]["predicate"].startswith("product_category IN ('Books', 'Camera'")


def test_errors_on_glue_are_raised_for_the_job_run_to_report(glue, raw_table, tmp_path):
    argv = ["balance_reviews.py", "--JOB_NAME", "j", "--database", "rawdb", "--table", "reviews",
            "--output-path", str(tmp_path / "o"), "--categories", "Nope"]
    with pytest.raises(ReviewcatError, match="unknown categories in --categories: Nope"):
        run_job(argv, balance.OPTIONS, "balance_reviews", "", balance.run)
    assert glue["job"] == [("init", "j", str(tmp_path / "o"))]  # no commit after a failure


def test_resolved_glue_arguments_are_typed_with_defaults():
    args = from_resolved(balance.OPTIONS, {"input_path": "s3://b/raw", "output_path": "s3://b/balanced",
                                           "per_category": "10", "overwrite": "false"})
    assert (args.input_path, args.per_class, args.overwrite, args.seed, args.categories) == \
        ("s3://b/raw", 10, False, 42, None)
    with pytest.raises(ReviewcatError, match="--per-category: expected a whole number, got 'ten'"):
        from_resolved(balance.OPTIONS, {"output_path": "s3://b/balanced", "per_category": "ten"})
    with pytest.raises(ReviewcatError, match="--overwrite: expected true or false"):
        from_resolved(balance.OPTIONS, {"output_path": "s3://b/balanced", "overwrite": "maybe"})


def test_plain_runs_are_not_mistaken_for_glue():
    assert not running_on_glue(["balance_reviews.py", "--input-path", "x"])


def test_import_job_on_glue_registers_the_table(glue, spark, tmp_path):
    from reviewcat.synthetic.sample_data import write_sample_data
    dump, out = str(tmp_path / "dump"), str(tmp_path / "reviews")
    write_sample_data(dump, 400, seed=2, categories=["Camera", "Watches"], fmt="amazon-tsv")
    argv = ["import_reviews.py", "--JOB_NAME", "reviewcat-import", "--format", "amazon-tsv", "--input-path",
            f"{dump}/*.tsv.gz", "--output-path", out, "--database", "gluedb", "--table", "imported",
            "--max-rejected-fraction", "0.001"]
    assert run_job(argv, importer.OPTIONS, "import_reviews", "", importer.run) == 0
    assert glue["job"] == [("init", "reviewcat-import", out), ("commit",)]
    counts = {r[0]: r[1] for r in spark.table("gluedb.imported").groupBy("product_category").count().collect()}
    assert counts == read_categories(spark, out) and sum(counts.values()) == 400
    with pytest.raises(ReviewcatError, match="unknown --format 'tsv'"):
        run_job(argv[:4] + ["tsv"] + argv[5:], importer.OPTIONS, "import_reviews", "", importer.run)
