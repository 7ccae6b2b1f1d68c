"""A realistic stand-in for the public Amazon customer reviews parquet table.

Same columns and types as amazon-reviews-pds, one ``product_category=<name>`` folder per category
holding several parquet files, category sizes in the real dataset's proportions (so the imbalance is
as steep as the real one), and the real data's quirks: HTML tags and entities, very short, empty and
null bodies, duplicates, tabs and newlines, non-ASCII text and very long reviews. Everything is drawn
from numpy generators seeded per category, in whole-column operations.
"""
from __future__ import annotations

import collections
import csv
import functools
import logging
import math
import multiprocessing
import os
import shutil
import signal
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from reviewcat.runtime import interrupts
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.publishing import staged_locally
from reviewcat.schema import REVIEW_TABLE, SENTIMENT
from reviewcat.synthetic import vocabulary as V
from reviewcat.synthetic.sample_dumps import dump_file_name, write_dump

log = logging.getLogger(__name__)

MIN_ROWS_PER_CATEGORY = 20
ROWS_PER_FILE = 50_000
# The most rows generated at once: a category up to this size is drawn whole, as it always was; a
# larger one in chunks of at most this many. A worker holding a piece this size peaks near
# _PIECE_GB (the measured peaks: docs/performance.md, Full scale).
CHUNK_ROWS = 250_000
_PIECE_GB = 0.6
_MAX_SENTENCES = 6
_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_FIRST_DAY = np.datetime64("1999-06-01")
_LAST_DAY = np.datetime64("2015-08-31")

_ARROW_TYPES = {"string": pa.string(), "int": pa.int32(), "date": pa.date32()}
SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in REVIEW_TABLE])  # the files' schema


# Which release's categories a generated table or dump has: the retired public table's 43 (its
# parquet, its TSV, and the 2018 dump, whose names are close), or the 2023 dump's 33 and Unknown
# (reviews per category from its dataset card, each written with the words of a retired category).
_CATALOGS = {"pds": "data/category_counts.csv", "2023": "data/category_counts_2023.csv"}


def release_of(fmt: str) -> str:
    """The category catalog of a sample-data ``--format``."""
    return "2023" if fmt == "amazon-2023" else "pds"


@functools.cache
def category_catalog(release: str = "pds") -> dict[str, tuple[int, str]]:
    """Category -> (its reviews in the real release, the retired category whose words it is written
    with), largest first."""
    with resources.files("reviewcat").joinpath(_CATALOGS[release]).open() as f:
        rows = list(csv.DictReader(f))
    return {row.get("category") or row["product_category"]:
            (int(row["reviews"]), row.get("words_of") or row["product_category"]) for row in rows}


def real_category_counts(release: str = "pds") -> dict[str, int]:
    """Reviews per category in the real release, largest first."""
    return {name: reviews for name, (reviews, _) in category_catalog(release).items()}


def _template(category: str, real: Mapping[str, object]) -> tuple[str, int] | None:
    """The real category a name stands for and which copy it is: ``Books`` -> (Books, 0), ``Books_3`` -> (Books, 2)."""
    if category in real:
        return category, 0
    base, _, copy = category.rpartition("_")
    if base in real and copy.isdigit() and int(copy) >= 2:
        return base, int(copy) - 1
    return None


def numbered_categories(count: int, release: str = "pds") -> list[str]:
    """``count`` category names: the largest real ones, then numbered copies (``Books_2``, ...).

    Copies have their original's text and share of reviews, so tables with more categories than
    the real ones (for scaling runs) keep the real data's imbalance.
    """
    if count < 1:
        raise ReviewcatError(f"--category-count {count}: need at least 1 category")
    real = list(real_category_counts(release))
    return [real[i % len(real)] + (f"_{i // len(real) + 1}" if i >= len(real) else "") for i in range(count)]


