"""HuggingFace Hub: which frameworks models are available in, for all models and the top 30.

Rules (docs/methodology/hf_models.md explains why):

* Three scopes (`as_of`): `archive` = the Hub's listing of February 2022 (source `hf_archive`,
  every model it lists, its tags and its downloads of the time); `article` = the reconstruction
  from today's Hub (article-era models, below); `today` = every model of today's Hub. The
  article's figures come from the archive when it is collected, else from the reconstruction;
  the reconstruction is always also given (`..._reconstructed`), as the computed alternative.
* Two methods, side by side and never mixed. `tags` (the article's): PyTorch = tag `pytorch`,
  TensorFlow = tag `tf`, compared case-insensitively ("PyTorch" counts). `weights`: on today's
  Hub, PyTorch also counts a model whose weights are safetensors (tag `safetensors`) and whose
  library loads them into PyTorch (`PYTORCH_LIBRARIES`), TensorFlow as in `tags`; on the
  archive, the weight files at the repository root (`siblings`): pytorch_model.bin for PyTorch,
  tf_model.h5 for TensorFlow.
* Keras: the headline TensorFlow rule is the tag `tf` only (what the Hub's TensorFlow filter
  shows). The `tf+keras` rule also counts `keras` and `tf-keras`; its effect is reported in
  `out_hf__framework_share` (column `tf_rule`) and never feeds the headline figures.
* JAX = tag `jax` or `flax`, reported as an extra dimension (not in the denominator).
* Denominator: models available in PyTorch or TensorFlow. Categories: PyTorch-exclusive,
  TensorFlow-exclusive, both. One more share has its own denominator: of the models available
  in TensorFlow, the share also available in PyTorch (`tf_also_pt_pct` = both / (TensorFlow-
  exclusive + both); the article's "about a 50% chance of being available in PyTorch as well").
* As of the article: models with `createdAt` <= 2022-03-02T23:29:04Z (the Hub back-filled that
  timestamp onto every model that existed before it). Today: every model.
* Top 30 by the Hub's (30-day) download count, and by likes as a variant. The archive's top 30
  ranks by the downloads of February 2022; the reconstruction ranks article-era models by
  today's downloads: an approximation.
"""

from __future__ import annotations

import duckdb

from pipeline.analysis import Analysis, Figure
from pipeline.store import current_snapshot_id, first_row

SOURCE = "hf_models"
ARCHIVE = "hf_archive"
ARTICLE_CUTOFF = "2022-03-02 23:29:04"
PYTORCH_LIBRARIES = ("transformers", "diffusers", "sentence-transformers", "timm", "peft",
                     "open_clip", "setfit", "span-marker", "pyannote-audio", "speechbrain",
                     "flair", "adapter-transformers", "pytorch")
KERAS_TAGS = ("keras", "tf-keras")
JAX_TAGS = ("jax", "flax")
METHODS = ("tags", "weights")
TOP_N = 30
#: (method, as_of of the figure) -> suffix of the figure ids; the article-date figures are the
#: archive's when it is collected, else the reconstruction's
SUFFIXES = {("tags", "article"): "", ("tags", "today"): "_today",
            ("weights", "article"): "_weights", ("weights", "today"): "_weights_today"}
RECONSTRUCTED = "_reconstructed"  # appended: the article-era reconstruction from today's Hub

#: the tags the flags look at, as bits of a model's tag mask (tags compared in lower case)
TAG_BITS = {"pytorch": 1, "tf": 2, **dict.fromkeys(KERAS_TAGS, 4), **dict.fromkeys(JAX_TAGS, 8),
            "safetensors": 16}
#: keep the watched tags first (few per model), then OR their bits: much cheaper than testing
#: every tag of 2.5M models against each rule
TAG_MASK = (
    "coalesce(list_aggregate(list_transform(list_filter(list_transform(tags, lambda t: lower(t)),"
    " lambda t: t IN (" + ", ".join(f"'{t}'" for t in TAG_BITS) + ")), lambda t: CASE t "
    + " ".join(f"WHEN '{t}' THEN {bit}" for t, bit in TAG_BITS.items()) + " END), 'bit_or'), 0)")
