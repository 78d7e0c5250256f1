"""HuggingFace Hub: which frameworks models are available in, for all models and the top 30.

Rules (docs/methodology/hf_models.md explains why):

* Two methods, side by side and never mixed. `tags` (the article's): PyTorch = tag `pytorch`,
  TensorFlow = tag `tf`. `weights`: PyTorch also counts a model whose weights are safetensors
  (tag `safetensors`) and whose library loads them into PyTorch (`PYTORCH_LIBRARIES`);
  TensorFlow is the same as in `tags`.
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
* Top 30 by the Hub's (30-day) download count, and by likes as a variant. The article-era
  top 30 ranks article-era models by today's downloads: an approximation.
"""

from __future__ import annotations

import duckdb

from pipeline.analysis import Analysis, Figure
from pipeline.store import current_snapshot_id, first_row

SOURCE = "hf_models"
ARTICLE_CUTOFF = "2022-03-02 23:29:04"
PYTORCH_LIBRARIES = ("transformers", "diffusers", "sentence-transformers", "timm", "peft",
                     "open_clip", "setfit", "span-marker", "pyannote-audio", "speechbrain",
                     "flair", "adapter-transformers", "pytorch")
KERAS_TAGS = ("keras", "tf-keras")
JAX_TAGS = ("jax", "flax")
METHODS = ("tags", "weights")
TOP_N = 30
#: (method, as_of) -> suffix of the figure ids
SUFFIXES = {("tags", "article"): "", ("tags", "today"): "_today",
            ("weights", "article"): "_weights", ("weights", "today"): "_weights_today"}

CORE_MODELS = f"""
CREATE OR REPLACE TABLE core_hf__models AS
WITH m AS (
    SELECT * FROM raw_hf__models_at(current_snapshot('hf_models'))
), tagged AS (
    SELECT snapshot_id, id, author, library_name, pipeline_tag, downloads, likes,
           created_at, last_modified,
           created_at <= TIMESTAMP '{ARTICLE_CUTOFF}' AS article_era,
           list_contains(tags, 'pytorch') AS tag_pytorch,
           list_contains(tags, 'tf') AS tag_tf,
           list_has_any(tags, $keras) AS tag_keras,
           list_has_any(tags, $jax) AS tag_jax,
           list_contains(tags, 'safetensors') AS tag_safetensors,
           coalesce(list_contains($pt_libraries, library_name), false) AS pytorch_library
    FROM m
)
SELECT *,
       tag_pytorch AS pt_tags,
       tag_tf AS tf_tags,
       tag_pytorch OR (tag_safetensors AND pytorch_library) AS pt_weights,
       tag_tf AS tf_weights,
       tag_tf OR tag_keras AS tf_or_keras,
       tag_safetensors AND NOT (tag_pytorch OR tag_tf OR tag_keras OR tag_jax)
           AS safetensors_only
FROM tagged
"""

#: models in each as_of scope ('article' = article-era models, 'today' = all)
SCOPES = """
    SELECT m.*, s.as_of FROM core_hf__models m, (VALUES ('article'), ('today')) s(as_of)
    WHERE s.as_of = 'today' OR m.article_era
"""

