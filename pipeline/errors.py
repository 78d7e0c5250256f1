"""Errors that end a step with a one-line, actionable message instead of a traceback."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: `str(err)` is the one line shown to the user."""


class ConfigError(PipelineError):
    """A setting (config file or environment) is malformed: exit status 2, like usage errors."""


class SourceError(PipelineError):
    """A source could not be collected: names the source, the cause and what to do."""

    def __init__(self, source: str, message: str, hint: str = "") -> None:
        self.source = source
        self.message = message
        self.hint = hint
        text = f"{source}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class Unreachable(SourceError):
    """No answer from the upstream at all (DNS, refused, dropped, timed out): another request
    to the same host would fail the same way."""


class HttpStatusError(SourceError):
    """The upstream answered with an HTTP error status: `status` and the Hub's `X-Error-Code`
    (e.g. RepoNotFound, EntryNotFound) say which, so a caller can tell "gone" from "failing";
    `headers` and the start of what the upstream said (`body`, at most http.ERROR_BODY_BYTES)
    let a source that knows its upstream's error shape say more than the status (npm's
    `{"error": "package x not found"}`)."""

    def __init__(self, source: str, message: str, hint: str = "", status: int = 0,
                 error_code: str | None = None, headers: dict[str, str] | None = None,
                 body: bytes = b"") -> None:
        super().__init__(source, message, hint)
        self.status = status
        self.error_code = error_code
        self.headers = headers or {}
        self.body = body

    @property
    def gone(self) -> bool:
        """The resource does not exist (any more): a 404, or the Hub's 401 that answers an
        anonymous request for a missing repository (X-Error-Code RepoNotFound)."""
        return self.status == 404 or self.error_code in ("RepoNotFound", "EntryNotFound",
                                                          "RevisionNotFound")


class SuspiciousDrop(SourceError):
    """A new snapshot has far fewer rows than the current one: stored, but not promoted."""


class DatabaseBusy(PipelineError):
    """Another pipeline process holds the database."""


class DatabaseCorrupt(PipelineError):
    """The DuckDB file cannot be opened."""


class Unchanged(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by a collector that knows the upstream has not changed since the current
    snapshot: no new snapshot is made. The message says why (e.g. the pinned commit)."""
