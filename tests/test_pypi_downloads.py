"""pypi_downloads against the fake ClickHouse SQL endpoint (tests/fakes/clickhouse.py): one
query per refresh, incremental months, the package rules of the analysis, the chart and
figures, and a local copy as a source."""

from __future__ import annotations

import csv
import json
import re
from datetime import date

import nbformat
import pytest

from pipeline import rules
from pipeline.notebooks import NOTEBOOKS_DIR, execute
from pipeline.sources import pypi_downloads
from pipeline.store import connect, raw_folder_path
from tests.conftest import DOWNLOADS_TODAY as TODAY
from tests.conftest import db_rows as query
from tests.fakes.clickhouse import synthetic

SOURCE = "pypi_downloads"
FIRST = date(2016, 1, 1)



@pytest.fixture
def server(pypi_server):
    return pypi_server


def snapshots(env) -> list[tuple]:
    return query(env, "SELECT snapshot_id, status, row_count FROM snapshots "
                      "WHERE source = ? ORDER BY snapshot_id", [SOURCE])


def figures(env) -> dict[str, float]:
    with (env.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}


def draw_chart(env) -> dict:
    """Draw the package-downloads chart from the result tables (as `refresh` does)."""
    from pipeline.charts import all_charts, draw_all, read_index

    con = connect(env.db_path)
    try:
        draw_all(con, env.charts_dir, charts=[c for c in all_charts()
                                              if c.name == "pypi_downloads"])
    finally:
        con.close()
    return read_index(env.charts_dir)["pypi_downloads"]


def months_asked(sql: str) -> str:
    return re.search(r"WHERE project IN \([^)]*\) AND (.*)", sql)[1]


