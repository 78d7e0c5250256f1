"""HuggingFace Hub in today's terms: what each model is built for, by monthly cohort.

The article's method (tags `pytorch` / `tf`) sees a shrinking slice of today's Hub: most new
models carry `safetensors` and no framework tag, or are GGUF, MLX or ONNX conversions. Here
every model is resolved to framework families (PyTorch, TensorFlow/Keras, JAX/Flax, MLX, GGUF,
ONNX, other) by the table `data/reference/hub_frameworks.csv` (rules in `pipeline.rules`), in
two readings:

* `tags`: the families of the framework tags it carries (several possible);
* `library`: the same, and for a model with no framework tag, the family of its `library_name`.

Shares are over the models with at least one family; the unresolved models (no family) are
counted beside them, never hidden. Each share is also given weighted by 30-day downloads and by
all-time downloads. Tag coverage = the share of the models that the article's rule sees at all
(a `pytorch` or `tf` tag).

Outputs:

* `out_hf__landscape_monthly`: per month of `createdAt`, from April 2022 (the first whole month
  after the Hub's 2022-03-02 back-fill of creation dates) to the latest complete month (a month
  is complete when the listing holds a model created after it ended), x reading x family;
  also written as data/results/hf_landscape_monthly.csv.
* `out_hf__landscape`: the same per scope: `archive` (the February 2022 listing, source
  hf_archive), `article` (article-era models of today's Hub), `today` (every model) and
  `last_12_months` (the latest 12 complete months pooled: the headline figures,
  `hf_landscape_<family>_pct_today` for the library reading, `..._pct_tags_today` for the tags
  reading, the unresolved share and `hf_tag_coverage_pct_today`).

One scan of each listing groups the models by (month, families of both readings, tag coverage)
into a few thousand rows; everything else is computed from those groups.
"""

from __future__ import annotations

import duckdb

from pipeline import rules
from pipeline.analysis import Analysis, Figure
from pipeline.analysis.hf import ARCHIVE, ARTICLE_CUTOFF, SOURCE
from pipeline.store import current_snapshot_id

FIRST_MONTH = "2022-04-01"  # the first whole month after the 2022-03-02 back-fill
LAST_MONTHS = 12
RESULT_CSV = "hf_landscape_monthly.csv"
MONTHLY_COLUMNS = [
    "month", "reading", "family", "family_label", "models", "share_pct", "unresolved_models",
    "unresolved_pct", "resolved_models", "total_models", "downloads", "downloads_share_pct",
    "downloads_all_time", "downloads_all_time_share_pct", "tag_covered_models",
    "tag_coverage_pct", "snapshot_id"]


def _groups_sql(rules_list: list[rules.FrameworkRule]) -> str:
    """Both listings grouped by (source, month, article era, family masks, tag coverage)."""
    framework_tags = rules.hub_framework_tags_sql("tags", rules_list)
    tag_mask, library_mask = rules.hub_family_sql("ft", "lower(library_name)", rules_list)
    return f"""
CREATE OR REPLACE TEMP TABLE _hf_landscape_groups AS
WITH m AS (
    SELECT '{SOURCE}' AS source, date_trunc('month', created_at) AS month,
           created_at <= TIMESTAMP '{ARTICLE_CUTOFF}' AS article_era, created_at,
           {framework_tags} AS ft, library_name, downloads, downloads_all_time, snapshot_id
    FROM raw_hf__models_at(current_snapshot('{SOURCE}'))
    UNION ALL
    SELECT '{ARCHIVE}', NULL, true, NULL, {framework_tags}, library_name,
           coalesce(downloads, 0), NULL, snapshot_id
    FROM raw_hf_archive__models WHERE snapshot_id = current_snapshot('{ARCHIVE}')
), masked AS (
    SELECT *, {tag_mask} AS tag_mask, {library_mask} AS library_only,
           list_has_any(ft, ['pytorch', 'tf']) AS tag_covered
    FROM m
)
SELECT source, month, article_era, tag_mask,
       CASE WHEN tag_mask <> 0 THEN tag_mask ELSE library_only END AS library_mask,
       tag_covered, count(*) AS models, sum(downloads) AS downloads,
       sum(downloads_all_time) AS downloads_all_time, max(created_at) AS latest,
       any_value(snapshot_id) AS snapshot_id
FROM masked GROUP BY ALL
"""


def _families_sql() -> str:
    """The families as a VALUES list: order, id, label, bit."""
    bits = rules.family_bits()
    rows = ", ".join(f"({i}, '{family}', '{label}', {bits[family]})"
                     for i, (family, label) in enumerate(rules.HUB_FAMILIES.items()))
    return f"(VALUES {rows}) f(ord, family, family_label, bit)"


