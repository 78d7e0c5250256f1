"""Papers with Code: framework share of new paper implementations per quarter, and per conference.

Unit: a canonical repository identity (`pipeline/rules.py`, `repo_identity_sql`, shared with
the source's GitHub look-up): host + owner + name, case-folded on GitHub/GitLab/Bitbucket,
whatever the scheme (`http`, `git@host:` scp-style, no scheme), `www.`, fragment, query, `.git`
or repository page (`/tree/<branch>`, `/blob/<branch>/README.md`, `/issues`) of the link. A link
into a sub-folder (`/tree/<branch>/<path>`, `/blob/<branch>/<path>/<file>`) is its own
implementation, the sub-folder project `<repository>/tree/HEAD/<path>` (monorepos such as
google-research/google-research hold hundreds of unrelated paper implementations).
`out_pwc__normalisation` counts how many distinct links each step merges. An implementation
linked to several papers counts once, in the quarter of its earliest linked paper.

Date of a paper: its `date` in the papers dataset; when missing (or the paper is not in that
dataset) the month encoded in its arXiv id (`2110.01234` -> October 2021); dates after the
collection day are treated as missing. Implementations without any dated paper are left out of
the quarterly series (counted in `core_pwc__repos`). The article counted repositories *created*
in the quarter; the archive has no creation date, so the linked paper's quarter stands in.

Framework: the most frequent non-`none` value over its links (ties: first by name), else
`none`. pytorch -> PyTorch; tf / tensorflow -> TensorFlow; jax -> JAX; none or missing -> None;
anything else (mxnet, paddle, ...) -> Other. Shares are over ALL implementations of the
quarter, the `None` ones included. The `official` variant keeps only links flagged
`is_official` (an implementation then sits at its earliest *official* paper).

GitHub creation dates (only when the source collected them, GITHUB_TOKEN): variant `created`
puts each whole repository with a known date in the quarter it was created - the article's own
attribution; a sub-folder project of such a repository is attributed to its earliest paper
(the repository's creation date says nothing about when the sub-folder appeared).
`out_pwc__attribution` shows, for whole repositories, how often the creation quarter equals the
paper quarter.

Conferences: the paper's `proceeding` slug (e.g. `neurips-2021-12`, `cvpr-2022-1`; names such
as `NeurIPS 2021` are parsed too) gives conference and year; the nine conferences of the
article's research chart are kept (Findings and workshops are not the main conference). Per
conference-year, each implementation linked to one of its papers counts once.
"""

from __future__ import annotations

import duckdb

from pipeline.analysis import Analysis, Figure
from pipeline.rules import REPO_STEPS, SUBFOLDER_FOLDED, repo_identity_sql
from pipeline.store import current_snapshot_id, first_row, table_exists

SOURCE = "papers_with_code"
ARTICLE_QUARTER = "2021-Q4"
FRAMEWORKS = ("PyTorch", "TensorFlow", "JAX", "Other", "None")
#: proceeding-slug name (and year, when the alias only holds for one year) -> conference
CONFERENCE_ALIASES = [
    ("neurips", None, "NeurIPS"), ("nips", None, "NeurIPS"),
    ("icml", None, "ICML"), ("iclr", None, "ICLR"),
    ("cvpr", None, "CVPR"), ("iccv", None, "ICCV"), ("eccv", None, "ECCV"),
    ("acl", None, "ACL"), ("acl-ijcnlp", None, "ACL"),
    ("emnlp", None, "EMNLP"), ("emnlp-ijcnlp", None, "EMNLP"),
    ("ijcnlp", 2019, "EMNLP"),  # EMNLP-IJCNLP 2019 (Hong Kong) is filed as ijcnlp-2019-11
    ("naacl", None, "NAACL"), ("naacl-hlt", None, "NAACL"),
]
FIRST_CONFERENCE_YEAR = 2017