#: the tag flags, from the tag mask (beside the listing's weights flags pt_weights, tf_weights)
FLAGS = """(mask & 1) <> 0 AS pt_tags, (mask & 2) <> 0 AS tf_tags, (mask & 4) <> 0 AS tag_keras,
           (mask & 8) <> 0 AS tag_jax, (mask & 16) <> 0 AS tag_safetensors,
           mask = 16 AS safetensors_only"""
#: today's Hub: the weights method also counts safetensors of a PyTorch-backed library
HUB_WEIGHTS = ("(mask & 1) <> 0 OR ((mask & 16) <> 0 AND coalesce(library_name IN ("
               + ", ".join(f"'{lib}'" for lib in PYTORCH_LIBRARIES) + "), false)) AS pt_weights,"
               " (mask & 2) <> 0 AS tf_weights")
#: the February 2022 listing: the weight files at the repository root (`siblings`)
ARCHIVE_WEIGHTS = ("list_contains(siblings, 'pytorch_model.bin') AS pt_weights, "
                   "list_contains(siblings, 'tf_model.h5') AS tf_weights")
HUB_ROWS = "raw_hf__models_at(current_snapshot('hf_models'))"
#: a record of the archive without downloads counts 0
ARCHIVE_ROWS = """(SELECT * REPLACE (coalesce(downloads, 0) AS downloads,
                                  coalesce(likes, 0) AS likes), NULL::TIMESTAMP AS created_at
                FROM raw_hf_archive__models
                WHERE snapshot_id = current_snapshot('hf_archive'))"""

#: every model grouped by its tag mask and weights flags (and, on today's Hub, article era and
#: quarter of creation): a few hundred rows from one scan of each listing. No per-model table
#: is stored: writing ~2.5M rows took about half of the analysis' time (analysis benchmark).
GROUPS = f"""
CREATE OR REPLACE TEMP TABLE _hf_groups AS
WITH hub AS (
    SELECT *, {HUB_WEIGHTS} FROM (SELECT *, {TAG_MASK} AS mask FROM {HUB_ROWS})
), archive AS (
    SELECT *, {ARCHIVE_WEIGHTS} FROM (SELECT *, {TAG_MASK} AS mask FROM {ARCHIVE_ROWS})
)
SELECT 'hub' AS listing, created_at <= TIMESTAMP '{ARTICLE_CUTOFF}' AS article_era,
       CASE WHEN created_at > TIMESTAMP '{ARTICLE_CUTOFF}'
                 AND created_at >= TIMESTAMP '2022-01-01'
            THEN date_trunc('quarter', created_at)::DATE END AS quarter,
       mask, pt_weights, tf_weights, count(*) AS models, sum(downloads) AS downloads,
       max(created_at) AS latest, any_value(snapshot_id) AS snapshot_id
FROM hub GROUP BY ALL
UNION ALL
SELECT 'archive', true, NULL, mask, pt_weights, tf_weights, count(*), sum(downloads), NULL,
       any_value(snapshot_id)
FROM archive GROUP BY ALL
"""

#: the groups of each as_of scope ('archive' = the February 2022 listing, 'article' =
#: article-era models of today's Hub, 'today' = all of today's Hub), with their flags
SCOPES = f"""
    SELECT g.*, s.as_of, {FLAGS}
    FROM _hf_groups g, (VALUES ('article'), ('today'), ('archive')) s(as_of)
    WHERE (g.listing = 'hub' AND (s.as_of = 'today' OR (s.as_of = 'article' AND g.article_era)))
       OR (g.listing = 'archive' AND s.as_of = 'archive')
"""

