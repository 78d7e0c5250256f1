"""The one HTTP layer every source uses: timeouts, bounded retries honouring Retry-After,
a descriptive User-Agent, and the same interface for http(s) URLs, `file://` URLs and local
directories. Every failure becomes a one-line `SourceError` naming the source and the cause.

Every upstream is untrusted, so the bounds live here, where every source inherits them:

* bodies are streamed and counted after decompression (urllib3 inflates at most a chunk at a
  time): a response held in memory stops at `max_response_bytes`, all of a source's responses
  together at `max_bytes`, a download at its listed size; a `Content-Length` over the cap is
  refused before the body is read;
* each request has a total deadline (connect to last byte, retries and waits included) and each
  source's collection one more (`deadline`, `source_deadline`): a watchdog shuts the socket of
  a request still running at its deadline, so a server dripping a byte a second is cut off;
* a link from upstream (a next page, an absolute URL) is followed only on the origin's own
  scheme, host and port; credentials go only to the origin, only over HTTPS (`credentials`);
* `redact` removes URL user-info, and every query value not on an allow-list, from any text
  that is shown or stored.

The bounds come from `[http]` in adoption.toml (ADOPTION_HTTP_*), and each source may override
them in `[sources.<name>]` (ADOPTION_<SOURCE>_*): see `Settings.http_bound`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from pipeline import __version__
from pipeline.config import Settings, env_name, secret, warn_once
from pipeline.errors import HttpStatusError, SourceError, Unreachable
from pipeline.untrusted import shown

USER_AGENT = (
    f"framework-adoption/{__version__} "
    "(+https://github.com/framework-adoption; reproducing 'PyTorch vs TensorFlow in 2022')"
)
RETRY_STATUSES = (429, 500, 502, 503, 504)
CHUNK = 1 << 16  # bytes asked of the socket per read when streaming a body
MAX_HUB_REDIRECTS = 5  # same-host redirects followed to reach a file's metadata (renamed repos)
log = logging.getLogger("pipeline.http")
_SECRET_PARAM = re.compile(r"(?i)((?:app_)?(?:key|token|secret|password|app_id)[^=&]*=)[^&\s]+")
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>()\[\]{}|\\^`]+")
#: query parameters whose values are shown and stored as they are; any other value (a
#: signature, a key, a token, an unknown parameter) is replaced by *** in `redact`
SAFE_PARAMS = frozenset({
    "content-type", "content.venueid", "cursor", "day", "details", "direction", "domain", "end",
    "expand", "expand[]",
    "filter", "format", "from", "full", "hitsperpage", "id", "invitation", "limit", "offset",
    "page", "page_size", "per_page", "period", "q", "query_type", "recursive",
    "results_per_page", "revision", "search", "select", "since", "sort", "start", "tags", "to",
    "type", "until", "venue", "venueid", "what", "where", "year",
})


def redact(text: str) -> str:
    """`text` safe to show and store: in every URL, user-info (`user:password@`) is removed and
    the value of every query parameter not in SAFE_PARAMS (signatures, keys, tokens) and any
    fragment become `***`; `key=`/`token=`-like values outside URLs are blanked too."""
    return _SECRET_PARAM.sub(r"\1***", _URL.sub(lambda m: _redact_url(m.group(0)), str(text)))


def _redact_url(url: str) -> str:
    tail = url[len(url.rstrip(".,:;!?")):]  # punctuation after a URL in a sentence
    url = url[:len(url) - len(tail)]
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0].split("@")[-1] + tail
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(
        f"{quote(k, safe='[]')}={quote(v, safe=',:/') if k.lower() in SAFE_PARAMS else '***'}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(netloc=netloc, query=query,
                                     fragment="***" if parts.fragment else "")) + tail


@dataclass
class HttpStats:
    """What a session asked for: used by the no-change-refresh benchmark and tests."""

    requests: int = 0
    bytes: int = 0


OFFLINE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN}


def is_offline(error: Exception | None) -> bool:
    """A failure that waiting will not fix soon: the name does not resolve, or there is no
    route to the network. Retried once (a resolver hiccup), not with the full backoff."""
    if isinstance(error, NameResolutionError):
        return True
    if isinstance(error, NewConnectionError):
        cause = error.__cause__ or error.__context__
        return (getattr(cause, "errno", None) in OFFLINE_ERRNOS
                or "Network is unreachable" in str(error))
    return False


class RetryAfterTooLong(Exception):  # noqa: N818  (a signal for Origin._request)
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class PipelineRetry(Retry):
    """urllib3's Retry with two exceptions:

    * DNS and "network unreachable" failures are retried at most once, so an offline refresh
      fails in a second instead of a minute of backoff;
    * a `Retry-After` longer than `retry_after_max` ends the request at once (urllib3 would
      shorten the wait and retry into a certain refusal)."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):  # noqa: D102 - same contract as Retry.increment
        if is_offline(error) and any(is_offline(h.error) for h in self.history):
            raise MaxRetryError(_pool, url, error) from error
        watch = getattr(_current, "watch", None)
        if watch is not None and watch.expired:
            raise DeadlinePassed()  # no retry after the deadline: Origin says which one
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def parse_retry_after(self, retry_after: str) -> float:
        seconds = Retry.parse_retry_after(self.new(retry_after_max=sys.maxsize), retry_after)
        if seconds > self.retry_after_max:
            raise RetryAfterTooLong(seconds)
        return seconds


