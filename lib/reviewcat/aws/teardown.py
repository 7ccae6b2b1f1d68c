"""``reviewcat aws destroy``: the stack deleted, and the buckets it made emptied and deleted.

The template keeps its two buckets (and its KMS key) when the stack goes (``DeletionPolicy:
Retain``), so that a stack update or a mistaken delete never loses data. Tearing down for good
is therefore two steps, which this module takes in order: every object version of those buckets
deleted, then the stack, then the emptied buckets.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from reviewcat.runtime.errors import ReviewcatError

log = logging.getLogger(__name__)

# S3's DeleteObjects takes at most this many keys.
DELETE_BATCH = 1000
# Access logs reach their bucket minutes after the requests they log: a bucket that is not empty
# again is emptied again, this many times.
EMPTY_ATTEMPTS = 5


def stack_resources(cloudformation: Any, stack: str, kind: str) -> list[str]:
    """The physical ids of the stack's resources of type ``kind`` (AWS::S3::Bucket, ...)."""
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
    return [r["PhysicalResourceId"] for page in pages for r in page["StackResourceSummaries"]
            if r["ResourceType"] == kind and r.get("PhysicalResourceId")]


def _versions(s3: Any, bucket: str) -> list[dict] | None:
    """Every object version and delete marker of ``bucket``; None when the bucket is gone."""
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return None
        raise
    return [{"Key": v["Key"], "VersionId": v["VersionId"]} for page in pages
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]


def empty_bucket(s3: Any, bucket: str) -> int:
    """Every object version, delete marker and unfinished upload of ``bucket`` deleted; returns how
    many versions and markers (a bucket already gone has none)."""
    versions = _versions(s3, bucket) or []
    for start in range(0, len(versions), DELETE_BATCH):
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": versions[start:start + DELETE_BATCH],
                                                          "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise ReviewcatError(f"cannot delete s3://{bucket}/{first['Key']} ({first['Code']}: {first['Message']}):"
                                 " check that these credentials may delete objects and versions")
    if versions:
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return len(versions)


def _delete_bucket(s3: Any, bucket: str, sleep: Callable[[float], None]) -> None:
    for attempt in range(EMPTY_ATTEMPTS):
        empty_bucket(s3, bucket)
        try:
            s3.delete_bucket(Bucket=bucket)
            return
        except s3.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchBucket":
                return
            if code != "BucketNotEmpty" or attempt == EMPTY_ATTEMPTS - 1:
                raise
            sleep(10)


def destroy(session: Any, stack: str, confirmed: bool, failure_reason: Callable[[Any, str], str],
            sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """What was deleted, line by line; without ``confirmed`` nothing is, and the error says what would be.

    Nothing is deleted from a stack under termination protection. The buckets' names are read
    before the stack goes, so a bucket that cannot be deleted afterwards is named in the error."""
    cloudformation, s3 = session.client("cloudformation"), session.client("s3")
    try:
        description = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            raise ReviewcatError(f"stack {stack} does not exist: nothing to destroy (check --stack and --region)") \
                from None
        raise
    if description.get("EnableTerminationProtection"):
        raise ReviewcatError(f"stack {stack} has termination protection: turn it off (aws cloudformation "
                             f"update-termination-protection --no-enable-termination-protection --stack-name {stack}) "
                             "to destroy it; nothing was deleted")
    buckets = stack_resources(cloudformation, stack, "AWS::S3::Bucket")
    keys = stack_resources(cloudformation, stack, "AWS::KMS::Key")
    held = {bucket: _versions(s3, bucket) for bucket in buckets}
    if not confirmed:
        listed = ", ".join(f"s3://{b} ({len(v)} object versions)" if v is not None else f"s3://{b} (already gone)"
                           for b, v in held.items()) or "no bucket"
        raise ReviewcatError(f"aws destroy deletes stack {stack} and everything in its buckets: {listed}; this cannot "
                             "be undone: run again with --yes")
    lines = []
    present = [bucket for bucket, versions in held.items() if versions is not None]
    for bucket in present:  # no more access logs into the buckets that are about to go
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    for bucket in present:
        log.info("emptying s3://%s", bucket)
        lines.append(f"emptied s3://{bucket}: {empty_bucket(s3, bucket)} object versions deleted")
    log.info("deleting stack %s", stack)
    cloudformation.delete_stack(StackName=stack)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack)
    except Exception as exc:  # a waiter gives up when the deletion fails
        raise ReviewcatError(f"stack {stack} could not be deleted: {failure_reason(cloudformation, stack)} "
                             f"({exc})") from None
    lines.append(f"deleted stack {stack}")
    left = []
    for bucket in present:  # kept by the template's DeletionPolicy: Retain
        try:
            _delete_bucket(s3, bucket, sleep)
            lines.append(f"deleted bucket {bucket}")
        except s3.exceptions.ClientError as exc:
            left.append(f"{bucket} ({exc.response.get('Error', {}).get('Code')})")
    if left:
        raise ReviewcatError(f"deleted stack {stack} but not its bucket(s) {', '.join(left)}: empty and delete "
                             "them in the S3 console (every version), or with these credentials once allowed")
    lines += [f"kept KMS key {key}: it encrypts Glue's CloudWatch logs, which outlive the stack; schedule its "
              "deletion in KMS once they are no longer needed" for key in keys]
    return lines
