"""Java and Hadoop failures as one line a user can act on.

A Spark job that fails raises a Py4J or pyspark exception whose text is the whole Java stack
trace: one truncated parquet file among the input ended a balance with 177 lines of Java and
Python traces and exit code 1. The file's name was in there, once, forty lines down. Here the
trace is written to the run's log file and the user gets one line: what failed, which file or
column, what to do, and where the trace is. The known failures are matched on the texts Spark
3.5 and 4.1 give them (the patterns below); anything else still ends in one line, naming the
Java exception and the log.
"""
from __future__ import annotations

import datetime
import errno
import logging
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable

from reviewcat.runtime import interrupts
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.publishing import outcome_of_stop, plain_path
from reviewcat.runtime.staging import final_of

log = logging.getLogger(__name__)

# How many run logs a warehouse keeps: each failed or finished run leaves one.
KEPT_LOGS = 30
# At most this many files are opened (footers only) to find the other side of a schema conflict.
PARTNER_FILES = 200
# A Hadoop path in a Java message, up to the punctuation Spark puts after it.
_PATH = r"((?:file|hdfs|s3a?|s3n|gs|abfss?|wasbs?):/[^\s,;\]\)\"']+?|/[^\s,;\]\)\"':]+?)"
_END = r"(?=[\s,;\]\)\"']|\.?$|\.\s)"


def is_java_failure(exc: BaseException) -> bool:
    """Whether ``exc`` came out of the JVM (a failed Spark job, a Hadoop call, a dead gateway)."""
    from py4j.protocol import Py4JError
    try:
        from pyspark.errors.exceptions.captured import CapturedException
    except ImportError:  # pragma: no cover - pyspark before 3.4
        CapturedException = ()  # type: ignore[assignment,misc]
    return isinstance(exc, (Py4JError, CapturedException))


def java_text(exc: BaseException) -> str:
    """The exception's whole text, Java causes included, for matching and for the log."""
    text = str(exc)
    origin = getattr(exc, "_origin", None)  # pyspark's captured exceptions keep the Java one here
    if origin is not None:
        try:
            from pyspark import SparkContext
            text += "\n" + str(SparkContext._jvm.org.apache.spark.util.Utils.exceptionString(origin))
        except Exception:  # the JVM may be gone: what pyspark captured is all there is
            pass
    return text


def _first(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1).rstrip(".") if match else None


def _schema_conflict(text: str, partner: Callable[[str, str], str | None]) -> str | None:
    file = _first(rf"Parquet column cannot be converted in file {_PATH}\.? Column:", text) or (
        _first(rf"Encountered error while reading file {_PATH}{_END}", text)
        if "PARQUET_COLUMN_DATA_TYPE_MISMATCH" in text else None)
    column = _first(r"Column: \[([^\]]+)\]", text) or _first(r"reading Parquet column \[([^\]]+)\]", text)
    if not file or not column:
        return None
    found = _first(r"Found: (\w+)", text) or _first(r'actual Parquet type "(\w+)"', text)
    expected = _first(r"Expected: ([\w()]+)", text) or _first(r'Expected Spark type "([\w()]+)"', text)
    other = partner(file, column)
    against = f" while {plain_path(other)} has it as {expected}" if other else f" where {expected} was expected"
    return (f"input files disagree on the type of column {column}: {plain_path(file)} stores it as {found}{against}; "
            f"rewrite one of them with the other's type, or leave it out of the input")


def _corrupt_file(text: str, skip_hint: bool) -> str | None:
    file = (_first(rf"{_PATH} is not a Parquet file", text)
            or _first(rf"Could not read footer for file: FileStatus\{{path={_PATH}", text)
            or _first(rf"Encountered error while reading file {_PATH}{_END}", text)
            or _first(rf"reading file {_PATH}{_END}", text))
    signs = ("is not a Parquet file", "Could not read footer", "EOFException", "ParquetDecodingException",
             "can not read class org.apache.parquet", "Reached the end of stream", "magic number",
             "FAILED_READ_FILE.NO_HINT", "Encountered error while reading file")
    if not file or not any(sign in text for sign in signs):
        return None
    hint = "remove or replace it, or pass --skip-corrupt-files to read the input without it" if skip_hint \
        else "remove or replace it"
    return f"input file {plain_path(file)} is not readable parquet (truncated or damaged): {hint}"