#: every distinct archived link with its value after each normalisation step (a temporary
#: table: the steps feed out_pwc__normalisation; `pipeline.rules.repo_identities` re-derives
#: them for any URL)
REPO_URL_STEPS = f"""
CREATE OR REPLACE TEMP TABLE pwc_repo_url_steps AS
{repo_identity_sql(f"SELECT repo_url FROM raw_papers_with_code__links "
                   f"WHERE snapshot_id = current_snapshot('{SOURCE}')")}
"""
CORE_REPO_URLS = f"""
CREATE OR REPLACE TABLE core_pwc__repo_urls AS
SELECT repo_url, repo, repository, subfolder, github_repo,
       (SELECT current_snapshot('{SOURCE}')) AS snapshot_id
FROM pwc_repo_url_steps
"""


def _normalisation_sql() -> str:
    """out_pwc__normalisation: per step of the identity, the distinct values left, how many it
    merged and how many archive links it rewrote; the last row is the alternative not applied."""
    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    steps = [("repo_url", "the links as archived (exact text)", None, True)]
    previous = "repo_url"
    for column, rule, _ in REPO_STEPS:
        steps.append((column, rule, previous, True))
        previous = column
    steps.append((SUBFOLDER_FOLDED[0], SUBFOLDER_FOLDED[1], "repo", False))
    selects = [
        f"SELECT {i} AS step, {quoted(column)} AS name, {quoted(rule)} AS rule, "
        f"{str(applied).lower()} AS applied, count(DISTINCT {column}) AS distinct_values, "
        + (f"coalesce(sum(n) FILTER (WHERE {column} IS DISTINCT FROM {before}), 0)"
           if before else "0") + " AS links_rewritten, sum(n) AS links FROM urls"
        for i, (column, rule, before, applied) in enumerate(steps)]
    return f"""
CREATE OR REPLACE TABLE out_pwc__normalisation AS
WITH counts AS (
    SELECT repo_url, count(*) AS n FROM raw_papers_with_code__links
    WHERE snapshot_id = current_snapshot('{SOURCE}') GROUP BY repo_url
), urls AS (SELECT * FROM pwc_repo_url_steps JOIN counts USING (repo_url)
), steps AS ({" UNION ALL ".join(selects)})
SELECT step, name, rule, applied, CAST(links AS BIGINT) AS links, distinct_values,
       coalesce(lag(distinct_values) OVER (ORDER BY step) - distinct_values, 0) AS merged,
       CAST(links_rewritten AS BIGINT) AS links_rewritten,
       (SELECT current_snapshot('{SOURCE}')) AS snapshot_id
FROM steps ORDER BY step
"""


OUT_NORMALISATION = _normalisation_sql()

ARXIV_MONTH = r"""
CASE
    WHEN regexp_matches(a, '^\d{4}\.\d{4,5}') AND CAST(substr(a, 3, 2) AS INTEGER) BETWEEN 1 AND 12
        THEN make_date(2000 + CAST(substr(a, 1, 2) AS INTEGER), CAST(substr(a, 3, 2) AS INTEGER), 1)
    WHEN regexp_matches(a, '^[a-z-]+(\.[a-z]{2})?/\d{7}')
        AND CAST(regexp_extract(a, '/\d{2}(\d{2})', 1) AS INTEGER) BETWEEN 1 AND 12
        THEN make_date(
            CASE WHEN CAST(regexp_extract(a, '/(\d{2})', 1) AS INTEGER) >= 91 THEN 1900 ELSE 2000
            END + CAST(regexp_extract(a, '/(\d{2})', 1) AS INTEGER),
            CAST(regexp_extract(a, '/\d{2}(\d{2})', 1) AS INTEGER), 1)
END"""

