"""The scorecard: every figure the article states next to the value we reproduce.

Reads `data/reference/article_figures.csv` (the article's numbers, tolerance and method note
per figure) and `out_figures` (ours). The reference file is only ever compared against, never
used to compute anything.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from pipeline.analysis import FIGURES_DDL, NOTES_DDL
from pipeline.config import REFERENCE_DIR, Settings
from pipeline.untrusted import csv_cell, markdown_text

REFERENCE_FILE = REFERENCE_DIR / "article_figures.csv"
COLUMNS = ["figure_id", "claim", "section", "article_value", "unit", "ours_as_of_article",
           "ours_today", "difference", "status", "evaluated_on", "tolerance", "snapshots",
           "reason", "note"]


def load_reference(con: duckdb.DuckDBPyConnection, path: Path = REFERENCE_FILE) -> None:
    """The reference file as text columns; `claim` (what the article says, in words: a
    scorecard row leads with it) may be missing from a row or from the file."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ref_article_figures AS "
        "SELECT * FROM read_csv(?, header = true, all_varchar = true, null_padding = true)",
        [str(path)]
    )
    con.execute("ALTER TABLE ref_article_figures ADD COLUMN IF NOT EXISTS claim VARCHAR")
    for optional in ("alternatives", "context"):
        con.execute(f"ALTER TABLE ref_article_figures ADD COLUMN IF NOT EXISTS {optional} "
                    "VARCHAR")
    # the day a snapshot's data was taken, when its source knows it (an archived listing)
    dated = ("SELECT snapshot_id, data_as_of FROM snapshots WHERE data_as_of IS NOT NULL"
             if _has_column(con, "snapshots", "data_as_of")
             else "SELECT NULL::BIGINT AS snapshot_id, NULL::TIMESTAMP AS data_as_of LIMIT 0")
    con.execute(f"CREATE OR REPLACE TEMP VIEW ref_snapshot_dates AS {dated}")


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE "
                            "table_name = ? AND column_name = ?", [table, column]
                            ).fetchall()[0][0])


#: a value with its unit as the scorecard writes it: 52.9%, 4,500 repositories, 0.41 ×
FORMAT_MACRO = """
CREATE OR REPLACE TEMP MACRO scorecard_fmt(v, u) AS
    CASE WHEN v = round(v) THEN format('{:,}', CAST(v AS BIGINT))
         WHEN abs(v) < 10 AND u <> '%' THEN format('{:.2f}', v)
         ELSE format('{:,.1f}', v) END
    || CASE WHEN u = '%' THEN '%' ELSE ' ' || u END
"""

