"""What a job costs on S3 in requests and copied bytes: a moto server on 127.0.0.1 that counts.

S3 bills by request and S3A renames by copying, so the count of each kind of request, and the bytes
S3 copied inside itself, say what publishing an output costs there, whatever the network's speed.
Every request the jobs send (S3A's and boto3's alike) passes through ``Counter``, which sorts it
by what S3 does with it.
"""
from __future__ import annotations

import collections
import logging
import re
import socket
import threading
from typing import Any, Callable, Iterator

ACCOUNT = "123456789012"  # moto's default account


def kind(method: str, query: str, headers: Any) -> str:
    """The S3 operation a request is, in the words of S3's price list."""
    if method == "HEAD":
        return "HEAD"
    if method == "GET":
        return "LIST" if "list-type" in query or "uploads" in query or re.search(r"(^|&)prefix=", query) else "GET"
    if method == "PUT":
        return "COPY" if headers.get("x-amz-copy-source") else "PUT"
    if method == "DELETE":
        return "DELETE"
    if method == "POST":
        if re.search(r"(^|&)delete(=|&|$)", query):
            return "DELETE"
        return "MULTIPART"  # starting or completing a multipart upload
    return method


class Counter:
    """WSGI middleware around moto's app: requests by kind, bytes uploaded and bytes copied."""

    def __init__(self, app: Callable, copied_size: Callable[[str, str], int]):
        self.app, self.copied_size = app, copied_size
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests: collections.Counter[str] = collections.Counter()
            self.bytes = collections.Counter()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": dict(sorted(self.requests.items())), "bytes": dict(sorted(self.bytes.items()))}

    def __call__(self, environ: dict, start_response: Callable) -> Iterator[bytes]:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        what = kind(environ["REQUEST_METHOD"], environ.get("QUERY_STRING", ""), headers)
        size = 0
        if what == "COPY":
            span = re.match(r"bytes=(\d+)-(\d+)", headers.get("x-amz-copy-source-range", ""))
            if span:
                size = int(span.group(2)) - int(span.group(1)) + 1
            else:
                source = headers["x-amz-copy-source"].lstrip("/").split("?", 1)[0]
                bucket, _, key = source.partition("/")
                size = self.copied_size(bucket, key)
        elif what == "PUT":
            size = int(environ.get("CONTENT_LENGTH") or 0)
        with self.lock:
            self.requests[what] += 1
            if what in ("COPY", "PUT"):
                self.bytes["copied" if what == "COPY" else "uploaded"] += size
        return self.app(environ, start_response)


class CountingS3:
    """A moto S3 server on a free port of 127.0.0.1, counting every request (``counter``)."""

    def __init__(self) -> None:
        from urllib.parse import unquote

        from moto.s3.models import s3_backends
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

        def copied_size(bucket: str, key: str) -> int:
            return int(s3_backends[ACCOUNT]["aws"].get_object(bucket, unquote(key)).size)
        self.counter = Counter(DomainDispatcherApplication(create_backend_app), copied_size)
        self._server = make_server("127.0.0.1", self.port, self.counter, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "CountingS3":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
