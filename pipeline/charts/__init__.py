"""Charts: functions that read only `out_*` result tables and write PNG + SVG + CSV.

Each module here exposes `CHARTS = [Chart(...)]`. A chart's `draw(con)` returns a `Drawn`: the
figure, its title (the finding in words), alt text stating the finding with its numbers, and
the data it plots. `draw_all` saves the figure with the provenance footer, writes the plotted
data as `<name>.csv` and describes every chart in `charts.json` (what the site, the notebooks
and the README gallery read). A chart whose tables are empty is drawn as a placeholder naming
the command that collects its source, so the gallery never shows stale or invented images.

A chart is redrawn only when its inputs changed: the content of the tables it reads, the
reference file and the chart code (see `inputs_key`); `force=True` redraws everything.

Rendering (layout, PNG and SVG) is most of a chart's cost, so `draw_all` first queries every
chart's tables and builds its figure here, then renders them in `workers()` processes (one per
core up to 2, or ADOPTION_CHART_WORKERS): this one and forked workers, each rendering its share
of the charts in turn; the workers never touch the database.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing
import os
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


def workers() -> int:
    """Processes rendering charts at once: ADOPTION_CHART_WORKERS, else one per core up to 2
    (1: render in this process)."""
    from pipeline.config import convert
    from pipeline.errors import ConfigError

    text = os.environ.get("ADOPTION_CHART_WORKERS", "").strip()
    if not text:
        return min(2, os.cpu_count() or 1)
    count = convert(text, int, "ADOPTION_CHART_WORKERS", from_env=True)
    if count < 1:
        raise ConfigError(f"ADOPTION_CHART_WORKERS={count} must be at least 1")
    return count


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


#: where plotted values were read from, as ids of this database: not plotted, and they would
#: make the published CSV change when the same data is collected again (the footer and
#: charts.json's `provenance` name the data by its date and checksum instead)
LOCAL_ID_COLUMNS = ("snapshot_id", "snapshot_ids", "snapshots")


def _write_csv(data: pd.DataFrame, path: Path) -> Path:
    """The plotted data, its text cells neutralised against spreadsheet formulas (model ids
    and board names come from upstream)."""
    from pipeline.untrusted import csv_cell

    tmp = path.with_name(f".{path.stem}.tmp.csv")
    data = data.drop(columns=[c for c in data.columns if c in LOCAL_ID_COLUMNS])
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


@dataclass
class _Job:
    """A chart whose figure is built and waits to be rendered."""

    chart: Chart
    key: str
    drawn: Drawn
    footer: str
    has_data: bool
    path: Path


def _prepare(con: duckdb.DuckDBPyConnection, chart: Chart, charts_dir: Path,
             index: dict[str, dict], force: bool) -> _Job | None:
    """Query the chart's tables and build its figure (or placeholder); None when its inputs
    are unchanged and its files are still the ones drawn."""
    key = inputs_key(con, chart)
    if not force and _up_to_date(index.get(chart.name), key, charts_dir):
        return None
    charts_dir.mkdir(parents=True, exist_ok=True)
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
    return _Job(chart, key, drawn, footer, has_data, charts_dir / f"{chart.name}.png")


def _render(job: _Job) -> list[Path]:
    """Lay out and save the PNG and SVG (with the footer) and the plotted data as CSV."""
    written = style.finish(job.drawn.fig, job.path, job.footer)
    written.append(_write_csv(job.drawn.data, job.path.with_suffix(".csv")))
    return written


def _entry(job: _Job) -> dict:
    """The chart's charts.json entry, once its files are written."""
    return {
        "name": job.chart.name,
        "title": job.drawn.title,
        "alt": job.drawn.alt,
        "caption": " ".join(filter(None, (job.chart.caption, job.drawn.caption_note))),
        "has_data": job.has_data,
        "snapshot_ids": sorted(int(i) for i in job.drawn.snapshot_ids if pd.notna(i)),
        "provenance": job.footer,  # the footer: each source's data date, checksum, public origin
        "files": _files(job.chart),
        "key": job.key,  # inputs the files were drawn from (see inputs_key)
        "sha256": _file_sha256(job.path),  # of the PNG, to notice files replaced since
    }


