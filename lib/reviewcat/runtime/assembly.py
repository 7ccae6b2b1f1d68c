"""One file from the ordered parts that parallel tasks wrote, as cheaply as the storage allows.

SageMaker channels and fastText want one file per split, and Spark writes one file per task. So
many tasks sort a split (``splits.ordered_parts``) and their parts, joined in order, are the file,
byte for byte what one task would have written. Joining them:

- On S3 nothing passes through the driver: a multipart upload whose parts are ``UploadPartCopy``
  requests from the part objects, copied inside S3. S3 wants every part but the last to hold at
  least 5 MiB, so parts smaller than that are read and sent on together: bytes only pass through
  the driver when a split's parts are small, that is when the split is small.
- Anywhere else (local disks, HDFS, ...) the parts stream one after another inside the JVM
  (``Storage.concatenate``), at disk speed. HDFS's ``concat`` would move no bytes, but it
  requires every part but the last to fill whole blocks (HDFS-6641), which text parts never do.
"""
from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.staging import final_of
from reviewcat.runtime.storage import Entry, Storage

log = logging.getLogger(__name__)

S3_SCHEMES = ("s3://", "s3a://", "s3n://")
MIN_PART = 5 * 1024 ** 2  # S3's least part size, the last part excepted
MAX_COPY = 5 * 1024 ** 3  # S3's largest part: a bigger file is copied in ranges
MAX_PARTS = 10_000
S3_THREADS = 16


def assemble(storage: Storage, parts: Sequence[Entry], target: str) -> None:
    """``parts`` in order as the one file ``target``; the parts are deleted."""
    if target.startswith(S3_SCHEMES) and len(parts) > 1:
        from reviewcat.runtime.object_store import client as s3_client, delete_keys, s3_problem, split_uri
        client = s3_client()
        bucket, key = split_uri(target)
        sources = [split_uri(p.path)[1] for p in parts]
        try:
            s3_concatenate(client, bucket, key, list(zip(sources, (p.size for p in parts))))
        except ReviewcatError:
            raise
        except Exception as exc:  # botocore's errors: S3's own words and the file
            raise s3_problem(exc, final_of(target)) from exc
        delete_keys(client, bucket, sources, final_of(target))
    else:
        storage.concatenate([p.path for p in parts], target)


def _ranges(start: int, stop: int) -> list[tuple[int, int]]:
    """Equal byte ranges of at most ``MAX_COPY``, so none but the last can fall under ``MIN_PART``."""
    count = max(1, math.ceil((stop - start) / MAX_COPY))
    bounds = [start + (stop - start) * i // count for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


Segment = tuple[str, int, int]  # (key, first byte, end byte)


def _s3_parts(sources: Sequence[tuple[str, int]]) -> list[tuple[bool, list[Segment]]]:
    """The multipart upload's parts, in order: (copied inside S3?, the source byte ranges it holds).

    Bytes are copied by S3 itself wherever a run of at least ``MIN_PART`` allows. Smaller sources
    are gathered, and topped up from the head of the next source, until the gathered bytes reach
    ``MIN_PART``: no part the driver sends holds much more than that.
    """
    parts: list[tuple[bool, list[Segment]]] = []
    gathered: list[Segment] = []

    def gather(key: str, start: int, stop: int) -> None:
        gathered.append((key, start, stop))
        if sum(b - a for _, a, b in gathered) >= MIN_PART:
            parts.append((False, gathered[:]))
            gathered.clear()

    for key, size in sources:
        start = 0
        if gathered and size:
            start = min(size, MIN_PART - sum(b - a for _, a, b in gathered))
            gather(key, 0, start)
        if size - start >= MIN_PART:
            parts += [(True, [(key, first, stop)]) for first, stop in _ranges(start, size)]
        elif size > start:
            gather(key, start, size)
    if gathered or not parts:
        parts.append((False, gathered))
    if len(parts) > MAX_PARTS:
        raise RuntimeError(f"{len(parts)} parts: more than S3's {MAX_PARTS}")
    return parts


def s3_concatenate(client: Any, bucket: str, key: str, sources: Sequence[tuple[str, int]]) -> None:
    """The objects ``sources`` ((key, size), in order, same bucket) joined as ``key``: one multipart upload.

    The parts (``_s3_parts``) go up ``S3_THREADS`` at a time: each request waits on S3 far longer
    than on the driver, and a split of a 240-core job has 240 parts to join. An upload that fails
    is aborted, so no parts are left behind to pay for.
    """
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def send(number: int, copied: bool, segments: list[Segment]) -> dict:
        if copied:
            source, first, stop = segments[0]
            reply = client.upload_part_copy(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                            CopySource={"Bucket": bucket, "Key": source},
                                            CopySourceRange=f"bytes={first}-{stop - 1}")
            return {"ETag": reply["CopyPartResult"]["ETag"], "PartNumber": number}
        body = b"".join(client.get_object(Bucket=bucket, Key=source, Range=f"bytes={first}-{stop - 1}")["Body"].read()
                        for source, first, stop in segments)
        reply = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)
        return {"ETag": reply["ETag"], "PartNumber": number}

    try:
        with ThreadPoolExecutor(S3_THREADS) as pool:
            done = list(pool.map(lambda part: send(part[0], *part[1]), enumerate(_s3_parts(sources), 1)))
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done})
    except BaseException:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        except Exception as exc:  # S3 out of reach: the next run on this output aborts it
            log.warning("could not abort the upload of s3://%s/%s: %s", bucket, key, str(exc).splitlines()[0])
        raise
    log.debug("assembled s3://%s/%s from %d objects in %d parts", bucket, key, len(sources), len(done))
