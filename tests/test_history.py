"""History that scales: figures across refreshes, storage that grows with change, `prune`, and
an `export` any engine reads."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.store import connect
from tests.conftest import mirror_dir
from tests.fakes.algolia import AlgoliaServer, comment
from tests.faults.helpers import current_state


def db(settings) -> duckdb.DuckDBPyConnection:
    return connect(settings.db_path, read_only=True)


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A scratch copy of the conference data, configured as the source."""
    target = tmp_path / "conferences"
    shutil.copytree(mirror_dir("pytorch-vs-tensorflow"), target)
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(target))
    return target


def bump_2021(copy: Path) -> None:
    """Another version of the data: one more PyTorch paper at ICML 2021."""
    lines = (copy / "data.csv").read_text().splitlines()
    for i, line in enumerate(lines):
        fields = line.split(",")
        if fields[0].strip().lower() == "icml" and fields[1].strip().endswith("/21"):
            fields[2] = str(int(fields[2]) + 1)
            fields[4] = str(int(fields[4]) + 1)
            lines[i] = ",".join(fields)
    (copy / "data.csv").write_text("\n".join(lines) + "\n")


def history(settings, figure_id: str) -> list[tuple]:
    con = db(settings)
    try:
        return con.execute("SELECT snapshot_id, value FROM out_figures_history "
                           "WHERE figure_id = ? ORDER BY computed_at", [figure_id]).fetchall()
    finally:
        con.close()


# -- figures across refreshes ----------------------------------------------------------------

