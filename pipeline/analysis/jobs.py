"""Job postings: HN "Who is hiring?" monthly shares, and job-board counts with their history.

Matching rules: `pipeline/rules.py` (`match_frameworks`), shared with the HN source, which
stores the flags as collected. This analysis re-applies them to the stored text, so a changed
rule takes effect at the next `analyze` without refetching (a change in pipeline/rules.py
changes every analysis' code hash).

Headline window ("last 12 months"): the 12 thread months ending with the newest COMPLETE
thread month (a thread still collecting postings is shown in `out_jobs__hn_monthly`, marked
`incomplete`, and left out of every headline figure). As of the article: the 12 thread months
ending with the article's month (January - December 2021), complete months only.

The article's claim "TensorFlow beats out PyTorch substantially" is evaluated as the ratio of
postings mentioning TensorFlow to postings mentioning PyTorch in a window (undefined when no
posting mentions PyTorch); the reference file calls >= 1.5 "substantially".
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from pipeline.analysis import Analysis, Figure
from pipeline.rules import FRAMEWORKS, LABELS, match_frameworks, plain_text
from pipeline.store import current_snapshot_id

__all__ = ["FRAMEWORKS", "LABELS", "match_frameworks", "plain_text", "run"]

#: The analysis' ONE read of the HN source (postings with their text, and the threads with
#: their completeness): everything below works on these two queries.
HN_POSTINGS = """
    SELECT thread_id, month, comment_id, text
    FROM raw_jobs_hn__postings_at(current_snapshot('jobs_hn'))"""
HN_THREADS = """
    SELECT month, thread_id, complete, fetched_at
    FROM raw_jobs_hn__threads_at(current_snapshot('jobs_hn'))"""

#: postings per year mentioning PyTorch / TensorFlow in public analyses of the same threads
REFERENCE_POINTS = {2018: (22, 141), 2020: (67, 134), 2022: (113, 48), 2024: (59, 25)}
ARTICLE_MONTH = date(2021, 12, 1)  # "PyTorch vs TensorFlow in 2022" was published Dec 2021
ARTICLE_BOARDS = ("LinkedIn", "ZipRecruiter", "Indeed")
HN_BOARD = "Hacker News"
ADZUNA_BOARD = "Adzuna (API)"
LAST_MONTHS = 12


def _ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the (empty) raw tables of sources never collected, so the SQL below is simple."""
    from pipeline.sources import ensure_tables

    ensure_tables(con, "jobs_hn", "jobs_boards", "jobs_adzuna")


FLAGS_SCHEMA = pa.schema([("thread_id", pa.int64()), ("month", pa.date32()),
                          ("comment_id", pa.int64()),
                          *[(fw, pa.bool_()) for fw in FRAMEWORKS]])
BATCH_POSTINGS = 20_000


