"""Research papers: PyTorch share at top conferences, and author migration 2018 -> 2019, as of
the article (Horace He's data, source `conferences`) and today (the proceedings' PDFs, source
`papers`).

Share = papers mentioning PyTorch / (papers mentioning PyTorch + papers mentioning TensorFlow),
per conference meeting and pooled per calendar year. Horace He's counts file (`data.csv`)
counts papers that mention one framework and not the other; the `papers` source is counted the
same way (a paper mentioning both is in neither count), with his synonyms
(`pipeline.rules.PAPER_WORDS`).

The continued series (`out_research__series`): Horace He's meetings, plus the proceedings'
main-track meetings of the nine conferences he does not have. A year is complete when every
meeting the conferences' schedule puts in it (`rules.scheduled_conferences`) is there and
complete (every paper read or failed for good); a year of his data alone is taken as he
published it. Headline "today" figures use the newest complete year from 2023 on (the first
year after his data) and only complete meetings; JAX share = papers mentioning JAX / papers
mentioning PyTorch, TensorFlow or JAX. Findings volumes are kept apart (`core_papers__meetings`,
track 'findings') and never enter the series.

Migration: an author "used" a framework in a year if any of their papers that year mentions it
(Horace He's files: words pytorch / pt / allennlp -> PyTorch; tensorflow / tf -> TensorFlow;
the proceedings: the framework booleans of each paper). Only per-paper files whose word lists
were filled are read (later meetings were never scanned: their papers would look
framework-free); only complete meetings of the proceedings count. Authors are matched on a
normalised name (Unicode NFC, whitespace trimmed and collapsed, case-folded). The nine flows are
between the groups PyTorch-only, TensorFlow-only and both, for authors in a group in both
years: 2018 -> 2019 from Horace He's data, and today the newest two consecutive complete years
of the proceedings.

Headline reading of "researchers who used TensorFlow (PyTorch) in 2018": the TensorFlow-only
(PyTorch-only) group. "Moved to PyTorch" / "stayed with PyTorch" = used PyTorch in 2019, alone
or with TensorFlow. The alternative reading counts the 2018 "both" group as users of each
framework too (`*_incl_both_pct` figures): the article does not say which it used, and its 55%
lies between our two readings on the real data (see docs/methodology/research.md).
"""

from __future__ import annotations

import duckdb

from pipeline.analysis import Analysis, Figure
from pipeline.rules import PAPER_CONFERENCES, scheduled_conferences
from pipeline.store import current_snapshot_id, first_row

SOURCE = "conferences"
PAPERS = "papers"
PYTORCH_WORDS = ("pytorch", "pt", "allennlp")
TENSORFLOW_WORDS = ("tensorflow", "tf")
GROUPS = ("PyTorch", "TensorFlow", "Both")
USED_PYTORCH = ("PyTorch", "Both")  # 2019 groups of authors who used PyTorch
HE = "Horace He (conference PDFs)"
OURS = "Proceedings PDFs (papers)"
TODAY_FROM = 2023  # "today" = a year after Horace He's data (his last meeting: ICLR 2022)

CORE_MEETINGS = """
CREATE OR REPLACE TABLE core_conferences__meetings AS
SELECT snapshot_id, conference, meeting, year, month,
       pytorch_papers, tensorflow_papers, total_papers,
       100.0 * pytorch_papers / nullif(pytorch_papers + tensorflow_papers, 0) AS pt_share_pct
FROM raw_conferences__meetings
WHERE snapshot_id = current_snapshot('conferences')
"""

OUT_SHARE = """
CREATE OR REPLACE TABLE out_research__share AS
SELECT 'Horace He (conference PDFs)' AS series_source, conference, year,
       pytorch_papers, tensorflow_papers, total_papers, pt_share_pct, snapshot_id
FROM core_conferences__meetings
UNION ALL
SELECT 'Horace He (conference PDFs)', 'All conferences', year,
       sum(pytorch_papers), sum(tensorflow_papers), sum(total_papers),
       100.0 * sum(pytorch_papers) / nullif(sum(pytorch_papers) + sum(tensorflow_papers), 0),
       any_value(snapshot_id)
FROM core_conferences__meetings
GROUP BY year
ORDER BY conference, year
"""