def _missing_file(text: str) -> str | None:
    file = _first(rf"FileNotFoundException: (?:File )?{_PATH} does not exist", text) or (
        _first(rf"{_PATH} does not exist", text) if "FileNotFoundException" in text else None)
    if not file:
        return None
    return (f"input file {plain_path(file)} was removed while the job ran: run again once nothing else changes "
            f"the input")


def _permission(text: str) -> str | None:
    if "Permission denied" not in text and "AccessDeniedException" not in text:
        return None
    path = (_first(rf"AccessDeniedException: {_PATH}{_END}", text)
            or _first(rf"{_PATH} \(Permission denied\)", text)
            or _first(rf"Mkdirs failed to create {_PATH}{_END}", text)
            or _first(rf"Permission denied: {_PATH}", text))
    where = f" {final_of(plain_path(path))}" if path else ""
    return (f"permission denied on{where}: give this user read access to the input and write access to the "
            f"output folder, or choose other paths")


def _disk_full(text: str) -> str | None:
    if "No space left on device" not in text and "Disk quota exceeded" not in text:
        return None
    return ("the disk ran out of space while writing (No space left on device): free space where "
            "--output-path and Spark's local folders (spark.local.dir, default /tmp) are, or write elsewhere")


def _unwritable_output(text: str) -> str | None:
    path = _first(rf"Mkdirs failed to create {_PATH}{_END}", text) or _first(
        rf"Unable to create (?:directory|folder) {_PATH}", text)
    if not path:
        return None
    return f"cannot create {final_of(plain_path(path))}: choose an --output-path this user can write to"


def _no_s3(text: str) -> str | None:
    scheme = _first(r'No FileSystem for scheme "?(s3[an]?)"?', text)
    if not scheme:
        return None
    from reviewcat.runtime import s3a
    return f"{scheme}:// paths need S3A's jars, which this Spark does not have: {s3a.how_to_get()}"


def _s3(text: str) -> str | None:
    """S3's refusals through S3A: a missing bucket, no credentials, access denied, no connection."""
    where = _first(rf"(?:UnknownStoreException|AccessDeniedException|AWSClientIOException|SdkClientException)"
                   rf"[^:]*: {_PATH}{_END}", text) or _first(r"(s3[an]?://[^\s,;\]\)\"']+)", text)
    where = where.rstrip(":") if where else None
    shown = final_of(plain_path(where)) if where else "S3"
    if "UnknownStoreException" in text or "Error Code: NoSuchBucket" in text:
        bucket = _first(r"s3[an]?://([^/\s]+)", where or text) or "the bucket"
        return f"bucket {bucket} does not exist ({shown}): create it, or check the path"
    if "NoAuthWithAWSException" in text or "No AWS Credentials provided" in text:
        return (f"no AWS credentials for {shown}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
                "or run where an instance role applies")
    if "AccessDeniedException" in text and where and where.startswith("s3"):
        code = _first(r"Error Code: (\w+)", text) or "AccessDenied"
        return f"access denied on {shown} ({code}): check the credentials and the bucket's policy"
    refused = _first(r"Unable to execute HTTP request: (.+?)(?=: Unable to execute|\n|$)", text)
    if refused:
        return (f"lost the connection to S3 while working on {shown} ({refused.strip()}): check the network and "
                "AWS_ENDPOINT_URL_S3, then run again")
    return None


def _worker_refusal(text: str) -> str | None:
    """A ``ReviewcatError`` raised in a Python worker (a model that fails its check on an executor):
    its own one line, which the task's failure carries inside the Java trace."""
    return _first(r"reviewcat\.runtime\.errors\.ReviewcatError: ([^\n]+)", text)


