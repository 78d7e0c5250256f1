"""Hub formats: in which deployment formats new Hub models are published, month by month.

A measure of the article's round 2 (deployment) from the Hub listing (`raw_hf__models`): new
models per month (by `createdAt`) carrying each format tag, and their share of the month's
new models. It sits beside the Hub's landscape table in its own module so the two evolve
apart.

Rules:
* Formats = the Hub tags `onnx`, `tflite`, `coreml`, `openvino`, `gguf`, `executorch`,
  `safetensors` (a model can carry several; `safetensors` is the default weights format of
  PyTorch-side libraries today, shown for scale).
* Months from April 2022: the Hub back-filled `createdAt` = 2022-03-02 onto every older model,
  so earlier months cannot be told apart. The current month is in the table (`complete`
  false) but never in a figure; "today" = the latest complete month.
* Deleted models are gone from the listing and tags are today's: a month's counts are the
  models of that month that still exist, as tagged now.
"""

from __future__ import annotations

import duckdb

from pipeline.analysis import Analysis, Figure
from pipeline.store import current_snapshot_id

SOURCE = "hf_models"
FORMATS = ("onnx", "tflite", "coreml", "openvino", "gguf", "executorch", "safetensors")
FIRST_MONTH = "2022-04-01"  # the first month after the Hub's createdAt back-fill

_COUNTS = ",\n".join(f"count(*) FILTER (WHERE list_contains(tags, '{f}')) AS \"{f}\""
                    for f in FORMATS)
OUT = f"""
CREATE OR REPLACE TABLE out_hf__formats_monthly AS
WITH models AS (
    SELECT date_trunc('month', created_at)::DATE AS month, tags
    FROM raw_hf__models_at(current_snapshot('{SOURCE}'))
    WHERE created_at >= DATE '{FIRST_MONTH}'
), counts AS (
    SELECT month, count(*) AS new_models, {_COUNTS} FROM models GROUP BY month
), collected AS (
    SELECT date_trunc('month', finished_at)::DATE AS month FROM snapshots
    WHERE snapshot_id = current_snapshot('{SOURCE}')
)
SELECT u.month, u.format, u.models, u.new_models,
       100.0 * u.models / nullif(u.new_models, 0) AS share_pct,
       u.month < (SELECT month FROM collected) AS complete,
       current_snapshot('{SOURCE}') AS snapshot_id
FROM (UNPIVOT counts ON {", ".join(f'"{f}"' for f in FORMATS)}
      INTO NAME format VALUE models) u
ORDER BY u.month, u.format
"""

CSV = """
SELECT strftime(month, '%Y-%m') AS month, format, models, new_models,
       round(share_pct, 3) AS share_pct, complete, snapshot_id
FROM out_hf__formats_monthly ORDER BY month, format
"""


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    from pipeline.sources import ensure_tables

    ensure_tables(con, SOURCE)
    con.execute(OUT)
    snapshot = current_snapshot_id(con, SOURCE)
    rows = con.execute("""
        SELECT format, share_pct FROM out_hf__formats_monthly
        WHERE month = (SELECT max(month) FROM out_hf__formats_monthly WHERE complete)""") \
        .fetchall()
    return [Figure(f"hf_format_{fmt}_pct_today", round(float(share), 2), "%", "today", SOURCE,
                   snapshot) for fmt, share in rows if share is not None]


ANALYSIS = Analysis(name="hf_formats", sources=(SOURCE,), run=run,
                    exports={"hf_formats_monthly.csv": CSV})
