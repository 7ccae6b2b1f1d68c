"""NLTK word tokens, and the same tokens for a whole batch of texts at once.

Only Python workers (and ``reviewcat predict``) tokenize, so this is the one module that imports
NLTK, and it imports only the word tokenizer's own module (``_word_tokenizer``): the ``nltk``
package itself loads scipy and most of NLTK before a worker's first batch or ``reviewcat
predict``'s answer, many times what the tokenizer alone needs (docs/performance.md, Cold start).
"""
from __future__ import annotations

import importlib.util
import re
import sys
import types
from typing import NamedTuple, Sequence


def _word_tokenizer() -> type:
    """``nltk.tokenize.destructive.NLTKWordTokenizer``, loaded without running ``nltk/__init__.py``
    or ``nltk/tokenize/__init__.py`` (the slow part: they import all of NLTK).

    The two packages stand in as bare modules while the tokenizer's module and the few it imports
    load from NLTK's own files, then every ``nltk`` module this added is forgotten again: an
    ``import nltk`` later (a notebook's, the tests') loads the real package as if this never ran.
    Where NLTK is already imported, or its layout differs, it is imported the usual way.
    """
    spec = None if "nltk" in sys.modules else importlib.util.find_spec("nltk")
    if spec is None or not spec.submodule_search_locations:
        from nltk.tokenize import NLTKWordTokenizer
        return NLTKWordTokenizer
    root = list(spec.submodule_search_locations)[0]
    before = set(sys.modules)
    for name, folder in (("nltk", root), ("nltk.tokenize", f"{root}/tokenize")):
        package = types.ModuleType(name)
        package.__path__, package.__package__ = [folder], name
        sys.modules[name] = package
    try:
        from nltk.tokenize.destructive import NLTKWordTokenizer
    except ImportError:
        NLTKWordTokenizer = None
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "nltk" and n not in before]:
            del sys.modules[name]
    if NLTKWordTokenizer is None:
        from nltk.tokenize import NLTKWordTokenizer
    return NLTKWordTokenizer


NLTKWordTokenizer = _word_tokenizer()

# NLTK's punkt sentence splitter needs downloaded data; ending a piece at .!? followed by space is
# enough to let the word tokenizer split the period off inner sentence ends ("it." -> "it .").
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE


class _StdlibRegexTokenizer(NLTKWordTokenizer):
    """NLTK's Treebank-style word tokenizer (pure regex, no data files), its rules run by ``re``.

    NLTK 3.10 routes every rule through the third-party ``regex`` engine under a per-call timeout,
    a guard against caller-supplied patterns. These rules are NLTK's own fixed ones, written for
    ``re`` (backtracking is bounded by a possessive quantifier), and ``re`` runs them without the
    timeout's overhead: tokenizing is most of the prepare job's time. The rules and their order are
    NLTK's, untouched; tests compare the output with the stock tokenizer's.
    """


for _name, _value in vars(NLTKWordTokenizer).items():
    if isinstance(_value, tuple) and hasattr(_value[0], "pattern"):
        setattr(_StdlibRegexTokenizer, _name, (re.compile(_value[0].pattern, _value[0].flags & _FLAGS), _value[1]))
    elif isinstance(_value, list) and _value and all(isinstance(v, tuple) and hasattr(v[0], "pattern") for v in _value):
        setattr(_StdlibRegexTokenizer, _name, [(re.compile(p.pattern, p.flags & _FLAGS), r) for p, r in _value])

_TOKENIZER = _StdlibRegexTokenizer()


class _BatchRule(NamedTuple):
    pattern: re.Pattern
    replacement: str
    needs: str = ""  # every match holds one of these characters: without any, the rule is skipped


def _line_rule(rule: re.Pattern, replacement: str) -> _BatchRule:
    r"""One of NLTK's rules, for many sentences joined by newlines: ``^``/``$`` match at every line
    and ``\s`` never matches the newline between two sentences. Rules in ``_BATCH_EQUIVALENTS``
    take their faster form."""
    if rule.pattern in _BATCH_EQUIVALENTS:
        pattern, replacement, needs = _BATCH_EQUIVALENTS[rule.pattern]
        return _BatchRule(re.compile(pattern, rule.flags | re.MULTILINE), replacement, needs)
    if re.search(r"\[[^\]]*\\s", rule.pattern):
        raise RuntimeError(f"NLTK rule {rule.pattern!r} has \\s in a character class: tokenize_batch cannot adapt it")
    return _BatchRule(re.compile(rule.pattern.replace(r"\s", r"[^\S\n]"), rule.flags | re.MULTILINE), replacement)