def _unknown(text: str) -> str:
    """The deepest Java exception named in the trace: the cause, not the wrapper around it."""
    names = re.findall(r"(?:Caused by: |^|\n)([a-z][\w$]*(?:\.[\w$]+)+(?:Exception|Error)(?::[^\n]*)?)", text)
    cause = names[-1] if names else text.strip().splitlines()[0] if text.strip() else "unknown error"
    return f"Spark failed: {cause[:300]}"


def explain(exc: BaseException, skip_corrupt_flag: bool = True,
            partner: Callable[[str, str], str | None] = lambda file, column: None) -> str:
    """One line for a Java failure: a known cause with what to do, else the Java cause itself.

    ``partner(file, column)`` names another input file that types ``column`` differently, when the
    caller can look; ``skip_corrupt_flag`` says whether the job has ``--skip-corrupt-files``.
    """
    return _explain_text(java_text(exc), skip_corrupt_flag, partner)


def _explain_text(text: str, skip_corrupt_flag: bool, partner: Callable[[str, str], str | None]) -> str:
    for rule in (lambda: _worker_refusal(text), lambda: _no_s3(text), lambda: _s3(text),
                 lambda: _schema_conflict(text, partner), lambda: _missing_file(text),
                 lambda: _disk_full(text), lambda: _permission(text), lambda: _unwritable_output(text),
                 lambda: _corrupt_file(text, skip_corrupt_flag)):
        message = rule()
        if message:
            return message
    return _unknown(text)


def run_log(folder: str, prog: str) -> Path:
    """A new log file for this run in ``folder``/logs, the oldest beyond ``KEPT_LOGS`` removed."""
    logs = Path(folder) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in sorted(logs.glob("*.log"), key=lambda p: p.stat().st_mtime)[:-KEPT_LOGS or None]:
        old.unlink(missing_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^\w.-]+", "-", prog).strip("-")
    log_file = logs / f"{name}-{stamp}-{os.getpid()}.log"
    log_file.touch()  # here, where a folder that cannot be written is the caller's to report
    return log_file


def write_trace(path: Path, exc: BaseException, text: str | None = None) -> None:
    """The Python traceback and the Java trace of ``exc``, appended to the run's log."""
    with path.open("a", encoding="utf-8") as out:
        out.write(f"\n{datetime.datetime.now():%Y-%m-%d %H:%M:%S} reviewcat: the run failed\n")
        out.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        if text:
            out.write(f"\nJava side:\n{text}\n")


def partner_finder(spark: Any, storage: Any) -> Callable[[str, str], str | None]:
    """``partner(file, column)``: another parquet file of ``file``'s table typing ``column`` otherwise.

    The table's root is the folder above ``file``'s partition folders (``name=value``); at most
    ``PARTNER_FILES`` files are opened, each for its footer only.
    """
    def partner(file: str, column: str) -> str | None:
        parts = file.split("/")
        root_end = len(parts) - 1
        while root_end > 1 and "=" in parts[root_end - 1]:
            root_end -= 1
        root = "/".join(parts[:root_end])
        try:
            mine = _column_type(spark, file, column)
            for entry in storage.files(root)[:PARTNER_FILES]:
                if entry.name.endswith(".parquet") and plain_path(entry.path) != plain_path(file) \
                        and _column_type(spark, entry.path, column) not in (None, mine):
                    return entry.path
        except Exception as exc:  # the explanation is best effort: the one line is given either way
            log.debug("no partner file for %s: %s", file, exc)
        return None
    return partner



def _column_type(spark: Any, path: str, column: str) -> str | None:
    fields = {f.name: f.dataType.simpleString() for f in spark.read.parquet(path).schema.fields}
    return fields.get(column)