def test_refresh_stores_the_table_then_asks_only_the_newest_months(cli, env, server):
    packages = rules.pypi_packages()
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert cli("analyze").rc == 0
    assert len(server.queries) == 1 and len(server.requests) == 1
    assert server.requests[0].method == "POST"
    assert months_asked(server.queries[0]).startswith("month >= '2016-01-01'")
    months = (TODAY.year - FIRST.year) * 12 + TODAY.month
    assert snapshots(env) == [(1, "ok", len(packages) * months)]
    stored = dict(((p, m), d) for p, m, d in query(
        env, "SELECT package, month, downloads FROM raw_pypi__downloads_at(1)"))
    assert stored[("torch", date(2021, 12, 1))] == server.total("torch", date(2021, 12, 1))
    assert stored[("mlx", date(2020, 1, 1))] == 0  # before its first release
    # the figures the issue names, and the chart, exist after the refresh
    values = figures(env)
    for framework in rules.PYPI_FRAMEWORKS:
        assert 0 <= values[f"pypi_{framework}_share_pct_today"] <= 100
    nov, dec21 = date(2026, 11, 1), date(2021, 12, 1)
    install = {p.package for p in rules.framework_packages()
               if p.role in rules.COUNTED_ROLES["install"]}
    pt = sum(server.total(p, nov) for p in install if p == "torch")
    tf = sum(server.total(p.package, nov) for p in rules.framework_packages()
             if p.framework == "tensorflow" and p.package in install)
    assert values["pypi_pt_to_tf_ratio_today"] == pytest.approx(pt / tf, abs=0.006)
    assert "pypi_pt_to_tf_ratio_dec2021" in values
    assert values["pypi_pt_to_tf_core_ratio_dec2021"] == pytest.approx(
        server.total("torch", dec21) / server.total("tensorflow", dec21), abs=0.006)
    chart = draw_chart(env)
    assert chart["has_data"] and "Nov 2026" in chart["title"] and len(chart["alt"]) > 100
    assert (env.charts_dir / "pypi_downloads.png").is_file()
    monthly = list(csv.DictReader((env.results_dir / "pypi_monthly.csv").open()))
    assert {r["framework"] for r in monthly} == set(rules.PYPI_FRAMEWORKS)
    assert monthly[-1]["month"] == "2026-12" and monthly[-1]["complete"] == "False"
    notebook = execute(NOTEBOOKS_DIR / "05_package_downloads.ipynb", env.data_dir / "nb",
                       timeout=120)
    cells = nbformat.read(notebook, as_version=4).cells
    outputs = [o for c in cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2 and all(len(o.metadata["image/png"]["alt"]) > 60 for o in images)
    # the raw folder holds the query and the answer DuckDB reads directly
    raw = raw_folder_path(env.raw_dir, query(env, "SELECT raw_dir FROM snapshots "
                                                  "WHERE snapshot_id = 1")[0][0])
    assert (raw / "query.sql").read_text() == server.queries[0]
    assert (raw / "pypi_downloads_per_month.csv").read_text().startswith(
        f'"month","{packages[0]}","{packages[1]}"')

    result = cli("collect", SOURCE)  # same day, nothing changed upstream
    assert result.rc == 0, result.err
    assert "unchanged" in result.err
    assert len(server.queries) == 2
    assert months_asked(server.queries[1]) == "month >= '2026-11-01'"
    assert [s[1] for s in snapshots(env)] == ["ok", "unchanged"]


def test_a_new_month_asks_the_months_stored_while_open_and_stores_only_changes(
        cli, env, server, monkeypatch):
    assert cli("collect", SOURCE).rc == 0
    later = date(2027, 2, 3)  # two months on: Dec 2026 was stored while open
    server.load(synthetic(rules.pypi_packages(), date(2026, 12, 1), later.replace(day=1)))
    monkeypatch.setattr(pypi_downloads, "today", lambda: later)
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    where = months_asked(server.queries[-1])
    assert where.startswith("(month >= '2027-01-01' OR month IN ('2026-12-01'))"), where
    parameters = json.loads(query(env, "SELECT parameters FROM snapshots WHERE snapshot_id = 2")
                            [0][0])
    changed = parameters["versioned"]["raw_pypi__downloads"]["new_versions"]
    assert changed == 3 * len(rules.pypi_packages())  # Dec (now final), Jan, Feb: nothing older
    complete = dict(query(env, "SELECT month, bool_and(complete) FROM raw_pypi__downloads_at(2) "
                               "WHERE month >= '2026-11-01' GROUP BY month"))
    assert complete == {date(2026, 11, 1): True, date(2026, 12, 1): True,
                        date(2027, 1, 1): True, date(2027, 2, 1): False}
    folder = raw_folder_path(env.raw_dir, query(env, "SELECT raw_dir FROM snapshots "
                                                     "WHERE snapshot_id = 2")[0][0])
    raw = json.loads((folder / "_snapshot.json").read_text())
    kept = {f["path"] for f in raw["files"] if f.get("kept_in") == 1}  # older months: #1's
    assert kept == {"query.sql", "pypi_downloads_per_month.csv"}


SMALL = """package,framework,role,note
torch,pytorch,core,
tensorflow,tensorflow,core,
tensorflow-cpu,tensorflow,variant,a second package of the framework
tensorflow-gpu,tensorflow,variant,renamed: ended 2022-11
tensorflow-intel,tensorflow,dependency,pulled by tensorflow: never counted
"""


def test_package_rules(cli, env, server, monkeypatch, tmp_path, caplog):
    """Two packages of one framework are summed, a dependency is not; a renamed package
    counts while it has downloads and adds nothing after; a package with no downloads in a
    month counts 0; a month missing from the answer is a gap (not zeros) and asked again."""
    reference = tmp_path / "framework_packages.csv"
    reference.write_text(SMALL)
    monkeypatch.setattr(rules, "FRAMEWORK_PACKAGES_FILE", reference)
    packages = rules.pypi_packages()
    shapes = {"tensorflow-gpu": (FIRST, date(2022, 11, 1), 5_000, 1.01)}
    rows = {k: v for k, v in synthetic(packages, FIRST, TODAY.replace(day=1), shapes).items()
            if not (k[0] == "tensorflow-gpu" and k[1] > date(2022, 11, 1))}
    server.reset(rows)
    no_torch, gap = date(2020, 7, 1), date(2019, 3, 1)
    server.drop("torch", no_torch)
    server.drop(month=gap)
    result = cli("collect", SOURCE)
    assert result.rc == 0 and cli("analyze").rc == 0, result.err
    assert "2019-03" in result.err and "gap" in result.err
    out = {(m, f): (d, c) for m, f, d, c in query(
        env, "SELECT month, framework, downloads, downloads_core FROM out_pypi__monthly")}

    def tf(month: date, packages=("tensorflow", "tensorflow-cpu", "tensorflow-gpu")) -> int:
        return sum(server.total(p, month) for p in packages)

    month = date(2021, 12, 1)
    assert server.total("tensorflow-intel", month) > 0
    assert out[(month, "tensorflow")] == (tf(month), server.total("tensorflow", month))
    ended = date(2024, 1, 1)
    assert server.total("tensorflow-gpu", ended) == 0
    assert out[(ended, "tensorflow")][0] == tf(ended, ("tensorflow", "tensorflow-cpu"))
    assert out[(date(2022, 11, 1), "tensorflow")][0] == tf(date(2022, 11, 1))
    assert out[(no_torch, "pytorch")] == (0, 0)
    share = query(env, "SELECT share_pct FROM out_pypi__monthly WHERE month = ? AND "
                       "framework = 'tensorflow'", [no_torch])[0][0]
    assert share == 100.0
    assert not any(m == gap for m, _ in out)
    assert (date(2019, 2, 1), "pytorch") in out and (date(2019, 4, 1), "pytorch") in out
    server.load({k: v for k, v in rows.items() if k[1] == gap})  # the month arrives upstream
    assert cli("collect", SOURCE).rc == 0
    assert "month IN ('2019-03-01')" in server.queries[-1]
    assert query(env, "SELECT count(*) FROM raw_pypi__downloads_at(current_snapshot(?)) "
                      "WHERE month = ?", [SOURCE, gap])[0][0] == len(packages)


def test_a_new_package_in_the_reference_asks_every_month_once(cli, env, server, monkeypatch,
                                                              tmp_path):
    reference = tmp_path / "framework_packages.csv"
    reference.write_text(SMALL)
    monkeypatch.setattr(rules, "FRAMEWORK_PACKAGES_FILE", reference)
    assert cli("collect", SOURCE).rc == 0
    reference.write_text(SMALL + "jax,jax,core,\n")
    assert cli("collect", SOURCE).rc == 0
    assert months_asked(server.queries[-1]).startswith("month >= '2016-01-01'")
    assert '"jax"' in server.queries[-1]
    assert cli("collect", SOURCE).rc == 0
    assert months_asked(server.queries[-1]).startswith("month >= '2026-11-01'")


def test_a_local_copy_of_the_raw_folder_reloads_offline(cli, env, server, monkeypatch):
    assert cli("collect", SOURCE).rc == 0
    first = query(env, "SELECT package, month, downloads FROM raw_pypi__downloads_at(1) "
                       "ORDER BY ALL")
    monkeypatch.setenv("ADOPTION_PYPI_DOWNLOADS_URL", str(env.raw_dir / SOURCE))
    monkeypatch.setenv("ADOPTION_DATA_DIR", str(env.data_dir.parent / "other"))
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    con = connect(env.data_dir.parent / "other" / "adoption.duckdb", read_only=True)
    try:
        again = con.execute("SELECT package, month, downloads FROM raw_pypi__downloads_at(1) "
                            "ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert again == first
    assert len(server.queries) == 1  # the copy was read, the endpoint never asked


def test_reference_rows_are_checked(tmp_path):
    path = tmp_path / "p.csv"
    for body, needle in [("package,framework,role,note\nTF_Keras,keras,compat,\n", "tf-keras"),
                         ("package,framework,role,note\ntorch,pytorch,core,\ntorch,pytorch,"
                          "core,\n", "twice"),
                         ("package,framework,role,note\ntorch,caffe,core,\n", "framework"),
                         ("package,framework,role,note\ntorch,pytorch,main,\n", "role"),
                         ("package,framework,role,note\ncount,pytorch,core,\n", "count"),
                         ("package,framework\ntorch,pytorch\n", "missing column")]:
        path.write_text(body)
        with pytest.raises(ValueError, match=needle):
            rules.framework_packages(path)
    assert {"torch", "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel",
            "tensorflow-macos", "tf-nightly", "jax", "jaxlib", "flax", "keras", "tf-keras", "mlx",
            "onnxruntime", "onnxruntime-gpu"} == {p.package for p in rules.framework_packages()}
    # the rounds' PyPI packages are asked in the same query
    assert {"torchserve", "tflite-runtime", "keras-nlp"} < set(rules.pypi_packages())
