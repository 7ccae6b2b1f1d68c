"""Loading a classifier and asking it for top-k labels, locally or from a SageMaker endpoint.

BlazingText's supervised ``model.tar.gz`` holds a fastText-compatible ``model.bin``, so one loader
serves both backends.
"""
from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.train import model_file


@contextmanager
def _model_bin(path: str, record: Mapping[str, Any] | None, shown: str) -> Iterator[str]:
    """The path of a checked, whole ``model.bin``: ``path`` itself, or the one a BlazingText
    ``model.tar.gz`` holds, extracted for as long as the block runs."""
    file = Path(path)
    if not file.is_file():
        raise ReviewcatError(f"model {shown} not found: give a model.bin or a BlazingText model.tar.gz")
    model_file.match_record(str(file), record, shown)
    if not file.name.endswith((".tar.gz", ".tgz")):
        model_file.require_whole(str(file), shown)
        yield str(file)
        return
    with tarfile.open(file) as archive, tempfile.TemporaryDirectory() as scratch:
        member = next((m for m in archive.getmembers() if Path(m.name).name == "model.bin" and m.isfile()), None)
        if member is None:
            raise ReviewcatError(f"{shown} holds no model.bin: is it a BlazingText supervised model?")
        target = Path(scratch) / "model.bin"
        with archive.extractfile(member) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
        model_file.require_whole(str(target), f"model.bin in {shown}")
        yield str(target)


@contextmanager
def _loading(shown: str) -> Iterator[None]:
    """A file that cannot be read or unpacked, as one line naming the model."""
    try:
        yield
    except ReviewcatError:
        raise
    except (ValueError, tarfile.TarError, OSError, EOFError) as exc:
        raise ReviewcatError(f"cannot load model {shown}: {str(exc).splitlines()[0]}") from None


def load_model(path: str, record: Mapping[str, Any] | None = None, shown: str | None = None) -> Any:
    """A fastText model from ``model.bin`` or a BlazingText ``model.tar.gz``, checked first
    (``model_file``): against ``record`` (what training recorded of the file) when given, and as a
    whole fastText model always. ``shown`` names the file in messages (default ``path``)."""
    import fasttext
    import fasttext.FastText
    # fastText 0.9.2 prints a deprecation notice to stderr on every load; it asks nothing of users.
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    shown = shown or path
    with _loading(shown), _model_bin(path, record, shown) as model_bin:
        return fasttext.load_model(model_bin)


def model_vocabulary(path: str, record: Mapping[str, Any] | None = None, shown: str | None = None) -> frozenset[str]:
    """The words a model knows, from ``model.bin`` or a BlazingText ``model.tar.gz`` (checked as
    ``load_model`` checks it)."""
    shown = shown or path
    with _loading(shown), _model_bin(path, record, shown) as model_bin:
        return model_file.vocabulary(model_bin)


def unseen_tokens(tokenized: str, vocabulary: frozenset[str]) -> tuple[int, int]:
    """How many tokens a tokenized text has, and how many of them the model never saw."""
    tokens = tokenized.split()
    return len(tokens), sum(1 for t in tokens if t not in vocabulary)


def top_k(model: Any, tokenized: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
    """(label, probability) pairs, best first, for each already tokenized text.

    Calls the binding's per-line ``predict`` directly: fastText 0.9.2's Python ``predict`` on a
    string builds an array with ``copy=False``, which numpy 2 rejects, and its list form returns
    the top probability for every one of the k labels. fastText adds 1e-5 before taking logs, so a
    certain answer can come back a hair above 1; it is clipped.
    """
    answers = []
    for text in tokenized:
        pairs = model.f.predict(text.replace("\n", " ") + "\n", k, 0.0, "strict")
        answers.append([(label, min(1.0, float(p))) for p, label in pairs])
    return answers


def sagemaker_runtime(region: str | None = None) -> Any:
    """The client that asks an endpoint, in ``region`` or the AWS configuration's."""
    import boto3  # missing, it is named with the install that brings it (runtime.failures.missing_extra)
    from botocore.exceptions import BotoCoreError
    try:
        return boto3.client("sagemaker-runtime", region_name=region)
    except BotoCoreError as exc:
        raise ReviewcatError(f"cannot make a SageMaker client: {exc} (pass --region)") from None


def endpoint_top_k(endpoint: str, texts: Sequence[str], k: int, client: Any = None) -> list[list[tuple[str, float]]]:
    """The same answer from a deployed BlazingText endpoint (its JSON request and response format)."""
    client = client or sagemaker_runtime()
    body = json.dumps({"instances": list(texts), "configuration": {"k": k}})
    try:
        response = client.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                          Accept="application/json", Body=body)
    except Exception as exc:
        raise ReviewcatError(f"endpoint {endpoint} did not answer: {str(exc).splitlines()[0]}") from None
    answers = json.loads(response["Body"].read())
    return [[(label, float(p)) for label, p in zip(a["label"], a["prob"])] for a in answers]
