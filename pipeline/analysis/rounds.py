"""The article's other two rounds, measured: deployment and ecosystem, by monthly downloads.

The article judges round 2 (deployment: TensorFlow Serving, TensorFlow Lite, TensorFlow.js
against TorchServe and PyTorch Live) and round 3 (ecosystems: TF Hub, TFX, MediaPipe, ...
against PyTorch Hub, Lightning, ...) in words. Here each round's tools are measured by how
often their packages are installed, month by month (PyPI and npm).

Rules (pipeline/rules.py, data/reference/rounds_packages.csv, docs/methodology/rounds.md):

* A tool's downloads = the sum of its packages' downloads in the month (renamed packages are
  one tool: tflite-runtime + ai-edge-litert = TensorFlow Lite, pytorch-lightning + lightning =
  Lightning, keras-nlp + keras-cv + keras-hub = KerasHub, @xenova/transformers +
  @huggingface/transformers = Transformers.js), each package counted from its first month
  only: before it, the name was someone else's or a placeholder (`downloads_before_release`).
* Side share = the side's downloads / (TensorFlow side + PyTorch side) of the round and month.
  Neutral tools (ONNX Runtime, OpenVINO, Core ML Tools, Transformers.js) are shown, never in a
  side's share. A month's share needs every registry the round's sides draw on (deployment:
  PyPI and npm; ecosystem: PyPI), and "today" is the latest month complete in all of them.
* The article's claims are scored as "TensorFlow side share > 50%" in December 2021 and in the
  latest complete month; the scorecard's reason names the biggest tools on each side.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from pipeline import rules
from pipeline.analysis import Analysis, Figure
from pipeline.store import current_snapshot_id

SOURCES = ("pypi_downloads", "npm_downloads")
ARTICLE_MONTH = date(2021, 12, 1)
#: round -> the stem of its figure ids
STEMS = {"deployment": "deploy_tf_share_pct", "ecosystem": "ecosystem_tf_share_pct"}


def packages_table() -> pa.Table:
    return pa.Table.from_pylist([
        {"package": p.package, "registry": p.registry, "side": p.side, "round": p.round,
         "tool": p.tool, "first_month": p.first_month} for p in rules.rounds_packages()],
        schema=pa.schema([("package", pa.string()), ("registry", pa.string()),
                          ("side", pa.string()), ("round", pa.string()), ("tool", pa.string()),
                          ("first_month", pa.date32())]))


CORE = """
CREATE OR REPLACE TABLE core_rounds__package_monthly AS
WITH logged AS (
    SELECT 'pypi' AS registry, package, month, downloads, complete,
           current_snapshot('pypi_downloads') AS snapshot_id
    FROM raw_pypi__downloads_at(current_snapshot('pypi_downloads'))
    UNION ALL
    SELECT 'npm', package, month, downloads, complete, current_snapshot('npm_downloads')
    FROM raw_npm__downloads_at(current_snapshot('npm_downloads'))
)
SELECT l.month, r.round, r.side, r.tool, r.registry, l.package,
       CASE WHEN l.month >= r.first_month THEN l.downloads ELSE 0 END AS downloads,
       CASE WHEN l.month < r.first_month THEN l.downloads ELSE 0 END
           AS downloads_before_release,
       l.complete, l.snapshot_id
FROM logged l JOIN _rounds_packages r USING (registry, package)
ORDER BY l.month, r.round, r.side, r.tool, l.package
"""

OUT = """
CREATE OR REPLACE TABLE out_rounds__monthly AS
WITH needed AS (   -- the registries each round's sides draw on
    SELECT round, list(DISTINCT registry ORDER BY registry) AS registries
    FROM _rounds_packages WHERE side <> 'neutral' GROUP BY round
), months AS (     -- per registry: months it has, and whether they are complete
    SELECT registry, month, bool_and(complete) AS complete
    FROM core_rounds__package_monthly GROUP BY registry, month
), round_months AS (
    SELECT n.round, m.month,
           count(DISTINCT m.registry) = len(any_value(n.registries)) AS covered,
           bool_and(m.complete) AS complete
    FROM needed n JOIN months m ON list_contains(n.registries, m.registry)
    GROUP BY n.round, m.month
), tools AS (
    SELECT month, round, side, tool, registry, sum(downloads)::BIGINT AS downloads,
           sum(downloads_before_release)::BIGINT AS downloads_before_release,
           string_agg(package, ', ' ORDER BY package) AS packages,
           max(snapshot_id) AS snapshot_id
    FROM core_rounds__package_monthly GROUP BY ALL
), sides AS (
    SELECT month, round,
           sum(downloads) FILTER (WHERE side = 'tensorflow') AS tf,
           sum(downloads) FILTER (WHERE side = 'pytorch') AS pt
    FROM tools GROUP BY month, round
)
SELECT t.month, t.round, t.side, t.tool, t.registry, t.downloads,
       CASE WHEN t.side = 'neutral' OR NOT rm.covered THEN NULL
            WHEN t.side = 'tensorflow' THEN 100.0 * s.tf / nullif(s.tf + s.pt, 0)
            ELSE 100.0 * s.pt / nullif(s.tf + s.pt, 0) END AS side_share_pct,
       t.packages, t.downloads_before_release,
       coalesce(rm.covered, false) AS covered, coalesce(rm.complete AND rm.covered, false)
           AS complete,
       t.month = (SELECT max(month) FROM round_months x
                  WHERE x.round = t.round AND x.covered AND x.complete) AS latest_complete,
       t.month = DATE '{article}' AS article_month, t.snapshot_id