#: the proceedings' meetings with their counts: exclusive PyTorch / TensorFlow papers as in
#: Horace He's counts file, and the JAX, Flax and MLX papers on their own
CORE_PAPERS_MEETINGS = """
CREATE OR REPLACE TABLE core_papers__meetings AS
WITH m AS (
    SELECT * FROM raw_papers__meetings WHERE snapshot_id = current_snapshot('papers')
), p AS (
    SELECT * FROM raw_papers__papers_at(current_snapshot('papers'))
)
SELECT m.snapshot_id, m.meeting, m.site, m.conference, m.year, m.month, m.track, m.venue,
       m.title, m.listed, m.processed, m.failed, m.pending, m.complete, m.excluded,
       list_contains($headline, m.conference) AS headline,
       count(p.paper_id) FILTER (WHERE p.status = 'ok' AND p.pytorch AND NOT p.tensorflow)
           AS pytorch_papers,
       count(p.paper_id) FILTER (WHERE p.status = 'ok' AND p.tensorflow AND NOT p.pytorch)
           AS tensorflow_papers,
       count(p.paper_id) FILTER (WHERE p.status = 'ok' AND p.pytorch AND p.tensorflow)
           AS both_papers,
       count(p.paper_id) FILTER (WHERE p.status = 'ok' AND p.jax) AS jax_papers,
       count(p.paper_id) FILTER (WHERE p.status = 'ok' AND p.flax) AS flax_papers,
       count(p.paper_id) FILTER (WHERE p.status = 'ok' AND p.mlx) AS mlx_papers,
       count(p.paper_id) FILTER (WHERE p.status = 'ok' AND (p.pytorch OR p.tensorflow OR p.jax))
           AS framework_papers,
       100.0 * pytorch_papers / nullif(pytorch_papers + tensorflow_papers, 0) AS pt_share_pct,
       100.0 * jax_papers / nullif(framework_papers, 0) AS jax_share_pct
FROM m LEFT JOIN p USING (meeting)
GROUP BY ALL
ORDER BY m.year, m.conference, m.track
"""

#: the continued series: Horace He's meetings, then the proceedings' main-track meetings of the
#: nine conferences for the (conference, year) he does not have; pooled per year
OUT_SERIES = """
CREATE OR REPLACE TABLE out_research__series AS
WITH he AS (
    SELECT $he AS series_source, conference, year, month, pytorch_papers, tensorflow_papers,
           total_papers, NULL::BIGINT AS jax_papers, NULL::BIGINT AS framework_papers,
           total_papers AS processed, 0 AS failed, 0 AS pending, true AS complete, snapshot_id
    FROM core_conferences__meetings
), ours AS (
    SELECT $ours AS series_source, conference, year, month, pytorch_papers, tensorflow_papers,
           listed AS total_papers, jax_papers, framework_papers, processed, failed, pending,
           complete, snapshot_id
    FROM core_papers__meetings o
    WHERE headline AND track = 'main'
      AND NOT EXISTS (SELECT 1 FROM he WHERE he.conference = o.conference
                                         AND he.year = o.year)
), meetings AS (
    SELECT * FROM he UNION ALL SELECT * FROM ours
), years AS (
    SELECT year,
           -- a year of Horace He's data alone is as he published it; any other is complete
           -- when every scheduled conference is there and every meeting is complete
           CASE WHEN bool_and(series_source = $he) THEN true
                ELSE bool_and(complete) AND list_has_all(list(conference),
                                                         scheduled_conferences(year)) END
               AS complete,
           string_agg(conference, ', ' ORDER BY conference) AS meetings,
           string_agg(conference, ', ' ORDER BY conference) FILTER (WHERE NOT complete)
               AS partial_meetings,
           CASE WHEN NOT bool_and(series_source = $he) THEN array_to_string(list_filter(
               scheduled_conferences(year), lambda c: NOT list_contains(list(conference), c)), ', ')
               END AS missing_meetings,
           count(*) AS conferences,
           CASE WHEN bool_and(series_source = $ours) THEN $ours
                WHEN bool_or(series_source = $ours) THEN $mixed ELSE $he END AS series_source
    FROM meetings GROUP BY year
)
SELECT 'meeting' AS level, series_source, conference, m.year, month,
       pytorch_papers, tensorflow_papers, total_papers, jax_papers, framework_papers,
       processed, failed, pending, m.complete,
       100.0 * pytorch_papers / nullif(pytorch_papers + tensorflow_papers, 0) AS pt_share_pct,
       100.0 * jax_papers / nullif(framework_papers, 0) AS jax_share_pct,
       1 AS conferences, conference AS meetings, NULL AS partial_meetings,
       NULL AS missing_meetings, snapshot_id
FROM meetings m
UNION ALL
SELECT 'year', any_value(y.series_source), 'All conferences',
       m.year, NULL, sum(pytorch_papers), sum(tensorflow_papers), sum(total_papers),
       sum(jax_papers), sum(framework_papers), sum(processed), sum(failed), sum(pending),
       any_value(y.complete),
       100.0 * sum(pytorch_papers) / nullif(sum(pytorch_papers) + sum(tensorflow_papers), 0),
       100.0 * sum(jax_papers) / nullif(sum(framework_papers), 0),
       any_value(y.conferences), any_value(y.meetings), any_value(y.partial_meetings),
       nullif(any_value(y.missing_meetings), ''), max(snapshot_id)
FROM meetings m JOIN years y USING (year)
GROUP BY m.year
ORDER BY level, conference, year
"""