class DeadlinePassed(Exception):  # noqa: N818  (a signal for Origin._request)
    """A request's deadline passed while urllib3 would have retried it."""


_current = threading.local()  # the Watch of the request running in this thread, if any


class Watch:
    """A request's deadline: at that moment a timer shuts the socket the request is using
    (so a read blocked on a dripping server returns), and marks the request expired."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False
        self.connection: Any = None
        #: the request's socket, kept: http.client lets go of it once the response owns it
        self.sock: socket.socket | None = None
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Watch:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            self.expired = True
            raise DeadlinePassed()
        self._timer = threading.Timer(remaining, self._fire)
        self._timer.daemon = True
        self._timer.start()
        _current.watch = self
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        _current.watch = None

    def _fire(self) -> None:
        self.expired = True
        sock = getattr(self.connection, "sock", None) or self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """A urllib3 connection that tells the running request's Watch which socket it uses."""

    def connect(self) -> None:
        self._watched()
        super().connect()  # type: ignore[misc]
        self._watched()

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._watched()
        super().request(*args, **kwargs)  # type: ignore[misc]
        self._watched()

    def _watched(self) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.connection = self
            watch.sock = getattr(self, "sock", None) or watch.sock


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter on connections a Watch can cut off."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def make_session(settings: Settings) -> requests.Session:
    retry = PipelineRetry(
        total=settings.http_retries,
        connect=settings.http_retries,
        read=settings.http_retries,
        status=settings.http_retries,
        backoff_factor=settings.http_backoff,
        backoff_max=30,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        retry_after_max=int(settings.retry_after_max),
        raise_on_status=True,
    )
    session = requests.Session()
    adapter = _Adapter(max_retries=retry, pool_maxsize=8)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    stats = HttpStats()
    session.stats = stats  # type: ignore[attr-defined]

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        stats.requests += 1

    session.hooks["response"].append(count)
    return session


def local_path(base: str) -> Path | None:
    """The directory a base points to when it is a local path or a file:// URL, else None."""
    if base.startswith("file://"):
        return Path(unquote(urlsplit(base).path))
    if "://" not in base:
        return Path(base).expanduser().resolve()
    return None


#: how much of an error answer's body is read for the message (the rest never is)
ERROR_BODY_BYTES = 4096


@dataclass
class Fetched:
    url: str
    content: bytes
    headers: dict[str, str]
    status: int = 200  # 304 when a conditional download (If-None-Match) found no change