def posting_flags(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every current posting's ids and framework flags (the rules re-applied to its text).
    Texts (~1.3 KB each) are read in batches on a cursor of their own, so 15 years of threads
    never sit in memory at once; only ids and flags are kept. (The cursor sees committed data
    only: with no HN snapshot, the tables may exist only in this analysis' transaction.)"""
    if current_snapshot_id(con, "jobs_hn") is None:
        return FLAGS_SCHEMA.empty_table()
    parts = []
    cursor = con.cursor()
    try:
        for batch in cursor.sql(HN_POSTINGS).to_arrow_reader(BATCH_POSTINGS):
            flags = [match_frameworks(t) for t in batch.column("text").to_pylist()]
            parts.append(pa.table({
                "thread_id": batch.column("thread_id"), "month": batch.column("month"),
                "comment_id": batch.column("comment_id"),
                **{fw: pa.array([f[fw] for f in flags], pa.bool_()) for fw in FRAMEWORKS},
            }).cast(FLAGS_SCHEMA))
    finally:
        cursor.close()
    return pa.concat_tables(parts) if parts else FLAGS_SCHEMA.empty_table()


def build_hn(con: duckdb.DuckDBPyConnection) -> None:
    """core_jobs_hn__postings (rules re-applied to the text) and the monthly/yearly tables."""
    table = posting_flags(con)
    con.register("_hn_flags", table)
    try:
        con.execute("""
            CREATE OR REPLACE TABLE core_jobs_hn__postings AS
            SELECT current_snapshot('jobs_hn') AS snapshot_id, * FROM _hn_flags
        """)
    finally:
        con.unregister("_hn_flags")
    con.execute(f"""
        CREATE OR REPLACE TABLE out_jobs__hn_monthly AS
        WITH threads AS (
            SELECT month, list(thread_id ORDER BY thread_id) AS thread_ids,
                   bool_or(NOT complete) AS incomplete, max(fetched_at) AS fetched_at
            FROM ({HN_THREADS}) GROUP BY month
        ), last_complete AS (
            SELECT max(month) AS month FROM threads WHERE NOT incomplete
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
               t.incomplete,
               NOT t.incomplete AND t.month <= l.month
                   AND t.month > l.month - INTERVAL {LAST_MONTHS} MONTH IS TRUE AS in_last12,
               NOT t.incomplete AND t.month <= DATE '{ARTICLE_MONTH}'
                   AND t.month > DATE '{ARTICLE_MONTH}' - INTERVAL {LAST_MONTHS} MONTH
                   AS in_article_window,
               t.fetched_at, current_snapshot('jobs_hn') AS snapshot_id
        FROM threads t LEFT JOIN counts c USING (month) CROSS JOIN last_complete l
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
    window = hn_window(con, "in_last12")
    hn = []
    if window:
        region = (f"{window['first']:%b %Y}–{window['last']:%b %Y} ({window['months']} "
                  f"complete months, {window['postings']} postings)")
        for fw in ("pytorch", "tensorflow", "jax"):
            hn.append({"board": HN_BOARD, "date": window["last"], "framework": fw,
                       "count": window[fw], "searches": window["months"], "regions": region,
                       "snapshot_id": window["snapshot_id"], "kind": "hn"})
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


def hn_window(con: duckdb.DuckDBPyConnection, window: str) -> dict | None:
    """Postings and mentions summed over the complete months of a window of
    out_jobs__hn_monthly (`in_last12` or `in_article_window`); None when it has no month."""
    cur = con.execute(f"""
        SELECT min(month) AS first, max(month) AS last, count(*) AS months,
               sum(postings)::BIGINT AS postings, sum(pytorch)::BIGINT AS pytorch,
               sum(tensorflow)::BIGINT AS tensorflow, sum(jax)::BIGINT AS jax,
               any_value(snapshot_id) AS snapshot_id
        FROM out_jobs__hn_monthly WHERE {window}""")
    row = cur.fetchall()[0]  # fetched fully: nothing may stay open on the connection
    if not row[2]:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def hn_figures(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    """Shares, counts and the TensorFlow / PyTorch ratio, today and as of the article."""
    figures: list[Figure] = []

    def add(figure_id: str, value: float, unit: str, as_of: str, snapshot: int) -> None:
        figures.append(Figure(figure_id, round(float(value), 2), unit, as_of, "jobs_hn",
                              snapshot))

    for window, as_of, tail in (("in_last12", "today", "last12_today"),
                                ("in_article_window", "article", "article_window")):
        sums = hn_window(con, window)
        if sums is None:
            continue
        snapshot, postings = sums["snapshot_id"], sums["postings"]
        if as_of == "today":
            for fw, short in (("pytorch", "pt"), ("tensorflow", "tf"), ("jax", "jax")):
                if postings:
                    add(f"jobs_hn_{short}_share_last12_pct_today",
                        100.0 * sums[fw] / postings, "%", as_of, snapshot)
        add(f"jobs_hn_postings_{tail}", postings, "postings", as_of, snapshot)
        add(f"jobs_hn_months_{tail}", sums["months"], "months", as_of, snapshot)
        add(f"jobs_hn_pt_postings_{tail}", sums["pytorch"], "postings", as_of, snapshot)
        add(f"jobs_hn_tf_postings_{tail}", sums["tensorflow"], "postings", as_of, snapshot)
        if sums["pytorch"]:  # undefined when no posting names PyTorch
            add("jobs_hn_tf_to_pt_ratio" + ("_today" if as_of == "today" else ""),
                sums["tensorflow"] / sums["pytorch"], "×", as_of, snapshot)
    return figures


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    _ensure_raw_tables(con)
    build_hn(con)
    build_boards(con)
    figures = hn_figures(con) if current_snapshot_id(con, "jobs_hn") is not None else []
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
