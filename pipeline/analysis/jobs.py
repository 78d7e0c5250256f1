"""Job postings: HN "Who is hiring?" monthly shares, and job-board counts with their history.

Matching rules (applied to each posting's text after stripping HTML tags and unescaping
entities; case-insensitive; a "word boundary" here means the neighbouring character is not a
letter or digit, so "PyTorch/TensorFlow", "pytorch_lightning", "TensorFlow.js" all match):

* PyTorch: the word "pytorch" (optionally followed by a version such as "PyTorch2").
  "torch" alone does NOT count (Lua Torch, torch.* snippets and the word "torch" itself).
* TensorFlow: "tensorflow" (incl. "TensorFlow.js", "TensorFlow Lite", "tensorflow2"), and the
  TensorFlow-only spellings "tfjs", "tf.js", "tflite", "tf.keras". A bare "TF" / "TF2" does
  NOT count: in job posts it mostly means Terraform (or Team Fortress 2), not TensorFlow.
* JAX: the word "jax", except the Java APIs "JAX-RS", "JAX-WS", "JAX-RPC", "JAX-B", "JAX-P"
  ("JAXB" is not a word match anyway).
* Keras: the word "keras" (also inside "tf.keras"). Keras alone is not TensorFlow: Keras 3
  runs on JAX and PyTorch too.

The rules live here (not in the source) so that `analyze` re-applies them to the stored
text: changing a rule changes this module's code hash, which re-runs the analysis without
refetching anything.
"""

from __future__ import annotations

import html
import re
from datetime import date

import duckdb
import pyarrow as pa

from pipeline.analysis import Analysis, Figure
from pipeline.store import current_snapshot_id

FRAMEWORKS = ("pytorch", "tensorflow", "jax", "keras")
LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX", "keras": "Keras"}
_START = r"(?<![a-z0-9])"
_END = r"(?![a-z0-9])"
RULES = {
    "pytorch": re.compile(rf"{_START}pytorch(?:\d+(?:\.\d+)*)?{_END}", re.IGNORECASE),
    "tensorflow": re.compile(
        rf"{_START}(?:tensorflow(?:\d+(?:\.\d+)*)?|tfjs|tf\.js|tflite|tf\.keras){_END}",
        re.IGNORECASE),
    "jax": re.compile(rf"{_START}jax{_END}(?!-(?:rs|ws|rpc|b|p){_END})", re.IGNORECASE),
    "keras": re.compile(rf"{_START}keras{_END}", re.IGNORECASE),
}
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")

#: postings per year mentioning PyTorch / TensorFlow in public analyses of the same threads
REFERENCE_POINTS = {2018: (22, 141), 2020: (67, 134), 2022: (113, 48), 2024: (59, 25)}
ARTICLE_MONTH = date(2021, 12, 1)  # "PyTorch vs TensorFlow in 2022" was published Dec 2021
ARTICLE_BOARDS = ("LinkedIn", "ZipRecruiter", "Indeed")
HN_BOARD = "Hacker News"
ADZUNA_BOARD = "Adzuna (API)"
LAST_MONTHS = 12


def plain_text(text: str) -> str:
    """A posting's visible text: tags replaced by spaces, entities unescaped, spaces collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text or ""))).strip()


def match_frameworks(text: str) -> dict[str, bool]:
    """Which frameworks a posting mentions, by the rules above."""
    plain = plain_text(text)
    return {name: bool(rule.search(plain)) for name, rule in RULES.items()}


def _ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the (empty) raw tables of sources never collected, so the SQL below is simple."""
    from pipeline.sources import ensure_tables

    ensure_tables(con, "jobs_hn", "jobs_boards", "jobs_adzuna")