# Faster equivalents of NLTK rules, by NLTK's pattern (a rule NLTK rewrites runs as written). Each
# gives the same text on any input; tests/test_text.py fuzzes them against NLTK's tokenizer.
_BATCH_EQUIVALENTS = {
    # Rare quote characters: one substring check per character instead of trying every position.
    r"([«“‘„]|[`]+)": (r"([«“‘„]|[`]+)", r" \1 ", "«“‘„`"),
    # The period that ends a sentence: ``re`` searches for "." when the pattern starts with it, so
    # the character before becomes a look-behind instead of the first group.
    r'([^\.])(\.)([\]\)}>"\'»”’ ]*+)\s*$': (r'(\.)(?<=[^\.]\.)([\]\)}>"\'»”’ ]*+)[^\S\n]*$', r" \1 \2 ", ""),
    r'([^\.])(\.)([\]\)}>"\']*)\s*$': (r'(\.)(?<=[^\.]\.)([\]\)}>"\']*)[^\S\n]*$', r" \1\2 ", ""),
    # Clitics after a word: searching for the quote (or the n of n't) first, as above.
    r"([^' ])('[sS]|'[mM]|'[dD]|') ": (r"(')(?<=[^' ]')([sSmMdD]?) ", r" \1\2 ", ""),
    r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ": (r"('ll|'LL|'re|'RE|'ve|'VE|n't|N'T)(?<=[^' ]...) ", r" \1 ", ""),
    # Whitespace runs to one space: a lone space is left alone instead of replaced by itself.
    r"\s+": (r"[^\S\n]{2,}|[^\S\n ]", " ", ""),
}
# Characters that re, under IGNORECASE, matches to an ASCII letter although they are none (dotless i
# for i, long s for s, ...). tests/test_text.py recomputes the set from all of Unicode.
_FOLDS_TO_ASCII = "\u0130\u212a\u0131\u017f"
# A rule that starts by checking the previous character, then a literal group: "\b(can)", "(?<!\w)(')".
_CHECK_THEN_LITERAL = re.compile(r"(?:\(\?i\))?(?P<check>\\b|\(\?<!\\w\))\((?P<literal>(?:\\'|[a-z'])+)\)")


def _literal_first(rule: _BatchRule) -> _BatchRule:
    r"""The same rule written so that ``re`` can find its literal with a fast substring search.

    ``re`` only skips ahead to a literal a pattern starts with, and not under IGNORECASE: NLTK's
    case-insensitive, boundary-first contraction rules were tried at every position of a batch
    (see docs/performance.md). The boundary check moves behind the literal (``(?<!\wcan)``)
    and IGNORECASE goes, which is exact on lowercased text without the ``_FOLDS_TO_ASCII``
    characters. Rules of another shape come back unchanged.
    """
    pattern = rule.pattern.pattern
    shape = _CHECK_THEN_LITERAL.match(pattern)
    if not shape:
        return rule
    literal, rest = shape["literal"], pattern[shape.end():]
    if shape["check"] == r"\b" and literal[0] in "\\'":
        return rule  # \b before a quote asks for a word character before it: another check
    if re.search("[A-Z]", re.sub(r"\\.|\(\?#[^)]*\)", "", rest)):
        return rule  # upper-case letters that only IGNORECASE lets match lowercased text
    return rule._replace(pattern=re.compile(f"({literal})(?<!\\w{literal}){rest}",
                                            rule.pattern.flags & ~re.IGNORECASE))


# NLTKWordTokenizer.tokenize's steps in its order; the text is padded with a space between the two.
_BEFORE_PADDING = [_line_rule(p, r) for p, r in [*_TOKENIZER.STARTING_QUOTES, *_TOKENIZER.PUNCTUATION,
                                                 _TOKENIZER.PARENS_BRACKETS, _TOKENIZER.DOUBLE_DASHES]]
_AFTER_PADDING = [_line_rule(p, r) for p, r in [*_TOKENIZER.ENDING_QUOTES,
                                                *((c, r" \1 \2 ") for c in _TOKENIZER.CONTRACTIONS2),
                                                *((c, r" \1 \2 ") for c in _TOKENIZER.CONTRACTIONS3)]]
# The same steps for batches free of _FOLDS_TO_ASCII characters (nearly all of them).
_FAST_BEFORE_PADDING = [_literal_first(rule) for rule in _BEFORE_PADDING]
_FAST_AFTER_PADDING = [_literal_first(rule) for rule in _AFTER_PADDING]


def _apply(rules: Sequence[_BatchRule], text: str) -> str:
    for rule in rules:
        if not rule.needs or any(c in text for c in rule.needs):
            text = rule.pattern.sub(rule.replacement, text)
    return text


def tokenize(text: str) -> list[str]:
    """Lowercased NLTK word tokens of already-cleaned text."""
    tokens: list[str] = []
    for sentence in SENTENCE_END.split(text.lower()):
        tokens.extend(_TOKENIZER.tokenize(sentence))
    return tokens


def tokenize_batch(texts: Sequence[str]) -> list[str]:
    """Space-joined ``tokenize`` of every cleaned text, computed for the whole batch at once.

    NLTK runs its ~30 rules one sentence at a time, and on review-length sentences the cost of each
    call outweighs the matching. Here every rule runs once over all the batch's sentences joined by
    newlines, which cleaned text never contains, so each call's cost is paid once per rule and
    batch: the reason the prepare job outruns a row-at-a-time tokenizer (docs/performance.md).
    Tests check the result equals NLTK's stock tokenizer's.
    """
    owners: list[int] = []
    sentences: list[str] = []
    for i, text in enumerate(texts):
        if "\n" in text:
            raise ValueError("tokenize_batch takes cleaned text, which has no newlines: clean() it first")
        for sentence in SENTENCE_END.split(text.lower()):
            if sentence:
                owners.append(i)
                sentences.append(sentence)
    joined = "\n".join(sentences)
    fast = not any(c in joined for c in _FOLDS_TO_ASCII)
    joined = _apply(_FAST_BEFORE_PADDING if fast else _BEFORE_PADDING, joined)
    joined = " " + joined.replace("\n", " \n ") + " "
    joined = _apply(_FAST_AFTER_PADDING if fast else _AFTER_PADDING, joined)
    lines = joined.split("\n") if sentences else []
    if len(lines) != len(sentences):
        raise RuntimeError(f"tokenize_batch: {len(sentences)} sentences came back as {len(lines)} lines")
    tokens: list[list[str]] = [[] for _ in texts]
    for owner, line in zip(owners, lines):
        tokens[owner].extend(line.split())
    return [" ".join(t) for t in tokens]
