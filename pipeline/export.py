"""`export [--since DATE] [DEST]`: every raw and result table as Hive-partitioned parquet.

Layout (the interface any engine reads; no code of ours is needed to read it):

    DEST/<table>/source=<source>/snapshot_id=<n>/part-0.parquet    (zstd)
    DEST/snapshots/part-0.parquet                                   (the ledger, whole)
    DEST/manifest.json    tables, schema, row counts, sha256 and size of every file

Raw tables are partitioned by the snapshot that stored the rows. Snapshots are immutable, so
an export writes only partitions it has not written before (incremental); `--since DATE` limits
it to snapshots finished on or after DATE. Result tables (`core_*`, `out_*`) are partitioned by
the snapshot they were computed from (source = the analysis, e.g. `research`, or the `source`
column where the table has one); a table not tied to one snapshot (the scorecard) is under
`snapshot_id=0`. Result partitions are rewritten when an analysis re-ran since the last export.

Read it back with DuckDB (or Spark, Polars, Trino, ...):

    SELECT * FROM read_parquet('DEST/raw_conferences__meetings/**/*.parquet',
                               hive_partitioning = true)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import date
from pathlib import Path

import duckdb

from pipeline.config import Settings
from pipeline.source import file_sha256
from pipeline.sources import all_sources, ensure_tables, stored_tables
from pipeline.store import current_snapshot_id, table_exists, utcnow

log = logging.getLogger("pipeline")
RESULT_TABLE = re.compile(r"^(core|out)_")
INTERNAL = {"step_runs", "snapshots"}


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _write(con: duckdb.DuckDBPyConnection, sql: str, params: list, target: Path) -> dict:
    """COPY a query to `target` (atomically); returns its manifest entry."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(f"COPY ({sql}) TO {_quote(tmp)} (FORMAT parquet, COMPRESSION zstd)", params)
    tmp.replace(target)
    rows = con.execute(f"SELECT count(*) FROM read_parquet({_quote(target)})").fetchall()[0][0]
    return {"rows": rows, "sha256": file_sha256(target), "bytes": target.stat().st_size}


def _schema(con: duckdb.DuckDBPyConnection, table: str) -> list[dict]:
    return [{"name": r[0], "type": r[1]} for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [c["name"] for c in _schema(con, table)]


def _result_source(table: str, sources: dict) -> str:
    """The analysis (or source) a result table belongs to: out_research__share -> research."""
    match = re.match(r"^(?:core|out)_([a-z0-9_]+?)__", table)
    return match[1] if match else table.split("_", 1)[1]


def _results_key(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute("SELECT step, inputs FROM step_runs ORDER BY step").fetchall() \
        if table_exists(con, "step_runs") else []
    history = con.execute("SELECT count(*) FROM out_figures_history").fetchall()[0][0] \
        if table_exists(con, "out_figures_history") else 0
    return hashlib.sha256(json.dumps([rows, history], default=str).encode()).hexdigest()


def export(con: duckdb.DuckDBPyConnection, settings: Settings, dest: Path,
           since: date | None = None) -> dict:
    """Write the export; returns the manifest (and how many files were written this time)."""
    ensure_tables(con)
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {"tables": {}}
    sources = all_sources()
    written = 0
    wanted = con.execute(
        "SELECT snapshot_id, source FROM snapshots WHERE status = 'ok' "
        "AND (CAST($since AS DATE) IS NULL OR CAST(finished_at AS DATE) >= CAST($since AS DATE))",
        {"since": since}).fetchall()
    by_source: dict[str, list[int]] = {}
    for snapshot_id, source in wanted:
        by_source.setdefault(source, []).append(snapshot_id)
    for name, source in sources.items():
        for table in stored_tables(source):
            entry = manifest["tables"].setdefault(table, {"kind": "raw", "files": {}})
            entry["schema"] = _schema(con, table)
            columns = ", ".join(f'"{c}"' for c in _columns(con, table) if c != "snapshot_id")
            present = {r[0] for r in con.execute(
                f"SELECT DISTINCT snapshot_id FROM {table}").fetchall()}
            for snapshot_id in sorted(set(by_source.get(name, [])) & present):
                rel = f"{table}/source={name}/snapshot_id={snapshot_id}/part-0.parquet"
                if rel in entry["files"] and (dest / rel).is_file():
                    continue  # a snapshot never changes: already exported
                entry["files"][rel] = _write(
                    con, f"SELECT {columns} FROM {table} WHERE snapshot_id = ?", [snapshot_id],
                    dest / rel) | {"source": name, "snapshot_id": snapshot_id}
                written += 1
    key = _results_key(con)
    if manifest.get("results_key") != key:
        written += _export_results(con, dest, manifest, sources)
        manifest["results_key"] = key
    entry = manifest["tables"].setdefault("snapshots", {"kind": "ledger", "files": {}})
    entry["schema"] = _schema(con, "snapshots")
    entry["files"] = {"snapshots/part-0.parquet": _write(
        con, "SELECT * FROM snapshots ORDER BY snapshot_id", [], dest / "snapshots"
        / "part-0.parquet")}
    for info in manifest["tables"].values():
        info["rows"] = sum(f["rows"] for f in info["files"].values())
    manifest |= {"exported_at": utcnow().isoformat(timespec="seconds") + "Z",
                 "layout": "<table>/source=<source>/snapshot_id=<n>/part-0.parquet "
                           "(hive partitioning, zstd parquet)",
                 "since": since.isoformat() if since else None}
    tmp = manifest_path.with_name(".manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    tmp.replace(manifest_path)
    manifest["written"] = written
    return manifest


def _export_results(con: duckdb.DuckDBPyConnection, dest: Path, manifest: dict,
                    sources: dict) -> int:
    """Result tables, by the snapshot they were computed from; returns files written."""
    written = 0
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()
        if RESULT_TABLE.match(r[0]) or r[0] == "out_figures_history"]
    for table in tables:
        columns = _columns(con, table)
        entry = manifest["tables"].setdefault(table, {"kind": "result", "files": {}})
        entry["schema"] = _schema(con, table)
        owner = _result_source(table, sources)
        source_expr = "source" if "source" in columns else "?"
        if "snapshot_id" in columns:
            snapshot_expr = "coalesce(snapshot_id, 0)"
        else:
            current = current_snapshot_id(con, owner) if owner in sources else None
            snapshot_expr = str(int(current or 0))
        keep = ", ".join(f'"{c}"' for c in columns if c not in ("snapshot_id", "source"))
        groups = con.execute(
            f"SELECT DISTINCT {source_expr}, {snapshot_expr} FROM {table}",
            [] if source_expr == "source" else [owner]).fetchall()
        for source, snapshot_id in groups:
            rel = f"{table}/source={source}/snapshot_id={snapshot_id}/part-0.parquet"
            where = (f"{source_expr} IS NOT DISTINCT FROM ? AND {snapshot_expr} = ?"
                     if source_expr == "source" else f"{snapshot_expr} = ?")
            params = [source, snapshot_id] if source_expr == "source" else [snapshot_id]
            entry["files"][rel] = _write(con, f"SELECT {keep} FROM {table} WHERE {where}",
                                         params, dest / rel) | {
                "source": source, "snapshot_id": snapshot_id}
            written += 1
    return written
