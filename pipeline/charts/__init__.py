"""Charts: functions that read only `out_*` result tables and write PNG + SVG.

Each module here exposes `CHARTS = [Chart(...)]`. A chart whose tables do not exist yet is
drawn as a placeholder naming the source to collect, so the gallery never shows stale or
invented images.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.charts import style
from pipeline.registry import modules_defining
from pipeline.store import table_exists


@dataclass(frozen=True)
class Chart:
    name: str  # file stem under data/charts/
    title: str
    tables: tuple[str, ...]  # out_* tables it reads; all must exist to draw
    draw: Callable[[duckdb.DuckDBPyConnection, Path], list[Path]]
    missing: str  # what to run when the tables are missing


def all_charts() -> list[Chart]:
    package = sys.modules[__name__]
    return [chart for charts in modules_defining(package, "CHARTS") for chart in charts]


def ready(con: duckdb.DuckDBPyConnection, chart: Chart) -> bool:
    return all(table_exists(con, t) for t in chart.tables) and all(
        con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in chart.tables
    )


def draw_all(
    con: duckdb.DuckDBPyConnection, charts_dir: Path, force: bool = False
) -> tuple[list[Path], list[str]]:
    """Draw every chart; a chart that fails is reported and leaves its previous image alone."""
    written: list[Path] = []
    errors: list[str] = []
    for chart in all_charts():
        path = charts_dir / f"{chart.name}.png"
        try:
            if ready(con, chart):
                written.extend(chart.draw(con, path))
            else:
                written.extend(style.no_data(path, chart.title, f"No data yet. {chart.missing}"))
        except Exception as exc:
            style.plt.close("all")
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            errors.append(f"chart {chart.name} failed: {type(exc).__name__}: {first[:200]}")
    return written, errors
