"""The scorecard: every figure the article states next to the value we reproduce.

Reads `data/reference/article_figures.csv` (the article's numbers, tolerance and method note
per figure) and `out_figures` (ours). The reference file is only ever compared against, never
used to compute anything.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from pipeline.analysis import FIGURES_DDL
from pipeline.config import REFERENCE_DIR, Settings

REFERENCE_FILE = REFERENCE_DIR / "article_figures.csv"
COLUMNS = ["figure_id", "section", "article_value", "unit", "ours_as_of_article", "ours_today",
           "difference", "status", "tolerance", "snapshots", "note"]


def load_reference(con: duckdb.DuckDBPyConnection, path: Path = REFERENCE_FILE) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ref_article_figures AS "
        "SELECT * FROM read_csv(?, header = true, all_varchar = true)", [str(path)]
    )


SCORECARD_SQL = """
CREATE OR REPLACE TABLE out_scorecard AS
WITH ours AS (
    SELECT figure_id, value, snapshot_id, source FROM out_figures
), joined AS (
    SELECT r.figure_id, r.section, CAST(r.value AS DOUBLE) AS article_value, r.unit,
           r.comparison, r.tolerance, r.method_note,
           a.value AS ours_as_of_article, t.value AS ours_today,
           concat_ws('; ',
               CASE WHEN a.snapshot_id IS NOT NULL
                    THEN a.source || ' #' || a.snapshot_id END,
               CASE WHEN t.snapshot_id IS NOT NULL AND t.snapshot_id IS DISTINCT FROM a.snapshot_id
                    THEN t.source || ' #' || t.snapshot_id END) AS snapshots,
           CASE WHEN ends_with(r.tolerance, '%')
                THEN CAST(rtrim(r.tolerance, '%') AS DOUBLE) / 100 * CAST(r.value AS DOUBLE)
                ELSE CAST(r.tolerance AS DOUBLE) END AS tolerance_abs,
           row_number() OVER () AS ord
    FROM ref_article_figures r
    LEFT JOIN ours a ON a.figure_id = r.figure_id
    LEFT JOIN ours t ON t.figure_id = r.figure_id || '_today'
)
SELECT figure_id, section, article_value, unit, ours_as_of_article, ours_today,
       round(ours_as_of_article - article_value, 2) AS difference,
       CASE WHEN ours_as_of_article IS NULL THEN 'no data yet'
            WHEN comparison = 'lt' AND ours_as_of_article < article_value THEN 'matches'
            WHEN comparison = 'lt' THEN 'differs'
            WHEN abs(ours_as_of_article - article_value) <= tolerance_abs THEN 'matches'
            ELSE 'differs' END AS status,
       CASE WHEN comparison = 'lt' THEN '< ' || article_value::VARCHAR
            ELSE '± ' || tolerance END AS tolerance,
       nullif(snapshots, '') AS snapshots,
       method_note AS note
FROM joined ORDER BY ord
"""


def build_scorecard(con: duckdb.DuckDBPyConnection, reference: Path = REFERENCE_FILE) -> list:
    con.execute(FIGURES_DDL)
    load_reference(con, reference)
    con.execute(SCORECARD_SQL)
    return con.execute(f"SELECT {', '.join(COLUMNS)} FROM out_scorecard").fetchall()


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    return str(value)


def to_markdown(rows: list) -> str:
    head = ["Figure", "Article", "Ours (article date)", "Ours (today)", "Difference",
            "Status", "Tolerance", "Snapshot(s)", "Why it may differ"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        fid, _section, article, unit, ours_a, ours_t, diff, status, tol, snaps, note = r
        unit_txt = "" if unit in ("%",) else f" {unit}"
        lines.append("| " + " | ".join([
            f"`{fid}`", f"{_fmt(article)}{unit if unit == '%' else unit_txt}",
            _fmt(ours_a), _fmt(ours_t), _fmt(diff),
            {"matches": "✅ matches", "differs": "⚠️ differs"}.get(status, status),
            tol, snaps or "—", (note or "").replace("|", "/"),
        ]) + " |")
    return "\n".join(lines) + "\n"


def sources_markdown(con: duckdb.DuckDBPyConnection) -> str:
    """Per source: licence/terms, current snapshot and last refresh, as a Markdown table."""
    from pipeline.sources import all_sources
    from pipeline.store import source_status

    status = {r["source"]: r for r in source_status(con)}
    lines = ["| Source | What | Licence / terms | Current snapshot | Last attempt |",
             "|---|---|---|---|---|"]
    for name, source in all_sources().items():
        row = status.get(name) or {}
        current = "no data yet"
        if row.get("snapshot_id") is not None:
            current = (f"#{row['snapshot_id']}, {row['finished_at']:%Y-%m-%d}, "
                       f"{row['row_count']:,} rows, sha256 `{row['sha256'][:10]}`")
        last = row.get("last_status") or "never run"
        if last == "failed":
            last = f"failed: {(row.get('last_error') or '')[:120]}".replace("|", "/")
        lines.append(f"| `{name}` | {source.title} | {source.licence} | {current} | {last} |")
    return "\n".join(lines) + "\n"


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def write_report(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[Path]:
    from pipeline.charts.scorecard import draw_scorecard

    rows = build_scorecard(con)
    out = settings.results_dir
    out.mkdir(parents=True, exist_ok=True)
    md, csv_path = out / "scorecard.md", out / "scorecard.csv"
    _write_text(md, "# Scorecard: the article's figures vs reproduced\n\n"
                "Generated by `python -m pipeline report`; statuses use the tolerance "
                "column, notes come from `data/reference/article_figures.csv`.\n\n"
                + to_markdown(rows))
    sources_md = _write_text(out / "sources.md", sources_markdown(con))
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    tmp.replace(csv_path)
    return [md, csv_path, sources_md,
            *draw_scorecard(con, settings.charts_dir / "scorecard.png")]
