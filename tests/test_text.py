import pytest

from reviewcat.errors import ReviewcatError
from reviewcat.text import clean, label_for, label_map, normalize, tokenize


def test_clean_strips_tags_decodes_entities_and_collapses_whitespace():
    raw = "Great&nbsp;pan!<br /><br />Works &amp; cleans\teasily.\n\n<i>Really</i> &quot;good&quot; &#39;ok&#39;"
    assert clean(raw) == "Great pan! Works & cleans easily. Really \"good\" 'ok'"


@pytest.mark.parametrize("value", [None, float("nan"), "", "   \t\n "])
def test_clean_of_missing_text_is_empty(value):
    assert clean(value) == ""


def test_tokenize_lowercases_and_splits_inner_sentence_periods():
    # Without a sentence split the Treebank rules would leave "it." glued together.
    assert tokenize("I LOVE it. Don't buy the $20 one!") == \
        ["i", "love", "it", ".", "do", "n't", "buy", "the", "$", "20", "one", "!"]


def test_normalize_is_clean_then_tokenize_and_keeps_non_ascii():
    assert normalize("Très <b>bien</b>!\tcafé") == "très bien ! café"


@pytest.mark.parametrize("category,label", [
    ("Health_&_Personal_Care", "__label__health_personal_care"),
    ("Books", "__label__books"),
    ("  Home & Kitchen!! ", "__label__home_kitchen"),
    (5, "__label__5"),
])
def test_label_names(category, label):
    assert label_for(category) == label


def test_label_without_letters_is_an_error():
    with pytest.raises(ReviewcatError, match="no letters or digits"):
        label_for("&&")


def test_label_map_refuses_colliding_categories():
    assert label_map(["Books", "Gift_Card"]) == {"__label__books": "Books", "__label__gift_card": "Gift_Card"}
    with pytest.raises(ReviewcatError, match="both become __label__home_garden"):
        label_map(["Home Garden", "Home_Garden"])
