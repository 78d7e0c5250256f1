"""Package downloads: each framework's monthly PyPI downloads and its share of all of them.

Rules (pipeline/rules.py, docs/methodology/pypi_downloads.md):

* A framework's downloads in a month = the sum over its packages in
  data/reference/framework_packages.csv whose role counts in the reading: `install` (the
  headline) counts the packages a user installs to get the framework (core, variant, nightly:
  torch; tensorflow, tensorflow-cpu, tensorflow-gpu, tensorflow-macos, tf-nightly; ...), never a
  package another one pulls in (jaxlib, tensorflow-intel), a library built on it (flax) or a
  compatibility shim (tf-keras); `core` (the alternative) counts the core package only.
* A renamed package (tensorflow-gpu, ended 2022) stays in its framework: its months add to the
  framework's series, and after its end it adds what pinned old versions still draw.
* A package with no download logged in a month counts 0. A month the answer had no row for at
  all is a gap in the table (never zeros: a missing month is not a month without downloads).
* Share = the framework's downloads / all listed frameworks' downloads that month (same
  reading). Keras 2.x was pulled by tensorflow 2.6-2.15, so those years' Keras downloads
  overlap TensorFlow's (stated in the methodology; the share keeps them apart).
* "Today" = the latest complete month (every row of it was collected after it ended); the
  current month is in the table (`complete` false) but never in a figure. "As of the article"
  = December 2021.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from pipeline import rules
from pipeline.analysis import Analysis, Figure
from pipeline.store import current_snapshot_id

SOURCE = "pypi_downloads"
ARTICLE_MONTH = date(2021, 12, 1)
#: figure-id abbreviations of the frameworks in the PyTorch / TensorFlow ratio
SHORT = {"pytorch": "pt", "tensorflow": "tf"}


def packages_table() -> pa.Table:
    """The reference packages with their framework and, per reading, whether they count."""
    packages = rules.framework_packages()
    order = {fw: i for i, fw in enumerate(rules.PYPI_FRAMEWORKS)}
    return pa.Table.from_pylist([
        {"package": p.package, "framework": p.framework, "role": p.role,
         "framework_label": rules.PYPI_FRAMEWORKS[p.framework],
         "framework_order": order[p.framework],
         **{f"counted_{r}": p.role in roles for r, roles in rules.COUNTED_ROLES.items()}}
        for p in packages])


CORE = """
CREATE OR REPLACE TABLE core_pypi__package_monthly AS
SELECT d.month, d.package, p.framework, p.role, d.downloads, d.complete,
       p.counted_install, p.counted_core, current_snapshot('pypi_downloads') AS snapshot_id
FROM raw_pypi__downloads_at(current_snapshot('pypi_downloads')) d
JOIN _pypi_packages p USING (package)
ORDER BY d.month, p.framework_order, d.package
"""

OUT = """
CREATE OR REPLACE TABLE out_pypi__monthly AS
WITH months AS (
    SELECT month, bool_and(complete) AS complete FROM core_pypi__package_monthly GROUP BY month
), frameworks AS (
    SELECT DISTINCT framework, framework_label, framework_order FROM _pypi_packages
), sums AS (
    SELECT month, framework,
           sum(downloads) FILTER (WHERE counted_install) AS downloads,
           sum(downloads) FILTER (WHERE counted_core) AS downloads_core,
           string_agg(package, ', ' ORDER BY package) FILTER (WHERE counted_install)
               AS packages_counted
    FROM core_pypi__package_monthly GROUP BY month, framework
), joined AS (
    SELECT m.month, f.framework, f.framework_label, f.framework_order,
           coalesce(s.downloads, 0)::BIGINT AS downloads,
           coalesce(s.downloads_core, 0)::BIGINT AS downloads_core,
           s.packages_counted, m.complete
    FROM months m CROSS JOIN frameworks f LEFT JOIN sums s USING (month, framework)
)
SELECT month, framework, downloads,
       100.0 * downloads / nullif(sum(downloads) OVER (PARTITION BY month), 0) AS share_pct,
       downloads_core,
       100.0 * downloads_core / nullif(sum(downloads_core) OVER (PARTITION BY month), 0)
           AS share_core_pct,
       framework_label, packages_counted, complete,
       month = (SELECT max(month) FROM months WHERE complete) AS latest_complete,
       month = DATE '{article}' AS article_month,
       current_snapshot('pypi_downloads') AS snapshot_id
FROM joined ORDER BY month, framework_order
"""

CSV = """
SELECT strftime(month, '%Y-%m') AS month, framework, downloads, round(share_pct, 3) AS share_pct,
       downloads_core, round(share_core_pct, 3) AS share_core_pct, packages_counted, complete,
       snapshot_id
FROM out_pypi__monthly ORDER BY month, framework
"""


def _month_values(con: duckdb.DuckDBPyConnection, where: str) -> dict[str, tuple]:
    rows = con.execute(f"""
        SELECT framework, downloads, share_pct, downloads_core, share_core_pct, snapshot_id
        FROM out_pypi__monthly WHERE {where}""").fetchall()
    return {r[0]: r[1:] for r in rows}


def figures(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    out: list[Figure] = []

    def add(figure_id: str, value: float | None, unit: str, as_of: str, snapshot: int) -> None:
        if value is not None:
            out.append(Figure(figure_id, round(float(value), 2), unit, as_of, SOURCE, snapshot))

    for where, as_of, tail in (("latest_complete", "today", "today"),
                               ("article_month AND complete", "article", "dec2021")):
        values = _month_values(con, where)
        if not values:
            continue
        for framework, (downloads, share, _, share_core, snapshot) in values.items():
            add(f"pypi_{framework}_share_pct_{tail}", share, "%", as_of, snapshot)
            add(f"pypi_{framework}_core_share_pct_{tail}", share_core, "%", as_of, snapshot)
            add(f"pypi_{framework}_downloads_{tail}", downloads, "downloads", as_of, snapshot)
        pt, tf = values.get("pytorch"), values.get("tensorflow")
        if pt and tf:
            snapshot = pt[4]
            if tf[0]:
                add(f"pypi_pt_to_tf_ratio_{tail}", pt[0] / tf[0], "×", as_of, snapshot)
            if tf[2]:
                add(f"pypi_pt_to_tf_core_ratio_{tail}", pt[2] / tf[2], "×", as_of, snapshot)
    return out


def run(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    from pipeline.sources import ensure_tables

    ensure_tables(con, SOURCE)
    con.register("_pypi_packages", packages_table())
    try:
        con.execute(CORE)
        con.execute(OUT.format(article=ARTICLE_MONTH))
    finally:
        con.unregister("_pypi_packages")
    return figures(con) if current_snapshot_id(con, SOURCE) is not None else []


ANALYSIS = Analysis(name="pypi", sources=(SOURCE,), run=run,
                    exports={"pypi_monthly.csv": CSV})