# Status: the article-date value is compared when we have it, else today's value (the
# `evaluated_on` column says which). Comparisons: `approx` (within the tolerance), `lt`
# (strictly under the article's bound), `gt` (strictly over it), `ge` (at least the article's
# threshold). The article-date value is the figure `<id>` or `<id>_dec2021`, today's
# `<id>_today`. A note an analysis computed for the row (out_figure_notes) leads its reason.
# Reason: the computed alternative readings named in the reference file's `alternatives`
# column ("figure_id: label; ..."), and whether the article's value lies between our readings
# (those in the row's unit, the headline included). Only ids are typed there, never values.
# A "today" value that says which data it stands for (its figure's note: the year and meetings
# pooled) is such a note: "today: <note>". Last, the computed context named in the reference
# file's `context` column (same form as `alternatives`: figures that qualify the row, e.g. how
# much of today's Hub the tags see, listed but never compared with the article).
SCORECARD_SQL = """
CREATE OR REPLACE TABLE out_scorecard AS
WITH ours AS (
    SELECT f.figure_id, f.value, f.unit, f.snapshot_id, f.source,
           coalesce(' (data of ' || strftime(d.data_as_of, '%Y-%m-%d') || ')', '') AS dated
    FROM out_figures f LEFT JOIN ref_snapshot_dates d USING (snapshot_id)
), joined AS (
    SELECT r.figure_id, coalesce(nullif(trim(r.claim), ''), r.quote) AS claim, r.section,
           CAST(r.value AS DOUBLE) AS article_value, r.unit,
           r.comparison, r.tolerance, r.method_note,
           a.value AS ours_as_of_article, t.value AS ours_today,
           coalesce(a.value, t.value) AS ours_evaluated,
           CASE WHEN a.value IS NOT NULL THEN 'article date'
                WHEN t.value IS NOT NULL THEN 'today' END AS evaluated_on,
           concat_ws('; ',
               CASE WHEN a.snapshot_id IS NOT NULL
                    THEN a.source || ' #' || a.snapshot_id || a.dated END,
               CASE WHEN t.snapshot_id IS NOT NULL AND t.snapshot_id IS DISTINCT FROM a.snapshot_id
                    THEN t.source || ' #' || t.snapshot_id || t.dated END) AS snapshots,
           CASE WHEN ends_with(r.tolerance, '%')
                THEN CAST(rtrim(r.tolerance, '%') AS DOUBLE) / 100 * CAST(r.value AS DOUBLE)
                ELSE CAST(r.tolerance AS DOUBLE) END AS tolerance_abs,
           r.rowid AS ord  -- the reference file's order (row_number() OVER () is not stable)
    FROM ref_article_figures r
    LEFT JOIN ours a ON a.figure_id IN (r.figure_id, r.figure_id || '_dec2021')
    LEFT JOIN ours t ON t.figure_id = r.figure_id || '_today'
), alternative_items AS (
    SELECT figure_id, unnest(string_split(alternatives, ';')) AS item,
           unnest(generate_series(1, len(string_split(alternatives, ';')))) AS pos
    FROM ref_article_figures WHERE nullif(trim(alternatives), '') IS NOT NULL
), context_items AS (
    SELECT figure_id, unnest(string_split(context, ';')) AS item,
           unnest(generate_series(1, len(string_split(context, ';')))) AS pos
    FROM ref_article_figures WHERE nullif(trim(context), '') IS NOT NULL
), context AS (
    SELECT i.figure_id,
           string_agg(trim(substr(i.item, strpos(i.item, ':') + 1)) || ': '
                      || scorecard_fmt(o.value, o.unit), '; ' ORDER BY i.pos) AS listed
    FROM context_items i JOIN ours o ON o.figure_id = trim(split_part(i.item, ':', 1))
    GROUP BY i.figure_id
), alternatives AS (
    SELECT i.figure_id, i.pos, trim(substr(i.item, strpos(i.item, ':') + 1)) AS label,
           o.value, o.unit
    FROM alternative_items i JOIN ours o ON o.figure_id = trim(split_part(i.item, ':', 1))
), readings AS (
    SELECT j.figure_id,
           string_agg(a.label || ': ' || scorecard_fmt(a.value, a.unit), '; ' ORDER BY a.pos)
               AS listed,
           count(*) FILTER (WHERE a.unit = j.unit) AS comparable,
           least(min(a.value) FILTER (WHERE a.unit = j.unit), any_value(j.ours_evaluated)) AS lo,
           greatest(max(a.value) FILTER (WHERE a.unit = j.unit), any_value(j.ours_evaluated))
               AS hi
    FROM joined j JOIN alternatives a USING (figure_id)
    GROUP BY j.figure_id
), notes AS (
    SELECT figure_id, string_agg(note, '; ' ORDER BY analysis, note) AS note
    FROM out_figure_notes GROUP BY figure_id
)
SELECT figure_id, claim, section, article_value, unit, ours_as_of_article, ours_today,
       round(ours_evaluated - article_value, 2) AS difference,
       CASE WHEN ours_evaluated IS NULL THEN 'no data yet'
            WHEN comparison = 'lt' AND ours_evaluated < article_value THEN 'matches'
            WHEN comparison = 'lt' THEN 'differs'
            WHEN comparison = 'gt' AND ours_evaluated > article_value THEN 'matches'
            WHEN comparison = 'gt' THEN 'differs'
            WHEN comparison = 'ge' AND ours_evaluated >= article_value THEN 'matches'
            WHEN comparison = 'ge' THEN 'differs'
            WHEN abs(ours_evaluated - article_value) <= tolerance_abs THEN 'matches'
            ELSE 'differs' END AS status,
       evaluated_on,
       CASE WHEN comparison = 'lt' THEN '< ' || article_value::VARCHAR
            WHEN comparison = 'gt' THEN '> ' || article_value::VARCHAR
            WHEN comparison = 'ge' THEN '≥ ' || article_value::VARCHAR
            ELSE '± ' || tolerance END AS tolerance,
       nullif(snapshots, '') AS snapshots,
       nullif(concat_ws('; ', n.note,
           CASE WHEN r.comparable = 0 OR ours_evaluated IS NULL OR r.lo = r.hi THEN r.listed
                ELSE r.listed || '; the article''s ' || scorecard_fmt(article_value, unit)
                     || CASE WHEN article_value BETWEEN r.lo AND r.hi THEN ' lies between'
                             ELSE ' lies outside' END
                     || ' our readings (' || scorecard_fmt(r.lo, unit) || ' to '
                     || scorecard_fmt(r.hi, unit) || ')' END,
           c.listed), '') AS reason,
       method_note AS note
FROM joined LEFT JOIN readings r USING (figure_id) LEFT JOIN notes n USING (figure_id)
     LEFT JOIN context c USING (figure_id)
ORDER BY ord
"""


