"""Assertions shared by the fault suite: the message, and that nothing good was lost."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from pipeline.config import Settings
from pipeline.store import connect


def current_state(db_path: Path, source: str) -> tuple | None:
    """(snapshot id, row count, sha256, rows actually stored) of the source's current snapshot."""
    con = connect(db_path, read_only=True)
    try:
        row = con.execute(
            "SELECT snapshot_id, row_count, sha256 FROM snapshots "
            "WHERE snapshot_id = current_snapshot(?)", [source]).fetchone()
        return row
    finally:
        con.close()


def orphan_rows(db_path: Path, table: str) -> int:
    """Rows whose snapshot did not finish ok: must always be zero."""
    con = connect(db_path, read_only=True)
    try:
        return con.execute(
            f"SELECT count(*) FROM {table} t LEFT JOIN snapshots s USING (snapshot_id) "
            "WHERE s.status IS DISTINCT FROM 'ok'").fetchone()[0]
    finally:
        con.close()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_one_line_error(stderr: str, source: str, *needles: str) -> str:
    lines = error_lines(stderr)
    assert len(lines) == 1, f"expected one error line, got: {stderr!r}"
    assert "Traceback" not in stderr
    line = lines[0]
    assert line.startswith(f"error: {source}: "), line
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} not in {line!r}"
    return line


def assert_kept(settings: Settings, source: str, good: tuple | None) -> None:
    """The previous good snapshot is still current and unchanged, no rows of an unfinished
    snapshot are visible in any of the source's tables, and no staged raw payload is left."""
    from pipeline.sources import all_sources

    assert current_state(settings.db_path, source) == good
    for table in all_sources()[source].tables:
        assert orphan_rows(settings.db_path, table) == 0, table
    raw = settings.raw_dir / source
    if raw.is_dir():
        assert [p.name for p in raw.iterdir() if p.name.startswith(".staging")] == []


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expect_wait_for_retry_after(cli, server, path_regex: str, source: str) -> None:
    """One 429 with `Retry-After: 1`: the collector waits at least that long, then succeeds."""
    server.fault(path_regex, "429", times=1, retry_after=1)
    started = time.monotonic()
    result = cli("collect", source, "--force")
    assert result.rc == 0, result.err
    assert time.monotonic() - started >= 1.0


def expect_429_forever_fails(cli, settings: Settings, server, path_regex: str, source: str,
                             good: tuple | None) -> None:
    """429 on every attempt: a bounded number of waits, then a one-line error; nothing lost."""
    server.fault(path_regex, "429", times=None, retry_after=1)
    started = time.monotonic()
    result = cli("collect", source)
    assert result.rc == 1
    assert_one_line_error(result.err, source, "429")
    assert time.monotonic() - started < 15
    assert_kept(settings, source, good)


def expect_connection_refused(cli, settings: Settings, monkeypatch, source: str,
                              good: tuple | None, path: str = "") -> None:
    """The upstream's port is closed: a one-line 'connection refused' error; nothing lost."""
    from pipeline.config import env_name

    monkeypatch.setenv(env_name(source), f"http://127.0.0.1:{closed_port()}{path}")
    result = cli("refresh", "--source", source)
    assert result.rc == 1
    assert_one_line_error(result.err, source, "cannot connect", "connection refused")
    assert_kept(settings, source, good)


def expect_drop_held_back(cli, settings: Settings, source: str, good: tuple | None,
                          rows: int) -> None:
    """A new snapshot with under half the rows is stored but not promoted; `--accept-drop`
    promotes the next one. Call after making the upstream shrink to `rows` rows."""
    result = cli("collect", source)
    assert result.rc == 1
    assert_one_line_error(result.err, source, "under half", "--accept-drop")
    assert_kept(settings, source, good)
    assert "held back" in cli("status").out
    result = cli("collect", source, "--accept-drop")
    assert result.rc == 0, result.err
    state = current_state(settings.db_path, source)
    assert state[0] != good[0] and state[1] == rows
