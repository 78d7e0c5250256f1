"""Fault suite for pypi_downloads against the fake ClickHouse SQL endpoint.

Each fault runs after a good snapshot exists and checks: exit status 1, one line naming the
source and the cause (ClickHouse's code and name where the answer carries them), the previous
snapshot still current and unchanged, no rows of the failed attempt visible.
"""

from __future__ import annotations

from datetime import date

import pytest

from pipeline import rules
from pipeline.sources import pypi_downloads
from tests.fakes.clickhouse import synthetic
from tests.faults import helpers
from tests.faults.helpers import current_state

SOURCE = "pypi_downloads"


@pytest.fixture
def server(pypi_server):
    return pypi_server


@pytest.fixture
def good(cli, env, server, monkeypatch):
    """A good snapshot; then a month passes, so the next refresh must really ask again."""
    assert cli("collect", SOURCE).rc == 0
    state = current_state(env.db_path, SOURCE)
    server.load(synthetic(rules.pypi_packages(), date(2027, 1, 1), date(2027, 1, 1)))
    monkeypatch.setattr(pypi_downloads, "today", lambda: date(2027, 1, 5))
    return state


def fails(cli, env, good, *needles: str) -> str:
    return helpers.collect_fails(cli, env, SOURCE, good, *needles)


@pytest.mark.parametrize("name, needles", [
    ("QUOTA_EXCEEDED", ("HTTP 500", "code 201 QUOTA_EXCEEDED", "Quota for user", "re-run")),
    ("MEMORY_LIMIT_EXCEEDED", ("HTTP 500", "code 241", "Memory limit", "limits")),
    ("TOO_MANY_ROWS", ("code 158 TOO_MANY_ROWS", "max_rows_to_read")),
    ("TIMEOUT_EXCEEDED", ("HTTP 408", "code 159 TIMEOUT_EXCEEDED", "retry later")),
])
def test_clickhouse_errors_are_one_line_and_not_retried(cli, env, server, good, name, needles):
    server.error(name)
    before = len(server.requests)
    line = fails(cli, env, good, *needles)
    assert "version" not in line and "Traceback" not in line
    assert len(server.requests) == before + 1  # an SQL error is the answer: not sent again


def test_500_without_clickhouse_text(cli, env, server, good):
    server.fault("/", "500", times=None)
    fails(cli, env, good, "HTTP 500", "refused")


def test_error_after_the_answer_started(cli, env, server, good):
    server.error("MEMORY_LIMIT_EXCEEDED", mid_answer=True)
    fails(cli, env, good, "HTTP 200, error inside the answer", "code 241 MEMORY_LIMIT_EXCEEDED")


def test_fewer_rows_than_asked_for(cli, env, server, good):
    server.max_result_rows = 1  # two months asked: the playground cuts silently ('break')
    fails(cli, env, good, "incomplete answer", "1 rows where the server counted 2", "row limit")
    server.overflow_mode = "throw"
    fails(cli, env, good, "code 396 TOO_MANY_ROWS_OR_BYTES", "Limit for result exceeded")


def test_malformed_answer(cli, env, server, good):
    server.fault("/", "malformed")
    fails(cli, env, good, "malformed answer", "header")


def test_truncated_answer(cli, env, server, good):
    server.fault("/", "truncate")
    fails(cli, env, good, "truncated")


def test_timeout(cli, env, server, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "0.5")
    server.fault("/", "hang", seconds=3)
    fails(cli, env, good, "timed out after 0.5s", "ADOPTION_PYPI_DOWNLOADS_URL")


def test_unknown_table_and_user(cli, env, server, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_PYPI_DOWNLOADS_TABLE", "pypi.no_such_table")
    fails(cli, env, good, "HTTP 404", "code 60 UNKNOWN_TABLE", "[sources.pypi_downloads] table")
    monkeypatch.setenv("ADOPTION_PYPI_DOWNLOADS_TABLE", "pypi.x; DROP TABLE y")
    fails(cli, env, good, "is not a table name")
    monkeypatch.delenv("ADOPTION_PYPI_DOWNLOADS_TABLE")
    monkeypatch.setenv("ADOPTION_PYPI_DOWNLOADS_USER", "nobody")
    fails(cli, env, good, "HTTP 403", "code 516 AUTHENTICATION_FAILED", "user")


def test_connection_refused(cli, env, server, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_PYPI_DOWNLOADS_URL", f"http://127.0.0.1:{helpers.closed_port()}")
    fails(cli, env, good, "cannot connect", "connection refused")


def test_the_good_snapshot_still_refreshes_after_the_faults(cli, env, server, good):
    server.error("QUOTA_EXCEEDED")
    assert cli("collect", SOURCE).rc == 1
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert current_state(env.db_path, SOURCE)[0] != good[0]


@pytest.mark.parametrize("kind", ["endless", "gzip_bomb"])
def test_an_answer_over_the_byte_cap_is_refused(cli, env, server, good, monkeypatch, kind):
    """Hostile endpoint: an endless or decompression-bomb answer stops at the byte cap."""
    monkeypatch.setenv("ADOPTION_HTTP_MAX_RESPONSE_BYTES", str(1 << 20))
    server.fault("/", kind, size=1 << 26)
    fails(cli, env, good, "over the 1,048,576-byte cap")


def test_a_hostile_column_name_is_refused(cli, env, server, good, monkeypatch):
    """The answer's names come from upstream: a header naming a path is not a package."""
    original = server.route

    def renamed(request):
        reply = original(request)
        reply.body = reply.body.replace(b'"torch"', b'"../../etc/x"', 1)
        return reply

    monkeypatch.setattr(server, "route", renamed)
    fails(cli, env, good, "malformed answer", "'../../etc/x' is not a package name")