def build_scorecard(con: duckdb.DuckDBPyConnection, reference: Path = REFERENCE_FILE) -> list:
    con.execute(FIGURES_DDL)
    con.execute(NOTES_DDL)
    load_reference(con, reference)
    con.execute(FORMAT_MACRO)
    con.execute(SCORECARD_SQL)
    return con.execute(f"SELECT {', '.join(COLUMNS)} FROM out_scorecard").fetchall()


def _fmt(value) -> str:
    if value is None:
        return "no data"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    return str(value)


def to_markdown(rows: list) -> str:
    head = ["Claim", "Figure", "Article", "Ours (article date)", "Ours (today)", "Difference",
            "Status", "Tolerance", "Snapshot(s)", "Why it may differ (computed alternatives "
            "first)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        row = dict(zip(COLUMNS, r, strict=True))
        unit = row["unit"]
        with_unit = "%" if unit == "%" else f" {unit}"
        tol = row["tolerance"]
        bound = tol[:2] if tol[:1] in ("<", ">", "≥") else ""  # a bound or threshold, not a value
        status = {"matches": "✅ matches", "differs": "⚠️ differs"}.get(row["status"],
                                                                     row["status"])
        if row["evaluated_on"] == "today":
            status += " (today)"
        why = (row["note"] or "").replace("|", "/")
        if row["reason"]:
            why = f"**{row['reason'].replace('|', '/')}.** {why}"
        lines.append("| " + " | ".join([
            (row["claim"] or "").replace("|", "/"), f"`{row['figure_id']}`",
            f"{bound}{_fmt(row['article_value'])}{with_unit}",
            _fmt(row["ours_as_of_article"]), _fmt(row["ours_today"]),
            "—" if row["difference"] is None else _fmt(row["difference"]),
            status, tol, row["snapshots"] or "—", why,
        ]) + " |")
    return "\n".join(lines) + "\n"


def sources_markdown(con: duckdb.DuckDBPyConnection) -> str:
    """Per source: licence/terms, current snapshot and last refresh, as a Markdown table."""
    from pipeline.mirrors import shown_origin
    from pipeline.sources import all_sources
    from pipeline.store import source_status

    status = {r["source"]: r for r in source_status(con)}
    lines = ["| Source | What | Licence / terms | Current snapshot | Last attempt |",
             "|---|---|---|---|---|"]
    for name, source in all_sources().items():
        row = status.get(name) or {}
        current = "no data yet"
        if row.get("snapshot_id") is not None:
            day = (f"data of {row['data_as_of']:%Y-%m-%d}" if row.get("data_as_of")
                   else f"{row['data_date']:%Y-%m-%d}")
            current = (f"#{row['snapshot_id']}, {day}, "
                       f"{row['row_count']:,} rows, sha256 `{row['sha256'][:10]}`, from "
                       f"{markdown_text(shown_origin(row['origin_url'], row['public_origin']))}")
        last = row.get("last_status") or "never run"
        if last == "unchanged":  # checked and found the same: as good as ok, and no churn
            last = "ok"
        if last == "failed":  # upstream text (a reason phrase, a model id): made inert
            last = f"failed: {markdown_text((row.get('last_error') or '')[:120])}"
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
                "column on our value as of the article's date (on today's, marked "
                "\"(today)\", when we have no data for the article's date). Alternative "
                "readings are computed figures named in `data/reference/article_figures.csv`, "
                "which also holds the notes.\n\n"
                + to_markdown(rows))
    sources_md = _write_text(out / "sources.md", sources_markdown(con))
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows([csv_cell(v) for v in row] for row in rows)
    tmp.replace(csv_path)
    return [md, csv_path, sources_md,
            *draw_scorecard(con, settings.charts_dir / "scorecard.png")]
