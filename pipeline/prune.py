"""`prune --keep-last N [--keep-monthly]`: free the space of old snapshots, keep their figures.

Per source, the snapshots kept are: the current one, the newest N finished snapshots, with
`--keep-monthly` the newest of every calendar month, and (unless `--force`) every snapshot the
published figures (`published/results/figures.csv`) were computed from. The others lose their
rows and their raw folders; their ledger rows stay, marked `pruned`, and the figures computed
from them stay in `out_figures_history`.

A versioned table (jobs_hn, hf_models: rows stored once, snapshots list the versions they use)
loses only the versions no kept snapshot still lists; a raw folder that a kept snapshot's
sidecar points into (`kept_in`) is kept too.

All database changes are one transaction. Raw folders are renamed aside (`.pruned-<id>`) before
COMMIT and deleted after it, or renamed back if it fails.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline import versioned
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.publish import published_dir
from pipeline.sources import all_sources, ensure_tables, stored_tables
from pipeline.store import current_snapshot_id, raw_folder_path, utcnow

log = logging.getLogger("pipeline")


@dataclass
class Plan:
    source: str
    prune: list[int] = field(default_factory=list)
    keep: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)


def published_snapshots() -> set[int]:
    path = published_dir() / "results" / "figures.csv"
    if not path.is_file():
        return set()
    with path.open(newline="") as fh:
        return {int(r["snapshot_id"]) for r in csv.DictReader(fh) if r.get("snapshot_id")}


def plan(con: duckdb.DuckDBPyConnection, keep_last: int, keep_monthly: bool,
         force: bool) -> list[Plan]:
    """Which snapshots of each source are pruned, and which are kept."""
    published = set() if force else published_snapshots()
    plans = []
    for source in all_sources():
        rows = con.execute(
            "SELECT snapshot_id, strftime(finished_at, '%Y-%m') FROM snapshots "
            "WHERE source = ? AND status = 'ok' ORDER BY snapshot_id DESC", [source]).fetchall()
        keep = {r[0] for r in rows[:keep_last]}
        current = current_snapshot_id(con, source)
        if current is not None:
            keep.add(current)
        if keep_monthly:
            newest_of_month: dict[str, int] = {}
            for snapshot_id, month in rows:
                newest_of_month.setdefault(month, snapshot_id)
            keep |= set(newest_of_month.values())
        held = {r[0] for r in rows} & published - keep
        keep |= held
        plans.append(Plan(source, sorted(r[0] for r in rows if r[0] not in keep), sorted(keep),
                          sorted(held)))
    return plans


def _prune_statements(source) -> list[str]:
    """Versioned tables by reference (pipeline.versioned), the others by snapshot id."""
    sql = ";".join(
        versioned.prune_sql(t, source.versioned[t].members) if t in source.versioned
        else f"DELETE FROM {t} WHERE list_contains($pruned, snapshot_id)"
        for t in source.tables)
    return [s for s in map(str.strip, sql.split(";")) if s]


def _referenced_folders(con: duckdb.DuckDBPyConnection, source: str, pruned: set[int],
                        raw_root: Path) -> set[int]:
    """Pruned snapshots whose raw folder a kept snapshot's sidecar still points into."""
    refs: set[int] = set()
    for (raw_dir,) in con.execute(
            "SELECT raw_dir FROM snapshots WHERE source = ? AND status = 'ok' "
            "AND raw_dir IS NOT NULL AND NOT list_contains(?, snapshot_id)",
            [source, sorted(pruned)]).fetchall():
        try:
            files = json.loads((raw_folder_path(raw_root, raw_dir) / "_snapshot.json")
                               .read_text())["files"]
        except (OSError, ValueError, KeyError):
            continue
        refs |= {f["kept_in"] for f in files if f.get("kept_in") in pruned}
    return refs


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def prune(con: duckdb.DuckDBPyConnection, settings: Settings, keep_last: int,
          keep_monthly: bool = False, force: bool = False) -> dict:
    """Carry out the plan in one transaction; returns what was freed, per source."""
    ensure_tables(con)
    clean_leftovers(con, settings)
    sources = all_sources()
    plans = [p for p in plan(con, keep_last, keep_monthly, force) if p.prune or p.published]
    report: dict = {"sources": {}, "db_bytes_before": settings.db_path.stat().st_size}
    moved: list[tuple[Path, Path]] = []
    con.execute("BEGIN TRANSACTION")
    try:
        for p in plans:
            source = sources[p.source]
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                      for t in stored_tables(source)}
            for statement in _prune_statements(source):
                con.execute(statement, {"pruned": p.prune} if "$pruned" in statement else None)
            deleted = {t: n - con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                       for t, n in counts.items()}
            still_used = _referenced_folders(con, p.source, set(p.prune), settings.raw_dir)
            freed = 0
            for snapshot_id, raw_dir in con.execute(
                    "SELECT snapshot_id, raw_dir FROM snapshots WHERE list_contains(?, "
                    "snapshot_id) AND raw_dir IS NOT NULL", [p.prune]).fetchall():
                folder = raw_folder_path(settings.raw_dir, raw_dir)
                if snapshot_id in still_used or not folder.is_dir():
                    continue
                aside = folder.with_name(f".pruned-{snapshot_id}")
                freed += _folder_bytes(folder)
                try:
                    folder.rename(aside)
                except OSError as exc:
                    raise PipelineError(f"prune: cannot move {folder} aside ({exc.strerror}); "
                                        "nothing was pruned; check the raw folder's "
                                        "permissions") from None
                moved.append((aside, folder))
            con.execute(
                "UPDATE snapshots SET status = 'pruned', note = ?, "
                "raw_dir = CASE WHEN list_contains(?, snapshot_id) THEN raw_dir END "
                "WHERE list_contains(?, snapshot_id)",
                [f"pruned {utcnow():%Y-%m-%d %H:%M}Z (prune --keep-last {keep_last}"
                 f"{' --keep-monthly' if keep_monthly else ''}); figures kept in "
                 "out_figures_history", sorted(still_used), p.prune])
            report["sources"][p.source] = {
                "pruned": p.prune, "kept": p.keep, "kept_as_published": p.published,
                "rows_deleted": {t: n for t, n in deleted.items() if n},
                "raw_folders_removed": len(p.prune) - len(still_used),
                "raw_folders_kept_as_referenced": sorted(still_used), "raw_bytes_freed": freed}
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        for aside, folder in moved:
            aside.rename(folder)
        raise
    for aside, _ in moved:
        shutil.rmtree(aside, ignore_errors=True)
    con.execute("CHECKPOINT")
    report["db_bytes_after"] = settings.db_path.stat().st_size
    return report


