"""Loading: run one source's generator into DuckDB as one snapshot, all or nothing.

The snapshot row is written as `running` before anything is fetched, so a killed process
leaves a trace (`store.recover_interrupted` marks it failed on the next open). All rows and
the final `ok` status are committed in one transaction; raw payloads are staged and only
moved into `data/raw/<source>/<date>/` when that commit succeeded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa

from pipeline.config import Settings
from pipeline.errors import SourceError, SuspiciousDrop, Unchanged
from pipeline.http import Origin, redact
from pipeline.store import current_snapshot_id, utcnow

if TYPE_CHECKING:
    from pipeline.sources import Source

log = logging.getLogger("pipeline")
DROP_THRESHOLD = 0.5


@dataclass
class RawFile:
    path: str
    url: str
    sha256: str
    bytes: int


@dataclass
class CollectContext:
    """What a collector gets: where to fetch from, where to keep raw payloads, and state."""

    source: Source
    settings: Settings
    con: duckdb.DuckDBPyConnection
    snapshot_id: int
    origin: Origin
    options: dict[str, Any]
    staging_dir: Path
    previous_snapshot_id: int | None
    parameters: dict[str, Any] = field(default_factory=dict)
    raw_files: list[RawFile] = field(default_factory=list)
    partial: bool = False

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"pipeline.{self.source.name}")

    @property
    def show_progress(self) -> bool:
        return sys.stderr.isatty() and not os.environ.get("CI")

    def fail(self, message: str, hint: str = "") -> SourceError:
        return SourceError(self.source.name, redact(message), hint)

    def save_raw(self, rel: str, content: bytes, url: str) -> str:
        """Keep a payload under the snapshot's raw folder (same relative path as upstream)."""
        path = self.raw_path(rel)
        path.write_bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        self.raw_files.append(RawFile(rel, redact(url), sha, len(content)))
        return sha

    def raw_path(self, rel: str) -> Path:
        """A path inside the staging folder to stream a large payload into."""
        path = self.staging_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def record_raw(self, rel: str, url: str, sha256: str, size: int) -> None:
        self.raw_files.append(RawFile(rel, redact(url), sha256, size))

    def record_file(self, rel: str, path: Path, url: str) -> str:
        """Record a payload already written to `path` (hashing it); returns its sha256."""
        sha = file_sha256(path)
        self.record_raw(rel, url, sha, path.stat().st_size)
        return sha

    def manifest_sha256(self) -> str:
        lines = sorted(f"{f.path} {f.sha256}" for f in self.raw_files)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (raw payloads can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _as_arrow(batch: Any) -> pa.Table:
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, pa.RecordBatch):
        return pa.Table.from_batches([batch])
    if isinstance(batch, pd.DataFrame):
        return pa.Table.from_pandas(batch, preserve_index=False)
    return pa.Table.from_pylist(list(batch))


def insert_batch(con: duckdb.DuckDBPyConnection, table: str, snapshot_id: int, batch: Any) -> int:
    data = _as_arrow(batch)
    if data.num_rows == 0:
        return 0
    con.register("_batch", data)
    try:
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT {int(snapshot_id)} AS snapshot_id, * FROM _batch"
        )
    finally:
        con.unregister("_batch")
    return data.num_rows


def _start_snapshot(con: duckdb.DuckDBPyConnection, source: Source, origin: Origin,
                    options: dict[str, Any]) -> int:
    return con.execute(
        "INSERT INTO snapshots (source, started_at, status, origin_url, parameters, licence) "
        "VALUES (?, ?, 'running', ?, ?, ?) RETURNING snapshot_id",
        [source.name, utcnow(), redact(origin.base), json.dumps(options, default=str),
         source.licence],
    ).fetchone()[0]


def _fail_snapshot(con: duckdb.DuckDBPyConnection, snapshot_id: int, error: str) -> None:
    con.execute(
        "UPDATE snapshots SET status = 'failed', finished_at = ?, error = ? WHERE snapshot_id = ?",
        [utcnow(), redact(error), snapshot_id],
    )


def _previous_rows(con: duckdb.DuckDBPyConnection, previous: int | None) -> int | None:
    if previous is None:
        return None
    return con.execute(
        "SELECT row_count FROM snapshots WHERE snapshot_id = ?", [previous]
    ).fetchone()[0]