OUT_SHARE = f"""
CREATE OR REPLACE TABLE out_hf__framework_share AS
WITH grouped AS (   -- a few dozen flag combinations instead of millions of rows
    SELECT as_of, pt_tags, pt_weights, tf_tags, tf_or_keras, tag_jax, safetensors_only,
           count(*) AS models, sum(downloads) AS downloads, any_value(snapshot_id) AS snapshot_id
    FROM ({SCOPES}) GROUP BY ALL
), flagged AS (
    SELECT as_of, x.method, r.tf_rule, w.weighting, snapshot_id,
           CASE x.method WHEN 'tags' THEN pt_tags ELSE pt_weights END AS pt,
           CASE r.tf_rule WHEN 'tf' THEN tf_tags ELSE tf_or_keras END AS tf,
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

#: one Top-N query per (scope, ranking): a heap of 30 each, instead of sorting every model
TOP_N_QUERY = """
    (SELECT '{as_of}' AS as_of, '{ranking}' AS ranking, id, downloads, likes, created_at,
            library_name, pt_tags, tf_tags, pt_weights, tf_or_keras, tag_keras, tag_jax,
            tag_safetensors, snapshot_id
     FROM core_hf__models {where}
     ORDER BY {ranking} DESC, id LIMIT {n})"""
RANKED = " UNION ALL ".join(
    TOP_N_QUERY.format(as_of=as_of, ranking=ranking, n=TOP_N,
                       where="WHERE article_era" if as_of == "article" else "")
    for as_of in ("article", "today") for ranking in ("downloads", "likes"))

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
       pt_weights AS pytorch_weights,
       CASE WHEN pt_tags AND tf_tags THEN 'Both' WHEN pt_tags THEN 'PyTorch'
            WHEN tf_tags THEN 'TensorFlow' ELSE 'None' END AS category_tags,
       CASE WHEN pt_weights AND tf_tags THEN 'Both' WHEN pt_weights THEN 'PyTorch'
            WHEN tf_tags THEN 'TensorFlow' ELSE 'None' END AS category_weights,
       as_of = 'article' AS approximation,
       snapshot_id
FROM ranked
ORDER BY as_of, ranking, rank
"""

OUT_TREND = """
CREATE OR REPLACE TABLE out_hf__trend AS
WITH new_models AS (        -- back-filled article-era dates say nothing about creation time
    SELECT date_trunc('quarter', created_at)::DATE AS quarter, *
    FROM core_hf__models
    WHERE NOT article_era AND created_at >= TIMESTAMP '2022-01-01'
), latest AS (SELECT max(created_at) AS t FROM core_hf__models),
per_quarter AS (
    SELECT quarter, count(*) AS models,
           count(*) FILTER (WHERE pt_tags) AS pytorch_tag,
           count(*) FILTER (WHERE pt_weights) AS pytorch_weights,
           count(*) FILTER (WHERE tf_tags) AS tensorflow_tag,
           count(*) FILTER (WHERE tf_or_keras) AS tensorflow_or_keras,
           count(*) FILTER (WHERE tag_jax) AS jax_tag,
           count(*) FILTER (WHERE safetensors_only) AS safetensors_only,
           any_value(snapshot_id) AS snapshot_id
    FROM new_models GROUP BY quarter
)
SELECT quarter, s.series, models, s.n AS series_models, 100.0 * s.n / models AS pct,
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
    """(Re)build core_hf__models and the out_hf__* tables from the current snapshot."""
    con.execute(CORE_MODELS, {"keras": list(KERAS_TAGS), "jax": list(JAX_TAGS),
                              "pt_libraries": list(PYTORCH_LIBRARIES)})
    con.execute(OUT_SHARE)
    con.execute(OUT_TOP30)
    con.execute(OUT_TREND)


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
    row = first_row(
        con, f"SELECT count(*), count(*) FILTER (WHERE {pt}), "
        "count(*) FILTER (WHERE tensorflow_tag), "
        f"count(*) FILTER (WHERE tensorflow_tag AND NOT {pt}) "
        "FROM out_hf__top30 WHERE as_of = ? AND ranking = 'downloads'", [as_of])
    if not row[0]:
        return None
    return {"models": row[0], "pt": row[1], "tf": row[2], "tf_exclusive": row[3]}


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    build(con)
    snapshot = current_snapshot_id(con, SOURCE)
    figures: list[Figure] = []
    for (method, as_of), suffix in SUFFIXES.items():
        row = share(con, method, as_of)
        if row is not None and row["pt_or_tf"]:
            for name in ("pt_exclusive_pct", "tf_exclusive_pct", "tf_available_pct",
                         "tf_also_pt_pct"):
                if row[name] is not None:
                    figures.append(Figure(f"hf_{name}{suffix}", round(row[name], 2), "%",
                                          as_of, SOURCE, snapshot))
        top = top30_counts(con, method, as_of)
        if top is not None:
            for name, key in (("hf_top30_pt_count", "pt"), ("hf_top30_tf_count", "tf"),
                              ("hf_top30_tf_exclusive_count", "tf_exclusive")):
                figures.append(Figure(f"{name}{suffix}", float(top[key]), "models", as_of,
                                      SOURCE, snapshot))
    return figures


ANALYSIS = Analysis(name="hf", sources=(SOURCE,), run=run)
