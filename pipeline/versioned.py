"""Versioned tables: a large table whose rows mostly do not change between snapshots is stored
as row versions plus a membership list, so storage grows with change, not with time.

A source declares `versioned={"raw_hf__models": Versioned("raw_hf__snapshot_models", ("id",))}`.
Its batches for that table go to a temporary stage; after the last batch the loader calls
`merge`:

* a staged row whose key and content hash equal a row of the current snapshot reuses that row's
  version; every other row becomes a new version (stored once, `snapshot_id` = the snapshot
  that first stored it, `version_id` from a per-table counter, `row_hash` of its content);
* the snapshot's membership list (`<members>(snapshot_id, version_id)`, sorted by version, which
  DuckDB's bit-packing stores in a few bits per row) names every version it is made of;
* with `keep_changes`, the changes are also written as the snapshot's raw payload:
  `<table>.changes.parquet` (the new versions) and `<table>.removed.parquet` (keys of the
  parent snapshot it no longer has) - for a source whose own payload is not kept whole.

The macro `<table>_at(s)` gives snapshot `s` exactly as collected. A merge that stores no new
version and removes nothing means the content is the current snapshot's: the loader records
`unchanged` and stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

STAGE = "_stage_{table}"
BOOKKEEPING = ("snapshot_id", "version_id", "row_hash")


@dataclass(frozen=True)
class Versioned:
    """How a table is versioned: its membership table and the columns that identify a row."""

    members: str
    key: tuple[str, ...]
    keep_changes: bool = True  # write the changes as raw payload files


@dataclass
class Merged:
    rows: int  # rows of the snapshot
    new_versions: int
    removed: int
    files: list[tuple[str, Path]]  # (relative path, file) of the raw change files


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()
            if r[0] not in BOOKKEEPING]


def ddl(table: str, members: str) -> str:
    """The membership table and the `<table>_at(s)` macro of a versioned table."""
    return f"""
CREATE TABLE IF NOT EXISTS {members} (snapshot_id BIGINT NOT NULL, version_id BIGINT NOT NULL);
CREATE OR REPLACE MACRO {table}_at(s) AS TABLE
    SELECT m.snapshot_id, v.* EXCLUDE (snapshot_id, version_id, row_hash),
           v.snapshot_id AS stored_by_snapshot
    FROM {members} m JOIN {table} v USING (version_id) WHERE m.snapshot_id = s;
"""


def prune_sql(table: str, members: str) -> str:
    """Pruning: drop the pruned snapshots' lists, then every version no list uses."""
    return f"""
DELETE FROM {members} WHERE list_contains($pruned, snapshot_id);
DELETE FROM {table} v WHERE NOT EXISTS (
    SELECT 1 FROM {members} m WHERE m.version_id = v.version_id)
"""


def open_stage(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A temporary table with the row columns of `table` (plus snapshot_id) to load into."""
    stage = STAGE.format(table=table)
    cols = ", ".join(f'"{c}"' for c in _columns(con, table))
    # a table of the database, not TEMP: inside the load's transaction DuckDB writes large
    # appends to the database file as they come, so a million staged rows are not held in
    # memory (a TEMP table is); the table never outlives the transaction (merge drops it)
    con.execute(f"CREATE OR REPLACE TABLE {stage} AS "
                f"SELECT snapshot_id, {cols} FROM {table} LIMIT 0")
    return stage


def merge(con: duckdb.DuckDBPyConnection, table: str, spec: Versioned, snapshot_id: int,
          parent: int | None, staging_dir: Path) -> Merged:
    """Turn the staged rows into versions + membership of `snapshot_id` (see module doc)."""
    members, key = spec.members, spec.key
    stage = STAGE.format(table=table)
    cols = _columns(con, table)
    quoted = ", ".join(f'"{c}"' for c in cols)
    keys = ", ".join(f'"{k}"' for k in key)
    on = " AND ".join(f's."{k}" IS NOT DISTINCT FROM p."{k}"' for k in key)
    # staged row -> its content hash and its version: the parent snapshot's if it has the row
    # unchanged, else a new id (numbered in key order). Only the row's position is kept here,
    # not its columns, so numbering a million rows sorts three small columns, not the rows.
    base = con.execute(f"SELECT coalesce(max(version_id), 0) FROM {table}").fetchall()[0][0]
    s_keys = ", ".join(f's."{k}"' for k in key)
    con.execute(f"""
        CREATE OR REPLACE TABLE _matched AS
        WITH s AS (SELECT rowid AS rid, {keys}, hash({quoted}) AS row_hash FROM {stage}),
             p AS (SELECT v.version_id, v.row_hash, {", ".join(f'v."{k}"' for k in key)}
                   FROM {members} m JOIN {table} v USING (version_id)
                   WHERE m.snapshot_id = $parent)
        SELECT s.rid, s.row_hash, p.version_id IS NULL AS is_new,
               coalesce(p.version_id, $base + row_number() OVER (
                   PARTITION BY p.version_id IS NULL ORDER BY {s_keys}, s.row_hash)) AS version_id
        FROM s LEFT JOIN p ON {on} AND s.row_hash = p.row_hash
    """, {"parent": parent, "base": base})
    con.execute(f"""
        INSERT INTO {table} BY NAME
        SELECT m.version_id, $snapshot AS snapshot_id, m.row_hash,
               {", ".join(f's."{c}"' for c in cols)}
        FROM {stage} s JOIN _matched m ON s.rowid = m.rid WHERE m.is_new
        ORDER BY m.version_id
    """, {"snapshot": snapshot_id})
    con.execute(f"""
        INSERT INTO {members} SELECT $snapshot, version_id FROM _matched ORDER BY version_id
    """, {"snapshot": snapshot_id})
    rows, new = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_new) FROM _matched"
    ).fetchall()[0]
    removed_sql = (f"SELECT {keys} FROM {table}_at({int(parent or 0)}) EXCEPT "
                   f"SELECT {keys} FROM {stage} ORDER BY ALL")
    removed = con.execute(f"SELECT count(*) FROM ({removed_sql})").fetchall()[0][0] \
        if parent is not None else 0
    files = []
    if not spec.keep_changes:
        con.execute(f"DROP TABLE {stage}")
        con.execute("DROP TABLE _matched")
        return Merged(rows, new, removed, files)
    changes = staging_dir / f"{table}.changes.parquet"
    con.execute(f"COPY (SELECT {quoted} FROM {table} WHERE snapshot_id = {int(snapshot_id)} "
                f") TO '{_path(changes)}' (FORMAT parquet, COMPRESSION zstd)")
    files.append((changes.name, changes))
    if removed:
        gone = staging_dir / f"{table}.removed.parquet"
        con.execute(f"COPY ({removed_sql}) TO '{_path(gone)}' (FORMAT parquet, "
                    f"COMPRESSION zstd)")
        files.append((gone.name, gone))
    con.execute(f"DROP TABLE {stage}")
    con.execute("DROP TABLE _matched")
    return Merged(rows, new, removed, files)


def _path(path: Path) -> str:
    return str(path).replace("'", "''")