#: the meetings both Horace He and the proceedings scan hold, side by side
OUT_COMPARISON = """
CREATE OR REPLACE TABLE out_research__comparison AS
SELECT o.conference, o.year,
       h.pytorch_papers AS he_pytorch_papers, h.tensorflow_papers AS he_tensorflow_papers,
       h.total_papers AS he_total_papers, h.pt_share_pct AS he_pt_share_pct,
       o.pytorch_papers AS our_pytorch_papers, o.tensorflow_papers AS our_tensorflow_papers,
       o.listed AS our_total_papers, o.processed AS our_processed, o.failed AS our_failed,
       o.complete AS our_complete, o.pt_share_pct AS our_pt_share_pct,
       o.pt_share_pct - h.pt_share_pct AS share_difference_pts,
       o.listed - h.total_papers AS papers_difference,
       h.snapshot_id AS he_snapshot_id, o.snapshot_id
FROM core_papers__meetings o
JOIN core_conferences__meetings h USING (conference, year)
WHERE o.track = 'main'
ORDER BY o.conference, o.year
"""

CORE_AUTHOR_YEARS = """
CREATE OR REPLACE TABLE core_conferences__author_years AS
WITH papers AS (
    SELECT * FROM raw_conferences__papers WHERE snapshot_id = current_snapshot('conferences')
), scanned AS (            -- files whose papers were searched for the tracked words
    SELECT file FROM papers GROUP BY file HAVING bool_or(len(words) > 0)
), mentions AS (
    SELECT p.year,
           lower(regexp_replace(trim(nfc_normalize(a.author)), '\\s+', ' ', 'g')) AS author,
           list_has_any(list_transform(p.words, lambda w: lower(w)), $pt) AS pytorch,
           list_has_any(list_transform(p.words, lambda w: lower(w)), $tf) AS tensorflow
    FROM papers p JOIN scanned USING (file),
         unnest(p.authors) AS a(author)
)
SELECT year, author, bool_or(pytorch) AS used_pytorch, bool_or(tensorflow) AS used_tensorflow,
       count(*) AS papers
FROM mentions
WHERE author <> ''
GROUP BY year, author
"""

#: authors of the proceedings' complete main-track meetings of the nine conferences
CORE_PAPERS_AUTHOR_YEARS = """
CREATE OR REPLACE TABLE core_papers__author_years AS
WITH p AS (
    SELECT p.* FROM raw_papers__papers_at(current_snapshot('papers')) p
    JOIN core_papers__meetings m USING (meeting)
    WHERE m.complete AND m.headline AND m.track = 'main' AND p.status = 'ok'
), mentions AS (
    SELECT p.year,
           lower(regexp_replace(trim(nfc_normalize(a.author)), '\\s+', ' ', 'g')) AS author,
           p.pytorch, p.tensorflow
    FROM p, unnest(p.authors) AS a(author)
)
SELECT year, author, bool_or(pytorch) AS used_pytorch, bool_or(tensorflow) AS used_tensorflow,
       count(*) AS papers
FROM mentions
WHERE author <> ''
GROUP BY year, author
"""