def category_sizes(rows: int, categories: Sequence[str] | None = None, release: str = "pds") -> dict[str, int]:
    """Rows per category in the real proportions, at least ``MIN_ROWS_PER_CATEGORY`` each."""
    real = real_category_counts(release)
    chosen = list(categories) if categories else list(real)
    unknown = [c for c in chosen if _template(c, real) is None]
    if unknown:
        raise ReviewcatError(f"unknown categories: {', '.join(unknown)} (known: {', '.join(real)}, "
                             "or numbered copies such as Books_2)")
    minimum = MIN_ROWS_PER_CATEGORY * len(chosen)
    if rows < minimum:
        raise ReviewcatError(f"--rows {rows} is too few for {len(chosen)} categories: use at least {minimum}")
    share = {c: real[_template(c, real)[0]] for c in chosen}
    total = sum(share.values())
    sizes = {c: max(MIN_ROWS_PER_CATEGORY, round(rows * share[c] / total)) for c in chosen}
    # Rounding and the floor leave the total off by some rows: the largest categories make up the
    # difference, as many of them as it takes (at --rows 1000 over all 43 the largest alone cannot).
    surplus = sum(sizes.values()) - rows
    for category in sorted(chosen, key=share.get, reverse=True):
        taken = min(surplus, sizes[category] - MIN_ROWS_PER_CATEGORY)
        sizes[category] -= taken
        surplus -= taken
        if surplus <= 0:
            break
    return sizes


def _base36(values: np.ndarray, width: int) -> np.ndarray:
    digits = np.empty((len(values), width), dtype="<U1")
    rest = values.astype(np.uint64)
    for position in range(width - 1, -1, -1):
        digits[:, position] = _ALPHABET[(rest % np.uint64(36)).astype(np.int64)]
        rest = rest // np.uint64(36)
    return digits.view(f"<U{width}").ravel()


def _sentences(rng: np.random.Generator, words: Sequence[str], count: int) -> np.ndarray:
    templates = rng.choice(V.SENTENCE_TEMPLATES, count)
    a, b = rng.choice(words, count), rng.choice(words, count)
    return np.array([t.format(a=x, b=y) for t, x, y in zip(templates, a, b)], dtype=object)


def _group_of(category: str) -> list[str]:
    return next(members for members in V.GROUPS.values() if category in members)


def _bodies(rng: np.random.Generator, category: str, n: int) -> np.ndarray:
    """Review text: mostly category-typical, some borrowed from related categories, some generic."""
    siblings = [w for c in _group_of(category) if c != category for w in V.WORDS[c]] or V.WORDS[category]
    own_pool = _sentences(rng, V.WORDS[category], 150)
    sibling_pool = _sentences(rng, siblings, 150)
    generic_pool = np.array(V.GENERIC_SENTENCES, dtype=object)
    kind = rng.choice(3, n, p=[0.68, 0.14, 0.18])  # 0 typical, 1 confusable, 2 ambiguous
    # Probability of each sentence source (own, sibling, generic) per kind of review.
    source_p = np.array([[0.6, 0.05, 0.35], [0.2, 0.5, 0.3], [0.0, 0.0, 1.0]])
    lengths = 1 + rng.binomial(_MAX_SENTENCES - 1, 0.35, n)
    separator = np.where(rng.random(n) < 0.15, " <br /><br />", " ").astype(object)
    separator[rng.random(n) < 0.03] = "\n"
    separator[rng.random(n) < 0.02] = "\t"
    body = np.full(n, "", dtype=object)
    for slot in range(_MAX_SENTENCES):
        draw = rng.random(n)
        cumulative = source_p[kind].cumsum(axis=1)
        source = (draw[:, None] >= cumulative).sum(axis=1)
        if slot == 0:  # the first sentence carries the review's kind
            source = np.where(kind == 2, 2, kind)
        sentence = np.where(source == 0, own_pool[rng.integers(0, len(own_pool), n)],
                            np.where(source == 1, sibling_pool[rng.integers(0, len(sibling_pool), n)],
                                     generic_pool[rng.integers(0, len(generic_pool), n)]))
        # Only the reviews this long get the sentence: joining it to every body and keeping some
        # would build n strings a slot, the generator's peak memory.
        active = slot < lengths
        body[active] = body[active] + (separator[active] if slot else "") + sentence[active]
    return body


