"""``s3://`` inputs and outputs of the commands that run without Spark (train, evaluate), via boto3.

fastText reads and writes local files, so these commands work in a local folder: a prepare output
on S3 is downloaded first, each split checked against the digest its manifest records, and an
output on S3 is uploaded once the local work has succeeded. The upload follows the publishing
rules of every other output (``publishing``): claimed before any work, and the run file written
last, so a folder without it is an unfinished one. S3 has no rename: the files go straight to
their final keys, each one appearing whole (a single or multipart upload completes atomically).
The endpoint, credentials and region come from boto3's usual chain (``AWS_ENDPOINT_URL_S3``,
``AWS_PROFILE``, ...).
"""
from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Mapping

from reviewcat.runtime import interrupts
from reviewcat.runtime.digests import file_sha256
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.publishing import check_apart, check_finished, claim, holding, leave_record, plain_path
from reviewcat.runtime.s3a import is_s3
from reviewcat.schema import MANIFEST, RUN_FILE, SPLITS

log = logging.getLogger(__name__)


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://``, ``s3a://`` or ``s3n://`` path, the key without a trailing slash."""
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key.rstrip("/")


def client() -> Any:
    try:
        import boto3
    except ImportError:
        raise ReviewcatError("s3:// paths outside Spark need boto3: pip install 'reviewcat[aws]'") from None
    try:
        return boto3.client("s3")
    except Exception as exc:  # a profile that does not exist, an endpoint that is no URL
        raise ReviewcatError(f"cannot set up an S3 client ({str(exc).splitlines()[0]}): check AWS_PROFILE, "
                             "AWS_REGION and AWS_ENDPOINT_URL_S3") from None


def s3_problem(exc: Exception, uri: str) -> ReviewcatError:
    """One line for a failed S3 request: S3's own code and message, and the path."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code, message = error.get("Code"), error.get("Message")
    if code in ("NoSuchBucket",):
        return ReviewcatError(f"bucket {split_uri(uri)[0]} does not exist ({uri}): create it or check the path")
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return ReviewcatError(f"access denied on {uri} ({code}: {message}): check the credentials and the bucket's "
                              "policy")
    if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return ReviewcatError(f"no AWS credentials for {uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                              "or AWS_PROFILE")
    if type(exc).__name__ in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return ReviewcatError(f"cannot reach S3 for {uri} ({str(exc).splitlines()[0]}): check the network and "
                              "AWS_ENDPOINT_URL_S3")
    said = f"{code}: {message}" if code else str(exc).splitlines()[0]
    return ReviewcatError(f"S3 refused a request on {uri} ({said})")


class S3Files:
    """``publishing.Files`` on S3 through boto3: folders are key prefixes, and there is no lock."""

    def __init__(self, s3: Any | None = None):
        self.s3 = s3 or client()

    def _keys(self, path: str, delimiter: bool = False) -> Iterator[dict]:
        bucket, key = split_uri(path)
        prefix = f"{key}/" if key else ""
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, **({"Delimiter": "/"} if delimiter else {}))
        for page in pages:
            yield from page.get("Contents", [])
            yield from ({"Key": p["Prefix"]} for p in page.get("CommonPrefixes", []))

    def _request(self, path: str, call: Any) -> Any:
        try:
            return call()
        except ReviewcatError:
            raise
        except Exception as exc:  # botocore's errors: one line naming the path
            raise s3_problem(exc, path) from None

    def exists(self, path: str) -> bool:
        return self._request(path, lambda: self._is_file(path) or next(self._keys(path), None) is not None)

    def _is_file(self, path: str) -> bool:
        bucket, key = split_uri(path)
        if not key:
            return False
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:
            if (getattr(exc, "response", None) or {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def is_dir(self, path: str) -> bool:
        return self._request(path, lambda: next(self._keys(path), None) is not None)

    def names(self, path: str) -> list[str]:
        prefix = len(split_uri(path)[1]) + 1 if split_uri(path)[1] else 0
        names = {item["Key"][prefix:].rstrip("/") for item in self._request(
            path, lambda: list(self._keys(path, delimiter=True)))}
        return sorted(name for name in names if name)  # a folder's own marker key (``key/``) is no name

    def rename(self, src: str, dst: str) -> None:
        raise ReviewcatError(f"cannot move {src} to {dst}: S3 has no rename, and reviewcat copies no output")

    def delete(self, path: str) -> None:
        bucket, _ = split_uri(path)
        keys = [item["Key"] for item in self._request(path, lambda: list(self._keys(path)))]
        if self._request(path, lambda: self._is_file(path)):
            keys.append(split_uri(path)[1])
        delete_keys(self.s3, bucket, keys, path)

    def mkdirs(self, path: str) -> None:
        """Nothing to do: a key prefix exists once a key is under it."""

    def read_text(self, path: str) -> str:
        bucket, key = split_uri(path)
        body = self._request(path, lambda: self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return body.decode("utf-8")

    def write_text(self, path: str, text: str) -> None:
        bucket, key = split_uri(path)
        self._request(path, lambda: self.s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8")))

    def upload(self, local: Path, path: str) -> None:
        bucket, key = split_uri(path)
        self._request(path, lambda: self.s3.upload_file(str(local), bucket, key))

    def download(self, path: str, local: Path) -> None:
        bucket, key = split_uri(path)
        self._request(path, lambda: self.s3.download_file(bucket, key, str(local)))

    def lock(self, path: str) -> ContextManager[None]:
        return contextlib.nullcontext()


def delete_keys(s3: Any, bucket: str, keys: list[str], what: str) -> None:
    """Delete ``keys``, 1,000 a request (DeleteObjects' limit); a key S3 refuses to delete is one line."""
    for start in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[start:start + 1000]]
        try:
            reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        except Exception as exc:
            raise s3_problem(exc, what) from None
        for error in reply.get("Errors", [])[:1]:
            raise ReviewcatError(f"S3 refused to delete s3://{bucket}/{error.get('Key')} ({error.get('Code')}: "
                                 f"{error.get('Message')}): check the credentials and the bucket's policy")


