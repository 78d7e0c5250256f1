"""Fault suite for npm_downloads against the fake npm download counts API.

Each fault runs after a good snapshot exists (and a day later, so the refresh really asks
again) and checks: exit status 1, one line naming the source and the cause, the previous
snapshot still current and unchanged, no rows of the failed attempt visible.
"""

from __future__ import annotations

from datetime import date

import pytest

from pipeline import rules
from pipeline.sources import npm_downloads
from tests.faults import helpers
from tests.faults.helpers import current_state

SOURCE = "npm_downloads"
RANGES = r"^/downloads/range/"


@pytest.fixture
def server(npm_server):
    return npm_server


@pytest.fixture
def good(cli, env, server, monkeypatch):
    """A good snapshot; then a day passes (npm loads it), so the next refresh asks again."""
    assert cli("collect", SOURCE).rc == 0
    for counts in server.packages.values():
        counts[date(2026, 12, 2)] = 700
    monkeypatch.setattr(npm_downloads, "today", lambda: date(2026, 12, 3))
    return current_state(env.db_path, SOURCE)


def fails(cli, env, good, *needles: str) -> str:
    return helpers.collect_fails(cli, env, SOURCE, good, *needles)


def reference_with(tmp_path, monkeypatch, *rows: str) -> None:
    path = tmp_path / "rounds_packages.csv"
    path.write_text(rules.ROUNDS_PACKAGES_FILE.read_text() + "".join(f"{r}\n" for r in rows))
    monkeypatch.setattr(rules, "ROUNDS_PACKAGES_FILE", path)


def test_unknown_scoped_package_404(cli, env, server, good, monkeypatch, tmp_path):
    reference_with(tmp_path, monkeypatch, "@nobody/nothing,npm,neutral,deployment,X,2024-01,")
    fails(cli, env, good, "npm has no package @nobody/nothing", "HTTP 404",
          "package @nobody/nothing not found", "rounds_packages.csv")


def test_unknown_package_in_a_bulk_answer(cli, env, server, good, monkeypatch, tmp_path):
    reference_with(tmp_path, monkeypatch, "no-such-pkg,npm,neutral,deployment,X,2021-06,")
    fails(cli, env, good, "npm has no package no-such-pkg", "null in the bulk answer")


def test_429_forever(cli, env, server, good):
    server.fault(RANGES, "429", times=None, retry_after=0)
    fails(cli, env, good, "429")


def test_500_once_is_retried_then_500_forever_fails(cli, env, server, good):
    server.fault(RANGES, "500", times=1)
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    newer = current_state(env.db_path, SOURCE)
    assert newer != good  # the day added to the current month made a new snapshot
    server.fault(RANGES, "500", times=None)
    fails(cli, env, newer, "HTTP 500")


def test_malformed_answer(cli, env, server, good):
    server.fault(RANGES, "malformed", times=None)
    fails(cli, env, good, "malformed JSON")


def test_answer_for_another_range(cli, env, server, good, monkeypatch):
    original = server._answer
    monkeypatch.setattr(server, "_answer", lambda name, start, end: original(
        name, start, date(2026, 11, 20)))
    fails(cli, env, good, "up to '2026-11-20' instead of 2026-12-02")


def test_connection_refused(cli, env, server, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_NPM_DOWNLOADS_URL", f"http://127.0.0.1:{helpers.closed_port()}")
    fails(cli, env, good, "cannot connect", "connection refused")


def test_a_hostile_name_in_a_bulk_answer_is_refused(cli, env, server, good, monkeypatch):
    """The bulk answer's keys come from upstream: an extra, path-like key is refused."""
    original = server.route

    def extra_key(request):
        reply = original(request)
        if b"react-native-pytorch-core" in reply.body and reply.body.startswith(b'{"'):
            reply.body = b'{"../../x": null, ' + reply.body[1:]
        return reply

    monkeypatch.setattr(server, "route", extra_key)
    fails(cli, env, good, "malformed bulk answer", "../../x")


def test_a_gzip_bomb_answer_is_capped(cli, env, server, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_HTTP_MAX_RESPONSE_BYTES", str(1 << 20))
    server.fault(RANGES, "gzip_bomb", size=1 << 26, times=None)
    fails(cli, env, good, "over the 1,048,576-byte cap")