def _add_quirks(rng: np.random.Generator, body: np.ndarray, category: str) -> np.ndarray:
    n = len(body)
    body = body.copy()
    entity = rng.random(n) < 0.08
    body[entity] = [b.replace("'", "&#39;").replace(" and ", " &amp; ") + " &quot;Recommended&quot;"
                    for b in body[entity]]
    accents = rng.random(n) < 0.04
    body[accents] = body[accents] + " " + rng.choice(V.NON_ASCII, int(accents.sum())).astype(object)
    long = np.flatnonzero(rng.random(n) < 0.003)
    for i in long:
        body[i] = " ".join(_sentences(rng, V.WORDS[category] + V.GENERIC_SENTENCES[:5], int(rng.integers(60, 160))))
    short = rng.random(n) < 0.03
    body[short] = rng.choice(V.SHORT_BODIES, int(short.sum())).astype(object)
    body[rng.random(n) < 0.005] = ""
    body[rng.random(n) < 0.005] = None
    return body


# The public data's star shares over all categories; categories lean from it (gift cards are loved,
# electronics less), so the sentiment mix differs by category as SageMaker Clarify's bias report shows.
_STAR_SHARES = np.array([0.08, 0.05, 0.08, 0.19, 0.60])
_STAR_CLASS = {star: name for name, stars in SENTIMENT.items() for star in stars}


def _rating_shares(category: str) -> np.ndarray:
    """Star shares for ``category``: the overall shares leaning, by a stable hash of the name, up to a
    third of the five-star share toward 1-3 stars, or up to half of the 1-3 star share toward five."""
    lean = zlib.crc32(category.encode("utf-8")) / 0xFFFFFFFF * 2 - 1  # -1..1
    low, four, five = _STAR_SHARES[:3], _STAR_SHARES[3], _STAR_SHARES[4]
    if lean >= 0:
        moved = five * lean / 3
        return np.array([*(low + moved * np.array([0.4, 0.3, 0.3])), four, five - moved])
    kept = 1 + lean / 2
    return np.array([*(low * kept), four, five + low.sum() * (1 - kept)])


def _with_sentiment(rng: np.random.Generator, body: np.ndarray, stars: np.ndarray) -> np.ndarray:
    """A closing sentence that says how the reviewer felt: 80% of reviews say it as their stars do, 10%
    with another class's words (sarcasm, a mis-click), 10% say nothing. Empty bodies stay empty."""
    n = len(body)
    said = np.array([_STAR_CLASS[int(s)] for s in stars], dtype=object)
    classes = np.array(list(V.SENTIMENT_SENTENCES), dtype=object)
    draw = rng.random(n)
    other = (draw >= 0.8) & (draw < 0.9)
    said[other] = classes[rng.integers(0, len(classes), n)][other]
    picks = rng.integers(0, len(V.SENTIMENT_SENTENCES["negative"]), n)
    out = body.copy()
    for i in np.flatnonzero((draw < 0.9) & np.array([bool(b) for b in body])):
        out[i] = f"{body[i]} {V.SENTIMENT_SENTENCES[said[i]][picks[i]]}"
    return out


def _seed_key(seed: int, index: int, chunk: int | None) -> list[int]:
    """What a category's (or a chunk's) generators are seeded with. A whole category keeps the key it
    always had; a chunk's key is longer and ends in ``chunk + 1`` (never 0: numpy's seed sequences
    ignore trailing zeros, so ``[s, i, 0]`` would draw what ``[s, i]`` draws). The 2 keeps chunk 0's
    key apart from a whole category's sentiment key ``[s, i, 1]``."""
    return [seed, index] if chunk is None else [seed, index, 2, chunk + 1]


