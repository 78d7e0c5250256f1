"""Charts: functions that read only `out_*` result tables and write PNG + SVG + CSV.

Each module here exposes `CHARTS = [Chart(...)]`. A chart's `draw(con)` returns a `Drawn`: the
figure, its title (the finding in words), alt text stating the finding with its numbers, and
the data it plots. `draw_all` saves the figure with the provenance footer, writes the plotted
data as `<name>.csv` and describes every chart in `charts.json` (what the site, the notebooks
and the README gallery read). A chart whose tables are empty is drawn as a placeholder naming
the command that collects its source, so the gallery never shows stale or invented images.

A chart is redrawn only when its inputs changed: the content of the tables it reads, the
reference file and the chart code (see `inputs_key`); `force=True` redraws everything.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.charts import style
from pipeline.config import REFERENCE_DIR
from pipeline.registry import modules_defining
from pipeline.store import table_exists

INDEX = "charts.json"
INDEX_SCHEMA = 1


@dataclass
class Drawn:
    """What a chart's draw function made: the figure and what it says."""

    fig: object  # matplotlib Figure, saved by draw_chart
    title: str  # the finding in words, as set on the figure
    alt: str  # alt text: the finding with its numbers, for readers who cannot see the image
    data: pd.DataFrame  # the plotted values, written beside the image as <name>.csv
    snapshot_ids: set = field(default_factory=set)
    has_data: bool = True  # False when the chart can only say that data is missing
    caption_note: str = ""  # what this drawing's data needs said, appended to the caption


@dataclass(frozen=True)
class Chart:
    name: str  # file stem under data/charts/
    title: str  # neutral title, used for the "no data yet" placeholder
    tables: tuple[str, ...]  # out_* tables it reads; all must have rows to draw
    draw: Callable[[duckdb.DuckDBPyConnection], Drawn]
    missing: str  # what to run when the tables are missing
    caption: str = ""  # what the chart shows and how to read it
    optional_tables: tuple[str, ...] = ()  # read when present (part of the redraw key)
    after_report: bool = False  # drawn by `report` once out_scorecard is rebuilt


def all_charts() -> list[Chart]:
    package = sys.modules[__name__]
    return [chart for charts in modules_defining(package, "CHARTS") for chart in charts]


def ready(con: duckdb.DuckDBPyConnection, chart: Chart) -> bool:
    return all(table_exists(con, t) for t in chart.tables) and all(
        con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in chart.tables
    )


def _sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> list | None:
    """Row count and an order-independent hash of every row: cheap on result tables."""
    if not table_exists(con, table):
        return None
    return list(con.execute(
        f"SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM {table} t").fetchall()[0])


def inputs_key(con: duckdb.DuckDBPyConnection, chart: Chart) -> str:
    """What a chart's image depends on: its tables' content, its code, the reference file."""
    reference = REFERENCE_DIR / "article_figures.csv"
    code = "".join(inspect.getsource(m) for m in (
        inspect.getmodule(chart.draw), style, sys.modules[__name__]))
    return _sha256(json.dumps({
        "tables": {t: _table_fingerprint(con, t) for t in chart.tables + chart.optional_tables},
        "code": _sha256(code),
        "reference": _sha256(reference.read_bytes()) if reference.is_file() else None,
    }, sort_keys=True))


def read_index(charts_dir: Path) -> dict[str, dict]:
    """charts.json as {name: entry}; empty when missing or unreadable."""
    try:
        data = json.loads((charts_dir / INDEX).read_text())
        return {entry["name"]: entry for entry in data["charts"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_index(charts_dir: Path, entries: dict[str, dict]) -> Path:
    path = charts_dir / INDEX
    tmp = path.with_name(f".{INDEX}.tmp")
    tmp.write_text(json.dumps({"schema": INDEX_SCHEMA, "charts": list(entries.values())},
                              indent=1, default=str) + "\n")
    tmp.replace(path)
    return path


def _write_csv(data: pd.DataFrame, path: Path) -> Path:
    """The plotted data, its text cells neutralised against spreadsheet formulas (model ids
    and board names come from upstream)."""
    from pipeline.untrusted import csv_cell

    tmp = path.with_name(f".{path.stem}.tmp.csv")
    data.map(csv_cell).to_csv(tmp, index=False, float_format="%.4g")
    tmp.replace(path)
    return path


def _files(chart: Chart) -> dict[str, str]:
    return {kind: f"{chart.name}.{kind}" for kind in ("png", "svg", "csv")}


def _file_sha256(path: Path) -> str | None:
    return _sha256(path.read_bytes()) if path.is_file() else None


def _up_to_date(entry: dict | None, key: str, charts_dir: Path) -> bool:
    """Same inputs, and the files on disk are still the ones drawn (not replaced since)."""
    return bool(entry and entry.get("key") == key and entry.get("sha256")
                and all((charts_dir / f).is_file() for f in entry.get("files", {}).values())
                and entry["sha256"] == _file_sha256(charts_dir / entry["files"]["png"]))


def draw_chart(con: duckdb.DuckDBPyConnection, chart: Chart, charts_dir: Path,
               index: dict[str, dict], force: bool = False) -> list[Path]:
    """Draw one chart (or its placeholder) unless its inputs are unchanged; update `index`.

    Returns the files written (none when skipped)."""
    key = inputs_key(con, chart)
    if not force and _up_to_date(index.get(chart.name), key, charts_dir):
        return []
    charts_dir.mkdir(parents=True, exist_ok=True)
    path = charts_dir / f"{chart.name}.png"
    if ready(con, chart):
        drawn = chart.draw(con)
        footer = style.provenance(con, drawn.snapshot_ids)
        has_data = drawn.has_data
    else:
        message = f"No data yet. {chart.missing}"
        drawn = Drawn(style.no_data(chart.title, message), chart.title,
                      f"{chart.title}: no data yet. {chart.missing}",
                      pd.DataFrame({"status": ["no data yet"], "what_to_run": [chart.missing]}))
        footer = style.NO_DATA_FOOTER
        has_data = False
    written = style.finish(drawn.fig, path, footer)
    written.append(_write_csv(drawn.data, path.with_suffix(".csv")))
    index[chart.name] = {
        "name": chart.name,
        "title": drawn.title,
        "alt": drawn.alt,
        "caption": " ".join(filter(None, (chart.caption, drawn.caption_note))),
        "has_data": has_data,
        "snapshot_ids": sorted(int(i) for i in drawn.snapshot_ids if pd.notna(i)),
        "files": _files(chart),
        "key": key,  # inputs the files were drawn from (see inputs_key)
        "sha256": _file_sha256(path),  # of the PNG, to notice files replaced since
    }
    return written


def draw_all(con: duckdb.DuckDBPyConnection, charts_dir: Path, force: bool = False,
             charts: list[Chart] | None = None) -> tuple[list[Path], list[str]]:
    """Draw every chart whose inputs changed, then rewrite charts.json.

    A chart that fails is reported and leaves its previous files and entry alone."""
    index = read_index(charts_dir)
    written: list[Path] = []
    errors: list[str] = []
    selected = charts if charts is not None else [c for c in all_charts() if not c.after_report]
    for chart in selected:
        try:
            written.extend(draw_chart(con, chart, charts_dir, index, force))
        except Exception as exc:
            style.plt.close("all")
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            errors.append(f"chart {chart.name} failed: {type(exc).__name__}: {first[:200]}")
    known = {c.name for c in all_charts()}
    charts_dir.mkdir(parents=True, exist_ok=True)
    written.append(_write_index(charts_dir, {n: e for n, e in index.items() if n in known}))
    return written, errors
