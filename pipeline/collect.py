"""The loader: run one source's generator into DuckDB as one snapshot, all or nothing.

The snapshot row is written as `running` (with its raw folder) before anything is fetched, so a
killed process leaves a trace: `store.recover_interrupted` marks it failed and removes its raw
folder on the next open. Rows go in inside one transaction; raw payloads are staged in
`data/raw/<source>/.staging-<id>/` and renamed to the snapshot's own folder
`data/raw/<source>/<date>-<id>/` just before COMMIT, so a committed snapshot always has its
payloads and a failed one never leaves any. A snapshot's folder is never written again.

One generic rule makes refreshes idempotent: a collection whose raw manifest sha256 equals the
current snapshot's stores no new snapshot and reports `unchanged` (sources may also stop
early, before downloading, when they know the upstream did not change).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from pipeline import versioned
from pipeline.config import Settings
from pipeline.errors import SourceError, SuspiciousDrop, Unchanged
from pipeline.http import Origin, redact, start_collection
from pipeline.source import CollectContext, Source
from pipeline.store import current_snapshot_id, fetch_one, utcnow

log = logging.getLogger("pipeline")
DROP_THRESHOLD = 0.5


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
    # through a relation, not con.register(): inside the load's transaction a registered
    # Arrow table stays referenced until COMMIT, so a million-row crawl would hold every batch
    con.from_arrow(data).query(
        "_batch", f"INSERT INTO {table} BY NAME SELECT {int(snapshot_id)} AS snapshot_id, * "
                  "FROM _batch")
    return data.num_rows


def raw_folder(settings: Settings, source: str, snapshot_id: int) -> Path:
    """A snapshot's own raw folder: data/raw/<source>/<date>-<snapshot id>/."""
    return settings.raw_dir / source / f"{utcnow():%Y-%m-%d}-{snapshot_id}"


def _start_snapshot(con: duckdb.DuckDBPyConnection, source: Source, origin: Origin,
                    options: dict[str, Any], settings: Settings) -> tuple[int, Path]:
    snapshot_id = fetch_one(con, "SELECT nextval('snapshot_ids')")[0]
    final_dir = raw_folder(settings, source.name, snapshot_id)
    con.execute(
        "INSERT INTO snapshots (snapshot_id, source, started_at, status, origin_url, parameters, "
        "licence, raw_dir) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
        [snapshot_id, source.name, utcnow(), redact(origin.base),
         json.dumps(options, default=str), source.licence, str(final_dir)],
    )
    return snapshot_id, final_dir


def _previous(con: duckdb.DuckDBPyConnection,
              previous: int | None) -> tuple[int | None, str | None]:
    """(row count, sha256) of the current snapshot, or (None, None)."""
    if previous is None:
        return None, None
    return fetch_one(con, "SELECT row_count, sha256 FROM snapshots WHERE snapshot_id = ?",
                     [previous])