OUT_SHARE = f"""
CREATE OR REPLACE TABLE out_hf__framework_share AS
WITH grouped AS (   -- a few dozen flag combinations instead of millions of rows
    SELECT as_of, pt_tags, pt_weights, tf_tags, tf_weights, tag_keras, tag_jax,
           safetensors_only, sum(models) AS models, sum(downloads) AS downloads,
           any_value(snapshot_id) AS snapshot_id
    FROM ({SCOPES}) GROUP BY ALL
), flagged AS (
    SELECT as_of, x.method, r.tf_rule, w.weighting, snapshot_id,
           CASE x.method WHEN 'tags' THEN pt_tags ELSE pt_weights END AS pt,
           CASE x.method WHEN 'tags' THEN tf_tags ELSE tf_weights END
               OR (r.tf_rule = 'tf+keras' AND tag_keras) AS tf,
           tag_jax AS jax, safetensors_only,
           CASE w.weighting WHEN 'models' THEN models ELSE downloads END AS wt
    FROM grouped, (VALUES ('tags'), ('weights')) x(method),
         (VALUES ('tf'), ('tf+keras')) r(tf_rule), (VALUES ('models'), ('downloads')) w(weighting)
), counted AS (
    SELECT as_of, method, tf_rule, weighting,
           sum(wt)::BIGINT AS total,
           coalesce(sum(wt) FILTER (WHERE pt OR tf), 0)::BIGINT AS pt_or_tf,
           coalesce(sum(wt) FILTER (WHERE pt AND NOT tf), 0)::BIGINT AS pt_exclusive,
           coalesce(sum(wt) FILTER (WHERE tf AND NOT pt), 0)::BIGINT AS tf_exclusive,
           coalesce(sum(wt) FILTER (WHERE pt AND tf), 0)::BIGINT AS both_frameworks,
           coalesce(sum(wt) FILTER (WHERE jax), 0)::BIGINT AS jax,
           coalesce(sum(wt) FILTER (WHERE jax AND (pt OR tf)), 0)::BIGINT AS jax_with_pt_or_tf,
           coalesce(sum(wt) FILTER (WHERE jax AND NOT (pt OR tf)), 0)::BIGINT AS jax_only,
           coalesce(sum(wt) FILTER (WHERE safetensors_only), 0)::BIGINT AS safetensors_only,
           any_value(snapshot_id) AS snapshot_id
    FROM flagged GROUP BY ALL
)
SELECT as_of, method, tf_rule, weighting, total, pt_or_tf, pt_exclusive, tf_exclusive,
       both_frameworks, jax, jax_with_pt_or_tf, jax_only, safetensors_only,
       100.0 * pt_exclusive / nullif(pt_or_tf, 0) AS pt_exclusive_pct,
       100.0 * tf_exclusive / nullif(pt_or_tf, 0) AS tf_exclusive_pct,
       100.0 * both_frameworks / nullif(pt_or_tf, 0) AS both_pct,
       100.0 * (pt_exclusive + both_frameworks) / nullif(pt_or_tf, 0) AS pt_available_pct,
       100.0 * (tf_exclusive + both_frameworks) / nullif(pt_or_tf, 0) AS tf_available_pct,
       100.0 * both_frameworks / nullif(tf_exclusive + both_frameworks, 0) AS tf_also_pt_pct,
       100.0 * pt_or_tf / nullif(total, 0) AS pt_or_tf_pct_of_all,
       100.0 * jax / nullif(total, 0) AS jax_pct_of_all,
       100.0 * safetensors_only / nullif(total, 0) AS safetensors_only_pct_of_all,
       snapshot_id
FROM counted
ORDER BY as_of, method, tf_rule, weighting
"""

#: one Top-N query per (scope, ranking): a heap of 30 each, instead of sorting every model;
#: the flags are computed on those 30 rows only
TOP_N_QUERY = """
    (SELECT '{as_of}' AS as_of, '{ranking}' AS ranking, id, downloads, likes, created_at,
            library_name, {flags}, pt_weights, tf_weights, snapshot_id
     FROM (SELECT *, {weights} FROM (SELECT *, {mask} AS mask
           FROM (SELECT * FROM {rows} {where} ORDER BY {ranking} DESC, id LIMIT {n}))))"""
