"""Job postings: HN "Who is hiring?" monthly shares, and job-board counts with their history.

Matching rules: `pipeline/rules.py` (`match_frameworks`), shared with the HN source, which
stores the flags as collected. This analysis re-applies them to the stored text, so a changed
rule takes effect at the next `analyze` without refetching (a change in pipeline/rules.py
changes every analysis' code hash).

Headline window ("last 12 months"): the 12 calendar months ending with the newest COMPLETE
thread month (a thread still collecting postings is shown in `out_jobs__hn_monthly`, marked
`incomplete`, and left out of every headline figure). As of the article: the 12 months ending
with the article's month (January - December 2021), complete months only. A window says how
many of its 12 months it holds (`jobs_hn_months_*`, unit "of 12 months").

Months a local copy declares missing (the snapshot's `months_declared_missing` parameter) are
rows of `out_jobs__hn_monthly` with `declared_missing` and NULL counts: shown as gaps, never
counted as zero, never in a window's sums. A complete month whose newest posting is less than
CAPTURED_EARLY_DAYS after the thread opened (its 2nd-percentile posting time) is marked
`captured_early`: its copy was taken before the month's later postings.

The article's claim "TensorFlow beats out PyTorch substantially" is evaluated as the ratio of
postings mentioning TensorFlow to postings mentioning PyTorch in a window (undefined when no
posting mentions PyTorch); the reference file calls >= 1.5 "substantially".
"""

from __future__ import annotations

import json
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
    SELECT thread_id, month, comment_id, created_at, text
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
#: a complete month whose newest posting came sooner than this after its thread opened was
#: copied early (complete copies run 11-18 days; see docs/methodology/jobs.md)
CAPTURED_EARLY_DAYS = 10


