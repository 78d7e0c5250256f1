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

#: per-model flags, a TEMP table: only the out_hf__* tables below read it, and writing ~2.5M
#: rows into the database file took about half of the analysis' time (benchmarks/analysis_scale)
CORE_MODELS = f"""
CREATE OR REPLACE TEMP TABLE core_hf__models AS
WITH m AS (
    SELECT *, list_transform(tags, lambda t: lower(t)) AS lt
    FROM raw_hf__models_at(current_snapshot('hf_models'))
), tagged AS (
    SELECT snapshot_id, id, author, library_name, pipeline_tag, downloads, likes,
           created_at, last_modified,
           created_at <= TIMESTAMP '{ARTICLE_CUTOFF}' AS article_era,
           list_contains(lt, 'pytorch') AS tag_pytorch,
           list_contains(lt, 'tf') AS tag_tf,
           list_has_any(lt, $keras) AS tag_keras,
           list_has_any(lt, $jax) AS tag_jax,
           list_contains(lt, 'safetensors') AS tag_safetensors,
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

#: the February 2022 listing, with the same flags; its weights method reads the weight files
#: at the repository root (`siblings`), and a record without downloads counts 0
CORE_ARCHIVE = """
CREATE OR REPLACE TEMP TABLE core_hf_archive__models AS
WITH m AS (
    SELECT *, list_transform(tags, lambda t: lower(t)) AS lt
    FROM raw_hf_archive__models WHERE snapshot_id = current_snapshot('hf_archive')
)
SELECT snapshot_id, id, author, library_name, pipeline_tag,
       coalesce(downloads, 0) AS downloads, coalesce(likes, 0) AS likes, last_modified,
       list_contains(lt, 'pytorch') AS tag_pytorch,
       list_contains(lt, 'tf') AS tag_tf,
       list_has_any(lt, $keras) AS tag_keras,
       list_has_any(lt, $jax) AS tag_jax,
       list_contains(lt, 'safetensors') AS tag_safetensors,
       list_contains(siblings, 'pytorch_model.bin') AS file_pytorch,
       list_contains(siblings, 'tf_model.h5') AS file_tf,
       list_contains(siblings, 'flax_model.msgpack') AS file_flax,
       list_contains(lt, 'pytorch') AS pt_tags,
       list_contains(lt, 'tf') AS tf_tags,
       list_contains(siblings, 'pytorch_model.bin') AS pt_weights,
       list_contains(siblings, 'tf_model.h5') AS tf_weights,
       list_contains(lt, 'tf') OR list_has_any(lt, $keras) AS tf_or_keras,
       list_contains(lt, 'safetensors') AND NOT (list_has_any(lt, ['pytorch', 'tf', 'jax',
           'flax']) OR list_has_any(lt, $keras)) AS safetensors_only
FROM m
"""

#: models in each as_of scope ('archive' = the February 2022 listing, 'article' = article-era
#: models of today's Hub, 'today' = all of today's Hub)
SCOPES = """
    SELECT m.snapshot_id, m.downloads, m.pt_tags, m.pt_weights, m.tf_tags, m.tf_weights,
           m.tag_keras, m.tag_jax, m.safetensors_only, s.as_of
    FROM core_hf__models m, (VALUES ('article'), ('today')) s(as_of)
    WHERE s.as_of = 'today' OR m.article_era
    UNION ALL
    SELECT snapshot_id, downloads, pt_tags, pt_weights, tf_tags, tf_weights, tag_keras, tag_jax,
           safetensors_only, 'archive' AS as_of
    FROM core_hf_archive__models
"""

OUT_SHARE = f"""
CREATE OR REPLACE TABLE out_hf__framework_share AS
WITH grouped AS (   -- a few dozen flag combinations instead of millions of rows
    SELECT as_of, pt_tags, pt_weights, tf_tags, tf_weights, tag_keras, tag_jax,
           safetensors_only, count(*) AS models, sum(downloads) AS downloads,
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

#: one Top-N query per (scope, ranking): a heap of 30 each, instead of sorting every model
TOP_N_QUERY = """
    (SELECT '{as_of}' AS as_of, '{ranking}' AS ranking, id, downloads, likes,
            {created} AS created_at, library_name, pt_tags, tf_tags, pt_weights, tf_weights,
            tf_or_keras, tag_keras, tag_jax, tag_safetensors, snapshot_id
     FROM {table} {where}
     ORDER BY {ranking} DESC, id LIMIT {n})"""
RANKED = " UNION ALL ".join(
    TOP_N_QUERY.format(as_of=as_of, ranking=ranking, n=TOP_N,
                       table="core_hf_archive__models" if as_of == "archive"
                       else "core_hf__models",
                       created="NULL::TIMESTAMP" if as_of == "archive" else "created_at",
                       where="WHERE article_era" if as_of == "article" else "")
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
    """(Re)build core_hf__models, core_hf_archive__models and the out_hf__* tables from the
    current snapshots (a source not collected gives an empty core table)."""
    from pipeline.sources import ensure_tables

    ensure_tables(con, SOURCE, ARCHIVE)
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    for stale in ("core_hf__models", "core_hf_archive__models"):  # persistent until 2026-12
        con.execute(f'DROP TABLE IF EXISTS "{database}".main.{stale}')
    con.execute(CORE_MODELS, {"keras": list(KERAS_TAGS), "jax": list(JAX_TAGS),
                              "pt_libraries": list(PYTORCH_LIBRARIES)})
    con.execute(CORE_ARCHIVE, {"keras": list(KERAS_TAGS), "jax": list(JAX_TAGS)})
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