def run_source(con: duckdb.DuckDBPyConnection, source: Source, settings: Settings,
               options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Collect one source into a new snapshot. Raises SourceError; never leaves partial rows."""
    options = {k: v for k, v in (options or {}).items() if v not in (None, False)}
    source.create_tables(con)
    start_collection(source.name, settings)  # this collection's byte and time budget
    origin = Origin(source.name, settings.source_url(source.name, source.default_url), settings)
    previous = current_snapshot_id(con, source.name)
    prev_rows, prev_sha = _previous(con, previous)
    for stale in (settings.raw_dir / source.name).glob(".staging-*"):  # a killed run's scratch
        shutil.rmtree(stale, ignore_errors=True)
    snapshot_id, final_dir = _start_snapshot(con, source, origin, options, settings)
    staging = settings.raw_dir / source.name / f".staging-{snapshot_id}"
    ctx = CollectContext(source, settings, con, snapshot_id, origin, options, staging, previous,
                         prev_sha)
    counts: dict[str, int] = dict.fromkeys(source.tables, 0)
    con.execute("BEGIN TRANSACTION")
    try:
        staging.mkdir(parents=True)
        stages = {t: versioned.open_stage(con, t) for t in source.versioned}
        for table, batch in source.collect(ctx):
            if table not in source.tables:
                raise ctx.fail(f"collector produced rows for undeclared table {table}")
            counts[table] += insert_batch(con, stages.get(table, table), snapshot_id, batch)
        _merge_versioned(ctx, counts)
        rows = counts[source.primary_table] if ctx.row_count is None else ctx.row_count
        if ctx.unchanged():
            ctx.stop_if_unchanged()
        if rows < max(source.min_rows, 1):
            raise ctx.fail(
                f"refusing a suspicious result: {rows} rows in {source.primary_table} "
                f"(expected at least {max(source.min_rows, 1)})",
                "the upstream returned no data; the previous snapshot stays current",
            )
        drop = bool(not ctx.partial and prev_rows and rows < DROP_THRESHOLD * prev_rows
                    and not options.get("accept_drop"))
        sha = ctx.manifest_sha256()
        con.execute(
            "UPDATE snapshots SET status = 'ok', finished_at = ?, row_count = ?, sha256 = ?, "
            "origin_url = ?, parameters = ?, partial = ?, promoted = ? WHERE snapshot_id = ?",
            [utcnow(), rows, sha, redact(ctx.origin.base),
             json.dumps(options | ctx.parameters | {"rows_by_table": counts}, default=str),
             ctx.partial, not drop, snapshot_id],
        )
        _place_raw(ctx, staging, final_dir, sha)
        con.execute("COMMIT")
    except Unchanged as exc:
        _roll_back(con, staging, final_dir)
        con.execute("UPDATE snapshots SET status = 'unchanged', finished_at = ?, note = ?, "
                    "raw_dir = NULL WHERE snapshot_id = ?", [utcnow(), str(exc), snapshot_id])
        return {"snapshot_id": previous, "rows": prev_rows, "partial": False,
                "unchanged": str(exc)}
    except BaseException as exc:
        _roll_back(con, staging, final_dir)
        message = _one_line(exc)
        con.execute(
            "UPDATE snapshots SET status = 'failed', finished_at = ?, error = ?, raw_dir = NULL "
            "WHERE snapshot_id = ?", [utcnow(), redact(message), snapshot_id])
        if isinstance(exc, SourceError):
            raise
        if isinstance(exc, Exception):
            raise SourceError(source.name, message) from exc
        raise
    result = {"snapshot_id": snapshot_id, "rows": rows, "partial": ctx.partial}
    if drop:
        raise SuspiciousDrop(
            source.name,
            f"snapshot {snapshot_id} has {rows} rows, under half of the current {prev_rows}; "
            "stored but not promoted",
            "check the upstream, then re-run with --accept-drop if the drop is real",
        )
    return result


def _merge_versioned(ctx: CollectContext, counts: dict[str, int]) -> None:
    """Store the staged rows of versioned tables as versions + membership; keep what changed
    as the raw payload instead of the transient staged files (see pipeline.versioned)."""
    if not ctx.source.versioned:
        return
    changed = False
    for table, spec in ctx.source.versioned.items():
        merged = versioned.merge(ctx.con, table, spec, ctx.snapshot_id,
                                 ctx.previous_snapshot_id, ctx.staging_dir)
        counts[table] = merged.rows
        changed |= bool(merged.new_versions or merged.removed)
        ctx.parameters.setdefault("versioned", {})[table] = {
            "rows": merged.rows, "new_versions": merged.new_versions,
            "removed": merged.removed, "parent_snapshot": ctx.previous_snapshot_id}
        for rel, path in merged.files:
            ctx.record_file(rel, path, f"(changes against snapshot {ctx.previous_snapshot_id})"
                            if ctx.previous_snapshot_id else "(every row: first snapshot)")
    gone = [f for f in ctx.raw_files if f.path in ctx.transient]
    ctx.raw_files = [f for f in ctx.raw_files if f.path not in ctx.transient]
    for entry in gone:
        (ctx.staging_dir / entry.path).unlink(missing_ok=True)
    if gone:
        ctx.parameters["payloads_not_kept"] = [vars(f) for f in gone]
    if not changed and ctx.may_skip:
        raise Unchanged(f"no row changed since snapshot {ctx.previous_snapshot_id}")


def _roll_back(con: duckdb.DuckDBPyConnection, staging: Path, final_dir: Path) -> None:
    """Undo an attempt: its rows (transaction) and its staged or placed payloads."""
    with contextlib.suppress(duckdb.Error):  # a failed COMMIT already ended the transaction
        con.execute("ROLLBACK")
    for folder in (staging, final_dir):
        shutil.rmtree(folder, ignore_errors=True)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SourceError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted by the user; nothing was kept"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return redact(f"cannot write raw payloads{where}: {exc.strerror or exc}; "
                      "check free space and permissions of the raw folder")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"unexpected {type(exc).__name__}: {text}"[:300])


def _place_raw(ctx: CollectContext, staging: Path, final_dir: Path, sha: str) -> None:
    """Write the provenance sidecar and rename the staging folder to the snapshot's own folder.

    Runs inside the transaction, before COMMIT: if this fails, nothing is committed; if the
    process dies after it, the next open marks the snapshot failed and removes the folder."""
    sidecar = {
        "source": ctx.source.name,
        "snapshot_id": ctx.snapshot_id,
        "origin": redact(ctx.origin.base),
        "accessed_at": utcnow().isoformat(timespec="seconds") + "Z",
        "licence": ctx.source.licence,
        "sha256": sha,
        "files": [{k: v for k, v in vars(f).items() if v is not None} for f in ctx.raw_files],
    }
    (staging / "_snapshot.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    if final_dir.exists():  # left by an attempt that died before its row was updated
        shutil.rmtree(final_dir)
    staging.rename(final_dir)