#: the nine flows of each pair of years ($pairs: series and first year)
OUT_MIGRATION = """
CREATE OR REPLACE TABLE out_research__migration AS
WITH author_years AS (
    SELECT $he AS series_source, * FROM core_conferences__author_years
    UNION ALL
    SELECT $ours, * FROM core_papers__author_years
), pairs AS (
    SELECT unnest($pairs) AS pair
), grouped AS (
    SELECT a.series_source, a.year, a.author,
           CASE WHEN used_pytorch AND used_tensorflow THEN 'Both'
                WHEN used_pytorch THEN 'PyTorch'
                WHEN used_tensorflow THEN 'TensorFlow' END AS grp
    FROM author_years a
    JOIN pairs ON a.series_source = pair.s AND a.year IN (pair.y, pair.y + 1)
    WHERE used_pytorch OR used_tensorflow
), flows AS (
    SELECT f.series_source, f.year AS from_year, f.grp AS from_group, t.grp AS to_group,
           count(*) AS authors
    FROM grouped f
    JOIN grouped t ON f.author = t.author AND f.series_source = t.series_source
                  AND t.year = f.year + 1
    JOIN pairs ON pair.s = f.series_source AND pair.y = f.year
    GROUP BY ALL
), groups AS (SELECT unnest($groups) AS g)
SELECT pair.s AS series_source, pair.y AS from_year, pair.y + 1 AS to_year,
       a.g AS from_group, b.g AS to_group,
       coalesce(flows.authors, 0) AS authors,
       100.0 * coalesce(flows.authors, 0)
           / nullif(sum(coalesce(flows.authors, 0)) OVER (PARTITION BY pair.s, pair.y, a.g), 0)
           AS share_of_from_group_pct,
       CASE WHEN pair.s = $he THEN $he_snapshot ELSE $our_snapshot END AS snapshot_id
FROM pairs CROSS JOIN groups a CROSS JOIN groups b
LEFT JOIN flows ON flows.series_source = pair.s AND flows.from_year = pair.y
                AND flows.from_group = a.g AND flows.to_group = b.g
ORDER BY pair.y, list_position($groups, a.g), list_position($groups, b.g)
"""


def _schedule_macro(con: duckdb.DuckDBPyConnection, years: range) -> None:
    """`scheduled_conferences(year)` in SQL, from the rule in pipeline.rules."""
    cases = " ".join(f"WHEN {y} THEN {list(scheduled_conferences(y))!r}" for y in years)
    con.execute(f"CREATE OR REPLACE TEMP MACRO scheduled_conferences(y) AS "
                f"CASE y {cases} ELSE {list(scheduled_conferences(2024))!r} END")


def today_year(con: duckdb.DuckDBPyConnection) -> int | None:
    """The newest complete year of the continued series from TODAY_FROM on."""
    row = first_row(con, "SELECT max(year) FROM out_research__series WHERE level = 'year' "
                         "AND complete AND year >= ? AND series_source <> ?", [TODAY_FROM, HE])
    return row[0] if row else None


def migration_today_years(con: duckdb.DuckDBPyConnection) -> int | None:
    """The first year of the newest two consecutive complete years whose meetings are all the
    proceedings' (scanned per paper), or None."""
    row = first_row(con, """
        WITH y AS (SELECT year FROM out_research__series
                   WHERE level = 'year' AND complete AND series_source <> $he
                     AND year NOT IN (SELECT year FROM out_research__series
                                      WHERE level = 'meeting' AND series_source = $he))
        SELECT max(a.year) FROM y a JOIN y b ON b.year = a.year + 1""", {"he": HE})
    return row[0] if row else None


def build(con: duckdb.DuckDBPyConnection, from_year: int = 2018) -> None:
    """(Re)build the research tables from the current conferences and papers snapshots."""
    from pipeline.sources import ensure_tables

    ensure_tables(con, SOURCE, PAPERS)
    _schedule_macro(con, range(2010, 2051))
    con.execute(CORE_MEETINGS)
    con.execute(OUT_SHARE)
    con.execute(CORE_PAPERS_MEETINGS, {"headline": list(PAPER_CONFERENCES)})
    con.execute(OUT_SERIES, {"he": HE, "ours": OURS,
                             "mixed": f"{HE}, then {OURS}"})
    con.execute(OUT_COMPARISON)
    con.execute(CORE_AUTHOR_YEARS, {"pt": list(PYTORCH_WORDS), "tf": list(TENSORFLOW_WORDS)})
    con.execute(CORE_PAPERS_AUTHOR_YEARS)
    pairs = [{"s": HE, "y": from_year}] if current_snapshot_id(con, SOURCE) is not None else []
    today = migration_today_years(con)
    if today is not None:
        pairs.append({"s": OURS, "y": today})
    con.execute(OUT_MIGRATION, {
        "pairs": pairs, "groups": list(GROUPS), "he": HE, "ours": OURS,
        "he_snapshot": current_snapshot_id(con, SOURCE),
        "our_snapshot": current_snapshot_id(con, PAPERS),
    })