def normalize_etag(etag: str | None) -> str | None:
    """An ETag without its weak marker and quotes, as huggingface_hub compares them."""
    if not etag:
        return None
    return etag.removeprefix("W/").strip('"') or None


@dataclass
class FileMetadata:
    """What the Hub says of one file when asked `HEAD .../resolve/<revision>/<path>`, read as
    huggingface_hub's `get_hf_file_metadata` reads it: the Hub answers with a redirect to its
    storage CDN carrying `X-Repo-Commit`, `X-Linked-Etag` and `X-Linked-Size`; the CDN's own
    answer has none of them (its ETag is a storage hash), so the redirect is not followed."""

    url: str  # the resolve URL asked
    location: str  # where the bytes are: the CDN URL, or `url` when the file is served directly
    commit: str | None  # X-Repo-Commit: the commit the revision resolved to
    etag: str | None  # X-Linked-Etag (else ETag), unquoted: an LFS file's sha256
    size: int | None  # X-Linked-Size (else Content-Length of a direct answer)


class Budget:
    """What one source may still receive in its current collection: bytes and time. Shared by
    every Origin of the source (a second host, a replaced endpoint); `start_collection`
    starts a new one for each collection."""

    def __init__(self, source: str, settings: Settings) -> None:
        self.source = source
        self.max_bytes = int(settings.http_bound(source, "max_bytes"))
        self.deadline = settings.http_bound(source, "source_deadline")
        self.started = time.monotonic()
        self.received = 0

    @property
    def ends_at(self) -> float:
        return self.started + self.deadline

    def take(self, size: int, url: str) -> None:
        self.received += size
        if self.received > self.max_bytes:
            raise SourceError(
                self.source, f"received more than {self.max_bytes:,} bytes in this collection "
                f"(at {redact(url)})", f"a hostile or broken upstream; if it really is this "
                f"large, raise {env_name(self.source, 'max_bytes')} or [http] max_bytes")


_budgets: dict[str, Budget] = {}


def start_collection(source: str, settings: Settings) -> Budget:
    """A fresh byte and time budget for a source's collection (the loader calls this)."""
    _budgets[source] = Budget(source, settings)
    return _budgets[source]


def budget(source: str, settings: Settings) -> Budget:
    """The source's running budget (a new one when none was started)."""
    return _budgets.get(source) or start_collection(source, settings)


def same_origin(url: str, base: str) -> bool:
    """Whether `url` has the scheme, host and port of `base`."""
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme.lower(), a.hostname, a.port or _PORTS.get(a.scheme.lower())) == \
        (b.scheme.lower(), b.hostname, b.port or _PORTS.get(b.scheme.lower()))


_PORTS = {"http": 80, "https": 443}