CORE_REPOS = rf"""
CREATE OR REPLACE TABLE core_pwc__repos AS
WITH cutoff AS (
    SELECT CAST(started_at AS DATE) AS day FROM snapshots
    WHERE snapshot_id = current_snapshot('{SOURCE}')
), papers AS (
    SELECT paper_url, min(date) FILTER (WHERE date <= (SELECT day FROM cutoff)) AS date,
           any_value(arxiv_id) AS arxiv_id
    FROM raw_papers_with_code__papers
    WHERE snapshot_id = current_snapshot('{SOURCE}') AND paper_url IS NOT NULL
    GROUP BY paper_url
), links AS (
    SELECT DISTINCT u.repo, repo_url, paper_url,
           coalesce(is_official, false) AS is_official,
           nullif(lower(trim(framework)), '') AS framework_raw,
           lower(trim(coalesce(l.paper_arxiv_id, p.arxiv_id))) AS a,
           p.date AS paper_date, l.snapshot_id
    FROM raw_papers_with_code__links l JOIN core_pwc__repo_urls u USING (repo_url)
    LEFT JOIN papers p USING (paper_url)
    WHERE l.snapshot_id = current_snapshot('{SOURCE}')
), dated AS (
    SELECT *,
           coalesce(paper_date, CASE WHEN arxiv_date <= (SELECT day FROM cutoff)
                                     THEN arxiv_date END) AS d,
           CASE WHEN paper_date IS NOT NULL THEN 'paper date'
                WHEN arxiv_date <= (SELECT day FROM cutoff) THEN 'arXiv id month' END AS basis
    FROM (SELECT *, {ARXIV_MONTH} AS arxiv_date FROM links)
), votes AS (
    SELECT repo, framework_raw, count(DISTINCT paper_url) AS n FROM dated
    WHERE framework_raw IS NOT NULL AND framework_raw <> 'none'
    GROUP BY ALL
), picked AS (
    SELECT repo, first(framework_raw ORDER BY n DESC, framework_raw) AS framework_raw,
           count(*) AS frameworks_seen
    FROM votes GROUP BY repo
), repos AS (
    SELECT repo,
           count(DISTINCT paper_url) AS papers,
           count(DISTINCT repo_url) AS url_variants,
           bool_or(is_official) AS official,
           min(d) AS first_paper_date,
           first(paper_url ORDER BY d NULLS LAST, paper_url) AS first_paper_url,
           first(basis ORDER BY d NULLS LAST, paper_url) AS first_date_basis,
           min(d) FILTER (WHERE is_official) AS first_official_date,
           any_value(snapshot_id) AS snapshot_id
    FROM dated GROUP BY repo
)
SELECT r.repo, u.repository, u.subfolder, u.github_repo,
       coalesce(p.framework_raw, 'none') AS framework_raw,
       CASE coalesce(p.framework_raw, 'none')
            WHEN 'pytorch' THEN 'PyTorch' WHEN 'tf' THEN 'TensorFlow'
            WHEN 'tensorflow' THEN 'TensorFlow' WHEN 'jax' THEN 'JAX'
            WHEN 'none' THEN 'None' ELSE 'Other' END AS framework,
       coalesce(p.frameworks_seen, 0) AS frameworks_seen,
       r.papers, r.url_variants, r.official,
       r.first_paper_date, r.first_paper_url, r.first_date_basis, r.first_official_date,
       g.created_at AS github_created_at,
       -- variant `created`: a whole repository at its creation date; a sub-folder project of
       -- a repository whose creation date is known, at its earliest paper
       CASE WHEN u.subfolder IS NULL THEN CAST(g.created_at AS DATE)
            WHEN g.created_at IS NOT NULL THEN r.first_paper_date END AS created_variant_date,
       CASE WHEN g.created_at IS NULL THEN NULL
            WHEN u.subfolder IS NULL THEN 'GitHub creation date'
            ELSE 'earliest paper (sub-folder)' END AS created_variant_basis,
       r.snapshot_id
FROM repos r LEFT JOIN picked p USING (repo)
LEFT JOIN (SELECT DISTINCT repo, repository, subfolder, github_repo FROM core_pwc__repo_urls) u
       USING (repo)
LEFT JOIN ({{github}}) g ON g.repo = u.github_repo
ORDER BY r.repo
"""
GITHUB_ROWS = f"""
SELECT repo, created_at FROM raw_papers_with_code__github_repos
WHERE snapshot_id = current_snapshot('{SOURCE}') AND status = 'ok' AND created_at IS NOT NULL"""
NO_GITHUB_ROWS = "SELECT NULL::VARCHAR AS repo, NULL::TIMESTAMP AS created_at WHERE false"