def pooled_share(con: duckdb.DuckDBPyConnection, year: int) -> float | None:
    row = first_row(
        con, "SELECT pt_share_pct FROM out_research__share "
        "WHERE conference = 'All conferences' AND year = ?", [year])
    return None if row is None else row[0]


def migration_pct(con: duckdb.DuckDBPyConnection, from_groups: tuple[str, ...],
                  to_groups: tuple[str, ...], series: str = HE) -> float | None:
    """Share of the first year's authors in `from_groups` whose next-year group is one of
    `to_groups` (Horace He's 2018 -> 2019, or the proceedings' newest pair)."""
    row = first_row(
        con, "SELECT 100.0 * sum(authors) FILTER (WHERE list_contains($to, to_group)) "
        "/ nullif(sum(authors), 0) FROM out_research__migration "
        "WHERE list_contains($from, from_group) AND series_source = $series",
        {"from": list(from_groups), "to": list(to_groups), "series": series})
    return row[0]


def today_figures(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    """The "today" values: the newest complete year's pooled shares, and the migration between
    the newest two consecutive complete years, each saying which data it stands for."""
    snapshot = current_snapshot_id(con, PAPERS)
    figures = []
    year = today_year(con)
    if year is not None:
        row = first_row(con, """
            SELECT pt_share_pct, jax_share_pct, pytorch_papers, tensorflow_papers, jax_papers,
                   framework_papers, conferences, meetings, processed, total_papers
            FROM out_research__series WHERE level = 'year' AND year = ?""", [year])
        pt, jax, n_pt, n_tf, n_jax, n_fw, count, which, done, listed = row
        basis = (f"{year}, pooled over its {count} complete main-track meetings ({which}): "
                 f"{done:,} papers read of {listed:,} listed")
        if pt is not None:
            note = f"{basis}; {n_pt:,} PyTorch-only vs {n_tf:,} TensorFlow-only papers"
            for fid in ("research_pt_share_2017_pct_today", "research_pt_share_2021_pct_today"):
                figures.append(Figure(fid, round(pt, 2), "%", "today", PAPERS, snapshot, note))
        if jax is not None:
            figures.append(Figure("research_jax_share_pct_today", round(jax, 2), "%", "today",
                                  PAPERS, snapshot, f"{basis}; {n_jax:,} of {n_fw:,} papers "
                                  "mentioning PyTorch, TensorFlow or JAX mention JAX"))
    first = migration_today_years(con)
    if first is not None:
        note = (f"{first} → {first + 1} authors of the complete main-track meetings of both "
                "years (names matched)")
        for fid, groups in (("migration_tf_to_pt_pct_today", ("TensorFlow",)),
                            ("migration_pt_stay_pct_today", ("PyTorch",)),
                            ("migration_tf_to_pt_incl_both_pct_today", ("TensorFlow", "Both")),
                            ("migration_pt_stay_incl_both_pct_today", ("PyTorch", "Both"))):
            value = migration_pct(con, groups, USED_PYTORCH, OURS)
            if value is not None:
                figures.append(Figure(fid, round(value, 2), "%", "today", PAPERS, snapshot,
                                      note))
    return figures


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    build(con)
    snapshot = current_snapshot_id(con, SOURCE)
    candidates = {
        "research_pt_share_2017_pct": pooled_share(con, 2017),
        "research_pt_share_2021_pct": pooled_share(con, 2021),
        "research_pt_share_2022_pct": pooled_share(con, 2022),
        # TensorFlow-only authors of 2018 who used PyTorch (alone or with TF) in 2019
        "migration_tf_to_pt_pct": migration_pct(con, ("TensorFlow",), USED_PYTORCH),
        # PyTorch-only authors of 2018 who still used PyTorch in 2019
        "migration_pt_stay_pct": migration_pct(con, ("PyTorch",), USED_PYTORCH),
        # the alternative reading: the 2018 "both" group counts as users of each framework
        "migration_tf_to_pt_incl_both_pct": migration_pct(con, ("TensorFlow", "Both"),
                                                          USED_PYTORCH),
        "migration_pt_stay_incl_both_pct": migration_pct(con, ("PyTorch", "Both"),
                                                         USED_PYTORCH),
    }
    figures = [Figure(fid, round(value, 2), "%", "article", SOURCE, snapshot)
               for fid, value in candidates.items() if value is not None]
    return figures + today_figures(con)


ANALYSIS = Analysis(name="research", sources=(SOURCE, PAPERS), run=run, needs_all=False)
