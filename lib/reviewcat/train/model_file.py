"""A fastText model file is checked before it is used: whole, and the file training wrote.

fastText's loader reads a ``.bin`` field by field and never checks that the file held them: a
``model.bin`` cut to two thirds of its size loaded without a word, ``predict`` then gave every class
the same probability, and ``evaluate`` reported 0.02 accuracy as if it were the model's. So the
file's layout is walked first (header, arguments, dictionary, then each matrix by its stated
shape, never its numbers) and must end exactly where the file does (``layout_problem``). Training
records each model's size and SHA-256 (``describe``) in ``search.json`` beside it; where such a
record exists, the file must match it as well (``match_record``).

The layout is fastText 0.9's (``FastText::saveModel``): every number little-endian as written on
x86 and ARM, a bool one byte.
"""
from __future__ import annotations

import errno
import mmap
import os
import shutil
import struct
from typing import Any, Mapping

from reviewcat.runtime.digests import file_sha256
from reviewcat.runtime.errors import ReviewcatError

MAGIC = 793712314  # FASTTEXT_FILEFORMAT_MAGIC_INT32
NEWEST_VERSION = 12
CENTROIDS = 256  # a product quantizer's centroids per sub-quantizer (8 bits a code)
# Less free space than this where a model was cut short: the disk filled up.
FULL_DISK = 1 << 20


class _Cut(Exception):
    """The layout needs bytes past the file's end."""


class _Walk:
    def __init__(self, data: Any, size: int):
        self.data, self.size, self.pos = data, size, 0

    def take(self, fmt: str) -> tuple:
        width = struct.calcsize(fmt)
        if self.pos + width > self.size:
            raise _Cut(self.pos + width)
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += width
        return values

    def skip(self, count: int, what: str) -> None:
        if count < 0:
            raise ValueError(f"its {what} has a negative size")
        if self.pos + count > self.size:
            raise _Cut(self.pos + count)
        self.pos += count

    def words(self, count: int, kept: list[bytes] | None = None) -> None:
        """``count`` dictionary entries: a NUL-ended word, its count (int64) and its type (int8, 0
        for a word, 1 for a label); the words go to ``kept`` when given."""
        for _ in range(count):
            end = self.data.find(b"\0", self.pos)
            if end < 0:
                raise _Cut(self.size + 1)
            start, self.pos = self.pos, end + 1
            _count, entry_type = self.take("<qb")
            if kept is not None and entry_type == 0:
                kept.append(bytes(self.data[start:end]))

    def quantizer(self) -> None:
        dim, _nsubq, _dsub, _lastdsub = self.take("<4i")
        self.skip(dim * CENTROIDS * 4, "quantizer")

    def matrix(self, quantized: bool, what: str) -> tuple[int, int]:
        if not quantized:
            rows, cols = self.take("<2q")
            if rows < 0 or cols < 0:
                raise ValueError(f"its {what} matrix has a negative shape")
            self.skip(rows * cols * 4, f"{what} matrix")
            return rows, cols
        (qnorm,) = self.take("<?")
        rows, cols = self.take("<2q")
        (codes,) = self.take("<i")
        self.skip(codes, f"{what} codes")
        self.quantizer()
        if qnorm:
            self.skip(rows, f"{what} norms")
            self.quantizer()
        return rows, cols


def _walk(walk: _Walk, kept: list[bytes] | None = None) -> None:
    """The whole layout; with ``kept``, only up to the dictionary, whose words it collects there."""
    magic, version = walk.take("<2i")
    if magic != MAGIC:
        raise ValueError("it is not a fastText model (no fastText header)")
    if version > NEWEST_VERSION:
        raise ValueError(f"it was written by a newer fastText (file format {version})")
    dim, *_, bucket, _minn, _maxn, _rate = walk.take("<12i")
    walk.take("<d")
    entries, words, labels = walk.take("<3i")
    _tokens, pruned = walk.take("<2q")
    if entries < 0 or words < 0 or labels < 0 or words + labels != entries:
        raise ValueError("its dictionary's counts do not add up")
    walk.words(entries, kept)
    if kept is not None:
        return
    walk.skip(max(pruned, 0) * 8, "pruned index")
    (quantized,) = walk.take("<?")
    rows, cols = walk.matrix(quantized, "input")
    if cols != dim or (not quantized and pruned < 0 and rows != words + bucket):
        raise ValueError("its input matrix does not fit its dictionary and dimension")
    (quantized_output,) = walk.take("<?")
    walk.matrix(quantized and quantized_output, "output")


def layout_problem(path: str) -> str | None:
    """Why ``path`` is not a whole fastText model, or None: its layout is walked, not loaded."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size == 0:
            return "it is empty"
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            walk = _Walk(data, size)
            try:
                _walk(walk)
            except _Cut as cut:
                return (f"it is cut short: {size:,} bytes where its layout needs at least {cut.args[0]:,}, "
                        "so it was not copied or written to its end")
            except ValueError as exc:
                return str(exc)
    if walk.pos != size:
        return f"it has {size - walk.pos:,} bytes past the model's end"
    return None


def vocabulary(path: str) -> frozenset[str]:
    """The words of a whole fastText model's dictionary (not its labels), read from the file: the
    Glue job's fasttext-predict has no ``get_words``."""
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        words: list[bytes] = []
        _walk(_Walk(data, len(data)), words)
    return frozenset(w.decode("utf-8", errors="replace") for w in words)


def check_written(path: str) -> None:
    """After fastText saved a model, which it does without checking its writes: the whole file is
    there, or an ``OSError`` saying why (a full disk, by its error number)."""
    problem = layout_problem(path)
    if problem:
        if shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free < FULL_DISK:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        raise OSError(errno.EIO, f"fastText did not write the whole model ({problem})", path)


def describe(path: str) -> dict[str, Any]:
    """What training records of a model file: its size and SHA-256."""
    return {"bytes": os.path.getsize(path), "sha256": file_sha256(path)}


def recorded(search: Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The record ``search.json`` keeps of the model file ``name`` (the model, or its quantized copy),
    if it keeps one."""
    for key in ("model_file", "quantized"):
        record = (search or {}).get(key)
        if isinstance(record, dict) and record.get("name") == name and record.get("kept", True):
            return record
    return None


def match_record(path: str, record: Mapping[str, Any] | None, shown: str | None = None) -> dict[str, Any] | None:
    """Refuse a file that is not the one ``record`` describes, with one line naming it (``shown``:
    how the user knows the file); returns what it measured (its size and SHA-256) when it did."""
    if not record:
        return None
    size = os.path.getsize(path)
    measured = describe(path) if size == record.get("bytes") else {"bytes": size}
    if measured != {"bytes": record.get("bytes"), "sha256": record.get("sha256")}:
        what = (f"{size:,} bytes where training wrote {record.get('bytes'):,}" if size != record.get("bytes")
                else "its SHA-256 differs from the one training recorded")
        raise ReviewcatError(f"model {shown or path} is not the file training wrote ({what}): it was damaged or "
                             "replaced; copy it again from where training left it, or train again")
    return measured


def require_whole(path: str, shown: str | None = None) -> None:
    """Refuse a file that is not a whole fastText model, with one line naming it."""
    problem = layout_problem(path)
    if problem:
        raise ReviewcatError(f"model {shown or path} cannot be used: {problem}; copy it again, or train again")