OUT_QUARTERLY = f"""
CREATE OR REPLACE TABLE out_pwc__quarterly_share AS
WITH archive AS (      -- the last paper date of the archive (not in the future)
    SELECT max(date) AS last_day FROM raw_papers_with_code__papers
    WHERE snapshot_id = current_snapshot('{SOURCE}')
      AND date <= (SELECT CAST(started_at AS DATE) FROM snapshots
                   WHERE snapshot_id = current_snapshot('{SOURCE}'))
), base AS (
    SELECT 'all' AS variant, first_paper_date AS d, framework, snapshot_id
    FROM core_pwc__repos WHERE first_paper_date IS NOT NULL
    UNION ALL
    SELECT 'official', first_official_date, framework, snapshot_id
    FROM core_pwc__repos WHERE first_official_date IS NOT NULL
    UNION ALL      -- only when GitHub creation dates were collected (GITHUB_TOKEN)
    SELECT 'created', created_variant_date, framework, snapshot_id
    FROM core_pwc__repos WHERE created_variant_date IS NOT NULL
), quarters AS (
    SELECT variant, CAST(date_trunc('quarter', d) AS DATE) AS quarter_start,
           count(*) AS repos,
           count(*) FILTER (WHERE framework = 'PyTorch') AS pytorch_repos,
           count(*) FILTER (WHERE framework = 'TensorFlow') AS tensorflow_repos,
           count(*) FILTER (WHERE framework = 'JAX') AS jax_repos,
           count(*) FILTER (WHERE framework = 'Other') AS other_repos,
           count(*) FILTER (WHERE framework = 'None') AS none_repos,
           any_value(snapshot_id) AS snapshot_id
    FROM base GROUP BY ALL
)
SELECT variant, year(quarter_start) || '-Q' || quarter(quarter_start) AS quarter,
       quarter_start, year(quarter_start) AS year, quarter(quarter_start) AS q,
       repos, pytorch_repos, tensorflow_repos, jax_repos, other_repos, none_repos,
       100.0 * pytorch_repos / repos AS pytorch_pct,
       100.0 * tensorflow_repos / repos AS tensorflow_pct,
       100.0 * jax_repos / repos AS jax_pct,
       100.0 * other_repos / repos AS other_pct,
       100.0 * none_repos / repos AS none_pct,
       coalesce(CAST(quarter_start + INTERVAL 3 MONTH - INTERVAL 1 DAY AS DATE)
                <= (SELECT last_day FROM archive), false) AS complete,
       snapshot_id
FROM quarters
ORDER BY variant, quarter_start
"""

OUT_ATTRIBUTION = """
CREATE OR REPLACE TABLE out_pwc__attribution AS
WITH both_dates AS (
    SELECT CAST(date_trunc('quarter', first_paper_date) AS DATE) AS paper_quarter,
           CAST(date_trunc('quarter', github_created_at) AS DATE) AS created_quarter,
           date_diff('day', CAST(github_created_at AS DATE), first_paper_date) AS lag_days,
           snapshot_id
    FROM core_pwc__repos      -- whole repositories: a sub-folder has no creation date
    WHERE first_paper_date IS NOT NULL AND github_created_at IS NOT NULL AND subfolder IS NULL
)
SELECT year(paper_quarter) || '-Q' || quarter(paper_quarter) AS paper_quarter,
       count(*) AS repos_with_both_dates,
       count(*) FILTER (WHERE created_quarter = paper_quarter) AS created_same_quarter,
       count(*) FILTER (WHERE created_quarter < paper_quarter) AS created_earlier,
       count(*) FILTER (WHERE created_quarter > paper_quarter) AS created_later,
       100.0 * count(*) FILTER (WHERE created_quarter = paper_quarter) / count(*)
           AS same_quarter_pct,
       median(lag_days) AS median_days_paper_after_creation,
       any_value(snapshot_id) AS snapshot_id
FROM both_dates
GROUP BY paper_quarter
ORDER BY paper_quarter
"""