def generate_category(category: str, n: int, seed: int, index: int, chunk: int | None = None) -> pa.Table:
    """``n`` reviews of one category (or of one chunk of it); the same (seed, index, chunk) always
    gives the same table."""
    key = _seed_key(seed, index, chunk)
    rng = np.random.default_rng(key)
    body = _add_quirks(rng, _bodies(rng, category, n), category)
    products = max(1, n // 6)
    product = rng.integers(0, products, n)
    product_ids = np.char.add("B00", _base36(rng.integers(0, 36 ** 7, products) + index, 7))
    names = np.array([f"{rng.choice(V.ADJECTIVES)} {w.title()} {rng.integers(100, 999)}"
                      for w in rng.choice(V.WORDS[category], products)], dtype=object)
    helpful = rng.geometric(0.45, n) - 1
    span = (_LAST_DAY - _FIRST_DAY).astype(int)
    dates = _FIRST_DAY + (span * np.sqrt(rng.random(n))).astype("timedelta64[D]")
    columns = {
        "marketplace": np.full(n, "US", dtype=object),
        "customer_id": rng.integers(10_000, 53_096_000, n).astype(str),
        "review_id": np.char.add(np.char.add("R", rng.integers(1, 4, n).astype(str)),
                                 _base36(rng.integers(0, 36 ** 12, n, dtype=np.int64), 12)),
        "product_id": product_ids[product],
        "product_parent": (rng.integers(1_000_000, 999_999_999, products).astype(str))[product],
        "product_title": names[product],
        "star_rating": rng.choice([1, 2, 3, 4, 5], n, p=_rating_shares(category)).astype(np.int32),
        "helpful_votes": helpful.astype(np.int32),
        "total_votes": (helpful + rng.poisson(0.6, n)).astype(np.int32),
        "vine": np.where(rng.random(n) < 0.01, "Y", "N"),
        "verified_purchase": np.where(rng.random(n) < 0.8, "Y", "N"),
        "review_headline": rng.choice(V.HEADLINES, n),
        "review_body": body,
        "review_date": dates,
        "year": dates.astype("datetime64[Y]").astype(int) + 1970,
    }
    del body  # the text before its closing sentence: the column below replaces it
    columns["review_body"] = _with_sentiment(np.random.default_rng([*key, 1]), columns["review_body"],
                                             columns["star_rating"])
    # Duplicates as in the real data: whole rows posted twice, and the same text under a new id.
    copies = np.flatnonzero(rng.random(n) < 0.015)
    originals = rng.integers(0, n, len(copies))
    for values in columns.values():
        values[copies] = values[originals]
    reposts = np.flatnonzero(rng.random(n) < 0.01)
    columns["review_body"][reposts] = columns["review_body"][rng.integers(0, n, len(reposts))]
    # Each column leaves numpy as it enters Arrow: both copies of every column at once would double the peak.
    return pa.table({name: pa.array(columns.pop(name), type=SCHEMA.field(name).type) for name in SCHEMA.names})


SAMPLE_FORMATS = ("parquet", "amazon-2023", "amazon-2018", "amazon-tsv")


@dataclass(frozen=True)
class Piece:
    """One unit of generation: a whole category drawn at once, or one chunk of a large category
    (``chunk`` counts from 0), drawn from generators of its own."""

    category: str  # the name written
    words_of: str  # the retired category whose words it is written with
    index: int  # the category's place in the catalog, numbered copies after it: part of the seed
    rows: int
    chunk: int | None = None


def plan_pieces(sizes: Mapping[str, int], release: str = "pds", chunk_rows: int = CHUNK_ROWS) -> list[Piece]:
    """The pieces of a table with ``sizes`` rows per category, in that order. A category of at most
    ``chunk_rows`` is one piece, generated exactly as it always was; a larger one is cut into as few
    near-equal chunks as keep each within ``chunk_rows``, so memory stays bounded at any size."""
    catalog = category_catalog(release)
    order = list(catalog)
    pieces = []
    for category, n in sizes.items():
        base, copy = _template(category, catalog)
        index = order.index(base) + copy * len(order)
        if n <= chunk_rows:
            pieces.append(Piece(category, catalog[base][1], index, n))
            continue
        bounds = np.linspace(0, n, math.ceil(n / chunk_rows) + 1).astype(int)
        pieces += [Piece(category, catalog[base][1], index, int(stop - start), chunk)
                   for chunk, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:]))]
    return pieces


