import pytest

from reviewcat.prep.sampling import plan_sample
from reviewcat.prep.splits import parse_split
from reviewcat.runtime.errors import ReviewcatError

COUNTS = {"Books": 1000, "Camera": 300, "Gift_Card": 20}


def test_default_cuts_every_category_to_the_smallest():
    plan = plan_sample(COUNTS)
    assert plan.targets == {"Books": 20, "Camera": 20, "Gift_Card": 20}
    assert plan.factors == {"Books": 0.02, "Camera": 20 / 300, "Gift_Card": 1.0}


def test_per_category_is_a_cap():
    assert plan_sample(COUNTS, per_class=100).targets == {"Books": 100, "Camera": 100, "Gift_Card": 20}


def test_min_category_size_drops_small_categories_before_choosing_the_target():
    plan = plan_sample(COUNTS, min_class_size=50)
    assert plan.targets == {"Books": 300, "Camera": 300}
    assert plan.dropped == {"Gift_Card": 20}


def test_min_category_size_above_every_category_is_an_error():
    with pytest.raises(ReviewcatError, match="no category has at least 5000 reviews .largest: Books with 1000"):
        plan_sample(COUNTS, min_class_size=5000)


def test_an_empty_category_is_an_error_unless_small_ones_are_dropped():
    with pytest.raises(ReviewcatError, match="categories with no reviews: Video"):
        plan_sample({**COUNTS, "Video": 0})
    assert "Video" in plan_sample({**COUNTS, "Video": 0}, min_class_size=1).dropped


def test_split_parsing():
    assert parse_split("0.6, 0.2,0.2") == {"train": 0.6, "validation": 0.2, "test": 0.2}


@pytest.mark.parametrize("text,message", [
    ("0.6,0.2,0.1", "sums to 0.9, not 1"),
    ("0.8,0.2", "needs three fractions"),
    ("a,b,c", "is not three numbers"),
    ("1.0,0,0", "every fraction must be above 0"),
])
def test_bad_splits(text, message):
    with pytest.raises(ReviewcatError, match=message):
        parse_split(text)


def test_a_cell_below_the_floor_drops_its_whole_category():
    cells = {("Books", "negative"): 50, ("Books", "positive"): 900, ("Camera", "negative"): 5,
             ("Camera", "positive"): 400}
    plan = plan_sample(cells, min_class_size=10, noun=("cell", "cells"))
    assert plan.targets == {("Books", "negative"): 50, ("Books", "positive"): 50}
    assert set(plan.dropped) == {("Camera", "negative"), ("Camera", "positive")}
    assert plan.to_dict()["targets"] == {"Books": {"negative": 50, "positive": 50}}