# What each OS error means for a run, and what to do about it: ``path`` is the file or folder.
_OS_PROBLEMS = {
    errno.EACCES: "permission denied on {path}: give this user access to it, or choose another folder",
    errno.EPERM: "permission denied on {path}: give this user access to it, or choose another folder",
    errno.EROFS: "{path} is on a read-only file system: choose a folder on a disk this user can write",
    errno.ENOSPC: "the disk ran out of space while writing {path} (No space left on device): free space there, "
                  "or write elsewhere",
    errno.EDQUOT: "the disk quota ran out while writing {path}: free space there, or write elsewhere",
    errno.ENOTDIR: "{path}: a part of this path is a file, not a folder: choose another path",
    errno.EISDIR: "{path} is a folder where a file was expected: check the path",
    errno.ENOENT: "{path} does not exist: check the path",
    errno.ENAMETOOLONG: "{path}: the name is too long for the file system: choose a shorter path",
    errno.ELOOP: "{path}: too many levels of symbolic links: check the path",
    errno.EIO: "{path} could not be written to its end ({why}): check the disk, or write elsewhere",
}


def os_problem(exc: OSError) -> str | None:
    """One line for an ordinary OS error (permissions, a read-only or full disk, a bad path), else None.

    A staging folder in the error is named by the output it was building, which is what the user gave.
    """
    template = _OS_PROBLEMS.get(exc.errno)
    if template is None:
        return None
    path = exc.filename if exc.filename is not None else exc.filename2
    return template.format(path=final_of(plain_path(str(path))) if path is not None else "a file",
                           why=exc.strerror or exc)


def warehouse_problem(warehouse: str, exc: OSError) -> str:
    """Why the run cannot keep its log and catalog in ``warehouse``, and where else it could."""
    inside = f" {exc.filename} in" if exc.filename and str(exc.filename) != warehouse else " to"
    return (f"cannot write{inside} the warehouse {warehouse} ({exc.strerror or exc}): give this user write access "
            "to it, or choose another with --warehouse or REVIEWCAT_WAREHOUSE=<folder>")


def fallback_log(prog: str, folder: str) -> Path:
    """``run_log`` in ``folder``, or in the temporary folder when ``folder`` cannot be written:
    a command that needs no warehouse still has somewhere to put its trace."""
    try:
        return run_log(folder, prog)
    except OSError:
        return run_log(os.path.join(tempfile.gettempdir(), f"reviewcat-{os.getuid()}"), prog)


def interruption(exc: BaseException) -> str | None:
    """The one line of an interrupted run, whatever exception the interrupted call ended in; else None."""
    signal_name = interrupts.received() or (str(exc) if isinstance(exc, KeyboardInterrupt) else None)
    if not isinstance(exc, KeyboardInterrupt) and not signal_name:
        return None
    return f"interrupted{f' by {signal_name}' if signal_name else ''}: {outcome_of_stop()}"


# The modules that come with an extra of reviewcat's: a command that needs a missing one says which
# install brings it, instead of an "unexpected" error.
EXTRA_MODULES = {"boto3": "aws", "botocore": "aws", "sagemaker": "aws", "fasttext": "train", "matplotlib": "train",
                 "yaml": "train", "tqdm": "train", "psutil": "bench", "moto": "bench"}