def run_source(con: duckdb.DuckDBPyConnection, source: Source, settings: Settings,
               options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Collect one source into a new snapshot. Raises SourceError; never leaves partial rows."""
    options = {k: v for k, v in (options or {}).items() if v not in (None, False)}
    for ddl in source.tables.values():
        con.execute(ddl)
    origin = Origin(source.name, settings.source_url(source.name, source.default_url), settings)
    previous = current_snapshot_id(con, source.name)
    snapshot_id = _start_snapshot(con, source, origin, options)
    day = utcnow().strftime("%Y-%m-%d")
    final_dir = settings.raw_dir / source.name / day
    staging = settings.raw_dir / source.name / f".staging-{snapshot_id}"
    for stale in staging.parent.glob(".staging-*"):  # left by a killed run; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    staging.mkdir(parents=True)
    ctx = CollectContext(source, settings, con, snapshot_id, origin, options, staging, previous)
    counts: dict[str, int] = dict.fromkeys(source.tables, 0)
    con.execute("BEGIN TRANSACTION")
    try:
        for table, batch in source.collect(ctx):
            if table not in source.tables:
                raise ctx.fail(f"collector produced rows for undeclared table {table}")
            counts[table] += insert_batch(con, table, snapshot_id, batch)
        rows = counts[source.primary_table]
        if rows < max(source.min_rows, 1):
            raise ctx.fail(
                f"refusing a suspicious result: {rows} rows in {source.primary_table} "
                f"(expected at least {max(source.min_rows, 1)})",
                "the upstream returned no data; the previous snapshot stays current",
            )
        prev_rows = _previous_rows(con, previous)
        drop = (
            not ctx.partial
            and prev_rows
            and rows < DROP_THRESHOLD * prev_rows
            and not options.get("accept_drop")
        )
        con.execute(
            "UPDATE snapshots SET status = 'ok', finished_at = ?, row_count = ?, sha256 = ?, "
            "origin_url = ?, parameters = ?, partial = ?, promoted = ?, raw_dir = ? "
            "WHERE snapshot_id = ?",
            [utcnow(), rows, ctx.manifest_sha256(), redact(ctx.origin.base),
             json.dumps(options | ctx.parameters | {"rows_by_table": counts}, default=str),
             ctx.partial, not drop, str(final_dir), snapshot_id],
        )
        con.execute("COMMIT")
    except Unchanged as exc:
        con.execute("ROLLBACK")
        shutil.rmtree(staging, ignore_errors=True)
        con.execute("DELETE FROM snapshots WHERE snapshot_id = ?", [snapshot_id])
        return {"snapshot_id": previous, "rows": _previous_rows(con, previous), "partial": False,
                "unchanged": str(exc)}
    except BaseException as exc:
        con.execute("ROLLBACK")
        shutil.rmtree(staging, ignore_errors=True)
        message = _one_line(exc, source.name)
        _fail_snapshot(con, snapshot_id, message)
        if isinstance(exc, SourceError):
            raise
        if isinstance(exc, Exception):
            raise SourceError(source.name, message) from exc
        raise
    _publish_raw(ctx, staging, final_dir, day)
    result = {"snapshot_id": snapshot_id, "rows": rows, "partial": ctx.partial}
    if drop:
        raise SuspiciousDrop(
            source.name,
            f"snapshot {snapshot_id} has {rows} rows, under half of the current {prev_rows}; "
            "stored but not promoted",
            "check the upstream, then re-run with --accept-drop if the drop is real",
        )
    return result


def _one_line(exc: BaseException, source: str) -> str:
    if isinstance(exc, SourceError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted by the user; nothing was kept"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"unexpected {type(exc).__name__}: {text}"[:300])


def _publish_raw(ctx: CollectContext, staging: Path, final_dir: Path, day: str) -> None:
    """Move staged payloads into place with a provenance sidecar; replaces the same day's."""
    sidecar = {
        "source": ctx.source.name,
        "snapshot_id": ctx.snapshot_id,
        "origin": redact(ctx.origin.base),
        "accessed_at": utcnow().isoformat(timespec="seconds") + "Z",
        "licence": ctx.source.licence,
        "sha256": ctx.manifest_sha256(),
        "files": [vars(f) for f in ctx.raw_files],
    }
    (staging / "_snapshot.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    old = final_dir.with_name(f".old-{day}-{ctx.snapshot_id}")
    if final_dir.exists():
        final_dir.rename(old)
    staging.rename(final_dir)
    shutil.rmtree(old, ignore_errors=True)
