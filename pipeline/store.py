"""The DuckDB store: opening it safely, the `snapshots` ledger, and the current-snapshot rule.

Every collection attempt is one row in `snapshots`. A source's rows carry their snapshot id.
The snapshot analyses use for a source ("current") is its newest attempt that finished `ok`,
is complete (not a `--limit` run) and was promoted (not held back as a suspicious drop).
Older snapshots stay as history.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.errors import DatabaseBusy, DatabaseCorrupt

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS snapshot_ids START 1;
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id BIGINT PRIMARY KEY DEFAULT nextval('snapshot_ids'),
    source      VARCHAR NOT NULL,
    started_at  TIMESTAMP NOT NULL,   -- UTC
    finished_at TIMESTAMP,            -- UTC
    status      VARCHAR NOT NULL,     -- running | ok | failed
    origin_url  VARCHAR,
    parameters  JSON,
    row_count   BIGINT,
    sha256      VARCHAR,              -- digest of the raw payload manifest
    licence     VARCHAR,
    raw_dir     VARCHAR,
    partial     BOOLEAN NOT NULL DEFAULT false,
    promoted    BOOLEAN NOT NULL DEFAULT false,
    error       VARCHAR
);
CREATE TABLE IF NOT EXISTS step_runs (
    step        VARCHAR PRIMARY KEY,
    inputs      VARCHAR NOT NULL,
    finished_at TIMESTAMP NOT NULL
);
CREATE OR REPLACE MACRO current_snapshot(src) AS (
    SELECT max(snapshot_id) FROM snapshots
    WHERE source = src AND status = 'ok' AND promoted AND NOT partial
);
"""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def exclusive_lock(db_path: Path) -> Iterator[None]:
    """Hold the write lock for the whole command; a second writer gets DatabaseBusy at once."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db_path.with_name(db_path.name + ".lock")
    fh = lock_path.open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise DatabaseBusy(
                f"database {db_path} is in use by {holder}; "
                "wait for that refresh to finish, then run the command again"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield
    finally:
        fh.close()


def connect(db_path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store, turning lock conflicts and corruption into one-line errors."""
    if read_only and not db_path.exists():
        raise DatabaseCorrupt(
            f"no database at {db_path} yet: run `make refresh` (or `python -m pipeline refresh`)"
        )
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise DatabaseBusy(
                f"database {db_path} is in use by another process; "
                "wait for it to finish, then run the command again"
            ) from None
        raise corrupt_error(db_path, text) from None
    except duckdb.Error as exc:
        raise corrupt_error(db_path, str(exc)) from None
    try:
        if not read_only:
            con.execute(SCHEMA)
            recover_interrupted(con)
        if table_exists(con, "snapshots"):  # touch the data so a damaged file fails here
            con.execute("SELECT count(*), max(sha256) FROM snapshots").fetchone()
    except duckdb.Error as exc:
        con.close()
        raise corrupt_error(db_path, str(exc)) from None
    return con


def corrupt_error(db_path: Path, detail: str) -> DatabaseCorrupt:
    first = detail.strip().splitlines()[0][:160] if detail.strip() else "unreadable"
    return DatabaseCorrupt(
        f"database {db_path} cannot be opened ({first}); move it aside "
        f"(mv {db_path} {db_path}.broken) and run `make refresh` to rebuild it "
        "(raw payloads under data/raw/ can be reloaded by pointing ADOPTION_<SOURCE>_URL at them)"
    )


def recover_interrupted(con: duckdb.DuckDBPyConnection) -> None:
    """Attempts left `running` by a killed process: we hold the lock, so they are dead."""
    con.execute(
        "UPDATE snapshots SET status = 'failed', finished_at = ?, "
        "error = 'interrupted: the process ended before the load finished; nothing was kept' "
        "WHERE status = 'running'",
        [utcnow()],
    )


def current_snapshot_id(con: duckdb.DuckDBPyConnection, source: str) -> int | None:
    return con.execute("SELECT current_snapshot(?)", [source]).fetchone()[0]


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()[0]
    )


def source_status(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per source: the current snapshot and, if the latest attempt failed, its error."""
    rows = con.execute(
        """
        WITH latest AS (
            SELECT source, arg_max(snapshot_id, snapshot_id) AS last_id FROM snapshots GROUP BY 1
        )
        SELECT l.source,
               c.snapshot_id, c.finished_at, c.row_count, c.origin_url, c.sha256, c.licence,
               a.status AS last_status, a.error AS last_error, a.finished_at AS last_attempt,
               a.promoted AS last_promoted, a.partial AS last_partial
        FROM latest l
        JOIN snapshots a ON a.snapshot_id = l.last_id
        LEFT JOIN snapshots c ON c.snapshot_id = current_snapshot(l.source)
        ORDER BY l.source
        """
    ).fetchall()
    cols = [d[0] for d in con.description]
    return [dict(zip(cols, row, strict=True)) for row in rows]
