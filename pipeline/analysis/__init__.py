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
from pipeline.store import current_snapshot_id, utcnow


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


def all_analyses() -> dict[str, Analysis]:
    package = sys.modules[__name__]
    return {a.name: a for a in modules_defining(package, "ANALYSIS") if isinstance(a, Analysis)}


def _inputs_key(con: duckdb.DuckDBPyConnection, analysis: Analysis) -> tuple[str, bool]:
    snapshots = {s: current_snapshot_id(con, s) for s in analysis.sources}
    present = [v is not None for v in snapshots.values()]
    ready = all(present) if analysis.needs_all else any(present)
    # the shared rules (pipeline/rules.py) are part of every analysis' code
    code = inspect.getsource(inspect.getmodule(analysis.run)) + inspect.getsource(rules)
    key = json.dumps({"snapshots": snapshots, "code": hashlib.sha256(code.encode()).hexdigest()},
                     sort_keys=True)
    return key, ready


def analyze(con: duckdb.DuckDBPyConnection, results_dir: Path, force: bool = False) -> dict:
    """Run every analysis whose inputs changed; write data/results/figures.csv."""
    con.execute(FIGURES_DDL)
    report: dict[str, str] = {}
    for analysis in all_analyses().values():
        key, ready = _inputs_key(con, analysis)
        if not ready:
            report[analysis.name] = "no data yet"
            continue
        last = con.execute("SELECT inputs FROM step_runs WHERE step = ?",
                           [f"analysis:{analysis.name}"]).fetchone()
        if last and last[0] == key and not force:
            report[analysis.name] = "unchanged (skipped)"
            continue
        started = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        try:
            figures = analysis.run(con)
            con.execute("DELETE FROM out_figures WHERE analysis = ?", [analysis.name])
            con.executemany(
                "INSERT INTO out_figures VALUES (?, ?, ?, ?, ?, ?, ?)",
                [[analysis.name, f.figure_id, f.value, f.unit, f.as_of, f.source, f.snapshot_id]
                 for f in figures],
            )
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
    return report


def write_figures_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    rows = con.execute(
        f"SELECT {', '.join(FIGURE_COLUMNS)} FROM out_figures ORDER BY analysis, figure_id"
    ).fetchall()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIGURE_COLUMNS)
        for row in rows:
            value = row[1]
            writer.writerow([row[0], _fmt(value), *row[2:]])
    tmp.replace(path)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}".rstrip("0")
