import hashlib
import itertools
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from reviewcat.prep import balance, line_counts, prepare
from reviewcat.prep.splits import PART, SHUFFLE_ORDER, assign_split, ordered_parts, parse_split, part_keys
from reviewcat.prep.text import label_map, to_lines
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import RUN_FILE, SPLIT_GROUP, SPLITS
from reviewcat.tables import sources
from reviewcat.tables.writers import write_split_files
from reviewcat.train.commands import train

from conftest import FAST
from helpers import leftovers

LINE = re.compile(r"^__label__[a-z0-9_]+( \S+)+$")
SPLIT_FILES = ["train/train.txt", "validation/validation.txt", "test/test.txt"]


def run_prepare(rt, **values):
    return prepare.prepare(rt, **values)


@pytest.fixture(scope="session")
def balanced_path(rt, raw_path, tmp_path_factory) -> str:
    """Five categories of equal size (Gift_Card is too small and left out)."""
    out = str(tmp_path_factory.mktemp("balanced") / "balanced")
    balance.balance(rt, input_path=raw_path, output_path=out, min_class_size=150)
    return out


@pytest.fixture(scope="session")
def prepared(rt, balanced_path, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("prepared") / "prepared")
    return run_prepare(rt, input_path=balanced_path, output_path=out, seed=9)


def lines_of(root, name):
    return Path(root, name).read_text(encoding="utf-8").splitlines()


def test_layout_is_one_file_per_split_folder_plus_manifest(prepared):
    root = Path(prepared.output_path.removeprefix("file:"))
    assert sorted(p.name for p in root.iterdir()) == [RUN_FILE, "manifest.json", "test", "train", "validation"]
    for name in SPLIT_FILES:
        folder = root / name.split("/")[0]
        assert [p.name for p in folder.iterdir()] == [name.split("/")[1]]
    assert leftovers(str(root)) == []


def test_every_bucket_is_ordered_by_a_task_of_its_own_and_any_bucket_count_writes_the_same_files(
        rt, balanced_path, tmp_path):
    """Buckets sharing a task would still give correct files, from one task ordering both while
    another core idles: no check of the output can see it, so look at the partitions."""
    source = sources.Source(path=balanced_path)
    categories = sources.list_categories(rt, source)
    labels = label_map(categories)
    tokenized = to_lines(sources.read(rt, source, categories), labels, "product_category", "review_body", 20)
    split = assign_split(tokenized, parse_split("0.6,0.2,0.2"), 42)
    files, counts = [], []
    for k in (1, 4):
        lines = ordered_parts(split, 42, k)
        tagged = lines.withColumn("task", F.spark_partition_id()).localCheckpoint()
        placed = tagged.groupBy(PART).agg(F.collect_set("task").alias("tasks"), F.first("split").alias("split"),
                                          F.count(F.lit(1)).alias("rows")).collect()
        assert len(placed) == 3 * k and all(len(row["tasks"]) == 1 for row in placed)
        assert len({row["tasks"][0] for row in placed}) == 3 * k  # no two buckets in one task
        train = [row["rows"] for row in placed if row["split"] == "train"]
        assert max(train) < 1.3 * sum(train) / k  # equal shares of the split, about 1/k each
        observed, written = line_counts.observe(lines, SPLITS, list(labels), k)
        paths = write_split_files(rt.storage, observed, PART, part_keys(k), str(tmp_path / f"k{k}"), SHUFFLE_ORDER)
        files.append({name: Path(path.removeprefix("file:")).read_bytes() for name, path in paths.items()})
        counts.append(line_counts.written(written, rt.spark, paths, SPLITS, list(labels)))
        assert counts[-1] == line_counts.in_files(rt.spark, paths, SPLITS)[0]
    assert files[0] == files[1] and counts[0] == counts[1]
    assert sorted(files[0]) == sorted(SPLITS) and sorted(p.name for p in (tmp_path / "k4").iterdir()) == sorted(SPLITS)


