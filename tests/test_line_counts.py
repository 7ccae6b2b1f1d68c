"""Counting lines per split and label during the write, and the fallback to counting the files."""
import json
from types import SimpleNamespace

import pytest

from reviewcat.prep import line_counts

SPLITS = ("train", "validation", "test")
LABELS = ["__label__a", "__label__b"]  # codes: train a 0, train b 1, validation a 2, ..., test b 5


def metrics(points, lines):
    return {"rows": lines, "histogram": json.dumps([{"x": x, "y": y} for x, y in points])}


def test_observed_counts_sum_a_code_split_over_bins_and_round_averaged_centres():
    observed = metrics([(0, 5.0), (1.0000000000000002, 2.0), (1, 1.0), (5, 3.0)], 11)
    assert line_counts.from_metrics(observed, SPLITS, LABELS) == {
        "train": {"__label__a": 5, "__label__b": 3}, "validation": {}, "test": {"__label__b": 3}}


@pytest.mark.parametrize("observed", [
    metrics([(0, 5.0), (1.5, 2.0)], 7),   # two codes merged into one bin: no longer exact
    metrics([(0, 5.0), (6, 2.0)], 7),     # a code that no split and label has
    metrics([(0, 5.0), (1, 2.0)], 8),     # not every line counted
    {},                                   # nothing observed
])
def test_counts_that_do_not_add_up_are_refused(observed):
    assert line_counts.from_metrics(observed, SPLITS, LABELS) is None


def test_a_write_whose_counts_do_not_add_up_counts_the_files(rt, tmp_path):
    paths = {}
    for split, text in (("train", "__label__a x\n__label__b y\n__label__a z\n"), ("test", "__label__b w\n")):
        paths[split] = str(tmp_path / f"{split}.txt")
        (tmp_path / f"{split}.txt").write_text(text)
    refused = SimpleNamespace(get=metrics([(0, 1.5)], 4))
    assert line_counts.written(refused, rt.spark, paths, SPLITS, LABELS) == {
        "train": {"__label__a": 2, "__label__b": 1}, "validation": {}, "test": {"__label__b": 1}}
    assert line_counts.written(refused, rt.spark, {}, SPLITS, LABELS) == {split: {} for split in SPLITS}


def test_counting_during_a_write_matches_the_rows_written(rt):
    rows = [(split, label) for split, label, n in (("train", "__label__a", 7), ("train", "__label__b", 2),
                                                   ("test", "__label__a", 1)) for _ in range(n)]
    frame = rt.spark.createDataFrame(rows, "split string, label string").repartition(3)
    counted, observation = line_counts.observe(frame, SPLITS, LABELS)
    counted.write.format("noop").mode("overwrite").save()
    assert line_counts.from_metrics(observation.get, SPLITS, LABELS) == {
        "train": {"__label__a": 7, "__label__b": 2}, "validation": {}, "test": {"__label__a": 1}}