def missing_extra(exc: BaseException) -> str | None:
    """The one line for a module of an extra that is not installed, else None."""
    name = (getattr(exc, "name", None) or "").split(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
    extra = EXTRA_MODULES.get(name)
    return f"{name} is not installed: pip install 'reviewcat[{extra}]'" if extra else None


# What to do about an AWS service's refusal, by its error code (botocore's ClientError).
_AWS_ADVICE = [
    (("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
      "InvalidAccessKeyId", "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
      "ExpiredToken", "ExpiredTokenException", "403"),
     "check the credentials (AWS_PROFILE, aws configure) and that their IAM policy allows this"),
    (("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
      "ProvisionedThroughputExceededException"),
     "AWS is throttling these requests: wait a minute and run again"),
    (("ResourceLimitExceeded", "LimitExceededException", "ServiceQuotaExceededException"),
     "a service quota is reached: free what uses it (reviewcat endpoint list) or ask AWS for a higher quota"),
    (("ResourceInUse", "ResourceInUseException", "AlreadyExistsException", "EntityAlreadyExists",
      "EntityAlreadyExistsException", "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "ConflictException"),
     "choose another name, or delete the existing one first"),
    (("ResourceNotFound", "ResourceNotFoundException", "EntityNotFoundException", "NoSuchBucket", "NoSuchKey",
      "NotFound", "404", "NoSuchEntity"),
     "check the name and the region (--region)"),
]
# SageMaker answers ValidationException both for bad values and for names that exist or do not.
_AWS_MESSAGE_ADVICE = [("already exist", "ResourceInUse"), ("Could not find", "ResourceNotFound"),
                       ("does not exist", "ResourceNotFound"), ("not found", "ResourceNotFound")]


def aws_problem(exc: BaseException) -> str | None:
    """One line for an AWS service's refusal (or an unreachable endpoint): the service's own message,
    the operation and the resource it names, and what to do; None for anything else."""
    try:
        from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError,
                                         NoRegionError)
    except ImportError:
        return None
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: configure them (aws configure, AWS_PROFILE or the environment)"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS ({exc}): check the network, the region and AWS_ENDPOINT_URL"
    if isinstance(exc, BotoCoreError):
        return f"the AWS client failed: {exc}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, said, operation = str(error.get("Code", "unknown")), (error.get("Message") or "").strip(), \
            exc.operation_name
        said = _first(r"<Message>(.*?)</Message>", said) or said  # an XML error body left whole in Message
        said = said if len(said) <= 300 else f"{said[:300]}..."  # a validation error may list every allowed value
        resource = next((f"{name} {error[key]}" for key, name in (("BucketName", "bucket"), ("Key", "key"),
                                                                  ("ResourceName", "resource"), ("StackName", "stack"))
                         if error.get(key)), None)
    else:  # boto3's transfers wrap the ClientError in their own text (S3UploadFailedError)
        found = re.search(r"(?:to|from) (\S+?): An error occurred \((\w+)\) when calling the (\w+) operation[^:]*: "
                          r"(.*)", str(exc)) if type(exc).__module__.startswith("boto3") else None
        if not found:
            return None
        resource, code, operation, said = f"s3://{found.group(1)}", found.group(2), found.group(3), found.group(4)
    kind = next((alias for words, alias in _AWS_MESSAGE_ADVICE if words.lower() in said.lower()), code) \
        if code in ("ValidationException", "ValidationError") else code
    bad_value = code in ("ValidationException", "ValidationError", "InvalidParameterValue", "InvalidRequest")
    advice = next((what for codes, what in _AWS_ADVICE if kind in codes), None) or (
        "check the value the message names" if bad_value else
        "see the message, or run again if AWS reports a temporary failure")
    return f"AWS refused {operation}{f' on {resource}' if resource else ''} ({code}: {said or 'no message'}): {advice}"


def report(prog: str, exc: BaseException, log_file: Path, skip_corrupt_flag: bool = False,
           partner: Callable[[str, str], str | None] | None = None) -> int:
    """Print the one line for ``exc`` and return the exit code: 130 when interrupted, else 2.

    Traces go to ``log_file``, which the line names; a ``ReviewcatError`` already is its one line.
    An interrupted run says so whatever the exception the interrupted call ended in.
    """
    if isinstance(exc, SystemExit):
        raise exc
    code = 2
    stopped = interruption(exc)
    if stopped:
        if not isinstance(exc, KeyboardInterrupt):
            write_trace(log_file, exc, java_text(exc) if is_java_failure(exc) else None)
        message, code = stopped, 130
    elif isinstance(exc, ReviewcatError):
        message = str(exc)
    elif is_java_failure(exc):
        text = java_text(exc)
        write_trace(log_file, exc, text)
        message = f"{_explain_text(text, skip_corrupt_flag, partner or (lambda file, column: None))} (details: {log_file})"
    elif missing_extra(exc):
        write_trace(log_file, exc)
        message = missing_extra(exc)
    elif aws_problem(exc):
        write_trace(log_file, exc)
        message = aws_problem(exc)
    elif isinstance(exc, OSError) and os_problem(exc):
        write_trace(log_file, exc)
        message = os_problem(exc)
    else:
        write_trace(log_file, exc)
        message = f"unexpected {type(exc).__name__}: {exc} (details: {log_file}); please report it"
    log.debug("failed: %s", message)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code
