import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from reviewcat.prep import balance, sampling
from reviewcat.prep.sampling import SamplingPlan, exact_sample
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import SAMPLE_ORDER
from reviewcat.tables import sources
from reviewcat.tables.catalog import crawl

from conftest import CATEGORIES
from helpers import corrupt_partition, leftovers, read_categories


def test_balanced_counts_are_exact_and_equal_to_the_smallest_category(rt, spark, raw_path, tmp_path):
    out = str(tmp_path / "balanced")
    result = balance.balance(rt, input_path=raw_path, output_path=out, seed=3)
    raw_counts = read_categories(spark, raw_path)
    smallest = min(raw_counts.values())
    assert read_categories(spark, out) == {c: smallest for c in CATEGORIES}
    assert result.plan.counts == raw_counts
    summary = json.loads(Path(out, "_balance.json").read_text())
    assert summary["targets"] == {c: smallest for c in CATEGORIES}
    assert summary["factors"]["Gift_Card"] == 1.0
    assert result.table is None  # a path input is registered only when asked to
    raw_ids = {r[0] for r in spark.read.parquet(raw_path).select("review_id").collect()}
    assert {r[0] for r in spark.read.parquet(out).select("review_id").collect()} <= raw_ids


def test_catalog_input_registers_the_balanced_table(rt, spark, raw_table, tmp_path):
    database, table = raw_table
    out = str(tmp_path / "balanced")
    result = balance.balance(rt, database=database, table=table, output_path=out, categories=["Camera", "Watches"],
                             per_class=100)
    assert result.table == "rawdb.reviews_balanced"
    counts = {r[0]: r[1] for r in spark.table("rawdb.reviews_balanced").groupBy("product_category").count().collect()}
    assert counts == {"Camera": 100, "Watches": 100}


def test_per_category_cap_and_min_category_size(rt, spark, raw_path, tmp_path):
    out = str(tmp_path / "capped")
    result = balance.balance(rt, input_path=raw_path, output_path=out, per_class=300, min_class_size=100,
                             output_table="capdb.capped")
    raw_counts = read_categories(spark, raw_path)
    expected = {c: min(n, 300) for c, n in raw_counts.items() if n >= 100}
    assert "Gift_Card" in result.plan.dropped and "Gift_Card" not in expected
    assert read_categories(spark, out) == expected
    assert spark.table("capdb.capped").count() == sum(expected.values())


def test_same_seed_same_sample_other_seed_other_sample(rt, spark, raw_path, tmp_path):
    def ids(seed, name):
        out = str(tmp_path / name)
        balance.balance(rt, input_path=raw_path, output_path=out, seed=seed, categories=["Books", "Kitchen"])
        return sorted(r[0] for r in spark.read.parquet(out).select("review_id").collect())
    first, again, other = ids(11, "a"), ids(11, "b"), ids(12, "c")
    assert first == again
    assert first != other


@pytest.fixture(params=["filtered", "ranked"])
def sample_path(request, monkeypatch):
    """Both ways to take the sample: filtered by cut-offs from a narrow pass (share 0 means always)
    and ranked by a window (a share above 1 means never)."""
    monkeypatch.setattr(sampling, "SHUFFLE_FREE_SHARE", 0.0 if request.param == "filtered" else 2.0)
    return request.param


def test_exact_sample_is_uniform_and_independent_of_partitioning(spark, sample_path):
    frame = spark.range(2000).select(F.format_string("R%05d", "id").alias("review_id"), F.col("id"),
                                     F.lit("Books").alias("product_category"))
    plan = SamplingPlan(counts={"Books": 2000}, targets={"Books": 200})
    one = exact_sample(frame.coalesce(1), plan, seed=5).select("id").collect()
    many = exact_sample(frame.repartition(7), plan, seed=5).select("id").collect()
    assert len(one) == 200
    assert sorted(r[0] for r in one) == sorted(r[0] for r in many)
    # Mean index of a uniform 10% sample: 999.5 with a standard error of about 39.
    assert abs(sum(r[0] for r in one) / 200 - 999.5) < 160


def test_filtered_and_ranked_samples_keep_the_same_rows_even_with_repeated_ids(spark, monkeypatch):
    # Every review_id twice (other columns differ) in two groups: a cut after an even number of rows
    # falls between ids, an odd one splits a pair, which only the other columns can order.
    frame = spark.range(4000).select(F.format_string("R%05d", (F.col("id") / 2).cast("int")).alias("review_id"),
                                     F.col("id"), F.when(F.col("id") < 2000, "Books").otherwise("Music")
                                     .alias("product_category"))
    counts = {"Books": 2000, "Music": 2000}

    def sample(share, target):
        monkeypatch.setattr(sampling, "SHUFFLE_FREE_SHARE", share)
        return exact_sample(frame.repartition(3), SamplingPlan(counts, {"Books": target, "Music": target}), seed=9)

    for target in (1200, 1201):
        filtered, ranked = sample(0.0, target), sample(2.0, target)
        assert sorted(filtered.select("id").collect()) == sorted(ranked.select("id").collect())
        assert sorted(map(tuple, filtered.groupBy("product_category").count().collect())) == \
            [("Books", target), ("Music", target)]
        # A split pair falls back to ranking: only then does the sample carry its rank.
        assert (SAMPLE_ORDER in filtered.columns) == (target % 2 == 1)


