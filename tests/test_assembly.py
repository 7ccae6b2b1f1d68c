"""The split files' assembly from ordered parts: S3 copies server-side (moto), other storage streams."""
import boto3
import pytest

from reviewcat.runtime import assembly
from reviewcat.runtime.storage import Entry

from conftest import BUCKET

MIB = 1024 ** 2


def _parts(s3, sizes):
    parts, expected = [], b""
    for i, size in enumerate(sizes):
        data = bytes([65 + i % 26]) * size
        key = f"out/_spark/part={i}/part-{i:05d}.txt"
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        parts.append(Entry(f"s3://{BUCKET}/{key}", key.rsplit("/", 1)[1], False, size, f"s3://{BUCKET}/{key}"))
        expected += data
    return parts, expected


def _calls(monkeypatch):
    """Every S3 request made through boto3 clients created from now on, as (operation, params), parts
    in part order (they go up in parallel)."""
    calls = []
    real = boto3.client

    def client(*args, **kwargs):
        made = real(*args, **kwargs)
        made.meta.events.register("before-parameter-build.s3.*",
                                  lambda params, model, **_: calls.append((model.name, dict(params))))
        return made
    monkeypatch.setattr(boto3, "client", client)
    return calls


def _parts_sent(calls, operation):
    return sorted((p for name, p in calls if name == operation), key=lambda p: p["PartNumber"])


def test_large_parts_are_copied_inside_s3_and_small_ones_gathered(aws_env, monkeypatch):
    s3 = boto3.client("s3")
    # Big, small, small, big, a small run that is topped up from the next big one, a tiny last.
    parts, expected = _parts(s3, [6 * MIB, 1000, 2000, 6 * MIB, 3 * MIB, 7 * MIB, 100])
    calls = _calls(monkeypatch)
    assembly.assemble(None, parts, f"s3://{BUCKET}/out/train/train.txt")

    assert s3.get_object(Bucket=BUCKET, Key="out/train/train.txt")["Body"].read() == expected
    copies = [(p["CopySource"]["Key"].split("/")[2], p["CopySourceRange"]) for p in _parts_sent(calls, "UploadPartCopy")]
    # 1000 + 2000 bytes are topped up to 5 MiB from part 3, whose rest and part 4 are topped up
    # from part 5, whose rest S3 copies: no part the driver sends is much over 5 MiB.
    top_up = 5 * MIB - (6 * MIB - (5 * MIB - 3000) + 3 * MIB)
    assert copies == [("part=0", f"bytes=0-{6 * MIB - 1}"), ("part=5", f"bytes={top_up}-{7 * MIB - 1}")]
    assert [len(p["Body"]) for p in _parts_sent(calls, "UploadPart")] == [5 * MIB, 5 * MIB, 100]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="out/_spark/").get("KeyCount") == 0
    assert not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")


def test_big_parts_are_copied_in_ranges_and_a_failed_upload_is_aborted(aws_env, monkeypatch):
    s3 = boto3.client("s3")
    parts, expected = _parts(s3, [13 * MIB, 6 * MIB])
    monkeypatch.setattr(assembly, "MAX_COPY", 8 * MIB)
    calls = _calls(monkeypatch)
    assembly.assemble(None, parts, f"s3://{BUCKET}/big.txt")
    assert s3.get_object(Bucket=BUCKET, Key="big.txt")["Body"].read() == expected
    assert [p["CopySourceRange"] for p in _parts_sent(calls, "UploadPartCopy")] == [
        f"bytes=0-{13 * MIB // 2 - 1}", f"bytes={13 * MIB // 2}-{13 * MIB - 1}", f"bytes=0-{6 * MIB - 1}"]
    assert not [name for name, _ in calls if name in ("GetObject", "UploadPart")]  # nothing through the driver

    with pytest.raises(Exception, match="NoSuchKey|Not Found|404"):
        assembly.s3_concatenate(boto3.client("s3"), BUCKET, "never.txt", [("gone", 6 * MIB), ("x", 1)])
    assert not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="never").get("KeyCount") == 0


def test_elsewhere_the_parts_stream_into_one_file_in_order(rt, tmp_path):
    sources = []
    for i, text in enumerate(["a\nb\n", "", "c\n", "d\ne\n"]):
        path = tmp_path / "_spark" / f"part={i}" / "part-00000.txt"
        path.parent.mkdir(parents=True)
        path.write_text(text)
        sources.append(Entry(str(path), path.name, False, len(text), ""))
    assembly.assemble(rt.storage, sources, str(tmp_path / "train" / "train.txt"))
    assert (tmp_path / "train" / "train.txt").read_text() == "a\nb\nc\nd\ne\n"
    assert not any(p.is_file() for p in (tmp_path / "_spark").rglob("*"))