def test_part_keys_send_every_bucket_to_a_partition_of_its_own(spark):
    for k in (1, 2, 7, 40):
        keys = [key for split in SPLITS for key in part_keys(k)[split]]
        n = len(keys)
        rows = spark.createDataFrame([(key,) for key in keys], "part int").select(
            F.expr(f"pmod(hash(part), {n})").alias("partition")).collect()
        assert sorted(row["partition"] for row in rows) == list(range(n)), k


def test_every_line_is_a_fasttext_line(prepared):
    root = prepared.output_path.removeprefix("file:")
    for name in SPLIT_FILES:
        lines = lines_of(root, name)
        assert lines, name
        bad = [line for line in lines if not LINE.match(line)]
        assert bad == []


def test_splits_are_disjoint_and_complete_against_the_deduplicated_input(rt, prepared, balanced_path):
    root = prepared.output_path.removeprefix("file:")
    source = sources.Source(path=balanced_path)
    categories = sources.list_categories(rt, source)
    frame = sources.read(rt, source, categories)
    tokenized = to_lines(frame, label_map(categories), "product_category", "review_body", 20).collect()
    kept = {}  # of each repeated text, the row with the smallest review_id, then label
    for row in tokenized:
        kept[row["tokens"]] = min(kept.get(row["tokens"], (row["review_id"], row["label"])), (row["review_id"], row["label"]))
    expected = [f"{label} {tokens}" for tokens, (_, label) in kept.items()]
    assert len(expected) < len(tokenized)  # the input repeats texts, under one id and under two
    per_split = {name: lines_of(root, name) for name in SPLIT_FILES}
    everything = list(itertools.chain.from_iterable(per_split.values()))
    assert sorted(everything) == sorted(expected)
    assert len(everything) == len(set(everything))
    total = len(everything)
    assert len(per_split["train/train.txt"]) / total == pytest.approx(0.6, abs=0.06)
    # Cleaning dropped the empty, null, short and repeated reviews of the input.
    assert total < sum(prepared.manifest["balance"]["targets"].values())


def test_train_is_shuffled_not_grouped_by_label(prepared):
    labels = [line.split(" ", 1)[0] for line in lines_of(prepared.output_path.removeprefix("file:"), SPLIT_FILES[0])]
    longest = max(len(list(run)) for _, run in itertools.groupby(labels))
    assert len(set(labels)) == 5
    # Five balanced labels in random order: runs of 8 have odds of about 1 in 1000 per file.
    assert longest <= 8, longest
    assert max(len(list(r)) for _, r in itertools.groupby(sorted(labels))) > 50