def draw_chart(con: duckdb.DuckDBPyConnection, chart: Chart, charts_dir: Path,
               index: dict[str, dict], force: bool = False) -> list[Path]:
    """Draw one chart (or its placeholder) in this process unless its inputs are unchanged;
    update `index`. Returns the files written (none when skipped)."""
    job = _prepare(con, chart, charts_dir, index, force)
    if job is None:
        return []
    written = _render(job)
    index[job.chart.name] = _entry(job)
    return written


def _render_one(job: _Job) -> tuple[list[Path] | None, str | None]:
    """Render one job: its files, or its error (the figure is closed either way)."""
    try:
        return _render(job), None
    except Exception as exc:
        style.plt.close("all")
        return None, _error(exc)


def _render_chunk(jobs: list[_Job], conn) -> None:
    """In a forked worker: render its jobs in turn, sending each result back as it is done."""
    try:
        for n, job in enumerate(jobs):
            files, error = _render_one(job)
            conn.send((n, [str(p) for p in files] if files else None, error))
    finally:
        conn.close()


def _error(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:200]}"


def _render_all(jobs: list[_Job],
                processes: int) -> list[tuple[_Job, list[Path] | None, str | None]]:
    """Render the jobs, split over `processes`: this one renders every `processes`-th job and
    forked workers the others, each in turn, so a process's matplotlib caches (fonts, text
    sizes) serve all its charts. Returns every job with its files or its error, in order."""
    if processes <= 1 or len(jobs) <= 1:
        return [(job, *_render_one(job)) for job in jobs]
    chunks = [jobs[i::processes] for i in range(processes)]
    workers = []
    for chunk in chunks[1:]:
        receive, send = multiprocessing.Pipe(duplex=False)
        process = multiprocessing.get_context("fork").Process(
            target=_render_chunk, args=(chunk, send), daemon=True)
        process.start()
        send.close()
        for job in chunk:
            style.plt.close(job.drawn.fig)  # the worker has its own copy
        workers.append((chunk, process, receive))
    results = {id(job): (job, *_render_one(job)) for job in chunks[0]}
    for chunk, process, receive in workers:
        while True:
            try:
                n, files, error = receive.recv()
            except EOFError:
                break
            results[id(chunk[n])] = (chunk[n], [Path(f) for f in files] if files else None,
                                     error)
        receive.close()
        process.join()
        for job in chunk:  # a worker that died mid-way
            results.setdefault(id(job), (job, None, "the rendering process ended without a "
                                         f"result (exit code {process.exitcode})"))
    return [results[id(job)] for job in jobs]


def draw_all(con: duckdb.DuckDBPyConnection, charts_dir: Path, force: bool = False,
             charts: list[Chart] | None = None,
             processes: int | None = None) -> tuple[list[Path], list[str]]:
    """Draw every chart whose inputs changed (rendered by up to `processes` processes, default
    `workers()`), then rewrite charts.json.

    A chart that fails is reported and leaves its previous files and entry alone."""
    index = read_index(charts_dir)
    written: list[Path] = []
    errors: list[str] = []
    selected = charts if charts is not None else [c for c in all_charts() if not c.after_report]
    jobs = []
    for chart in selected:
        try:
            job = _prepare(con, chart, charts_dir, index, force)
        except Exception as exc:
            style.plt.close("all")
            errors.append(f"chart {chart.name} failed: {_error(exc)}")
            continue
        if job is not None:
            jobs.append(job)
    for job, files, error in _render_all(jobs, min(processes or workers(), len(jobs) or 1)):
        if error is None:
            written.extend(files)
            index[job.chart.name] = _entry(job)
        else:
            errors.append(f"chart {job.chart.name} failed: {error}")
    known = {c.name for c in all_charts()}
    charts_dir.mkdir(parents=True, exist_ok=True)
    written.append(_write_index(charts_dir, {n: e for n, e in index.items() if n in known}))
    return written, errors
