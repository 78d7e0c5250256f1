"""A real HTTP server on 127.0.0.1 for tests, with switchable faults.

Subclasses implement `route(request) -> Reply`; the base class serves it over real sockets so
the production client code (requests, huggingface_hub) runs unchanged. Faults are queued per
path pattern and consumed per request:

    server.fault("/data.csv", "500", times=1)       # one 500, then normal
    server.fault("/api/models", "429", retry_after=1)
    server.fault(r"/data/.*\\.json", "hang", seconds=5)
    server.fault("/data.csv", "truncate")             # Content-Length larger than the body
    server.fault("/data.csv", "malformed")            # body replaced with broken JSON/bytes
    server.fault("/data.csv", "corrupt")              # same length, first bytes flipped
    server.fault("/data.csv", "404") / "drop"         # not found / connection closed, no reply

Hostile bodies (the attacks of tests/faults/test_hostile_faults.py), same interface:

    server.fault(path, "endless", size=2**30)   # chunked body of `size` bytes, no length
    server.fault(path, "gzip_bomb", size=2**30) # a small gzip body inflating to `size` bytes
    server.fault(path, "drip", seconds=0.2)     # one byte every `seconds`, until stopped
    server.fault(path, "oversize", size=2**28)  # a Content-Length of `size`, the body sent

`tls=True` serves HTTPS with a certificate of a throwaway CA (`test_ca()`, trusted by the
tests through REQUESTS_CA_BUNDLE): credentials are only ever sent over HTTPS.

`times=None` means forever. Every request is recorded in `server.requests` (with the status
served, and a POST's body). `latency` (seconds before each reply) and `bandwidth` (bytes/s of
each body) make the fake as slow as a real network. A stopped server serves nothing more:
handlers still sleeping in a "hang" fault or in `latency` wake up and close their connection
without a reply, so they cannot write into (or print tracebacks during) a later test.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import ssl
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    bytes_sent: int = 0
    status: int = 0
    body: bytes = b""  # a POST's body

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"

    @classmethod
    def json(cls, text: str | bytes, status: int = 200, **headers: str) -> Reply:
        body = text.encode() if isinstance(text, str) else text
        return cls(status, body, dict(headers), "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Reply:
        return cls(status, text.encode(), {}, content_type)


NOT_FOUND = Reply(404, b'{"error": "not found"}', {}, "application/json")


@dataclass
class Fault:
    pattern: re.Pattern
    kind: str
    times: int | None
    retry_after: float = 1
    seconds: float = 5
    size: int = 1 << 30


@functools.cache
def test_ca() -> tuple:
    """(trustme CA, path of its PEM bundle): the tests' own certificate authority."""
    import trustme

    ca = trustme.CA()
    bundle = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)  # noqa: SIM115
    with bundle:
        ca.cert_pem.write_to_path(bundle.name)
    return ca, bundle.name