FROM tools t JOIN sides s USING (month, round)
LEFT JOIN round_months rm USING (round, month)
ORDER BY t.month, t.round, t.side, t.tool, t.registry
"""

CSV = """
SELECT strftime(month, '%Y-%m') AS month, round, side, tool, registry, downloads,
       round(side_share_pct, 3) AS side_share_pct, packages, downloads_before_release,
       complete, snapshot_id
FROM out_rounds__monthly ORDER BY month, round, side, tool, registry
"""


def _tops(con: duckdb.DuckDBPyConnection, round_: str, where: str) -> dict | None:
    """The round's month selected by `where`: the side shares and the biggest tools."""
    rows = con.execute(f"""
        SELECT side, tool, sum(downloads) AS downloads, any_value(side_share_pct) AS share,
               any_value(month) AS month, max(snapshot_id) AS snapshot
        FROM out_rounds__monthly WHERE round = ? AND covered AND complete AND {where}
          AND side <> 'neutral'
        GROUP BY side, tool ORDER BY side, downloads DESC, tool""", [round_]).fetchall()
    if not rows:
        return None
    sides: dict[str, dict] = {}
    for side, tool, downloads, share, month, _snapshot in rows:
        entry = sides.setdefault(side, {"share": share, "tools": [], "month": month})
        entry["tools"].append((tool, int(downloads)))
    if "tensorflow" not in sides or sides["tensorflow"]["share"] is None:
        return None
    return {"sides": sides, "month": rows[0][4],
            "snapshot": current_snapshot_id(con, "pypi_downloads") or rows[0][5]}


def _short(n: int) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return str(n)


def describe(tops: dict) -> str:
    """'Dec 2021: TensorFlow side 71.2% (TensorFlow.js 1.2M, TensorFlow Lite 0.4M), PyTorch
    side 28.8% (TorchServe 90.0k, PyTorch Live 2.0k)'."""
    parts = []
    for side in ("tensorflow", "pytorch"):
        entry = tops["sides"].get(side)
        if entry is None:
            continue
        tools = ", ".join(f"{tool} {_short(n)}" for tool, n in entry["tools"][:2])
        share = f" {entry['share']:.1f}%" if entry["share"] is not None else ""
        parts.append(f"{rules.SIDES[side]} side{share} ({tools})")
    return f"{tops['month']:%b %Y}: " + ", ".join(parts)


def figures_and_notes(con: duckdb.DuckDBPyConnection) -> tuple[list[Figure], list[tuple]]:
    figures, notes = [], []
    for round_, stem in STEMS.items():
        described = []
        for where, as_of, tail in (("article_month", "article", "dec2021"),
                                   ("latest_complete", "today", "today")):
            tops = _tops(con, round_, where)
            if tops is None:
                continue
            share = tops["sides"]["tensorflow"]["share"]
            figures.append(Figure(f"{stem}_{tail}", round(float(share), 2), "%", as_of,
                                  "pypi_downloads", tops["snapshot"]))
            described.append(describe(tops))
        if described:
            notes.append(("rounds", stem, "Biggest tools: " + "; ".join(described)))
    return figures, notes


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    from pipeline.sources import ensure_tables

    ensure_tables(con, *SOURCES)
    con.register("_rounds_packages", packages_table())
    try:
        con.execute(CORE)
        con.execute(OUT.format(article=ARTICLE_MONTH))
    finally:
        con.unregister("_rounds_packages")
    figures, notes = figures_and_notes(con)
    if notes:
        con.executemany("INSERT INTO out_figure_notes VALUES (?, ?, ?)", notes)
    return figures


ANALYSIS = Analysis(name="rounds", sources=SOURCES, run=run, needs_all=False,
                    exports={"rounds_monthly.csv": CSV})