def build_hn(con: duckdb.DuckDBPyConnection) -> None:
    """core_jobs_hn__postings (rules re-applied to the text) and the monthly/yearly tables."""
    rows = con.execute(
        "SELECT thread_id, month, comment_id, text "
        "FROM jobs_hn_postings(current_snapshot('jobs_hn'))").fetchall()
    flags = [match_frameworks(r[3]) for r in rows]
    table = pa.table({
        "thread_id": pa.array([r[0] for r in rows], pa.int64()),
        "month": pa.array([r[1] for r in rows], pa.date32()),
        "comment_id": pa.array([r[2] for r in rows], pa.int64()),
        **{fw: pa.array([f[fw] for f in flags], pa.bool_()) for fw in FRAMEWORKS},
    })
    con.register("_hn_flags", table)
    try:
        con.execute("""
            CREATE OR REPLACE TABLE core_jobs_hn__postings AS
            SELECT current_snapshot('jobs_hn') AS snapshot_id, * FROM _hn_flags
        """)
    finally:
        con.unregister("_hn_flags")
    con.execute("""
        CREATE OR REPLACE TABLE out_jobs__hn_monthly AS
        WITH threads AS (
            SELECT month, list(thread_id ORDER BY thread_id) AS thread_ids,
                   bool_or(NOT complete) AS incomplete, max(fetched_at) AS fetched_at
            FROM jobs_hn_threads(current_snapshot('jobs_hn'))
            GROUP BY month
        ), counts AS (
            SELECT month, count(*) AS postings,
                   count(*) FILTER (WHERE pytorch) AS pytorch,
                   count(*) FILTER (WHERE tensorflow) AS tensorflow,
                   count(*) FILTER (WHERE jax) AS jax,
                   count(*) FILTER (WHERE keras) AS keras,
                   count(*) FILTER (WHERE pytorch AND tensorflow) AS pytorch_and_tensorflow
            FROM core_jobs_hn__postings GROUP BY month
        )
        SELECT t.month, t.thread_ids, coalesce(c.postings, 0) AS postings,
               coalesce(c.pytorch, 0) AS pytorch, coalesce(c.tensorflow, 0) AS tensorflow,
               coalesce(c.jax, 0) AS jax, coalesce(c.keras, 0) AS keras,
               coalesce(c.pytorch_and_tensorflow, 0) AS pytorch_and_tensorflow,
               100.0 * c.pytorch / nullif(c.postings, 0) AS pytorch_pct,
               100.0 * c.tensorflow / nullif(c.postings, 0) AS tensorflow_pct,
               100.0 * c.jax / nullif(c.postings, 0) AS jax_pct,
               100.0 * c.keras / nullif(c.postings, 0) AS keras_pct,
               t.incomplete, t.fetched_at, current_snapshot('jobs_hn') AS snapshot_id
        FROM threads t LEFT JOIN counts c USING (month)
        ORDER BY t.month
    """)
    reference = [{"year": y, "ref_pytorch": p, "ref_tensorflow": t}
                 for y, (p, t) in REFERENCE_POINTS.items()]
    con.register("_ref", pa.Table.from_pylist(reference))
    try:
        con.execute("""
            CREATE OR REPLACE TABLE out_jobs__hn_yearly AS
            SELECT year(month) AS year, count(*) AS months, bool_or(incomplete) AS incomplete,
                   sum(postings)::BIGINT AS postings, sum(pytorch)::BIGINT AS pytorch,
                   sum(tensorflow)::BIGINT AS tensorflow, sum(jax)::BIGINT AS jax,
                   sum(keras)::BIGINT AS keras,
                   any_value(r.ref_pytorch) AS ref_pytorch,
                   any_value(r.ref_tensorflow) AS ref_tensorflow,
                   any_value(snapshot_id) AS snapshot_id
            FROM out_jobs__hn_monthly m LEFT JOIN _ref r ON r.year = year(m.month)
            GROUP BY 1 ORDER BY 1
        """)
    finally:
        con.unregister("_ref")


