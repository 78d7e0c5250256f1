"""The one HTTP layer every source uses: timeouts, bounded retries honouring Retry-After,
a descriptive User-Agent, and the same interface for http(s) URLs, `file://` URLs and local
directories. Every failure becomes a one-line `SourceError` naming the source and the cause.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from pipeline import __version__
from pipeline.config import Settings
from pipeline.errors import HttpStatusError, SourceError, Unreachable

USER_AGENT = (
    f"framework-adoption/{__version__} "
    "(+https://github.com/framework-adoption; reproducing 'PyTorch vs TensorFlow in 2022')"
)
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: headers that carry credentials: sent to the origin's own host only, never to a CDN
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
MAX_HUB_REDIRECTS = 5  # same-host redirects followed to reach a file's metadata (renamed repos)
#: credential-looking query parameters, the signed CDN URLs the Hub redirects to included
#: (`Signature`, `X-Amz-Credential`, `X-Amz-Signature`, `Key-Pair-Id`)
_SECRET_PARAM = re.compile(
    r"(?i)((?:app_)?(?:key|token|secret|password|app_id|signature|credential)[^=&]*=)[^&\s]+")


def redact(text: str) -> str:
    """Blank out credential-looking query values so URLs can be shown and stored safely."""
    return _SECRET_PARAM.sub(r"\1***", text)


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
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def parse_retry_after(self, retry_after: str) -> float:
        seconds = Retry.parse_retry_after(self.new(retry_after_max=sys.maxsize), retry_after)
        if seconds > self.retry_after_max:
            raise RetryAfterTooLong(seconds)
        return seconds


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
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=8)
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


def host_of(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL (default ports made explicit), to compare origins."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


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


@dataclass
class Fetched:
    url: str
    content: bytes
    headers: dict[str, str]
    status: int = 200  # 304 when a conditional download (If-None-Match) found no change


class Origin:
    """A source's base location; relative paths are resolved against it."""

    def __init__(self, source: str, base: str, settings: Settings, session=None) -> None:
        self.source = source
        self.base = base.rstrip("/")
        self.settings = settings
        self.local = local_path(self.base)
        self._session = session

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = make_session(self.settings)
        return self._session

    def url(self, rel: str = "", params: dict | None = None) -> str:
        if self.local is not None:
            return (self.local / rel).as_uri() if rel else self.local.as_uri()
        if rel.startswith(("http://", "https://")):
            url = rel
        else:
            url = urljoin(self.base + "/", rel.lstrip("/"))
        if params:
            parts = urlsplit(url)
            query = "&".join(filter(None, [parts.query, urlencode(params, doseq=True)]))
            url = urlunsplit(parts._replace(query=query))
        return url

    def fail(self, message: str, hint: str = "") -> SourceError:
        return SourceError(self.source, redact(message), hint)

    def _hint(self) -> str:
        from pipeline.config import env_name

        return f"check the network or point {env_name(self.source)} at a reachable copy"

    def get(
        self, rel: str = "", params: dict | None = None, headers: dict | None = None
    ) -> Fetched:
        """Fetch a whole resource; raises SourceError on any transport or HTTP failure."""
        if self.local is not None:
            path = self.local / rel
            if not path.is_file():
                raise self.fail(f"file not found: {path}", "check the configured local directory")
            return Fetched(path.as_uri(), path.read_bytes(), {})
        url = self.url(rel, params)
        try:
            with self._request(url, headers) as response:
                content = response.content
                self._check_length(url, response, len(content))
                self.session.stats.bytes += len(content)  # type: ignore[attr-defined]
                return Fetched(response.url, content, dict(response.headers),
                               response.status_code)
        except requests.exceptions.ChunkedEncodingError as exc:
            raise self.fail(f"truncated response from {url}: {_first_line(exc)}") from None

    def get_json(self, rel: str = "", params: dict | None = None) -> tuple[Any, Fetched]:
        fetched = self.get(rel, params)
        return self.parse_json(fetched), fetched

    def parse_json(self, fetched: Fetched) -> Any:
        try:
            return json.loads(fetched.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self.fail(
                f"malformed JSON from {fetched.url}: {exc}",
                "the upstream sent a broken or truncated payload; retry later",
            ) from None

    def download(self, rel: str, dest: Path, headers: dict | None = None) -> Fetched:
        """Stream a large resource to `dest` atomically; `content` of the result is empty.
        With `If-None-Match` in `headers`, a 304 answer writes nothing and returns status 304."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        digest = hashlib.sha256()
        if self.local is not None:  # copied in chunks: a local dump can be over a GB
            source = self.local / rel
            if not source.is_file():
                raise self.fail(f"file not found: {source}", "check the configured local "
                                "directory")
            with source.open("rb") as src, tmp.open("wb") as out:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    out.write(chunk)
                    digest.update(chunk)
            tmp.replace(dest)
            return Fetched(source.as_uri(), b"", {"x-sha256": digest.hexdigest()})
        url = self.url(rel)
        size = 0
        try:
            with self._request(url, headers, stream=True) as response:
                if response.status_code == 304:
                    return Fetched(url, b"", dict(response.headers), 304)
                with tmp.open("wb") as out:
                    for chunk in response.iter_content(1 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                self._check_length(url, response, size)
                result_headers = dict(response.headers)
        except requests.exceptions.ChunkedEncodingError as exc:
            tmp.unlink(missing_ok=True)
            raise self.fail(f"truncated response from {url}: {_first_line(exc)}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.session.stats.bytes += size  # type: ignore[attr-defined]
        tmp.replace(dest)
        return Fetched(url, b"", result_headers | {"x-sha256": digest.hexdigest()})

    def head_metadata(self, rel: str, headers: dict | None = None) -> FileMetadata:
        """A Hub file's metadata from `HEAD` on its resolve URL, redirects not followed except
        to the same host (a renamed repository); credentials never leave the origin host."""
        if self.local is not None:
            path = self.local / rel
            if not path.is_file():
                raise self.fail(f"file not found: {path}", "check the configured local directory")
            return FileMetadata(path.as_uri(), path.as_uri(), None, None, path.stat().st_size)
        url = asked = self.url(rel)
        for _ in range(MAX_HUB_REDIRECTS):
            with self._request(url, headers, method="HEAD") as response:
                answer = {k.lower(): v for k, v in response.headers.items()}
                moved = response.is_redirect and bool(answer.get("location"))
            target = urljoin(url, answer["location"]) if moved else None
            if target is None or host_of(target) != host_of(url):
                break
            url = target
        else:
            raise self.fail(f"more than {MAX_HUB_REDIRECTS} redirects resolving {asked}")
        size = answer.get("x-linked-size") or (None if target else answer.get("content-length"))
        return FileMetadata(
            asked, target or url, answer.get("x-repo-commit"),
            normalize_etag(answer.get("x-linked-etag") or answer.get("etag")),
            int(size) if size and size.isdigit() else None)

    def download_resolved(self, rel: str, dest: Path,
                          headers: dict | None = None) -> tuple[FileMetadata, Fetched]:
        """A Hub file: its metadata from the resolve URL's redirect (`head_metadata`), then its
        bytes from where the redirect points (credentials dropped off the origin host), checked
        against the size the Hub stated. Streams to `dest` atomically."""
        meta = self.head_metadata(rel, headers)
        fetched = self.download(rel if self.local is not None else meta.location, dest, headers)
        size = dest.stat().st_size
        if meta.size is not None and size != meta.size:
            dest.unlink(missing_ok=True)
            raise self.fail(f"truncated download of {meta.url}: got {size} of the {meta.size} "
                            "bytes the Hub lists", "the transfer was cut short; retry later")
        return meta, fetched

    def _credentials_for(self, url: str, headers: dict | None) -> dict | None:
        """`headers` for a request to `url`: credentials only when `url` is on the origin's
        own host (a redirect target such as the Hub's CDN never gets the token)."""
        if not headers or self.local is not None or host_of(url) == host_of(self.base):
            return headers
        return {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}

    def _check_length(self, url: str, response: requests.Response, size: int) -> None:
        expected = response.headers.get("Content-Length")
        encoded = response.headers.get("Content-Encoding")
        if expected and not encoded and expected.isdigit() and int(expected) != size:
            raise self.fail(f"truncated response from {url}: got {size} of {expected} bytes")

    def _request(self, url: str, headers: dict | None, stream: bool = False,
                 method: str = "GET") -> requests.Response:
        """One request with the session's retries; HEAD does not follow redirects."""
        timeout = self.settings.http_timeout
        try:
            response = self.session.request(
                method, url, headers=self._credentials_for(url, headers), timeout=timeout,
                stream=stream, allow_redirects=method != "HEAD")
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
        if response.status_code >= 400:
            response.close()
            raise HttpStatusError(
                self.source, redact(f"HTTP {response.status_code} {response.reason} from {url}"),
                "the upstream refused the request; check the URL or retry later",
                response.status_code, response.headers.get("X-Error-Code"))
        return response


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