CORE_PROCEEDINGS = f"""
CREATE OR REPLACE TABLE core_pwc__proceedings AS
WITH parsed AS (
    SELECT proceeding, paper_url, snapshot_id,
           regexp_extract(regexp_replace(lower(trim(proceeding)), '[\\s_]+', '-', 'g'),
                          '^([a-z][a-z-]*?)-((?:19|20)\\d{{2}})(?:-|$)', 1) AS name,
           TRY_CAST(regexp_extract(regexp_replace(lower(trim(proceeding)), '[\\s_]+', '-', 'g'),
                          '^([a-z][a-z-]*?)-((?:19|20)\\d{{2}})(?:-|$)', 2) AS INTEGER) AS year
    FROM raw_papers_with_code__papers
    WHERE snapshot_id = current_snapshot('{SOURCE}') AND nullif(trim(proceeding), '') IS NOT NULL
)
SELECT proceeding, nullif(name, '') AS name, year, a.conference,
       count(DISTINCT paper_url) AS papers, any_value(snapshot_id) AS snapshot_id
FROM parsed
LEFT JOIN (SELECT unnest($aliases, recursive := true)) a
       ON a.alias = parsed.name AND (a.alias_year IS NULL OR a.alias_year = parsed.year)
GROUP BY ALL
ORDER BY papers DESC, proceeding
"""

OUT_CONFERENCES = f"""
CREATE OR REPLACE TABLE out_pwc__conference_share AS
WITH conf_papers AS (
    SELECT DISTINCT p.paper_url, c.conference, c.year
    FROM raw_papers_with_code__papers p
    JOIN core_pwc__proceedings c USING (proceeding)
    WHERE p.snapshot_id = current_snapshot('{SOURCE}') AND c.conference IS NOT NULL
      AND c.year >= $first_year
), paper_repos AS (
    SELECT DISTINCT l.paper_url, u.repo
    FROM raw_papers_with_code__links l JOIN core_pwc__repo_urls u USING (repo_url)
    WHERE l.snapshot_id = current_snapshot('{SOURCE}')
), repos AS (
    SELECT DISTINCT c.conference, c.year, r.repo, k.framework
    FROM conf_papers c JOIN paper_repos r USING (paper_url) JOIN core_pwc__repos k USING (repo)
), papers AS (
    SELECT c.conference, c.year, count(DISTINCT c.paper_url) AS papers,
           count(DISTINCT r.paper_url) AS papers_with_code
    FROM conf_papers c LEFT JOIN paper_repos r USING (paper_url)
    GROUP BY ALL
), counts AS (
    SELECT conference, year, count(*) AS repos,
           count(*) FILTER (WHERE framework = 'PyTorch') AS pytorch_repos,
           count(*) FILTER (WHERE framework = 'TensorFlow') AS tensorflow_repos,
           count(*) FILTER (WHERE framework = 'JAX') AS jax_repos,
           count(*) FILTER (WHERE framework = 'Other') AS other_repos,
           count(*) FILTER (WHERE framework = 'None') AS none_repos
    FROM repos GROUP BY ALL
)
SELECT p.conference, CAST(p.year AS INTEGER) AS year, p.papers, p.papers_with_code,
       coalesce(c.repos, 0) AS repos,
       CAST(coalesce(c.pytorch_repos, 0) AS BIGINT) AS pytorch_repos,
       CAST(coalesce(c.tensorflow_repos, 0) AS BIGINT) AS tensorflow_repos,
       coalesce(c.jax_repos, 0) AS jax_repos, coalesce(c.other_repos, 0) AS other_repos,
       coalesce(c.none_repos, 0) AS none_repos,
       100.0 * c.pytorch_repos / nullif(c.pytorch_repos + c.tensorflow_repos, 0)
           AS pt_share_of_pt_tf_pct,
       CAST($snapshot AS BIGINT) AS snapshot_id
FROM papers p LEFT JOIN counts c USING (conference, year)
ORDER BY p.conference, p.year
"""