def build_boards(con: duckdb.DuckDBPyConnection) -> None:
    """Every dated count (manual file + every Adzuna snapshot), and the latest per board."""
    con.execute(f"""
        CREATE OR REPLACE TABLE core_jobs__board_counts AS
        SELECT date, board, region, query, framework, count, url, 'manual' AS method,
               snapshot_id
        FROM raw_jobs_boards__counts WHERE snapshot_id = current_snapshot('jobs_boards')
        UNION ALL
        SELECT a.date, '{ADZUNA_BOARD}', upper(a.country), a.query, a.framework, a.count,
               a.url, 'api', a.snapshot_id
        FROM raw_jobs_adzuna__counts a JOIN snapshots s USING (snapshot_id)
        WHERE s.status = 'ok' AND s.promoted AND NOT s.partial
    """)
    # Several rows of one board, date and framework are separate searches (e.g. Indeed's 11
    # cities): they are summed. Adzuna refreshed twice on a day keeps the later snapshot.
    con.execute("""
        CREATE OR REPLACE TABLE out_jobs__board_history AS
        WITH latest_of_day AS (
            SELECT * FROM core_jobs__board_counts
            QUALIFY snapshot_id = max(snapshot_id) OVER (PARTITION BY board, date)
        )
        SELECT date, board, framework, sum(count) AS count, count(*) AS searches,
               string_agg(DISTINCT region, '; ' ORDER BY region) AS regions,
               max(snapshot_id) AS snapshot_id
        FROM latest_of_day GROUP BY ALL ORDER BY board, date, framework
    """)
    hn_rows = con.execute(f"""
        WITH recent AS (
            SELECT * FROM out_jobs__hn_monthly
            WHERE month > (SELECT max(month) FROM out_jobs__hn_monthly)
                          - INTERVAL {LAST_MONTHS} MONTH
        )
        SELECT min(month), max(month), count(*), sum(pytorch), sum(tensorflow), sum(jax),
               sum(postings), any_value(snapshot_id)
        FROM recent
    """).fetchall()[0]
    hn = []
    if hn_rows[0] is not None:
        first, last, months, pt, tf, jx, postings, snap = hn_rows
        region = f"{first:%b %Y}–{last:%b %Y} ({months} months, {postings} postings)"
        for fw, n in (("pytorch", pt), ("tensorflow", tf), ("jax", jx)):
            hn.append({"board": HN_BOARD, "date": last, "framework": fw, "count": int(n),
                       "searches": months, "regions": region, "snapshot_id": snap,
                       "kind": "hn"})
    con.register("_hn_group", pa.Table.from_pylist(hn, schema=pa.schema([
        ("board", pa.string()), ("date", pa.date32()), ("framework", pa.string()),
        ("count", pa.int64()), ("searches", pa.int64()), ("regions", pa.string()),
        ("snapshot_id", pa.int64()), ("kind", pa.string())])))
    con.register("_article", pa.table({"board": list(ARTICLE_BOARDS),
                                       "board_order": list(range(len(ARTICLE_BOARDS)))}))
    try:
        con.execute(f"""
            CREATE OR REPLACE TABLE out_jobs__board_counts AS
            WITH latest AS (
                SELECT h.*, CASE WHEN h.board = '{ADZUNA_BOARD}' THEN 'api' ELSE 'manual' END
                       AS kind
                FROM out_jobs__board_history h
                QUALIFY date = max(date) OVER (PARTITION BY board)
            ), boards AS (
                SELECT board, kind, date, framework, count, searches, regions, snapshot_id
                FROM latest
                UNION ALL
                SELECT board, kind, date, framework, count, searches, regions, snapshot_id
                FROM _hn_group
            ), frameworks AS (SELECT unnest(['tensorflow', 'pytorch']) AS framework),
            placeholders AS (  -- the article's boards are always shown, as "no data" if empty
                SELECT a.board, 'manual' AS kind, NULL::DATE AS date, f.framework,
                       NULL::BIGINT AS count, 0 AS searches, NULL AS regions,
                       NULL::BIGINT AS snapshot_id
                FROM _article a CROSS JOIN frameworks f
                WHERE a.board NOT IN (SELECT board FROM boards)
            ), every AS (SELECT * FROM boards UNION ALL SELECT * FROM placeholders)
            SELECT e.*, e.count IS NOT NULL AS has_data,
                   coalesce(a.board_order,
                            CASE e.kind WHEN 'manual' THEN 10 WHEN 'api' THEN 20 ELSE 30 END)
                       AS board_order
            FROM every e LEFT JOIN _article a USING (board)
            ORDER BY board_order, board, framework
        """)
    finally:
        con.unregister("_hn_group")
        con.unregister("_article")


def hn_last12(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Share of HN postings mentioning each framework over the newest 12 thread months."""
    row = con.execute(f"""
        SELECT sum(postings), sum(pytorch), sum(tensorflow), sum(jax)
        FROM out_jobs__hn_monthly
        WHERE month > (SELECT max(month) FROM out_jobs__hn_monthly)
                      - INTERVAL {LAST_MONTHS} MONTH
    """).fetchall()[0]
    if not row[0]:
        return {}
    postings, pt, tf, jx = row
    return {"postings": postings, "pytorch": 100.0 * pt / postings,
            "tensorflow": 100.0 * tf / postings, "jax": 100.0 * jx / postings}


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    _ensure_raw_tables(con)
    build_hn(con)
    build_boards(con)
    figures = []
    hn_snapshot = current_snapshot_id(con, "jobs_hn")
    shares = hn_last12(con) if hn_snapshot is not None else {}
    if shares:
        figures += [
            Figure("jobs_hn_pt_share_last12_pct_today", round(shares["pytorch"], 2), "%",
                   "today", "jobs_hn", hn_snapshot),
            Figure("jobs_hn_tf_share_last12_pct_today", round(shares["tensorflow"], 2), "%",
                   "today", "jobs_hn", hn_snapshot),
            Figure("jobs_hn_jax_share_last12_pct_today", round(shares["jax"], 2), "%",
                   "today", "jobs_hn", hn_snapshot),
            Figure("jobs_hn_postings_last12_today", float(shares["postings"]), "postings",
                   "today", "jobs_hn", hn_snapshot),
        ]
    latest = con.execute(f"""
        SELECT framework, count, snapshot_id FROM out_jobs__board_counts
        WHERE board = '{ADZUNA_BOARD}' AND has_data
    """).fetchall()
    for framework, count, snapshot in latest:
        short = {"pytorch": "pt", "tensorflow": "tf", "jax": "jax"}.get(framework, framework)
        figures.append(Figure(f"jobs_adzuna_us_{short}_count_today", float(count), "postings",
                              "today", "jobs_adzuna", snapshot))
    return figures


ANALYSIS = Analysis(name="jobs", sources=("jobs_hn", "jobs_boards", "jobs_adzuna"), run=run,
                    needs_all=False)
