"""Assertions shared by the fault suite: the message, and that nothing good was lost."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from pipeline.config import Settings
from pipeline.store import connect

#: columns that say where a row is kept, not what it holds: left out of the content digest
BOOKKEEPING = ("snapshot_id", "version_id", "row_hash", "stored_by_snapshot")


def reader_sql(source: str, table: str, snapshot_id: int) -> str:
    """The rows of `table` in snapshot `snapshot_id` as the analyses read them: through the
    `<table>_at(s)` macro for a versioned table (version + membership list), by snapshot id
    for the others."""
    from pipeline.sources import all_sources

    if table in all_sources()[source].versioned:
        return f"SELECT * FROM {table}_at({int(snapshot_id)})"
    return f"SELECT * FROM {table} WHERE snapshot_id = {int(snapshot_id)}"


def stored_rows(con, source: str, table: str, snapshot_id: int) -> tuple[str, int, str]:
    """(table, rows, content digest) of one table of a snapshot, as a reader sees it; the
    digest is order-independent and ignores where rows are kept (snapshot and version ids), so
    the same data re-collected into a newer snapshot has the same digest."""
    sql = reader_sql(source, table, snapshot_id)
    columns = [r[0] for r in con.execute(f"DESCRIBE {sql}").fetchall()
               if r[0] not in BOOKKEEPING]
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows, digest = con.execute(
        f"SELECT count(*), coalesce(sum(hash({quoted})), 0)::VARCHAR FROM ({sql})").fetchall()[0]
    return table, rows, digest


def current_state(db_path: Path, source: str) -> tuple | None:
    """(snapshot id, row count, sha256, stored) of the source's current snapshot, None before
    the first good one. `stored` is what a reader sees: per table of the source, its rows in
    that snapshot read through the same views the analyses use, with a content digest (see
    `stored_rows`). A fault that loses or changes stored rows changes `stored` even when the
    ledger's row count and checksum stay the same."""
    from pipeline.sources import all_sources

    con = connect(db_path, read_only=True)
    try:
        rows = con.execute(
            "SELECT snapshot_id, row_count, sha256 FROM snapshots "
            "WHERE snapshot_id = current_snapshot(?)", [source]).fetchall()
        if not rows:
            return None
        snapshot_id, row_count, sha = rows[0]
        stored = tuple(stored_rows(con, source, table, snapshot_id)
                       for table in all_sources()[source].tables)
        return snapshot_id, row_count, sha, stored
    finally:
        con.close()


def orphan_rows(db_path: Path, table: str) -> int:
    """Rows no good snapshot owns: must always be zero. For a plain table or a membership list,
    rows whose snapshot did not finish ok; for a versioned table, versions that no membership
    list of an ok snapshot names."""
    from pipeline.sources import all_sources

    members = {t: spec.members for s in all_sources().values()
               for t, spec in s.versioned.items()}
    con = connect(db_path, read_only=True)
    try:
        if table in members:
            return con.execute(
                f"SELECT count(*) FROM {table} v WHERE NOT EXISTS (SELECT 1 FROM "
                f"{members[table]} m JOIN snapshots s USING (snapshot_id) "
                "WHERE m.version_id = v.version_id AND s.status = 'ok')").fetchall()[0][0]
        return con.execute(
            f"SELECT count(*) FROM {table} t LEFT JOIN snapshots s USING (snapshot_id) "
            "WHERE s.status IS DISTINCT FROM 'ok'").fetchall()[0][0]
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
    """The previous good snapshot is still current and reads exactly as before (the same rows
    through the analyses' views, not only the same ledger entry), no row of an unfinished
    snapshot is visible in any of the source's tables or membership lists, and no staged raw
    payload is left."""
    from pipeline.sources import all_sources, stored_tables

    assert current_state(settings.db_path, source) == good
    for table in stored_tables(all_sources()[source]):
        assert orphan_rows(settings.db_path, table) == 0, table
    raw = settings.raw_dir / source
    if raw.is_dir():
        assert [p.name for p in raw.iterdir() if p.name.startswith(".staging")] == []


def collect_fails(cli, settings: Settings, source: str, good: tuple | None,
                  *needles: str) -> str:
    """`collect source` exits 1 with one error line holding `needles`, and the previous good
    snapshot stays as it was (`assert_kept`); returns the line."""
    result = cli("collect", source)
    assert result.rc == 1
    line = assert_one_line_error(result.err, source, *needles)
    assert_kept(settings, source, good)
    return line


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expect_wait_for_retry_after(cli, server, path_regex: str, source: str,
                                settings: Settings | None = None,
                                good: tuple | None = None) -> None:
    """One 429 with `Retry-After: 1`: the collector waits at least that long, then succeeds
    (with `settings` and `good`: collecting the same data again)."""
    server.fault(path_regex, "429", times=1, retry_after=1)
    started = time.monotonic()
    result = cli("collect", source, "--force")
    assert result.rc == 0, result.err
    assert time.monotonic() - started >= 1.0
    if settings is not None and good is not None:
        assert_same_data(settings, source, good)


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


def assert_same_data(settings: Settings, source: str, good: tuple, new: bool = True) -> None:
    """A re-collection of unchanged data reads exactly like `good`: the same row count and the
    same rows through the views (the raw checksum may differ: a versioned source keeps only
    what changed as its payload); `new`: in a newer snapshot."""
    state = current_state(settings.db_path, source)
    assert (state[1], state[3]) == (good[1], good[3]), f"now {state}, before {good}"
    if new:
        assert state[0] != good[0], "no new snapshot"