def _shares_sql(table: str, keys: str, scoped: str) -> str:
    """Per `keys` x reading x family: counts and shares, from the groups selected by `scoped`
    (a query over _hf_landscape_groups that adds the `keys` columns)."""
    return f"""
CREATE OR REPLACE TABLE {table} AS
WITH g AS ({scoped}
), r AS (
    SELECT g.*, x.reading, CASE x.reading WHEN 'tags' THEN tag_mask ELSE library_mask END AS mask
    FROM g, (VALUES ('tags'), ('library')) x(reading)
), totals AS (
    SELECT {keys}, reading, sum(models)::BIGINT AS total_models,
           coalesce(sum(models) FILTER (WHERE mask <> 0), 0)::BIGINT AS resolved_models,
           coalesce(sum(downloads) FILTER (WHERE mask <> 0), 0) AS resolved_downloads,
           sum(downloads_all_time) FILTER (WHERE mask <> 0) AS resolved_downloads_all_time,
           coalesce(sum(models) FILTER (WHERE tag_covered), 0)::BIGINT AS tag_covered_models,
           any_value(snapshot_id) AS snapshot_id
    FROM r GROUP BY ALL
), per_family AS (
    SELECT {keys}, reading, f.ord, f.family, f.family_label,
           coalesce(sum(models) FILTER (WHERE mask & f.bit <> 0), 0)::BIGINT AS models,
           coalesce(sum(downloads) FILTER (WHERE mask & f.bit <> 0), 0) AS downloads,
           coalesce(sum(downloads_all_time) FILTER (WHERE mask & f.bit <> 0), 0)
               AS downloads_all_time
    FROM r, {_families_sql()} GROUP BY ALL
)
SELECT {keys}, reading, family, family_label, ord AS family_order, models,
       100.0 * models / nullif(resolved_models, 0) AS share_pct,
       total_models - resolved_models AS unresolved_models,
       100.0 * (total_models - resolved_models) / nullif(total_models, 0) AS unresolved_pct,
       resolved_models, total_models, downloads::BIGINT AS downloads,
       100.0 * downloads / nullif(resolved_downloads, 0) AS downloads_share_pct,
       CASE WHEN resolved_downloads_all_time IS NOT NULL THEN downloads_all_time::BIGINT END
           AS downloads_all_time,
       100.0 * downloads_all_time / nullif(resolved_downloads_all_time, 0)
           AS downloads_all_time_share_pct,
       tag_covered_models, 100.0 * tag_covered_models / nullif(total_models, 0)
           AS tag_coverage_pct,
       snapshot_id
FROM per_family JOIN totals USING ({keys}, reading)
ORDER BY {keys}, reading DESC, ord
"""


#: the months shown: from FIRST_MONTH to the latest month that ended before the newest model
COMPLETE_MONTHS = f"""
    SELECT *, strftime(month, '%Y-%m') AS month_label FROM _hf_landscape_groups
    WHERE source = '{SOURCE}' AND month >= DATE '{FIRST_MONTH}'
      AND month + INTERVAL 1 MONTH <= (SELECT max(latest) FROM _hf_landscape_groups
                                       WHERE source = '{SOURCE}')"""

SCOPED = f"""
    SELECT 'archive' AS scope, * FROM _hf_landscape_groups WHERE source = '{ARCHIVE}'
    UNION ALL
    SELECT 'article', * FROM _hf_landscape_groups WHERE source = '{SOURCE}' AND article_era
    UNION ALL
    SELECT 'today', * FROM _hf_landscape_groups WHERE source = '{SOURCE}'
    UNION ALL
    SELECT 'last_12_months', * EXCLUDE (month_label) FROM ({COMPLETE_MONTHS})
    WHERE month > (SELECT max(month) FROM ({COMPLETE_MONTHS})) - INTERVAL {LAST_MONTHS} MONTH"""


def build(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build out_hf__landscape_monthly and out_hf__landscape."""
    from pipeline.sources import ensure_tables

    ensure_tables(con, SOURCE, ARCHIVE)
    con.execute(_groups_sql(rules.hub_frameworks()))
    monthly = (f"SELECT month_label AS month, * EXCLUDE (month, month_label) "
               f"FROM ({COMPLETE_MONTHS})")
    con.execute(_shares_sql("out_hf__landscape_monthly", "month", monthly))
    con.execute(_shares_sql("out_hf__landscape", "scope", SCOPED))
    con.execute("DROP TABLE _hf_landscape_groups")


def months_pooled(con: duckdb.DuckDBPyConnection) -> tuple[str, str, int] | None:
    """First and last month of the `last_12_months` scope and how many months it holds."""
    row = con.execute("SELECT min(month), max(month), count(DISTINCT month) FROM "
                      "out_hf__landscape_monthly").fetchall()[0]
    if not row[2]:
        return None
    last = row[1]
    months = sorted({m for (m,) in con.execute(
        "SELECT DISTINCT month FROM out_hf__landscape_monthly").fetchall()})[-LAST_MONTHS:]
    return months[0], last, len(months)


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    build(con)
    snapshot = current_snapshot_id(con, SOURCE)
    rows = con.execute(
        "SELECT reading, family, share_pct, unresolved_pct, tag_coverage_pct FROM "
        "out_hf__landscape WHERE scope = 'last_12_months' AND resolved_models > 0").fetchall()
    figures = []
    for reading, family, share, unresolved, coverage in rows:
        tail = "_today" if reading == "library" else "_tags_today"
        figures.append(Figure(f"hf_landscape_{family}_pct{tail}", round(share, 2), "%", "today",
                              SOURCE, snapshot))
        if family == "pytorch":  # once per reading
            figures.append(Figure(f"hf_landscape_unresolved_pct{tail}", round(unresolved, 2),
                                  "%", "today", SOURCE, snapshot))
            if reading == "library":
                figures.append(Figure("hf_tag_coverage_pct_today", round(coverage, 2), "%",
                                      "today", SOURCE, snapshot))
    return figures


ANALYSIS = Analysis(
    name="hf_landscape", sources=(SOURCE, ARCHIVE), run=run, needs_all=False,
    exports={RESULT_CSV: "SELECT " + ", ".join(
        f"round({c}, 3) AS {c}" if c.endswith("_pct") else c for c in MONTHLY_COLUMNS)
        + " FROM out_hf__landscape_monthly ORDER BY month, reading DESC, family_order"})