def test_figures_history_gains_a_point_per_changed_input_only(cli, env, copy):
    assert cli("refresh", "--source", "conferences").rc == 0
    assert cli("refresh", "--source", "conferences").rc == 0  # unchanged: no new point
    assert cli("analyze", "--force").rc == 0  # same inputs, same values: no duplicate
    first = history(env, "research_pt_share_2021_pct")
    assert len(first) == 1
    bump_2021(copy)
    assert cli("refresh", "--source", "conferences").rc == 0
    points = history(env, "research_pt_share_2021_pct")
    assert len(points) == 2 and points[0][0] != points[1][0]
    assert points[1][1] > points[0][1]  # one more PyTorch paper
    assert len(history(env, "research_pt_share_2017_pct")) == 2  # same value, new snapshot
    with (env.results_dir / "figures_history.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["figure_id"] == "research_pt_share_2021_pct"]
    assert [float(r["value"]) for r in rows] == [v for _, v in points]
    assert all(r["data_date"] and r["snapshot_ids"] for r in rows)


# -- storage grows with change -----------------------------------------------------------------

def test_hn_postings_are_stored_once_across_monthly_refreshes(cli, env, monkeypatch):
    """Ten refreshes, each adding one month: the posting texts stored are the distinct ones
    (target <= 1.1x), while every snapshot still reads complete."""
    months = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October"]
    with AlgoliaServer(threads=[], others=False) as server:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        for n, month in enumerate(months, start=1):
            server.add_thread(f"Ask HN: Who is hiring? ({month} 2022)",
                              [comment(f"Co{n}-{i} | PyTorch") for i in range(20)])
            result = cli("collect", "jobs_hn")
            assert result.rc == 0, result.err
    con = db(env)
    stored, distinct = con.execute(
        "SELECT count(*), count(DISTINCT (comment_id, text)) FROM raw_jobs_hn__postings"
    ).fetchall()[0]
    sizes = [r[0] for r in con.execute(
        "SELECT (SELECT count(*) FROM raw_jobs_hn__postings_at(s.snapshot_id)) FROM snapshots s "
        "WHERE status = 'ok' ORDER BY snapshot_id").fetchall()]
    assert distinct == 200 and stored <= 1.1 * distinct
    assert sizes == [20 * n for n in range(1, 11)]


# -- prune ------------------------------------------------------------------------------------

def figures_of(settings) -> dict[str, str]:
    with (settings.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: r["value"] for r in csv.DictReader(fh)}


def test_prune_keeps_the_current_snapshot_and_the_history(cli, env, copy, monkeypatch, tmp_path):
    monkeypatch.setenv("ADOPTION_PUBLISHED_DIR", str(tmp_path / "published"))
    assert cli("refresh", "--source", "conferences").rc == 0
    for _ in range(2):
        assert cli("collect", "conferences", "--force").rc == 0
    bump_2021(copy)
    assert cli("refresh", "--source", "conferences").rc == 0
    before = figures_of(env)
    good = current_state(env.db_path, "conferences")
    points = len(history(env, "research_pt_share_2021_pct"))
    result = cli("prune", "--keep-last", "1")
    assert result.rc == 0, result.err
    assert "conferences: 3 snapshot(s) pruned (1, 2, 3)" in result.err
    con = db(env)
    assert con.execute("SELECT list(status ORDER BY snapshot_id) FROM snapshots").fetchall() \
        == [(["pruned", "pruned", "pruned", "ok"],)]
    assert con.execute("SELECT DISTINCT snapshot_id FROM raw_conferences__papers").fetchall() \
        == [(4,)]
    con.close()
    assert [p.name.rsplit("-", 1)[1] for p in (env.raw_dir / "conferences").iterdir()] == ["4"]
    assert current_state(env.db_path, "conferences") == good
    assert len(history(env, "research_pt_share_2021_pct")) == points  # figures kept
    assert cli("analyze", "--force").rc == 0
    assert figures_of(env) == before  # the current snapshot still gives the same figures


def test_prune_never_removes_what_published_figures_or_kept_snapshots_use(cli, env, copy,
                                                                          monkeypatch, tmp_path):
    published = tmp_path / "published" / "results"
    published.mkdir(parents=True)
    monkeypatch.setenv("ADOPTION_PUBLISHED_DIR", str(published.parent))
    assert cli("refresh", "--source", "conferences").rc == 0
    shutil.copy(env.results_dir / "figures.csv", published / "figures.csv")  # from snapshot 1
    bump_2021(copy)
    assert cli("refresh", "--source", "conferences").rc == 0
    kept = cli("prune", "--keep-last", "1")
    assert kept.rc == 0 and "kept [1] because published figures come from them" in kept.err
    assert current_state(env.db_path, "conferences")[0] == 2
    forced = cli("prune", "--keep-last", "1", "--force")
    assert forced.rc == 0 and "1 snapshot(s) pruned (1)" in forced.err


def test_prune_keeps_items_a_newer_hn_snapshot_references(cli, env, monkeypatch, tmp_path):
    monkeypatch.setenv("ADOPTION_PUBLISHED_DIR", str(tmp_path / "published"))
    with AlgoliaServer() as server:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        assert cli("collect", "jobs_hn").rc == 0
        server.add_comment(server.thread_id("December 2021"), "Omicron | PyTorch")
        assert cli("collect", "jobs_hn").rc == 0
        server.add_thread("Ask HN: Who is hiring? (January 2022)", [comment("Pi | JAX/Flax")])
        assert cli("collect", "jobs_hn").rc == 0
    digest = postings_digest(env)
    result = cli("prune", "--keep-last", "1")
    assert result.rc == 0, result.err
    assert "raw folders of [1] kept: newer snapshots reference files in them" in result.err
    assert postings_digest(env) == digest  # the current snapshot reads exactly as before
    con = db(env)
    assert con.execute("SELECT count(*) FROM raw_jobs_hn__postings").fetchall() == [(12,)]
    folders = {Path(r[0]).name for r in con.execute(
        "SELECT raw_dir FROM snapshots WHERE raw_dir IS NOT NULL").fetchall()}
    con.close()
    sidecar = json.loads(next((env.raw_dir / "jobs_hn").glob("*-3/_snapshot.json")).read_text())
    for entry in sidecar["files"]:
        home = next((env.raw_dir / "jobs_hn").glob(f"*-{entry.get('kept_in', 3)}"))
        assert home.name in folders and (home / entry["path"]).is_file()


def postings_digest(settings) -> str:
    con = db(settings)
    try:
        rows = con.execute("SELECT comment_id, text FROM raw_jobs_hn__postings_at("
                           "current_snapshot('jobs_hn')) ORDER BY comment_id").fetchall()
    finally:
        con.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_prune_is_one_transaction(cli, env, copy, monkeypatch, tmp_path):
    monkeypatch.setenv("ADOPTION_PUBLISHED_DIR", str(tmp_path / "published"))
    assert cli("collect", "conferences").rc == 0
    for _ in range(2):
        assert cli("collect", "conferences", "--force").rc == 0
    real_rename = Path.rename
    calls = []

    def rename(self, target):
        calls.append(self)
        if len(calls) == 2:
            raise OSError(13, "Permission denied", str(target))
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    result = cli("prune", "--keep-last", "1")
    assert result.rc == 1
    assert "nothing was pruned" in result.err and "Traceback" not in result.err
    con = db(env)
    assert con.execute("SELECT list(status ORDER BY snapshot_id) FROM snapshots").fetchall() \
        == [(["ok", "ok", "ok"],)]
    assert con.execute("SELECT count(DISTINCT snapshot_id) FROM raw_conferences__papers"
                       ).fetchall() == [(3,)]
    con.close()
    assert len([p for p in (env.raw_dir / "conferences").iterdir()
                if not p.name.startswith(".")]) == 3


# -- export -----------------------------------------------------------------------------------

def test_export_reads_back_with_hive_partitioning(cli, env, copy, tmp_path):
    assert cli("refresh", "--source", "conferences").rc == 0
    dest = tmp_path / "export"
    assert cli("export", str(dest)).rc == 0
    manifest = json.loads((dest / "manifest.json").read_text())
    con = db(env)
    reader = duckdb.connect()
    for table, info in manifest["tables"].items():
        if not info["files"]:
            continue
        got = reader.execute(f"SELECT count(*) FROM read_parquet('{dest}/{table}/**/*.parquet', "
                             "hive_partitioning = true)").fetchall()[0][0]
        assert got == con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], table
        assert got == info["rows"], table
        for rel, entry in info["files"].items():
            assert hashlib.sha256((dest / rel).read_bytes()).hexdigest() == entry["sha256"]
    # a headline figure recomputed from the export alone equals the pipeline's
    share = reader.execute(
        f"SELECT 100.0 * sum(pytorch_papers) / (sum(pytorch_papers) + sum(tensorflow_papers)) "
        f"FROM read_parquet('{dest}/raw_conferences__meetings/**/*.parquet', "
        "hive_partitioning = true) WHERE year = 2017 AND snapshot_id = 1").fetchall()[0][0]
    assert round(share, 2) == float(figures_of(env)["research_pt_share_2017_pct"])
    schema = {c["name"] for c in manifest["tables"]["raw_conferences__papers"]["schema"]}
    assert {"authors", "words", "snapshot_id"} <= schema