def test_counts_read_no_data_columns(rt, raw_path, raw_table):
    for source in (sources.Source(path=raw_path), sources.Source(*raw_table)):
        plan = sources.category_count_query(rt, source, ["Books"])._jdf.queryExecution().executedPlan().toString()
        assert "ReadSchema: struct<>" in plan, plan


def test_local_footer_counts_equal_the_query_and_give_way_to_it(rt, spark, tmp_path):
    """Counts read from local footers in the driver equal Spark's footer query, categories that need
    escaping in folder names included; a file outside the folders, a remote file or an unreadable
    footer leaves the counting to the query."""
    names = ["Gift Card", "Health_&_Care", "a%b/c=d", "\u00e9 \u00fc"]
    root = str(tmp_path / "escaped")
    spark.createDataFrame([(i, names[i % 4]) for i in range(41)], "review_id int, product_category string") \
        .repartition(3).write.partitionBy(sources.CATEGORY).parquet(root)
    source = sources.Source(path=root)
    folders = sources.partition_folders(rt, root)
    files = sources.read(rt, source, names).inputFiles()
    query = {r[0]: r[1] for r in sources.category_count_query(rt, source, names).collect()}
    assert sources.local_footer_counts(files, folders) == query == {names[0]: 11, **{n: 10 for n in names[1:]}}
    assert sources.count_by_category(rt, source, names[1:]) == {n: 10 for n in names[1:]}
    assert sources.local_footer_counts(files, {n: folders[n] for n in names[1:]}) is None
    assert sources.local_footer_counts(["s3://b/t/product_category=A/p.parquet"], {"A": "s3://b/t/product_category=A"}) is None
    corrupt_partition(root, "Gift Card")
    assert sources.local_footer_counts(files, folders) is None
    with pytest.raises(Exception):
        sources.count_by_category(rt, source, names)  # the query fails on it, as before


@pytest.mark.parametrize("by_table", [False, True])
def test_push_down_touches_only_selected_partitions(rt, spark, raw_path, copy_of, tmp_path, by_table):
    """Unselected partitions hold unreadable files: the run succeeds only if it never opens them."""
    damaged = copy_of(raw_path)
    source = dict(input_path=damaged)
    if by_table:
        crawl(rt, damaged, "pruning", "damaged")
        source = dict(database="pruning", table="damaged")
    for category in ("Books", "Wireless", "Kitchen"):
        corrupt_partition(damaged, category)
    out = str(tmp_path / "out")
    result = balance.balance(rt, output_path=out, categories=["Camera", "Watches", "Gift_Card"], **source)
    assert set(read_categories(spark, out)) == {"Camera", "Watches", "Gift_Card"}
    assert sum(result.plan.targets.values()) == 3 * result.plan.counts["Gift_Card"]
    # Control: selecting a damaged partition does fail, so the run above really skipped them.
    with pytest.raises(Exception):
        balance.balance(rt, output_path=str(tmp_path / "control"), categories=["Books", "Camera"], **source)
    assert leftovers(str(tmp_path / "control")) == []


def test_existing_output_needs_overwrite(rt, spark, raw_path, tmp_path):
    out = tmp_path / "balanced"
    balance.balance(rt, input_path=raw_path, output_path=str(out), categories=["Camera"])
    with pytest.raises(ReviewcatError, match="already exists: choose another --output-path or pass --overwrite"):
        balance.balance(rt, input_path=raw_path, output_path=str(out), categories=["Camera", "Watches"])
    assert set(read_categories(spark, str(out))) == {"Camera"}
    balance.balance(rt, input_path=raw_path, output_path=str(out), categories=["Camera", "Watches"], overwrite=True)
    assert set(read_categories(spark, str(out))) == {"Camera", "Watches"}
    assert leftovers(str(out)) == []


def test_bad_inputs_give_clear_errors(rt, raw_path, raw_table, tmp_path):
    out = str(tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    unpartitioned = tmp_path / "flat"
    unpartitioned.mkdir()
    (unpartitioned / "a.parquet").write_bytes(next(Path(raw_path, "product_category=Books").glob("*.parquet")).read_bytes())
    cases = [
        (dict(input_path=str(tmp_path / "missing")), "input path .*missing does not exist"),
        (dict(input_path=str(empty)), "no parquet data under"),
        (dict(input_path=str(unpartitioned)), "has parquet files but no product_category=<name> partition folders"),
        (dict(database="rawdb", table="nope"), "table rawdb.nope not found in the catalog: run `reviewcat crawl`"),
        (dict(database="nodb", table="reviews"), "database nodb not found"),
        (dict(database="rawdb"), "--database and --table go together"),
        (dict(), "no input: give --input-path"),
        (dict(input_path=raw_path, categories=["Books", "Toys"]), "unknown categories in --categories: Toys"),
        (dict(input_path=raw_path, min_class_size=10**6), "no category has at least 1000000 reviews"),
    ]
    for values, message in cases:
        with pytest.raises(ReviewcatError, match=message):
            balance.balance(rt, output_path=out, **values)
        assert not Path(out).exists() and leftovers(out) == []
    with pytest.raises(ReviewcatError, match="--output-path is required"):
        balance.balance(rt, input_path=raw_path, output_path=None)  # as the command line passes it
