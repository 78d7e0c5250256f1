"""Analyses: SQL over current snapshots -> `core_*` / `out_*` tables and headline figures.

Each module here exposes `ANALYSIS = Analysis(...)`. Its `run(con)` reads the current snapshot
of its sources (`WHERE snapshot_id = current_snapshot('<source>')`), replaces its own tables
and returns the figures it reproduces. An analysis re-runs only when the snapshots it reads
(or its own code) changed since its last run; `analyze --force` re-runs everything.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline import rules
from pipeline.registry import modules_defining
from pipeline.store import current_snapshot_id, fetch_one, utcnow
from pipeline.untrusted import csv_cell


@dataclass(frozen=True)
class Figure:
    """One reproduced number; ids match data/reference/article_figures.csv where they can."""

    figure_id: str
    value: float
    unit: str
    as_of: str  # "article" (as of the article's date) or "today" (latest data)
    source: str
    snapshot_id: int


@dataclass(frozen=True)
class Analysis:
    name: str
    sources: tuple[str, ...]
    run: Callable[[duckdb.DuckDBPyConnection], list[Figure]]
    #: the analysis needs every source (True) or any one of them (False)
    needs_all: bool = True


FIGURES_DDL = """
CREATE TABLE IF NOT EXISTS out_figures (
    analysis VARCHAR NOT NULL, figure_id VARCHAR NOT NULL, value DOUBLE, unit VARCHAR,
    as_of VARCHAR, source VARCHAR, snapshot_id BIGINT
)"""
FIGURE_COLUMNS = ["figure_id", "value", "unit", "as_of", "source", "snapshot_id"]
HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS out_figures_history (
    figure_id VARCHAR NOT NULL, value DOUBLE, unit VARCHAR, as_of VARCHAR, source VARCHAR,
    snapshot_id BIGINT,          -- the snapshot the figure was computed from
    snapshot_sha256 VARCHAR,     -- its raw manifest checksum: the same data in any database
    data_date DATE,              -- the day that snapshot was collected
    snapshot_ids JSON,           -- every input snapshot of the analysis, by source
    analysis VARCHAR NOT NULL,
    computed_at TIMESTAMP NOT NULL
)"""
HISTORY_COLUMNS = ["figure_id", "value", "unit", "as_of", "source", "snapshot_id",
                   "snapshot_sha256", "data_date", "snapshot_ids", "analysis", "computed_at"]
#: a point is new when no earlier run gave this figure the same value from the same snapshot
APPEND_HISTORY = """
INSERT INTO out_figures_history BY NAME
SELECT f.figure_id, f.value, f.unit, f.as_of, f.source, f.snapshot_id,
       s.sha256 AS snapshot_sha256, CAST(s.finished_at AS DATE) AS data_date,
       $inputs AS snapshot_ids, f.analysis, $now AS computed_at
FROM out_figures f LEFT JOIN snapshots s USING (snapshot_id)
WHERE f.analysis = $analysis AND NOT EXISTS (
    SELECT 1 FROM out_figures_history h
    WHERE h.figure_id = f.figure_id AND h.snapshot_id IS NOT DISTINCT FROM f.snapshot_id
      AND h.value IS NOT DISTINCT FROM f.value)
"""


def all_analyses() -> dict[str, Analysis]:
    package = sys.modules[__name__]
    return {a.name: a for a in modules_defining(package, "ANALYSIS") if isinstance(a, Analysis)}


def _inputs(con: duckdb.DuckDBPyConnection, analysis: Analysis) -> tuple[dict, str, bool]:
    """The analysis' input snapshots, a key of them and of its code, and whether it can run."""
    snapshots = {s: current_snapshot_id(con, s) for s in analysis.sources}
    present = [v is not None for v in snapshots.values()]
    ready = all(present) if analysis.needs_all else any(present)
    # the shared rules (pipeline/rules.py) are part of every analysis' code
    code = inspect.getsource(inspect.getmodule(analysis.run)) + inspect.getsource(rules)
    key = json.dumps({"snapshots": snapshots, "code": hashlib.sha256(code.encode()).hexdigest()},
                     sort_keys=True)
    return snapshots, key, ready


def analyze(con: duckdb.DuckDBPyConnection, results_dir: Path, force: bool = False) -> dict:
    """Run every analysis whose inputs changed; write data/results/figures.csv."""
    con.execute(FIGURES_DDL)
    con.execute(HISTORY_DDL)
    report: dict[str, str] = {}
    for analysis in all_analyses().values():
        snapshots, key, ready = _inputs(con, analysis)
        if not ready:
            report[analysis.name] = "no data yet"
            continue
        last = fetch_one(con, "SELECT inputs FROM step_runs WHERE step = ?",
                         [f"analysis:{analysis.name}"])[0]
        if last == key and not force:
            report[analysis.name] = "unchanged (skipped)"
            continue
        started = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        try:
            figures = analysis.run(con)
            con.execute("DELETE FROM out_figures WHERE analysis = ?", [analysis.name])
            if figures:  # DuckDB refuses executemany with no rows (e.g. job boards, no HN)
                con.executemany(
                    "INSERT INTO out_figures VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[analysis.name, f.figure_id, f.value, f.unit, f.as_of, f.source,
                      f.snapshot_id] for f in figures],
                )
            con.execute(APPEND_HISTORY, {"inputs": json.dumps(snapshots), "now": utcnow(),
                                         "analysis": analysis.name})
            con.execute("INSERT OR REPLACE INTO step_runs VALUES (?, ?, ?)",
                        [f"analysis:{analysis.name}", key, utcnow()])
            con.execute("COMMIT")
        except Exception as exc:  # one broken analysis must not stop the others or the charts
            con.execute("ROLLBACK")
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            report[analysis.name] = f"failed: {type(exc).__name__}: {first[:200]}"
            continue
        except BaseException:
            con.execute("ROLLBACK")
            raise
        report[analysis.name] = f"{len(figures)} figures in {time.perf_counter() - started:.1f} s"
    write_figures_csv(con, results_dir / "figures.csv")
    write_csv(con, f"SELECT {', '.join(HISTORY_COLUMNS)} FROM out_figures_history "
                   "ORDER BY figure_id, data_date, computed_at",
              results_dir / "figures_history.csv")
    return report


def write_figures_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    write_csv(con, f"SELECT {', '.join(FIGURE_COLUMNS)} FROM out_figures "
                   "ORDER BY analysis, figure_id", path)


def write_csv(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    """A query's rows as CSV, written atomically; values as `_fmt` shows them."""
    cur = con.execute(sql)
    rows = cur.fetchall()
    header = [d[0] for d in cur.description]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_fmt(v) if name == "value" else csv_cell(v)
                             for name, v in zip(header, row, strict=True)])
    tmp.replace(path)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}".rstrip("0")