def clean_leftovers(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """`.pruned-<id>` folders left by a killed prune: deleted if its COMMIT happened (the
    snapshot is `pruned`), else renamed back (the snapshot is still `ok`)."""
    for aside in settings.raw_dir.glob("*/.pruned-*"):
        rows = con.execute("SELECT status, raw_dir FROM snapshots WHERE snapshot_id = ?",
                           [int(aside.name.rsplit("-", 1)[1])]).fetchall()
        home = raw_folder_path(settings.raw_dir, rows[0][1]) if rows and rows[0][1] else None
        if rows and rows[0][0] == "ok" and home and not home.exists():
            aside.rename(home)
        else:
            shutil.rmtree(aside, ignore_errors=True)


def describe(report: dict) -> list[str]:
    """Human-readable lines of what a prune freed."""
    lines = []
    for source, info in report["sources"].items():
        rows = sum(info["rows_deleted"].values())
        if info["pruned"]:
                lines.append(f"prune: {source}: {len(info['pruned'])} snapshot(s) pruned "
                         f"({', '.join(map(str, info['pruned']))}); {rows:,} rows and "
                         f"{info['raw_folders_removed']} raw folder(s) "
                         f"({info['raw_bytes_freed'] / 2**20:,.1f} MiB) freed; kept "
                         f"{', '.join(map(str, info['kept'])) or 'none'}")
        if info["kept_as_published"]:
            lines.append(f"prune: {source}: kept {info['kept_as_published']} because published "
                         "figures come from them (use --force to prune them too)")
        if info["raw_folders_kept_as_referenced"]:
            lines.append(f"prune: {source}: raw folders of {info['raw_folders_kept_as_referenced']}"
                         " kept: newer snapshots reference files in them")
    if not any(info["pruned"] for info in report["sources"].values()):
        lines.append("prune: nothing to prune")
    lines.append(f"prune: database {report['db_bytes_before'] / 2**20:,.1f} MiB -> "
                 f"{report['db_bytes_after'] / 2**20:,.1f} MiB (freed blocks are reused by "
                 "later refreshes)")
    return lines