@functools.cache
def server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca()[0].issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@functools.cache
def gzip_bomb(size: int) -> bytes:
    """A gzip stream of `size` zero bytes (about size / 1000 bytes long)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away (timeouts, injected drops): normal here, not a bug
        super().handle_error(request, client_address)


class FakeServer:
    """Base fake upstream; use as a context manager or call start()/stop()."""

    def __init__(self, latency: float = 0.0, bandwidth: float | None = None,
                 tls: bool = False) -> None:
        self.tls = tls
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.latency = latency
        self.bandwidth = bandwidth
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._url: str | None = None
        self._stopped = threading.Event()

    # -- to override -------------------------------------------------------------------
    def route(self, request: Request) -> Reply:
        return NOT_FOUND

    # -- faults ------------------------------------------------------------------------
    def fault(self, path_regex: str, kind: str, times: int | None = 1, **kwargs: float) -> None:
        with self._lock:
            self.faults.append(Fault(re.compile(path_regex), kind, times, **kwargs))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.pattern.fullmatch(path) or fault.pattern.search(path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    # -- server ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._url is not None, "server not started"
        return self._url

    def requests_to(self, path_regex: str) -> list[Request]:
        return [r for r in self.requests if re.search(path_regex, r.path)]

    def start(self) -> FakeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(head=True)

            def do_GET(self) -> None:  # noqa: N802
                self._serve(head=False)

            def do_POST(self) -> None:  # noqa: N802
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()},
                                  body=self.rfile.read(length) if length else b"")
                with server._lock:
                    server.requests.append(request)
                fault = server._take_fault(parts.path)
                if fault and fault.kind == "hang":
                    server._stopped.wait(fault.seconds)
                if server.latency:
                    server._stopped.wait(server.latency)
                if server._stopped.is_set() or (fault and fault.kind == "drop"):
                    self.close_connection = True  # stopped (or a drop fault): no reply at all
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                if fault and fault.kind in ("500", "502", "503", "404"):
                    reply = Reply(int(fault.kind), b'{"error": "injected"}', {},
                                  "application/json")
                elif fault and fault.kind == "429":
                    reply = Reply(429, b'{"error": "rate limited"}',
                                  {"Retry-After": f"{fault.retry_after:g}"}, "application/json")
                else:
                    reply = server.route(request)
                body = reply.body
                length = len(body)
                if fault and fault.kind == "truncate":
                    body = body[: max(1, len(body) // 2)]
                    self.close_connection = True
                elif fault and fault.kind == "malformed":
                    body = b'{"broken": [1, 2,' + body[:20]
                    length = len(body)
                elif fault and fault.kind == "corrupt":
                    body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
                elif fault and fault.kind in ("endless", "gzip_bomb", "drip", "oversize"):
                    self._hostile(fault, request, head)
                    return
                request.status = reply.status
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(length))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self._write(body, request)

            def _hostile(self, fault: Fault, request: Request, head: bool) -> None:
                """A body made to exhaust the client: memory, disk or patience."""
                request.status = 200
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if fault.kind == "gzip_bomb":
                    body = gzip_bomb(fault.size)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                elif fault.kind == "oversize":
                    self.send_header("Content-Length", str(fault.size))
                elif fault.kind == "endless":
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if head:
                    return
                with contextlib.suppress(OSError):
                    if fault.kind == "gzip_bomb":
                        self._write(body, request)
                    elif fault.kind == "drip":
                        while not server._stopped.wait(fault.seconds):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            request.bytes_sent += 1
                    else:
                        block = b"[" + b" " * ((1 << 20) - 1)
                        for _ in range(max(1, fault.size >> 20)):
                            if server._stopped.is_set():
                                return
                            chunk = (b"%x\r\n%s\r\n" % (len(block), block)
                                     if fault.kind == "endless" else block)
                            self.wfile.write(chunk)
                            request.bytes_sent += len(block)
                            block = b" " * len(block)
                        if fault.kind == "endless":
                            self.wfile.write(b"0\r\n\r\n")

            def _write(self, body: bytes, request: Request) -> None:
                """The body, at most `server.bandwidth` bytes a second."""
                # at most 1 MiB a write: a body may be an mmap of a large file (benchmarks)
                step = min(len(body), 1 << 20) if not server.bandwidth \
                    else max(1, int(server.bandwidth / 20))
                started = time.monotonic()
                for offset in range(0, len(body), step or 1):
                    chunk = body[offset:offset + step]
                    self.wfile.write(chunk)
                    request.bytes_sent += len(chunk)
                    if server.bandwidth:
                        due = started + request.bytes_sent / server.bandwidth
                        if server._stopped.wait(max(0.0, due - time.monotonic())):
                            return

        self._stopped.clear()
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        if self.tls:
            self._httpd.socket = server_context().wrap_socket(self._httpd.socket,
                                                               server_side=True)
        host, port = self._httpd.server_address[:2]
        self._url = f"{'https' if self.tls else 'http'}://{host}:{port}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeCdn(FakeServer):
    """The storage host the Hub redirects file downloads to (its CDN): another host (here
    another port), serving `put` files with only its own headers - a storage ETag that is not
    the file's sha256, no X-Repo-Commit or X-Linked-* - as the real one does. Every request's
    headers are recorded, so a test can check that no credential reached it."""

    def __init__(self, latency: float = 0.0, bandwidth: float | None = None,
                 tls: bool = False) -> None:
        super().__init__(latency=latency, bandwidth=bandwidth, tls=tls)
        self.files: dict[str, tuple[bytes, str]] = {}

    def put(self, path: str, data: bytes) -> str:
        """Serve `data` (bytes, or an mmap of a large file) at `path`; returns the signed-looking
        URL the Hub would redirect to."""
        if path not in self.files or self.files[path][0] is not data:
            storage_etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
            self.files[path] = (data, f'"{storage_etag}"')
        return f"{self.url}{path}?Expires=1999999999&Signature=fake-signature&Key-Pair-Id=FAKE"

    def route(self, request: Request) -> Reply:
        if request.path not in self.files:
            return Reply(404, b"<Error><Code>NoSuchKey</Code></Error>", {}, "application/xml")
        data, storage_etag = self.files[request.path]
        return Reply(200, data, {"ETag": storage_etag, "Accept-Ranges": "bytes"},
                     "application/octet-stream")


class FakeHubWithCdn(FakeServer):
    """A fake Hub that redirects file downloads to its own CDN (`self.cdn`, another host),
    started and stopped with it."""

    def __init__(self, latency: float = 0.0, bandwidth: float | None = None,
                 tls: bool = False) -> None:
        super().__init__(latency=latency, bandwidth=bandwidth, tls=tls)
        self.cdn = FakeCdn(latency=latency, bandwidth=bandwidth, tls=tls)

    def start(self) -> FakeHubWithCdn:
        self.cdn.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.cdn.stop()