def _write_parquet(table: pa.Table, folder: Path, piece: Piece) -> None:
    """The public parquet layout: ``product_category=<name>/part-*.parquet``. A whole category is
    sliced into several files, a chunk is one file named by its number."""
    target = folder / f"product_category={piece.category}"
    if piece.chunk is not None:
        target.mkdir(exist_ok=True)  # not parents: a chunk finished after its staging folder was removed fails
        pq.write_table(table, target / f"part-{piece.chunk:05d}.snappy.parquet", compression="snappy")
        return
    target.mkdir(parents=True)
    n = table.num_rows
    files = 1 if n < 2 else min(8, max(2, math.ceil(n / ROWS_PER_FILE)))
    bounds = np.linspace(0, n, files + 1).astype(int)
    for part, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        pq.write_table(table.slice(start, stop - start), target / f"part-{part:05d}.snappy.parquet",
                       compression="snappy")


def _chunk_file(fmt: str, piece: Piece) -> str:
    """Where a dump's chunk waits until its category is complete and the chunks are joined."""
    return f".{dump_file_name(fmt, piece.category)}.{piece.chunk:05d}"


def make_piece(piece: Piece, seed: int, fmt: str, folder: Path) -> None:
    """Generate ``piece`` and write it into ``folder`` (in a worker process, for large tables)."""
    table = generate_category(piece.words_of, piece.rows, seed, piece.index, piece.chunk)
    if fmt == "parquet":
        _write_parquet(table, folder, piece)
    else:
        name = dump_file_name(fmt, piece.category)
        write_dump(fmt, table, folder / (name if piece.chunk is None else _chunk_file(fmt, piece)), name,
                   piece.category, first=piece.chunk in (None, 0))


def _join_chunks(fmt: str, pieces: Sequence[Piece], folder: Path) -> None:
    """A dump's chunks, in order, as its one file: gzip members laid end to end."""
    with (folder / dump_file_name(fmt, pieces[0].category)).open("wb") as out:
        for piece in pieces:
            part = folder / _chunk_file(fmt, piece)
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, out, 1 << 20)
            part.unlink()


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops handing out pieces and cleans up: a
    worker interrupted while it waits for work would print a stack trace. They start with SIGINT
    blocked (``_generated``), so one that arrives while they start waits for this, and is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _generated(pieces: Sequence[Piece], seed: int, fmt: str, folder: Path, workers: int) -> Iterator[Piece]:
    """Make every piece, yielding each as it is written: in this process, or on ``workers`` processes."""
    if workers <= 1:
        for piece in pieces:
            make_piece(piece, seed, fmt, folder)
            yield piece
        return
    # spawn, not fork: a notebook's driver holds the JVM's gateway threads, which a fork would copy.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_ignore_interrupts) as pool:
        # The workers start as the pieces are handed out, with this thread's signal mask: SIGINT
        # blocked until they ignore it; a Ctrl-C meanwhile reaches this process once unblocked.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            futures = {pool.submit(make_piece, piece, seed, fmt, folder): piece for piece in pieces}
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        try:
            for future in as_completed(futures):
                future.result()
                yield futures[future]
        except BrokenProcessPool:
            raise ReviewcatError(f"a process generating the reviews died (out of memory?): each holds up to "
                                 f"{CHUNK_ROWS:,} reviews, about {_PIECE_GB} GB; pass fewer --workers") from None
        except BaseException:
            # The pieces under way finish (a few seconds) before the staging folder goes: a second
            # Ctrl-C must not cut that wait short and leave a worker writing into a removed folder.
            with interrupts.deferred(raise_after=False):
                pool.shutdown(wait=True, cancel_futures=True)
            raise