def build(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build the Papers with Code tables from the current snapshot."""
    has_github = table_exists(con, "raw_papers_with_code__github_repos")
    con.execute(REPO_URL_STEPS)
    con.execute(CORE_REPO_URLS)
    con.execute(OUT_NORMALISATION)
    con.execute("DROP TABLE pwc_repo_url_steps")
    con.execute(CORE_REPOS.replace("{github}", GITHUB_ROWS if has_github else NO_GITHUB_ROWS))
    con.execute(OUT_QUARTERLY)
    con.execute(OUT_ATTRIBUTION)
    aliases = [{"alias": a, "alias_year": y, "conference": c} for a, y, c in CONFERENCE_ALIASES]
    con.execute(CORE_PROCEEDINGS, {"aliases": aliases})
    con.execute(OUT_CONFERENCES, {"first_year": FIRST_CONFERENCE_YEAR,
                                  "snapshot": current_snapshot_id(con, SOURCE)})


def quarter_row(con: duckdb.DuckDBPyConnection, quarter: str | None = None,
                variant: str = "all") -> tuple | None:
    """(quarter, repos, PyTorch %, TensorFlow %) of one quarter, or of the last complete one."""
    if quarter is None:
        return first_row(
            con, "SELECT quarter, repos, pytorch_pct, tensorflow_pct FROM out_pwc__quarterly_share "
            "WHERE variant = ? AND complete ORDER BY quarter_start DESC LIMIT 1", [variant]
        )
    return first_row(
        con, "SELECT quarter, repos, pytorch_pct, tensorflow_pct FROM out_pwc__quarterly_share "
        "WHERE variant = ? AND quarter = ?", [variant, quarter])


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    build(con)
    snapshot = current_snapshot_id(con, SOURCE)
    figures: list[Figure] = []

    def add(figure_id: str, value: float, unit: str, as_of: str) -> None:
        figures.append(Figure(figure_id, round(float(value), 2), unit, as_of, SOURCE, snapshot))

    article = quarter_row(con, ARTICLE_QUARTER)
    if article:
        add("pwc_pt_share_q4_2021_pct", article[2], "%", "article")
        add("pwc_tf_share_q4_2021_pct", article[3], "%", "article")
        add("pwc_repos_q4_2021", article[1], "repositories", "article")
    official = quarter_row(con, ARTICLE_QUARTER, "official")
    if official:
        add("pwc_pt_share_q4_2021_official_pct", official[2], "%", "article")
        add("pwc_tf_share_q4_2021_official_pct", official[3], "%", "article")
        add("pwc_repos_q4_2021_official", official[1], "repositories", "article")
    created = quarter_row(con, ARTICLE_QUARTER, "created")
    if created:  # GitHub creation dates were collected: the article's own attribution
        add("pwc_pt_share_q4_2021_created_pct", created[2], "%", "article")
        add("pwc_tf_share_q4_2021_created_pct", created[3], "%", "article")
        add("pwc_repos_q4_2021_created", created[1], "repositories", "article")
    coverage = first_row(
        con, "SELECT 100.0 * count(created_variant_date) / nullif(count(*), 0), "
        "100.0 * count(*) FILTER (WHERE subfolder IS NULL AND date_trunc('quarter', "
        "github_created_at) = date_trunc('quarter', first_paper_date)) "
        "/ nullif(count(github_created_at) FILTER (WHERE subfolder IS NULL), 0) "
        "FROM core_pwc__repos WHERE first_paper_date IS NOT NULL")
    if coverage[0]:
        add("pwc_github_created_known_pct", coverage[0], "%", "today")
        add("pwc_created_same_quarter_pct", coverage[1], "%", "today")
    latest = quarter_row(con)
    if latest:
        quarter, repos, pt_pct, tf_pct = latest
        # the *_today copies fill the scorecard's "today" column with the latest quarter
        for pt_id, tf_id, repos_id in (
            ("pwc_pt_share_latest_pct", "pwc_tf_share_latest_pct", "pwc_repos_latest"),
            ("pwc_pt_share_q4_2021_pct_today", "pwc_tf_share_q4_2021_pct_today",
             "pwc_repos_q4_2021_today"),
        ):
            add(pt_id, pt_pct, "%", "today")
            add(tf_id, tf_pct, "%", "today")
            add(repos_id, repos, "repositories", "today")
        year, q = quarter.split("-Q")
        add("pwc_latest_quarter", int(year) + (int(q) - 1) / 4, "year (quarter start)", "today")
    return figures


ANALYSIS = Analysis(name="pwc", sources=(SOURCE,), run=run)