def test_second_export_writes_only_new_snapshots(cli, env, copy, tmp_path):
    assert cli("refresh", "--source", "conferences").rc == 0
    dest = tmp_path / "export"
    assert cli("export", str(dest)).rc == 0
    first = {p: p.stat().st_mtime_ns for p in dest.rglob("raw_*/**/*.parquet")}
    bump_2021(copy)
    assert cli("refresh", "--source", "conferences").rc == 0
    result = cli("export", str(dest))
    assert result.rc == 0
    after = {p: p.stat().st_mtime_ns for p in dest.rglob("raw_*/**/*.parquet")}
    assert {p: after[p] for p in first} == first  # old partitions untouched
    new = sorted(str(p.relative_to(dest)) for p in set(after) - set(first))
    assert new == ["raw_conferences__meetings/source=conferences/snapshot_id=2/part-0.parquet",
                   "raw_conferences__papers/source=conferences/snapshot_id=2/part-0.parquet"]
    since = cli("export", str(tmp_path / "recent"), "--since", "2999-01-01")
    assert since.rc == 0
    assert not list((tmp_path / "recent").glob("raw_*/**/*.parquet"))


def test_figures_over_time_chart_shows_both_refreshes(cli, env, tmp_path, monkeypatch):
    """Two offline refreshes with a change between them (a new HN month arrives): the history
    table and the chart hold both points; after the first, the chart says there is no trend."""
    mirror = tmp_path / "hn"
    mirror.mkdir()
    months = sorted(mirror_dir("hn").glob("2026-0*.json"))
    for path in months[:-1]:
        shutil.copy(path, mirror / path.name)
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(mirror))
    assert cli("refresh", "--source", "jobs_hn").rc == 0
    index = {e["name"]: e for e in json.loads((env.charts_dir / "charts.json").read_text())
             ["charts"]}
    assert index["figures_over_time"]["title"] == "Figures over time: only one refresh so far"
    shutil.copy(months[-1], mirror / months[-1].name)
    assert cli("refresh", "--source", "jobs_hn").rc == 0
    points = history(env, "jobs_hn_pt_share_last12_pct_today")
    assert len(points) == 2 and points[0][0] != points[1][0]
    index = {e["name"]: e for e in json.loads((env.charts_dir / "charts.json").read_text())
             ["charts"]}
    chart = index["figures_over_time"]
    assert chart["has_data"] and "from 2 snapshots" in chart["alt"]
    data = list(csv.DictReader((env.charts_dir / "figures_over_time.csv").open()))
    assert {r["snapshot"] for r in data if r["figure_id"] ==
            "jobs_hn_pt_share_last12_pct_today"} == {str(points[0][0]), str(points[1][0])}
