"""The DuckDB store: opening it safely, the `snapshots` ledger, and the current-snapshot rule.

Every collection attempt is one row in `snapshots`. A source's rows carry their snapshot id.
The snapshot analyses use for a source ("current") is its newest attempt that finished `ok`,
is complete (not a `--limit` run) and was promoted (not held back as a suspicious drop).
Older snapshots stay as history.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import DatabaseBusy, DatabaseCorrupt, PipelineError

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS snapshot_ids START 1;
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id BIGINT PRIMARY KEY DEFAULT nextval('snapshot_ids'),
    source      VARCHAR NOT NULL,
    started_at  TIMESTAMP NOT NULL,   -- UTC
    finished_at TIMESTAMP,            -- UTC
    status      VARCHAR NOT NULL,     -- running | ok | failed | unchanged (nothing stored)
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
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS note VARCHAR;  -- e.g. why it was unchanged
-- the moment the data describes, when the source knows it (an archived listing); else NULL
-- and the snapshot describes the time it was collected (finished_at)
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS data_as_of TIMESTAMP;
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


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    """The first row of a query, read fully: no result is left open on the connection (an open
    result makes a later `register` or `execute` on the same connection fail)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else (None,)


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple | None:
    """The first row of a query, or None; the result is read fully (see `fetch_one`)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


class DatabaseUnwritable(PipelineError):
    """The database (or its lock file) is on a location this process cannot write."""


def unwritable(path: Path, exc: OSError | str) -> DatabaseUnwritable:
    reason = exc if isinstance(exc, str) else (exc.strerror or str(exc))
    return DatabaseUnwritable(
        f"cannot write to {path} ({reason}); point ADOPTION_DB (or ADOPTION_DATA_DIR) at a "
        "writable location, or fix the folder's permissions")


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def status_cache_path(db_path: Path) -> Path:
    """Where the writer leaves a copy of `source_status` for `status` during a refresh."""
    return db_path.with_name(db_path.name + ".status.json")


class WriteLock:
    """The held write lock; its file also tells `status` who holds it and what it is doing."""

    def __init__(self, fh: Any, info: dict[str, Any]) -> None:
        self._fh = fh
        self.info = info

    def note(self, **fields: Any) -> None:
        """Record the current step (e.g. the source being collected) in the lock file."""
        self.info.update(fields)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(self.info, default=str))
        self._fh.flush()


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
    except ValueError:
        return text.strip() or "another process"
    return f"pid {info.get('pid', '?')} ({info.get('command', 'a command')} since " \
           f"{info.get('started_at', '?')})"


@contextmanager
def exclusive_lock(db_path: Path, command: str = "refresh") -> Iterator[WriteLock]:
    """Hold the write lock for the whole command; a second writer gets DatabaseBusy at once."""
    path = lock_path(db_path)
    try:
        if db_path.is_dir():
            raise DatabaseCorrupt(not_a_file(db_path))
        db_path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a+")
    except OSError as exc:
        raise unwritable(Path(exc.filename or path), exc) from None
    try:
        for attempt in range(5):  # a `status` peeking at the lock holds it for microseconds
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 4:
                    fh.seek(0)
                    raise DatabaseBusy(
                        f"database {db_path} is in use by {_holder(fh.read())}; "
                        "wait for that refresh to finish, then run the command again") from None
                time.sleep(0.05)
        lock = WriteLock(fh, {"pid": os.getpid(), "command": command,
                              "started_at": utcnow().isoformat(timespec="seconds") + "Z"})
        try:
            lock.note()
        except OSError as exc:
            raise unwritable(path, exc) from None
        yield lock
    finally:
        fh.close()


def running_command(db_path: Path) -> dict[str, Any] | None:
    """What holds the write lock (pid, command, start, current step), or None if nothing does.

    Peeks without waiting and without opening the database, so it never blocks a writer."""
    try:
        fh = lock_path(db_path).open("r")
    except OSError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = fh.read()
            try:
                return json.loads(text)
            except ValueError:
                return {"pid": text.strip() or "?"}
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def write_status_cache(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    """Leave a copy of `source_status` beside the database for `status` during a refresh."""
    path = status_cache_path(db_path)
    tmp = path.with_name(path.name + ".tmp")
    payload = {"written_at": utcnow().isoformat(timespec="seconds"),
               "sources": source_status(con)}
    try:
        tmp.write_text(json.dumps(payload, default=str, indent=1))
        tmp.replace(path)
    except OSError:
        pass  # only a convenience for `status`; the database is the record


def read_status_cache(db_path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(status_cache_path(db_path).read_text())
    except (OSError, ValueError):
        return None


def stored_raw_dir(raw_root: Path, folder: Path) -> str:
    """How the ledger records a snapshot's raw folder: relative to the raw root
    (`<source>/<date>-<id>`), so a copied, moved or restored data folder finds its own
    payloads; absolute only for a folder outside the root."""
    try:
        return folder.relative_to(raw_root).as_posix()
    except ValueError:
        return str(folder)


def raw_folder_path(raw_root: Path, stored: str) -> Path:
    """The folder a ledger `raw_dir` names (see stored_raw_dir; an absolute one as it is)."""
    return raw_root / stored


def connect(db_path: Path, read_only: bool = False,
            raw_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the store, turning lock conflicts and corruption into one-line errors. A writer
    first cleans up after killed loads (`recover_interrupted`; `raw_dir` is the raw root their
    placed folders are removed from, by default `raw/` beside the database)."""
    if db_path.is_dir():
        raise DatabaseCorrupt(not_a_file(db_path))
    if read_only and not db_path.exists():
        raise DatabaseCorrupt(
            f"no database at {db_path} yet: run `make refresh` (or `python -m pipeline refresh`)"
        )
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(db_path.parent, exc) from None
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise DatabaseBusy(
                f"database {db_path} is in use by another process; "
                "wait for it to finish, then run the command again"
            ) from None
        if "read-only file system" in text.lower() or "permission denied" in text.lower():
            raise unwritable(db_path, os.strerror(errno.EROFS if "read-only" in text.lower()
                                                  else errno.EACCES)) from None
        raise corrupt_error(db_path, text) from None
    except duckdb.Error as exc:
        raise corrupt_error(db_path, str(exc)) from None
    try:
        if not read_only:
            con.execute(SCHEMA)
            recover_interrupted(con, raw_dir or db_path.parent / "raw")
        if table_exists(con, "snapshots"):  # touch the data so a damaged file fails here
            con.execute("SELECT count(*), max(sha256) FROM snapshots").fetchall()
    except duckdb.Error as exc:
        con.close()
        raise corrupt_error(db_path, str(exc)) from None
    return con


