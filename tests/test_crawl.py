import shutil
from pathlib import Path

import pytest

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.synthetic.sample_data import write_sample_data
from reviewcat.tables.catalog import crawl

from conftest import CATEGORIES


def test_crawl_registers_schema_and_partitions(rt, spark, raw_path):
    result = crawl(rt, raw_path, "crawldb", "reviews")
    assert result.categories == sorted(CATEGORIES) and result.new_categories == sorted(CATEGORIES)
    columns = {c.name: c for c in spark.catalog.listColumns("crawldb.reviews")}
    assert columns["product_category"].isPartition and not columns["review_body"].isPartition
    assert columns["star_rating"].dataType == "int" and columns["review_date"].dataType == "date"
    assert spark.table("crawldb.reviews").count() == spark.read.parquet(raw_path).count()


def test_recrawl_picks_up_new_partitions_and_forgets_removed_ones(rt, spark, raw_path, copy_of, tmp_path):
    lake = Path(copy_of(raw_path))
    crawl(rt, str(lake), "crawldb", "growing")
    extra = tmp_path / "extra"
    write_sample_data(str(extra), 40, seed=1, categories=["Toys"])
    shutil.move(str(extra / "product_category=Toys"), lake)
    shutil.rmtree(lake / "product_category=Watches")
    result = crawl(rt, str(lake), "crawldb", "growing")
    assert result.new_categories == ["Toys"]
    assert "Watches" not in result.categories
    counts = {r[0]: r[1] for r in spark.table("crawldb.growing").groupBy("product_category").count().collect()}
    assert counts["Toys"] == 40 and "Watches" not in counts


def test_crawl_errors(rt, raw_path, tmp_path):
    crawl(rt, raw_path, "crawldb", "fixed")
    other = tmp_path / "other"
    shutil.copytree(raw_path, other)
    with pytest.raises(ReviewcatError, match="table crawldb.fixed already points at .*: choose another --table"):
        crawl(rt, str(other), "crawldb", "fixed")
    with pytest.raises(ReviewcatError, match="does not exist"):
        crawl(rt, str(tmp_path / "missing"), "crawldb", "t")
    with pytest.raises(ReviewcatError, match="invalid table name 'bad-name'"):
        crawl(rt, raw_path, "crawldb", "bad-name")