def abort_dead_uploads(final: str, s3: Any | None = None) -> None:
    """Abort the multipart uploads that dead runs left in their staging folders beside ``final``.

    An upload that was never completed nor aborted (a run killed, or cut off from S3, while S3A
    or the split assembly uploaded) keeps its parts, billed, until someone aborts it: staging
    folders of live runs, and other hosts' (``staging``), are left alone.
    """
    from reviewcat.runtime.staging import dead_run_folder
    parent, _, name = split_uri(final)[1].rpartition("/")
    abort_uploads(f"{final.rstrip('/')}.__", lambda key: bool(dead_run_folder(
        key[len(parent) + 1 if parent else 0:].split("/", 1)[0], name)), s3)


def abort_uploads(prefix: str, which: Callable[[str], bool], s3: Any | None = None) -> None:
    """Abort the unfinished multipart uploads to keys under ``prefix`` (a path) that ``which`` picks.
    Housekeeping: a failure to look is a warning, the run goes on."""
    bucket, key = prefix.split("://", 1)[1].partition("/")[::2]
    try:
        s3 = s3 or client()
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key):
            for upload in page.get("Uploads", []):
                if which(upload["Key"]):
                    s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    log.warning("aborted the upload of s3://%s/%s, left by a run that died", bucket, upload["Key"])
    except Exception as exc:
        log.warning("could not look for uploads that dead runs left under %s: %s", prefix, str(exc).splitlines()[0])


def fetch_prepared(uri: str, local: Path, files: S3Files | None = None) -> Path:
    """A prepare output on S3 downloaded to ``local``: its manifest, and each split checked against
    the SHA-256 the manifest records for it."""
    files = files or S3Files()
    uri = uri.rstrip("/")
    check_finished(files, uri)
    if not files.exists(f"{uri}/{MANIFEST}"):
        raise ReviewcatError(f"{uri}/{MANIFEST} not found: give the --output-path of `reviewcat prepare`")
    local.mkdir(parents=True, exist_ok=True)
    files.download(f"{uri}/{MANIFEST}", local / MANIFEST)
    try:
        recorded = json.loads((local / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        raise ReviewcatError(f"{uri}/{MANIFEST} is not a prepare manifest: give the --output-path of "
                             "`reviewcat prepare`") from None
    for split in SPLITS:
        target = local / split / f"{split}.txt"
        target.parent.mkdir(exist_ok=True)
        files.download(f"{uri}/{split}/{split}.txt", target)
        expected = (recorded.get(split) or {}).get("sha256")
        if expected and file_sha256(target) != expected:
            raise ReviewcatError(f"{uri}/{split}/{split}.txt is not the file its manifest records (SHA-256 "
                                 "differs): it changed after prepare wrote it; run prepare again")
    log.info("downloaded %s (checked against its manifest)", uri)
    return local


@contextlib.contextmanager
def staged_on_s3(output: str, overwrite: bool, inputs: Mapping[str, str | None] | None = None,
                 flag: str = "--output-path") -> Iterator[Path]:
    """A local folder to build an S3 output in: checked against ``inputs`` and claimed before any
    work, uploaded to ``output`` when the block succeeds (the run file last), gone either way."""
    output = output.rstrip("/")
    check_apart(output, dict(inputs or {}), flag)
    files = S3Files()
    claimed = claim(files, output, overwrite, flag)
    staging = Path(tempfile.mkdtemp(prefix="reviewcat-output-"))
    try:
        yield staging
        with holding(files, claimed) as record:
            if files.exists(claimed.path):
                # The replaced output stops looking complete before any of its files go.
                files.delete(f"{claimed.path}/{RUN_FILE}")
                files.delete(claimed.path)
            try:
                for local in sorted(p for p in staging.rglob("*") if p.is_file()):
                    files.upload(local, f"{output}/{local.relative_to(staging).as_posix()}")
                leave_record(files, output, record)
            except BaseException:
                with interrupts.deferred(raise_after=False):  # no half-uploaded output left behind
                    try:
                        files.delete(output)
                    except Exception as exc:
                        log.warning("could not remove the partial upload %s: %s", output, exc)
                raise
        log.info("wrote %s", plain_path(output))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def staged_output(output: str, overwrite: bool, inputs: Mapping[str, str | None] | None = None,
                  flag: str = "--output-path") -> ContextManager[Path]:
    """Where a command without Spark builds its output: on S3 (``staged_on_s3``) or locally."""
    if is_s3(output):
        return staged_on_s3(output, overwrite, inputs, flag)
    from reviewcat.runtime.publishing import staged_locally
    return staged_locally(Path(output).resolve(), overwrite, inputs, flag)
