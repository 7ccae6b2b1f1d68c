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


def _versions(s3: Any, bucket: str) -> list[dict]:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    return [{"Key": v["Key"], "VersionId": v["VersionId"]} for page in pages
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]


def empty_bucket(s3: Any, bucket: str) -> int:
    """Every object version and delete marker of ``bucket`` deleted; returns how many."""
    versions = _versions(s3, bucket)
    for start in range(0, len(versions), DELETE_BATCH):
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": versions[start:start + DELETE_BATCH],
                                                          "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise ReviewcatError(f"cannot delete s3://{bucket}/{first['Key']} ({first['Code']}: {first['Message']}):"
                                 " check that these credentials may delete objects and versions")
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
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
    """What was deleted, line by line; without ``confirmed`` nothing is, and the error says what would be."""
    cloudformation, s3 = session.client("cloudformation"), session.client("s3")
    try:
        cloudformation.describe_stacks(StackName=stack)
    except cloudformation.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            raise ReviewcatError(f"stack {stack} does not exist: nothing to destroy (check --stack and --region)") \
                from None
        raise
    buckets = stack_resources(cloudformation, stack, "AWS::S3::Bucket")
    keys = stack_resources(cloudformation, stack, "AWS::KMS::Key")
    if not confirmed:
        held = ", ".join(f"s3://{b} ({len(_versions(s3, b))} object versions)" for b in buckets) or "no bucket"
        raise ReviewcatError(f"aws destroy deletes stack {stack} and everything in its buckets: {held}; this cannot be "
                             "undone: run again with --yes")
    lines = []
    for bucket in buckets:
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
    for bucket in buckets:  # kept by the template's DeletionPolicy: Retain
        _delete_bucket(s3, bucket, sleep)
        lines.append(f"deleted bucket {bucket}")
    lines += [f"kept KMS key {key}: it encrypts Glue's CloudWatch logs, which outlive the stack; schedule its "
              "deletion in KMS once they are no longer needed" for key in keys]
    return lines