def _ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the (empty) raw tables of sources never collected, so the SQL below is simple."""
    from pipeline.sources import ensure_tables

    ensure_tables(con, "jobs_hn", "jobs_boards", "jobs_adzuna")


FLAGS_SCHEMA = pa.schema([("thread_id", pa.int64()), ("month", pa.date32()),
                          ("comment_id", pa.int64()), ("created_at", pa.timestamp("us")),
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
                "created_at": batch.column("created_at"),
                **{fw: pa.array([f[fw] for f in flags], pa.bool_()) for fw in FRAMEWORKS},
            }).cast(FLAGS_SCHEMA))
    finally:
        cursor.close()
    return pa.concat_tables(parts) if parts else FLAGS_SCHEMA.empty_table()


def declared_missing(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The months the current HN snapshot lacks by its copy's declaration (the snapshot's
    `months_declared_missing` parameter, checked by the source), with thread id and reason."""
    row = con.execute("SELECT parameters FROM snapshots "
                      "WHERE snapshot_id = current_snapshot('jobs_hn')").fetchall()
    parameters = json.loads(row[0][0]) if row and row[0][0] else {}
    declared = parameters.get("months_declared_missing") or {}
    return pa.Table.from_pylist(
        [{"month": date(int(key[:4]), int(key[5:7]), 1), "thread_id": value.get("thread_id"),
          "reason": value.get("reason")} for key, value in sorted(declared.items())],
        schema=pa.schema([("month", pa.date32()), ("thread_id", pa.int64()),
                          ("reason", pa.string())]))


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
    con.register("_hn_declared", declared_missing(con))
    try:
        con.execute(f"""
            CREATE OR REPLACE TABLE out_jobs__hn_monthly AS
            WITH threads AS (
                SELECT month, list(thread_id ORDER BY thread_id) AS thread_ids,
                       bool_or(NOT complete) AS incomplete, max(fetched_at) AS fetched_at
                FROM ({HN_THREADS}) GROUP BY month
            ), months AS (
                SELECT *, false AS declared_missing, NULL::VARCHAR AS missing_reason
                FROM threads
                UNION ALL
                SELECT month, list_filter([thread_id], lambda x: x IS NOT NULL), false, NULL, true,
                       reason
                FROM _hn_declared WHERE month NOT IN (SELECT month FROM threads)
            ), last_complete AS (
                SELECT max(month) AS month FROM threads WHERE NOT incomplete
            ), counts AS (
                SELECT month, count(*) AS postings,
                       count(*) FILTER (WHERE pytorch) AS pytorch,
                       count(*) FILTER (WHERE tensorflow) AS tensorflow,
                       count(*) FILTER (WHERE jax) AS jax,
                       count(*) FILTER (WHERE keras) AS keras,
                       count(*) FILTER (WHERE pytorch AND tensorflow) AS pytorch_and_tensorflow,
                       -- days from the thread's opening (2nd-percentile posting time, past
                       -- the few older postings moved in) to its newest posting
                       date_diff('second', quantile_disc(created_at, 0.02), max(created_at))
                           / 86400.0 AS newest_posting_days
                FROM core_jobs_hn__postings GROUP BY month
            ), spans AS (
                SELECT m.*,
                       m.month <= l.month AND m.month > l.month - INTERVAL {LAST_MONTHS} MONTH
                           IS TRUE AS in_last12_span,
                       m.month <= DATE '{ARTICLE_MONTH}'
                           AND m.month > DATE '{ARTICLE_MONTH}' - INTERVAL {LAST_MONTHS} MONTH
                           AS in_article_window_span
                FROM months m CROSS JOIN last_complete l
            )
            SELECT t.month, t.thread_ids,
                   -- a declared-missing month has no counts at all (NULL), never zeros
                   CASE WHEN NOT t.declared_missing THEN coalesce(c.postings, 0) END AS postings,
                   CASE WHEN NOT t.declared_missing THEN coalesce(c.pytorch, 0) END AS pytorch,
                   CASE WHEN NOT t.declared_missing THEN coalesce(c.tensorflow, 0) END
                       AS tensorflow,
                   CASE WHEN NOT t.declared_missing THEN coalesce(c.jax, 0) END AS jax,
                   CASE WHEN NOT t.declared_missing THEN coalesce(c.keras, 0) END AS keras,
                   CASE WHEN NOT t.declared_missing THEN coalesce(c.pytorch_and_tensorflow, 0)
                        END AS pytorch_and_tensorflow,
                   100.0 * c.pytorch / nullif(c.postings, 0) AS pytorch_pct,
                   100.0 * c.tensorflow / nullif(c.postings, 0) AS tensorflow_pct,
                   100.0 * c.jax / nullif(c.postings, 0) AS jax_pct,
                   100.0 * c.keras / nullif(c.postings, 0) AS keras_pct,
                   t.incomplete, t.declared_missing, t.missing_reason,
                   c.newest_posting_days,
                   NOT t.incomplete AND c.newest_posting_days < {CAPTURED_EARLY_DAYS}
                       IS TRUE AS captured_early,
                   t.in_last12_span AND NOT t.incomplete AND NOT t.declared_missing
                       AS in_last12,
                   t.in_article_window_span AND NOT t.incomplete AND NOT t.declared_missing
                       AS in_article_window,
                   t.in_last12_span, t.in_article_window_span,
                   t.fetched_at, current_snapshot('jobs_hn') AS snapshot_id
            FROM spans t LEFT JOIN counts c USING (month)
            ORDER BY t.month
        """)
    finally:
        con.unregister("_hn_declared")
    reference = [{"year": y, "ref_pytorch": p, "ref_tensorflow": t}
                 for y, (p, t) in REFERENCE_POINTS.items()]
    con.register("_ref", pa.Table.from_pylist(reference))
    try:
        con.execute("""
            CREATE OR REPLACE TABLE out_jobs__hn_yearly AS
            SELECT year(month) AS year, count(postings) AS months,
                   count(*) FILTER (WHERE declared_missing) AS months_declared_missing,
                   bool_or(incomplete) AS incomplete,
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
        region = (f"{window['first']:%b %Y}–{window['last']:%b %Y} "
                  f"({months_held(window['months'])}, {window['postings']} postings)")
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
    out_jobs__hn_monthly (`in_last12` or `in_article_window`), how many of its LAST_MONTHS
    calendar months it holds (`months`) and how many of them a copy declared missing; None
    when it holds no month."""
    cur = con.execute(f"""
        SELECT min(month) FILTER (WHERE {window}) AS first,
               max(month) FILTER (WHERE {window}) AS last,
               count(*) FILTER (WHERE {window}) AS months,
               count(*) FILTER (WHERE declared_missing AND {window}_span) AS months_missing,
               list(month ORDER BY month) FILTER (WHERE declared_missing AND {window}_span)
                   AS missing,
               sum(postings) FILTER (WHERE {window})::BIGINT AS postings,
               sum(pytorch) FILTER (WHERE {window})::BIGINT AS pytorch,
               sum(tensorflow) FILTER (WHERE {window})::BIGINT AS tensorflow,
               sum(jax) FILTER (WHERE {window})::BIGINT AS jax,
               any_value(snapshot_id) AS snapshot_id
        FROM out_jobs__hn_monthly""")
    row = cur.fetchall()[0]  # fetched fully: nothing may stay open on the connection
    if not row[2]:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def months_held(months: int) -> str:
    """How much of a 12-month window holds data: "12 complete months", "10 of 12 months"."""
    if months == LAST_MONTHS:
        return f"{months} complete months"
    return f"{months} of {LAST_MONTHS} months"


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
        add(f"jobs_hn_months_{tail}", sums["months"], f"of {LAST_MONTHS} months", as_of,
            snapshot)
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