def default_workers() -> int:
    """One per core this process may use, as many as memory holds (a piece peaks near ``_PIECE_GB``)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as meminfo:
            available_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return cores
    return max(1, min(cores, int(available_kb / 1024 ** 2 / (2 * _PIECE_GB))))


class _Progress:
    """One line per finished category, and between them, on large tables, the rows written so far."""

    def __init__(self, sizes: Mapping[str, int], pieces: Sequence[Piece], fmt: str, every: float = 30.0) -> None:
        self.sizes, self.fmt, self.every = sizes, fmt, every
        self.left = collections.Counter(piece.category for piece in pieces)
        self.total, self.rows, self.categories = sum(sizes.values()), 0, 0
        self.started = self.reported = time.monotonic()

    def done(self, piece: Piece) -> bool:
        """Note ``piece`` written; true when it was its category's last."""
        self.rows += piece.rows
        self.left[piece.category] -= 1
        complete = not self.left[piece.category]
        now = time.monotonic()
        if complete:
            self.categories += 1
            name = f"product_category={piece.category}" if self.fmt == "parquet" else \
                dump_file_name(self.fmt, piece.category)
            log.info("[%d/%d] %s: %d reviews in %s", self.categories, len(self.sizes), piece.category,
                     self.sizes[piece.category], name)
            self.reported = now
        elif now - self.reported >= self.every:
            log.info("%s of %s reviews written (%s a second)", f"{self.rows:,}", f"{self.total:,}",
                     f"{self.rows / (now - self.started):,.0f}")
            self.reported = now
        return complete


def write_sample_data(output_path: str, rows: int, seed: int = 42, overwrite: bool = False,
                      categories: Sequence[str] | None = None, fmt: str = "parquet",
                      workers: int | None = None, chunk_rows: int = CHUNK_ROWS) -> dict[str, int]:
    """Write the sample reviews under ``output_path`` (a local folder) as the parquet table or as
    one of the dumps ``reviewcat import`` reads; returns rows per category.

    Tables larger than one piece are generated on ``workers`` processes (default: every core
    this process may use), each holding one piece of at most ``chunk_rows`` rows at a time.
    """
    if fmt not in SAMPLE_FORMATS:
        raise ReviewcatError(f"unknown --format {fmt!r}: use one of {', '.join(SAMPLE_FORMATS)}")
    if "://" in output_path and not output_path.startswith("file://"):
        raise ReviewcatError(f"sample-data writes local folders only, not {output_path}: "
                             "generate locally, then upload (e.g. aws s3 sync)")
    if workers is not None and workers < 1:
        raise ReviewcatError(f"--workers {workers}: need at least 1")
    final = Path(output_path.removeprefix("file://")).resolve()
    sizes = category_sizes(rows, categories, release_of(fmt))
    pieces = plan_pieces(sizes, release_of(fmt), chunk_rows)
    workers = 1 if len(pieces) == 1 or rows <= chunk_rows else min(workers or default_workers(), len(pieces))
    progress = _Progress(sizes, pieces, fmt)
    with staged_locally(final, overwrite) as staging:
        for piece in _generated(pieces, seed, fmt, staging, workers):
            if progress.done(piece) and piece.chunk is not None and fmt != "parquet":
                _join_chunks(fmt, [p for p in pieces if p.category == piece.category], staging)
    log.info("wrote %d reviews in %d categories to %s (%s)", sum(sizes.values()), len(sizes), final, fmt)
    return sizes