RANKED = " UNION ALL ".join(
    TOP_N_QUERY.format(as_of=as_of, ranking=ranking, n=TOP_N, mask=TAG_MASK, flags=FLAGS,
                       rows=ARCHIVE_ROWS if as_of == "archive" else HUB_ROWS,
                       weights=ARCHIVE_WEIGHTS if as_of == "archive" else HUB_WEIGHTS,
                       where=f"WHERE created_at <= TIMESTAMP '{ARTICLE_CUTOFF}'"
                       if as_of == "article" else "")
    for as_of in ("archive", "article", "today") for ranking in ("downloads", "likes"))

OUT_TOP30 = f"""
CREATE OR REPLACE TABLE out_hf__top30 AS
WITH top AS ({RANKED}
), ranked AS (
    SELECT *, row_number() OVER (
               PARTITION BY as_of, ranking
               ORDER BY CASE ranking WHEN 'downloads' THEN downloads ELSE likes END DESC, id
           ) AS rank
    FROM top
)
SELECT as_of, ranking, rank, id, downloads, likes, created_at, library_name,
       pt_tags AS pytorch_tag, tf_tags AS tensorflow_tag, tag_keras AS keras_tag,
       tag_jax AS jax_tag, tag_safetensors AS safetensors_tag,
       pt_weights AS pytorch_weights, tf_weights AS tensorflow_weights,
       CASE WHEN pt_tags AND tf_tags THEN 'Both' WHEN pt_tags THEN 'PyTorch'
            WHEN tf_tags THEN 'TensorFlow' ELSE 'None' END AS category_tags,
       CASE WHEN pt_weights AND tf_weights THEN 'Both' WHEN pt_weights THEN 'PyTorch'
            WHEN tf_weights THEN 'TensorFlow' ELSE 'None' END AS category_weights,
       as_of = 'article' AS approximation,
       snapshot_id
FROM ranked
ORDER BY as_of, ranking, rank
"""

OUT_TREND = f"""
CREATE OR REPLACE TABLE out_hf__trend AS
WITH per_quarter AS (      -- back-filled article-era dates say nothing about creation time
    SELECT quarter, sum(models) AS models,
           coalesce(sum(models) FILTER (WHERE pt_tags), 0) AS pytorch_tag,
           coalesce(sum(models) FILTER (WHERE pt_weights), 0) AS pytorch_weights,
           coalesce(sum(models) FILTER (WHERE tf_tags), 0) AS tensorflow_tag,
           coalesce(sum(models) FILTER (WHERE tf_tags OR tag_keras), 0) AS tensorflow_or_keras,
           coalesce(sum(models) FILTER (WHERE tag_jax), 0) AS jax_tag,
           coalesce(sum(models) FILTER (WHERE safetensors_only), 0) AS safetensors_only,
           any_value(snapshot_id) AS snapshot_id
    FROM (SELECT *, {FLAGS} FROM _hf_groups)
    WHERE listing = 'hub' AND quarter IS NOT NULL GROUP BY quarter
), latest AS (SELECT max(latest) AS t FROM _hf_groups WHERE listing = 'hub')
SELECT quarter, s.series, models::BIGINT AS models, s.n::BIGINT AS series_models,
       100.0 * s.n / models AS pct,
       quarter + INTERVAL 3 MONTH <= (SELECT t FROM latest) AS complete,
       quarter = DATE '2022-01-01' AS after_backfill_only, snapshot_id
FROM per_quarter,
     LATERAL (VALUES ('PyTorch (tag)', pytorch_tag),
                     ('PyTorch-loadable (weights)', pytorch_weights),
                     ('TensorFlow (tag)', tensorflow_tag),
                     ('TensorFlow or Keras', tensorflow_or_keras),
                     ('JAX / Flax (tag)', jax_tag),
                     ('safetensors only, no framework tag', safetensors_only)) s(series, n)
ORDER BY quarter, s.series
"""


