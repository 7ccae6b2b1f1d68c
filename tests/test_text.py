import random
import re
import string

import pytest
import regex

from nltk.tokenize import NLTKWordTokenizer

from reviewcat.prep.cleaning import clean
from reviewcat.prep.text import label_for, label_map, normalize
from reviewcat.prep.tokens import SENTENCE_END, _FOLDS_TO_ASCII, _TOKENIZER, tokenize, tokenize_batch
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.synthetic.sample_data import generate_category


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


# Inputs that exercise every rule of the tokenizer: quotes of all kinds, contractions, ellipses,
# dashes, brackets, currency, clitics and sentence-final punctuation.
TRICKY = [
    "\"Hello,\" she said -- it's 5:30... ain't it?", "I cannot gimme gonna gotta lemme wanna d'ye more'n",
    "'Tis the season, 'twas fun; whaddya know? whatcha doin'", "«Très» “bien” ‘ok’ „gut“ ``quoted''",
    "Costs $3.88 (roughly 3,36 euros) [or {so}] <b>x</b> 50% @home #1 & co*", "They'll we've I'd you're he's O'Neil's",
    "en–dash em—dash ― bar ‒ fig", "end with quote.\" ", "trailing colon: ", "'single' quotes' end'", "a.b.c. e.g.",
]


def _stock_tokens(texts):
    stock = NLTKWordTokenizer()
    return [" ".join(w for s in SENTENCE_END.split(t.lower()) for w in stock.tokenize(s)) for t in texts]


def test_tokenizers_match_stock_nltk_on_every_rule_and_generated_reviews():
    # Both run NLTK's own rule table through stdlib re for speed, the batch one over many sentences
    # at once: neither may differ from NLTK's tokenizer applied sentence by sentence.
    stock = NLTKWordTokenizer()
    reviews = generate_category("Books", 3000, seed=7, index=0).column("review_body").to_pylist()
    texts = [clean(t) for t in TRICKY + [t.upper() for t in TRICKY] + reviews]
    for text in TRICKY + texts:
        assert _TOKENIZER.tokenize(text) == stock.tokenize(text), text
    reference = _stock_tokens(texts)
    assert [" ".join(tokenize(t)) for t in texts] == reference
    assert tokenize_batch(texts) == reference
    assert tokenize_batch(["", texts[0], ""]) == ["", reference[0], ""] and tokenize_batch([]) == []


# Pieces that hit the tokenizer's rules where they are most fragile: contractions and clitics at
# word edges, quotes next to words and spaces, periods and brackets at line ends, characters that
# case-folding maps to ASCII letters.
PIECES = ["can", "not", "cannot", "gonna", "gimme", "gotta", "lemme", "wanna", "d'ye", "more'n", "'tis", "'twas",
          "it's", "'s", "'m", "'d", "'ll", "'re", "'ve", "n't", "don't", "o'neil", "'", "''", '"', "`", "``", "...",
          ".", ",", ":", ";", "!", "?", "(", ")", "[", "]", "{", "}", "<", ">", "--", "-", "–", "—", "*", "@", "#",
          "$", "%", "&", "«", "»", "“", "”", "‘", "’", "„", "3.88", "3,36", "5:30", "a", "x", "ok", "ſ", "ı",
          "İ", "\u212a", "tiſ", "can't", "wanna!", "na", "e.g."]


def _same_word_characters(text):
    # NLTK runs its rules with the regex module, whose \w also takes combining marks (the dot that
    # lowercasing "İ" leaves); re's does not. There, and only there, reviewcat's tokens differ.
    return all(bool(re.match(r"\w", c)) == bool(regex.match(r"\w", c)) for c in set(text.lower()))


@pytest.mark.parametrize("seed", range(4))
def test_batch_tokenizer_equals_nltk_on_random_rule_soup(seed):
    # tokenize_batch rewrites some of NLTK's rules for speed; on any text they must give the tokens
    # of the row-at-a-time tokenizer (prediction's), and NLTK's own.
    rng = random.Random(seed)
    texts = []
    for _ in range(1500):
        pieces = [rng.choice(PIECES) for _ in range(rng.randint(1, 14))]
        pieces = [p.upper() if rng.random() < 0.15 else p for p in pieces]
        texts.append(clean("".join(p + rng.choice(["", " ", " ", " ", "  "]) for p in pieces)))
    plain = [t for t in texts if not any(c in t.lower() for c in _FOLDS_TO_ASCII)]
    assert 0 < len(plain) < len(texts)
    for batch in (plain, texts):  # without and with the characters that force the exact slow path
        assert tokenize_batch(batch) == [" ".join(tokenize(t)) for t in batch]
    comparable = [t for t in texts if _same_word_characters(t)]
    assert tokenize_batch(comparable) == _stock_tokens(comparable)


def test_folds_to_ascii_are_all_characters_ignorecase_maps_to_ascii_letters():
    everything = "".join(map(chr, range(0x110000)))
    assert set(re.findall("(?i)[a-z]", everything)) - set(string.ascii_letters) == set(_FOLDS_TO_ASCII)


def test_tokenize_batch_refuses_uncleaned_text():
    with pytest.raises(ValueError, match="clean"):
        tokenize_batch(["two\nlines"])


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


def test_the_tokenizer_loads_without_the_nltk_package_and_leaves_it_importable():
    """A fresh process tokenizes without running nltk/__init__ (scipy and all of NLTK: about a
    second), gives the stock tokens, and a later `import nltk` still gets the whole package."""
    import json
    import subprocess
    import sys
    script = ("import json, sys; from reviewcat.prep.tokens import tokenize_batch; "
              "loaded = sorted(n for n in sys.modules if n.split('.')[0] in ('nltk', 'scipy')); "
              "tokens = tokenize_batch(json.loads(sys.argv[1])); import nltk; "
              "print(json.dumps([loaded, tokens, hasattr(nltk, 'word_tokenize'), "
              "nltk.tokenize.NLTKWordTokenizer().tokenize('it\\'s ok')]))")
    texts = [clean(t) for t in TRICKY]
    done = subprocess.run([sys.executable, "-c", script, json.dumps(texts)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    loaded, tokens, whole_package, later = json.loads(done.stdout)
    assert loaded == []  # neither nltk's package nor scipy was left loaded
    assert tokens == _stock_tokens(texts)
    assert whole_package and later == ["it", "'s", "ok"]


def test_the_predict_command_loads_no_pandas():
    """`reviewcat predict` cleans and tokenizes with `text`: pandas (half a second of a one-text
    prediction) is imported only by the Spark jobs' UDF module, `text_batches`."""
    import subprocess
    import sys
    script = ("import sys, reviewcat.cli, reviewcat.prep.text, reviewcat.train.commands; "
              "print(sorted(n for n in sys.modules if n.split('.')[0] == 'pandas'))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_local_python_workers_load_no_setuptools(spark):
    """PySpark 3.5's Arrow type mapping imports distutils, which setuptools' shim served by importing
    all of setuptools in every Python worker (0.25-0.45 s): the local workers use Python's own."""
    import sys

    import pandas as pd
    from pyspark.sql import functions as F

    from reviewcat.runtime.session import _stdlib_distutils

    if not _stdlib_distutils():
        pytest.skip("this Python ships no distutils: setuptools' is the only one")

    @F.pandas_udf("boolean")
    def setuptools_loaded(ids: pd.Series) -> pd.Series:
        return pd.Series(["setuptools" in sys.modules] * len(ids))

    assert {r[0] for r in spark.range(4).select(setuptools_loaded("id")).collect()} == {False}