def not_a_file(db_path: Path) -> str:
    return (f"ADOPTION_DB points at the folder {db_path}, not a database file; set it to a file "
            f"path such as {db_path / 'adoption.duckdb'}")


def corrupt_error(db_path: Path, detail: str) -> DatabaseCorrupt:
    """A damaged database: move aside only the database file (and its WAL), never a folder."""
    if db_path.is_dir():
        return DatabaseCorrupt(not_a_file(db_path))
    first = detail.strip().splitlines()[0][:160] if detail.strip() else "unreadable"
    wal = db_path.with_name(db_path.name + ".wal")
    move = f"mv {db_path} {db_path}.broken"
    if wal.exists():
        move += f" && mv {wal} {wal}.broken"
    return DatabaseCorrupt(
        f"database {db_path} cannot be opened ({first}); move it aside ({move}) and run "
        "`make refresh` to rebuild it (raw payloads under data/raw/ can be reloaded by pointing "
        "ADOPTION_<SOURCE>_URL at them)"
    )


def recover_interrupted(con: duckdb.DuckDBPyConnection, raw_root: Path) -> None:
    """Attempts left `running` by a killed process (we hold the lock, so they are dead): mark
    them failed and remove the raw folder they may have placed before dying (their rows were
    never committed, so the folder belongs to no snapshot), and its staging folder. Only a
    folder inside `raw_root` is removed: never one of another checkout's data."""
    for snapshot_id, source, raw_dir in con.execute(
            "SELECT snapshot_id, source, raw_dir FROM snapshots WHERE status = 'running'"
    ).fetchall():
        folders = [raw_root / source / f".staging-{snapshot_id}"]
        folders += [raw_folder_path(raw_root, raw_dir)] if raw_dir else []
        for folder in folders:
            if folder.resolve().is_relative_to(raw_root.resolve()):
                shutil.rmtree(folder, ignore_errors=True)
    con.execute(
        "UPDATE snapshots SET status = 'failed', finished_at = ?, raw_dir = NULL, "
        "error = 'interrupted: the process ended before the load finished; nothing was kept' "
        "WHERE status = 'running'",
        [utcnow()],
    )


def current_snapshot_id(con: duckdb.DuckDBPyConnection, source: str) -> int | None:
    return fetch_one(con, "SELECT current_snapshot(?)", [source])[0]


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(fetch_one(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table])[0])


#: the day a snapshot's data (its raw manifest sha256) was first collected: a re-collection
#: of the same data (--force, or the same payloads in a new snapshot) keeps that day
DATA_DATE_SQL = """(SELECT min(f.finished_at) FROM snapshots f WHERE f.source = {s}.source
                    AND f.sha256 = {s}.sha256 AND f.status IN ('ok', 'pruned'))"""


def source_status(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per source: the current snapshot and the latest attempt (its status, error, times)."""
    cur = con.execute(
        f"""
        WITH latest AS (
            SELECT source, max(snapshot_id) AS last_id FROM snapshots GROUP BY 1
        )
        SELECT l.source,
               c.snapshot_id, c.finished_at, c.row_count, c.origin_url, c.sha256, c.licence,
               c.parameters->>'public_origin' AS public_origin,
               {DATA_DATE_SQL.format(s="c")} AS data_date,
               c.data_as_of,
               a.status AS last_status, a.error AS last_error,
               coalesce(a.finished_at, a.started_at) AS last_attempt,
               a.started_at AS last_started, a.note AS last_note,
               a.promoted AS last_promoted, a.partial AS last_partial
        FROM latest l
        JOIN snapshots a ON a.snapshot_id = l.last_id
        LEFT JOIN snapshots c ON c.snapshot_id = current_snapshot(l.source)
        ORDER BY l.source
        """
    )
    rows = cur.fetchall()
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in rows]