def test_manifest_describes_the_files(prepared):
    root = Path(prepared.output_path.removeprefix("file:"))
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest == prepared.manifest
    assert manifest["labels"]["__label__books"] == "Books"
    assert manifest["balance"]["dropped"] == {"Gift_Card": manifest["balance"]["counts"]["Gift_Card"]}
    assert manifest["seed"] == 9 and manifest["split"] == {"train": 0.6, "validation": 0.2, "test": 0.2}
    for split, info in manifest["files"].items():
        data = (root / info["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"]
        counted = Counter(line.split(" ", 1)[0] for line in data.decode().splitlines())
        assert counted == info["labels"] and sum(counted.values()) == info["rows"]
    assert manifest["rows_out"] == sum(info["rows"] for info in manifest["files"].values())
    # Counted while the job read its input: every balanced review, kept or not.
    assert manifest["rows_in"] == sum(manifest["balance"]["targets"].values())


def test_reruns_are_byte_identical_and_the_seed_matters(rt, prepared, balanced_path, tmp_path):
    again = run_prepare(rt, input_path=balanced_path, output_path=str(tmp_path / "again"), seed=9)
    run_prepare(rt, input_path=balanced_path, output_path=str(tmp_path / "other"), seed=10)
    first_root = prepared.output_path.removeprefix("file:")
    for name in SPLIT_FILES + ["manifest.json"]:
        assert Path(first_root, name).read_bytes() == Path(tmp_path, "again", name).read_bytes(), name
    assert Path(first_root, "train/train.txt").read_bytes() != Path(tmp_path, "other", "train/train.txt").read_bytes()
    assert again.manifest == prepared.manifest


def _splits_of_groups(rt, balanced_path, root) -> dict[str, set[str]]:
    """product_parent -> the splits its texts went to, for texts no other product shares."""
    source = sources.Source(path=balanced_path)
    categories = sources.list_categories(rt, source)
    frame = sources.read(rt, source, categories)
    rows = to_lines(frame, label_map(categories), "product_category", "review_body", 20,
                    group_column="product_parent").collect()
    groups_of: dict[str, set[str]] = {}
    for row in rows:
        groups_of.setdefault(row["tokens"], set()).add(row[SPLIT_GROUP])
    split_of = {line.split(" ", 1)[1]: name.split("/")[0] for name in SPLIT_FILES for line in lines_of(root, name)}
    assert len(split_of) == sum(len(lines_of(root, name)) for name in SPLIT_FILES)  # no text in two splits
    splits: dict[str, set[str]] = {}
    for tokens, groups in groups_of.items():
        if len(groups) == 1 and tokens in split_of:
            splits.setdefault(next(iter(groups)), set()).add(split_of[tokens])
    return splits


def test_a_grouped_split_keeps_every_group_in_one_split(rt, prepared, balanced_path, tmp_path):
    grouped = run_prepare(rt, input_path=balanced_path, output_path=str(tmp_path / "grouped"), seed=9,
                          group_column="product_parent")
    assert grouped.manifest["split_group_column"] == "product_parent"
    assert prepared.manifest["split_group_column"] is None
    splits = _splits_of_groups(rt, balanced_path, str(tmp_path / "grouped"))
    assert len(splits) > 300 and all(len(s) == 1 for s in splits.values())
    in_train = sum(s == {"train"} for s in splits.values()) / len(splits)
    assert in_train == pytest.approx(0.6, abs=0.06)
    # The random split puts the reviews of one product on both sides: what the grouped one prevents.
    spread = _splits_of_groups(rt, balanced_path, prepared.output_path.removeprefix("file:"))
    assert sum(len(s) > 1 for s in spread.values()) > len(spread) / 10
    again = run_prepare(rt, input_path=balanced_path, output_path=str(tmp_path / "again"), seed=9,
                        group_column="product_parent")
    assert again.manifest == grouped.manifest


def test_a_label_column_of_lists_gives_lines_of_several_labels(rt, spark, raw_path, tmp_path):
    tagged = str(tmp_path / "tagged")
    (spark.read.parquet(raw_path)
     .withColumn("tags", F.array(F.col("product_category"), F.when(F.col("star_rating") >= 4, F.lit(" liked")),
                                 F.lit(" "), F.col("product_category")))  # trimmed, blanks and repeats dropped
     .write.partitionBy("product_category").parquet(tagged))
    result = run_prepare(rt, input_path=tagged, output_path=str(tmp_path / "prepared"), label="tags", seed=9)
    manifest = result.manifest
    assert manifest["label"] == {"name": "tags", "column": "tags", "several": True}
    assert manifest["labels"]["__label__liked"] == "liked" and manifest["labels"]["__label__books"] == "Books"
    several = 0
    for split in SPLITS:
        lines = (tmp_path / "prepared" / split / f"{split}.txt").read_text().splitlines()
        labels = [[w for w in line.split() if w.startswith("__label__")] for line in lines]
        assert all(line.startswith(" ".join(words) + " ") for line, words in zip(lines, labels))
        assert all(words == sorted(set(words)) and 1 <= len(words) <= 2 for words in labels)  # distinct, in order
        several += sum(len(words) == 2 for words in labels)
        assert manifest["files"][split]["rows"] == len(lines)
        assert manifest["files"][split]["labels"] == dict(sorted(Counter(w for ws in labels for w in ws).items()))
    assert several > 1000
    # A row whose list holds no label (empty, or blanks only) is unlabelled: refused, nothing written.
    emptied = str(tmp_path / "emptied")
    spark.read.parquet(tagged).withColumn("tags", F.when(F.col("star_rating") == 1, F.array(F.lit(" ")))
                                          .otherwise(F.col("tags"))).write.partitionBy("product_category") \
        .parquet(emptied)
    with pytest.raises(ReviewcatError, match=r"reviews in .* have no tags \(null or empty lists\): filter them out "
                                             "first"):
        run_prepare(rt, input_path=emptied, output_path=str(tmp_path / "p1"), label="tags")
    assert not (tmp_path / "p1").exists() and leftovers(str(tmp_path / "p1")) == []
    # A rating label needs one rating a review; lists of them are refused in one line.
    rated = str(tmp_path / "rated")
    spark.read.parquet(tagged).withColumn("star_rating", F.array("star_rating")).write \
        .partitionBy("product_category").parquet(rated)
    with pytest.raises(ReviewcatError, match="--label sentiment needs one rating a review in star_rating, but in .* "
                                             "it holds lists"):
        run_prepare(rt, input_path=rated, output_path=str(tmp_path / "p2"), label="sentiment")
    # Balancing and bias count one class a review: they refuse lists in one line.
    with pytest.raises(ReviewcatError, match=r"tags in .* holds lists \(several classes a review\).* prepare it "
                                             r"directly \(reviewcat prepare --label tags\)"):
        balance.balance(rt, input_path=tagged, output_path=str(tmp_path / "balanced"), label="tags")
    # The lines train (one-vs-all) and evaluate as several labels.
    model = train(data=str(tmp_path / "prepared"), output_path=str(tmp_path / "model"), loss="ova", **FAST)
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["several_labels"]["lines_with_several_labels"] > 0 and metrics["accuracy"] > 0.5
    assert "test lines carry several labels" in (model / "model_card.md").read_text()


def test_catalog_input_and_another_label_column(rt, raw_table, tmp_path):
    database, table = raw_table
    result = run_prepare(rt, database=database, table=table, output_path=str(tmp_path / "stars"),
                         label="star_rating", split="0.8,0.1,0.1")
    assert set(result.manifest["labels"]) == {f"__label__{n}" for n in range(1, 6)}
    assert result.manifest["balance"] is None


def test_bad_inputs_give_clear_errors_and_write_nothing(rt, balanced_path, tmp_path):
    out = str(tmp_path / "out")
    cases = [
        (dict(split="0.7,0.2,0.2"), "sums to 1.1, not 1"),
        (dict(text_column="body"), r"has no column body \(from --text-column; its columns: .*review_body"),
        (dict(label="stars_given"), "has no column stars_given"),
        (dict(group_column="parent"), r"has no column parent \(from --group-column; its columns: "),
        # One marketplace: every line in the one split its hash picks.
        (dict(group_column="marketplace"), r"split \w+ is empty: the input is too small for --split 0.6,0.2,0.2 "
                                           r"\(or has too few values of --group-column marketplace\)"),
        (dict(min_chars=100_000), "no reviews left for Books, Camera, Kitchen, Watches, Wireless after cleaning"),
        (dict(input_path=str(tmp_path / "nope")), "does not exist"),
        # Nothing hashes into a 0.01% split: the split files written so far go with the staging folder.
        (dict(split="0.9998,0.0001,0.0001"), "split (validation|test) is empty: the input is too small for --split 0.9998,0.0001,0.0001"),
    ]
    for values, message in cases:
        with pytest.raises(ReviewcatError, match=message):
            run_prepare(rt, **{"input_path": balanced_path, "output_path": out, **values})
        assert not Path(out).exists() and leftovers(out) == []


def test_existing_output_needs_overwrite(rt, balanced_path, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ReviewcatError, match="already exists"):
        run_prepare(rt, input_path=balanced_path, output_path=str(out))
    run_prepare(rt, input_path=balanced_path, output_path=str(out), overwrite=True, split="0.5,0.25,0.25")
    assert (out / "manifest.json").exists() and leftovers(str(out)) == []
