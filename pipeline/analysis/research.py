"""Research papers: PyTorch share at top conferences, and author migration 2018 -> 2019.

Share = papers mentioning PyTorch / (papers mentioning PyTorch + papers mentioning TensorFlow),
per conference meeting and pooled per calendar year, from the counts file (`data.csv`).

Migration: an author "used" a framework in a year if any of their papers that year mentions it
(words pytorch / pt / allennlp -> PyTorch; tensorflow / tf -> TensorFlow). Only per-paper files
whose word lists were filled are read (later meetings were never scanned: their papers would
look framework-free). Authors are matched on a normalised name (Unicode NFC, whitespace trimmed
and collapsed, case-folded). The nine flows are between the groups PyTorch-only,
TensorFlow-only and both, for authors in a group in both years.

Headline reading of "researchers who used TensorFlow (PyTorch) in 2018": the TensorFlow-only
(PyTorch-only) group. "Moved to PyTorch" / "stayed with PyTorch" = used PyTorch in 2019, alone
or with TensorFlow. The alternative reading counts the 2018 "both" group as users of each
framework too (`*_incl_both_pct` figures): the article does not say which it used, and its 55%
lies between our two readings on the real data (see docs/methodology/research.md).
"""

from __future__ import annotations

import duckdb

from pipeline.analysis import Analysis, Figure
from pipeline.store import current_snapshot_id, first_row

SOURCE = "conferences"
PYTORCH_WORDS = ("pytorch", "pt", "allennlp")
TENSORFLOW_WORDS = ("tensorflow", "tf")
GROUPS = ("PyTorch", "TensorFlow", "Both")
USED_PYTORCH = ("PyTorch", "Both")  # 2019 groups of authors who used PyTorch

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

OUT_MIGRATION = """
CREATE OR REPLACE TABLE out_research__migration AS
WITH grouped AS (
    SELECT year, author,
           CASE WHEN used_pytorch AND used_tensorflow THEN 'Both'
                WHEN used_pytorch THEN 'PyTorch'
                WHEN used_tensorflow THEN 'TensorFlow' END AS grp
    FROM core_conferences__author_years
    WHERE year IN ($from_year, $to_year) AND (used_pytorch OR used_tensorflow)
), flows AS (
    SELECT f.grp AS from_group, t.grp AS to_group, count(*) AS authors
    FROM grouped f JOIN grouped t ON f.author = t.author
    WHERE f.year = $from_year AND t.year = $to_year
    GROUP BY ALL
), groups AS (SELECT unnest($groups) AS g)
SELECT $from_year AS from_year, $to_year AS to_year, a.g AS from_group, b.g AS to_group,
       coalesce(flows.authors, 0) AS authors,
       100.0 * coalesce(flows.authors, 0)
           / nullif(sum(coalesce(flows.authors, 0)) OVER (PARTITION BY a.g), 0)
           AS share_of_from_group_pct,
       $snapshot AS snapshot_id
FROM groups a CROSS JOIN groups b
LEFT JOIN flows ON flows.from_group = a.g AND flows.to_group = b.g
ORDER BY list_position($groups, a.g), list_position($groups, b.g)
"""


def build(con: duckdb.DuckDBPyConnection, from_year: int = 2018, to_year: int = 2019) -> None:
    """(Re)build the research tables from the current conferences snapshot."""
    con.execute(CORE_MEETINGS)
    con.execute(OUT_SHARE)
    con.execute(CORE_AUTHOR_YEARS, {"pt": list(PYTORCH_WORDS), "tf": list(TENSORFLOW_WORDS)})
    con.execute(OUT_MIGRATION, {
        "from_year": from_year, "to_year": to_year, "groups": list(GROUPS),
        "snapshot": current_snapshot_id(con, SOURCE),
    })


def pooled_share(con: duckdb.DuckDBPyConnection, year: int) -> float | None:
    row = first_row(
        con, "SELECT pt_share_pct FROM out_research__share "
        "WHERE conference = 'All conferences' AND year = ?", [year])
    return None if row is None else row[0]


def migration_pct(con: duckdb.DuckDBPyConnection, from_groups: tuple[str, ...],
                  to_groups: tuple[str, ...]) -> float | None:
    """Share of the 2018 authors in `from_groups` whose 2019 group is one of `to_groups`."""
    row = first_row(
        con, "SELECT 100.0 * sum(authors) FILTER (WHERE list_contains($to, to_group)) "
        "/ nullif(sum(authors), 0) FROM out_research__migration "
        "WHERE list_contains($from, from_group)",
        {"from": list(from_groups), "to": list(to_groups)})
    return row[0]


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
    return [Figure(fid, round(value, 2), "%", "article", SOURCE, snapshot)
            for fid, value in candidates.items() if value is not None]


ANALYSIS = Analysis(name="research", sources=(SOURCE,), run=run)