def build(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build the out_hf__* tables from the current snapshots of both listings (a source
    not collected contributes nothing)."""
    from pipeline.sources import ensure_tables

    ensure_tables(con, SOURCE, ARCHIVE)
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    # the per-model table of earlier versions: its ~2.5M rows are no longer stored
    con.execute(f'DROP TABLE IF EXISTS "{database}".main.core_hf__models')
    con.execute(GROUPS)
    con.execute(OUT_SHARE)
    con.execute(OUT_TOP30)
    con.execute(OUT_TREND)
    con.execute("DROP TABLE _hf_groups")


def share(con: duckdb.DuckDBPyConnection, method: str, as_of: str,
          tf_rule: str = "tf", weighting: str = "models") -> dict | None:
    """One row of out_hf__framework_share as a dict (None when the scope is empty)."""
    cur = con.execute(
        "SELECT * FROM out_hf__framework_share WHERE method = ? AND as_of = ? AND tf_rule = ? "
        "AND weighting = ?", [method, as_of, tf_rule, weighting])
    rows = cur.fetchall()
    row = rows[0] if rows else None
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def top30_counts(con: duckdb.DuckDBPyConnection, method: str, as_of: str) -> dict | None:
    """PyTorch, TensorFlow and TensorFlow-exclusive counts among the top 30 by downloads."""
    pt = "pytorch_tag" if method == "tags" else "pytorch_weights"
    tf = "tensorflow_tag" if method == "tags" else "tensorflow_weights"
    row = first_row(
        con, f"SELECT count(*), count(*) FILTER (WHERE {pt}), "
        f"count(*) FILTER (WHERE {tf}), "
        f"count(*) FILTER (WHERE {tf} AND NOT {pt}) "
        "FROM out_hf__top30 WHERE as_of = ? AND ranking = 'downloads'", [as_of])
    if not row[0]:
        return None
    return {"models": row[0], "pt": row[1], "tf": row[2], "tf_exclusive": row[3]}


def _scope_figures(con: duckdb.DuckDBPyConnection, method: str, scope: str, suffix: str,
                   as_of: str, source: str, snapshot: int | None) -> list[Figure]:
    """The seven figures of one method in one scope (none when the scope is empty)."""
    figures = []
    row = share(con, method, scope)
    if row is not None and row["pt_or_tf"]:
        for name in ("pt_exclusive_pct", "tf_exclusive_pct", "tf_available_pct",
                     "tf_also_pt_pct"):
            if row[name] is not None:
                figures.append(Figure(f"hf_{name}{suffix}", round(row[name], 2), "%", as_of,
                                      source, snapshot))
    top = top30_counts(con, method, scope)
    if top is not None:
        for name, key in (("hf_top30_pt_count", "pt"), ("hf_top30_tf_count", "tf"),
                          ("hf_top30_tf_exclusive_count", "tf_exclusive")):
            figures.append(Figure(f"{name}{suffix}", float(top[key]), "models", as_of, source,
                                  snapshot))
    return figures


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    build(con)
    hub, archive = current_snapshot_id(con, SOURCE), current_snapshot_id(con, ARCHIVE)
    figures: list[Figure] = []
    for (method, as_of), suffix in SUFFIXES.items():
        if as_of == "today":
            figures += _scope_figures(con, method, "today", suffix, as_of, SOURCE, hub)
            continue
        # as of the article: the February 2022 listing when collected (closest in time, real
        # downloads of the time); the reconstruction from today's Hub always, as the
        # alternative, and as the headline when there is no archive
        reconstructed = _scope_figures(con, method, "article", suffix + RECONSTRUCTED, as_of,
                                       SOURCE, hub)
        figures += reconstructed
        if archive is not None:
            figures += _scope_figures(con, method, "archive", suffix, as_of, ARCHIVE, archive)
        else:
            figures += [_renamed(f, RECONSTRUCTED) for f in reconstructed]
    return figures


def _renamed(figure: Figure, drop: str) -> Figure:
    return Figure(figure.figure_id.removesuffix(drop), figure.value, figure.unit, figure.as_of,
                  figure.source, figure.snapshot_id)


ANALYSIS = Analysis(name="hf", sources=(SOURCE, ARCHIVE), run=run, needs_all=False)