class Origin:
    """A source's base location; relative paths are resolved against it, and only links on
    its own scheme, host and port are followed."""

    def __init__(self, source: str, base: str, settings: Settings, session=None) -> None:
        self.source = source
        self.base = base.rstrip("/")
        self.settings = settings
        self.local = local_path(self.base)
        self._session = session
        self.budget = budget(source, settings)
        self.max_response_bytes = int(settings.http_bound(source, "max_response_bytes"))
        self.deadline = settings.http_bound(source, "deadline")

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = make_session(self.settings)
        return self._session

    def url(self, rel: str = "", params: dict | None = None) -> str:
        """The URL of `rel`. An absolute URL (e.g. a next-page link from upstream) is refused
        unless it is on this origin's scheme, host and port: nothing is sent elsewhere."""
        if self.local is not None:
            return (self.local / rel).as_uri() if rel else self.local.as_uri()
        if re.match(r"(?i)^[a-z][a-z0-9+.-]*:|^//", rel):
            if not same_origin(urljoin(self.base + "/", rel), self.base):
                raise self.fail(
                    f"refusing the link {shown(redact(rel))} from upstream: it leaves "
                    f"{redact(self.base)} for another host or scheme, and is not followed",
                    "a hostile or misconfigured upstream; nothing was sent there")
            url = urljoin(self.base + "/", rel)
        else:
            url = urljoin(self.base + "/", rel.lstrip("/"))
        if params:
            parts = urlsplit(url)
            query = "&".join(filter(None, [parts.query, urlencode(params, doseq=True)]))
            url = urlunsplit(parts._replace(query=query))
        return url

    def credentials(self, name: str, scheme: str = "Bearer") -> dict[str, str]:
        """`Authorization` headers with the token in environment variable `name`, or none: a
        token goes only to this origin and only over HTTPS (else a warning says it was not
        sent). Requests add it only on this origin (links elsewhere are refused, and requests
        drops it on a redirect to another host)."""
        token = secret(name)
        if not token or not self.may_send_secret(name):
            return {}
        return {"Authorization": f"{scheme} {token}"}

    def may_send_secret(self, name: str) -> bool:
        """Whether the secret `name` may be sent to this origin: over HTTPS only."""
        if urlsplit(self.base).scheme.lower() == "https":
            return True
        warn_once(f"{self.source}: {name} is not sent to {redact(self.base)}: credentials go "
                  "only over HTTPS to their origin")
        return False

    def fail(self, message: str, hint: str = "") -> SourceError:
        return SourceError(self.source, redact(message), hint)

    def _hint(self) -> str:
        return f"check the network or point {env_name(self.source)} at a reachable copy"

    def _local_file(self, rel: str) -> Path:
        """A file of a local origin; `rel` may not lead outside the folder."""
        root = self.local.resolve()
        path = (root / rel).resolve() if rel else root
        if path != root and root not in path.parents:
            raise self.fail(f"refusing {shown(rel)}: it leads outside {root}",
                            "a hostile or broken listing; nothing was read")
        if not path.is_file():
            raise self.fail(f"file not found: {self.local / rel}",
                            "check the configured local directory")
        return path

    def get(self, rel: str = "", params: dict | None = None, headers: dict | None = None,
            max_bytes: int | None = None) -> Fetched:
        """Fetch a whole resource into memory, at most `max_bytes` (default: the source's
        `max_response_bytes`); raises SourceError on any transport, HTTP or bound failure."""
        cap = min(max_bytes or self.max_response_bytes, self.max_response_bytes)
        if self.local is not None:
            path = self._local_file(rel)
            size = path.stat().st_size
            if size > cap:
                raise self._too_large(path.as_uri(), f"{size:,} bytes", cap,
                                      "max_response_bytes")
            return Fetched(path.as_uri(), path.read_bytes(), {})
        url = self.url(rel, params)
        chunks: list[bytes] = []
        with self._watch(url), self._request(url, headers, stream=True) as response:
            self._receive(url, response, chunks.append, cap, "max_response_bytes")
            return Fetched(response.url, b"".join(chunks), dict(response.headers),
                           response.status_code)

    def get_json(self, rel: str = "", params: dict | None = None) -> tuple[Any, Fetched]:
        fetched = self.get(rel, params)
        return self.parse_json(fetched), fetched

    def parse_json(self, fetched: Fetched) -> Any:
        try:
            return json.loads(fetched.content)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise self.fail(
                f"malformed JSON from {fetched.url}: {_first_line(exc)[:200]}",
                "the upstream sent a broken or truncated payload; retry later",
            ) from None

    def post(self, rel: str, body: Any = None, headers: dict | None = None, *,
             data: bytes | None = None, params: dict | None = None) -> Fetched:
        """POST a JSON `body`, or raw `data` (e.g. an SQL query to ClickHouse's HTTP interface),
        and read the answer with the same bounds as `get`; the answer's status is returned,
        not raised (POSTs are not retried: a query endpoint's error is its answer)."""
        if self.local is not None:
            raise self.fail(f"cannot send a request to a local folder ({self.local})",
                            f"point {env_name(self.source)} at the endpoint")
        url = self.url(rel, params)
        chunks: list[bytes] = []
        with self._watch(url), self._request(url, headers, body=body, data=data) as response:
            self._receive(url, response, chunks.append, self.max_response_bytes,
                          "max_response_bytes")
            return Fetched(response.url, b"".join(chunks), dict(response.headers),
                           response.status_code)

    def download(self, rel: str, dest: Path, headers: dict | None = None,
                 size: int | None = None) -> Fetched:
        """Stream a large resource to `dest` atomically; `content` of the result is empty.
        With `If-None-Match` in `headers`, a 304 answer writes nothing and returns status 304.
        `size` (from a listing) is enforced: a body longer or shorter than it is refused."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        digest = hashlib.sha256()
        if self.local is not None:
            path = self._local_file(rel)
            found = path.stat().st_size
            self._check_listed(path.as_uri(), found, size)
            self.budget.take(found, path.as_uri())
            shutil.copyfile(path, tmp)
            tmp.replace(dest)
            return Fetched(path.as_uri(), b"", {"x-sha256": file_sha256(dest)})
        url = self.url(rel)

        def write(chunk: bytes) -> None:
            out.write(chunk)
            digest.update(chunk)

        try:
            with self._watch(url), self._request(url, headers, stream=True) as response:
                if response.status_code == 304:
                    return Fetched(url, b"", dict(response.headers), 304)
                with tmp.open("wb") as out:
                    got = self._receive(url, response, write, self.budget.max_bytes,
                                        "max_bytes", size)
                result_headers = dict(response.headers)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(dest)
        return Fetched(url, b"", result_headers | {"x-sha256": digest.hexdigest(),
                                                   "x-size": str(got)})

    def head_metadata(self, rel: str, headers: dict | None = None) -> FileMetadata:
        """A Hub file's metadata from `HEAD` on its resolve URL, redirects not followed except
        to the same origin (a renamed repository): credentials never leave the origin."""
        if self.local is not None:
            path = self._local_file(rel)
            return FileMetadata(path.as_uri(), path.as_uri(), None, None, path.stat().st_size)
        url = asked = self.url(rel)
        for _ in range(MAX_HUB_REDIRECTS):
            with self._watch(url), self._request(url, headers, method="HEAD") as response:
                answer = {k.lower(): v for k, v in response.headers.items()}
                moved = response.is_redirect and bool(answer.get("location"))
            target = urljoin(url, answer["location"]) if moved else None
            if target is None or not same_origin(target, url):
                break
            url = target
        else:
            raise self.fail(f"more than {MAX_HUB_REDIRECTS} redirects resolving {asked}")
        size = answer.get("x-linked-size") or (None if target else answer.get("content-length"))
        commit = answer.get("x-repo-commit") or ""
        etag = normalize_etag(answer.get("x-linked-etag") or answer.get("etag")) or ""
        return FileMetadata(  # upstream text: kept only in the shapes the Hub sends
            asked, target or url, commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None,
            etag if re.fullmatch(r"[0-9A-Za-z._:+/=-]{1,128}", etag) else None,
            int(size) if size and size.strip().isdigit() else None)

    def download_resolved(self, rel: str, dest: Path, headers: dict | None = None,
                          size: int | None = None) -> tuple[FileMetadata, Fetched]:
        """A Hub file: its metadata from the resolve URL's redirect (`head_metadata`), then its
        bytes from where the redirect points, never with credentials off the origin, checked
        against the size the Hub states (and `size`, a listing's, when given)."""
        meta = self.head_metadata(rel, headers)
        if size is not None and meta.size is not None and size != meta.size:
            raise self.fail(f"refusing {meta.url}: the Hub states {meta.size:,} bytes where the "
                            f"listing says {size:,}", "the upstream's listing and file "
                            "disagree; retry later")
        listed = meta.size if meta.size is not None else size
        if self.local is not None:
            return meta, self.download(rel, dest, size=listed)
        if same_origin(meta.location, self.base):
            return meta, self.download(meta.location, dest, headers, size=listed)
        return meta, self._storage(meta).download(meta.location, dest, size=listed)

    def _storage(self, meta: FileMetadata) -> Origin:
        """The storage host a Hub redirect points to, as an origin of its own: no credentials,
        the same source's byte and time budget, never a downgrade from HTTPS to HTTP."""
        parts = urlsplit(meta.location)
        if parts.scheme.lower() not in ("http", "https") or (
                urlsplit(self.base).scheme.lower() == "https" and parts.scheme.lower() != "https"):
            raise self.fail(f"refusing the redirect of {meta.url} to {shown(meta.location)}: "
                            f"not {urlsplit(self.base).scheme}", "a hostile or broken upstream; "
                            "nothing was downloaded")
        return Origin(self.source, f"{parts.scheme}://{parts.netloc}", self.settings,
                      session=self.session)

    # -- bounds -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _watch(self, url: str) -> Iterator[Watch]:
        """The request's deadline: its own, or the source's if that comes first. A request
        still running then is cut off and fails with one line naming the setting."""
        own = time.monotonic() + self.deadline
        at = min(own, self.budget.ends_at)
        which = (f"the {self.deadline:g} s deadline per request "
                 f"({env_name(self.source, 'deadline')} or [http] deadline)" if own <= at else
                 f"the source's {self.budget.deadline:g} s deadline "
                 f"({env_name(self.source, 'source_deadline')} or [http] source_deadline)")
        watch = Watch(at)
        try:
            with watch:
                yield watch
        except (SourceError, DeadlinePassed, requests.exceptions.RequestException, OSError):
            if watch.expired:
                raise self.fail(f"gave up on {url}: it took longer than {which}",
                                "a hanging or dripping upstream; retry later") from None
            raise
        if watch.expired:  # a body that ended when the socket was shut looks complete: it is not
            raise self.fail(f"gave up on {url}: it took longer than {which}",
                            "a hanging or dripping upstream; retry later")

    def _too_large(self, url: str, what: str, cap: int, key: str) -> SourceError:
        return self.fail(
            f"refusing {url}: {what + ', ' if what else ''}over the {cap:,}-byte cap",
            f"a hostile or broken upstream; if it really is this large, raise "
            f"{env_name(self.source, key)} or [http] {key}")

    def _check_listed(self, url: str, size: int, listed: int | None) -> None:
        if listed is not None and size != listed:
            raise self.fail(f"refusing {url}: {size:,} bytes where the listing says "
                            f"{listed:,}", "the upstream's listing and file disagree; retry "
                            "later")

    def _receive(self, url: str, response: requests.Response, write: Callable[[bytes], Any],
                 cap: int, key: str, listed: int | None = None) -> int:
        """Stream the body into `write`, counted after decompression: at most `cap` bytes
        (setting `key`), the source's budget, and exactly `listed` bytes when given."""
        declared = _declared_length(response)
        if declared is not None and listed is not None and declared != listed:
            self._check_listed(url, declared, listed)
        if declared is not None and declared > cap:
            raise self._too_large(url, f"Content-Length {declared:,}", cap, key)
        size = 0
        try:
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > cap:
                    raise self._too_large(url, "", cap, key)
                if listed is not None and size > listed:
                    raise self.fail(f"refusing {url}: more than the {listed:,} bytes listed",
                                    "the upstream's listing and file disagree; retry later")
                self.budget.take(len(chunk), url)
                write(chunk)
        except (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ConnectionError) as exc:
            raise self.fail(f"truncated response from {url}: {_reason(exc)}",
                            "the connection closed early; retry later") from None
        self._check_length(url, response, size)
        if listed is not None and size != listed:
            self._check_listed(url, size, listed)
        self.session.stats.bytes += size  # type: ignore[attr-defined]
        return size

    def _check_length(self, url: str, response: requests.Response, size: int) -> None:
        expected = _declared_length(response)
        if expected is not None and expected != size:
            raise self.fail(f"truncated response from {url}: got {size} of {expected} bytes")

    def _request(self, url: str, headers: dict | None, stream: bool = False,
                 body: Any = None, data: bytes | None = None,
                 method: str = "GET") -> requests.Response:
        """One request with the session's retries (a POST when `body` or `data` is given);
        HEAD does not follow redirects (`head_metadata` reads the redirect itself)."""
        timeout = self.settings.http_timeout
        if headers and any(k.lower() == "authorization" for k in headers) and not (
                urlsplit(url).scheme.lower() == "https" and same_origin(url, self.base)):
            raise self.fail(f"refusing to send credentials to {url}: only to "
                            f"{redact(self.base)} over HTTPS")
        try:
            posting = body is not None or data is not None
            if not posting:
                response = self.session.request(method, url, headers=headers, timeout=timeout,
                                                stream=stream, allow_redirects=method != "HEAD")
            else:
                response = self.session.post(url, json=body, data=data, headers=headers,
                                             timeout=timeout, stream=True)
        except DeadlinePassed:
            raise
        except requests.exceptions.RetryError as exc:
            raise self.fail(
                f"gave up on {url} after {self.settings.http_retries} retries: {_reason(exc)}",
                "the upstream is failing or rate-limiting; retry later",
            ) from None
        except RetryAfterTooLong as exc:
            again = (datetime.now(UTC) + timedelta(seconds=exc.seconds)).strftime("%H:%M")
            raise self.fail(
                f"rate-limited by {url}: Retry-After {exc.seconds:g}s is longer than the "
                f"{self.settings.retry_after_max:g}s we wait", f"re-run after {again} UTC",
            ) from None
        except requests.exceptions.Timeout:
            message = f"timed out after {timeout:g}s waiting for {url}"
            raise Unreachable(self.source, redact(message), self._hint()) from None
        except requests.exceptions.ConnectionError as exc:
            message = f"cannot connect to {url}: {_reason(exc)}"
            raise Unreachable(self.source, redact(message), self._hint()) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            raise self.fail(f"truncated response from {url}: {_reason(exc)}",
                            "the connection closed early; retry later") from None
        except requests.exceptions.RequestException as exc:
            raise self.fail(f"request to {url} failed: {_reason(exc)}") from None
        if response.status_code >= 400 and not posting:
            said = _error_body(response)
            raise HttpStatusError(
                self.source,
                redact(f"HTTP {response.status_code} {shown(response.reason, 60)} from {url}"),
                "the upstream refused the request; check the URL or retry later",
                response.status_code, (response.headers.get("X-Error-Code") or "")[:40] or None,
                dict(response.headers), said)
        return response


def _error_body(response: requests.Response) -> bytes:
    """At most ERROR_BODY_BYTES of an error answer (decompressed), then the connection
    closes; nothing when it cannot be read."""
    try:
        return response.raw.read(ERROR_BODY_BYTES, decode_content=True) or b""
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError,
            ValueError):
        return b""
    finally:
        response.close()


def _declared_length(response: requests.Response) -> int | None:
    """The body's Content-Length when it counts the bytes we receive (no content coding)."""
    expected = response.headers.get("Content-Length", "")
    if response.headers.get("Content-Encoding") or not expected.strip().isdigit():
        return None
    return int(expected)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (raw payloads can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _reason(exc: BaseException) -> str:
    """The innermost useful cause of a requests/urllib3 error, on one line."""
    text = _first_line(exc)
    for pattern, label in (
        (r"Connection refused", "connection refused"),
        (r"Name or service not known|nodename nor servname|Failed to resolve|getaddrinfo",
         "DNS lookup failed"),
        (r"Network is unreachable", "network unreachable"),
        (r"too many (\d{3}) error responses", r"HTTP \1 on every attempt"),
        (r"Read timed out", "read timed out"),
        (r"IncompleteRead\((\d+) bytes read, (\d+) more expected",
         r"\1 bytes read, \2 more expected"),
        (r"RemoteDisconnected|Connection aborted|reset by peer", "connection dropped"),
    ):
        match = re.search(pattern, text)
        if match:
            return match.expand(label)
    return text[:200]
