"""Conference source end to end against the fake raw-file host serving the real mirror."""

from __future__ import annotations

import csv

import duckdb

from pipeline.store import connect


def figures(settings) -> dict[str, float]:
    with (settings.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}


def test_offline_refresh_produces_charts_and_figures(cli, env, conference_server):
    result = cli("refresh", "--source", "conferences")
    assert result.rc == 0, result.err
    for chart in ("research_share", "author_migration_sankey", "scorecard"):
        assert (env.charts_dir / f"{chart}.png").stat().st_size > 10_000
        assert (env.charts_dir / f"{chart}.svg").is_file()
    got = figures(env)
    # computed from the real mirror: 12+4+1+5+3 PyTorch vs 85+55+41+44+56+63 TensorFlow in 2017
    assert abs(got["research_pt_share_2017_pct"] - 100 * 25 / (25 + 344)) < 0.01
    assert abs(got["research_pt_share_2021_pct"] - 100 * 958 / (958 + 275)) < 0.01
    assert 40 < got["migration_tf_to_pt_pct"] < 70
    assert 75 < got["migration_pt_stay_pct"] < 95
    # every per-paper file of the mirror was found through the directory index
    con = duckdb.connect(str(env.db_path), read_only=True)
    files = con.execute("SELECT count(DISTINCT file) FROM raw_conferences__papers").fetchone()[0]
    assert files == len(list((conference_server.root / "data").glob("*_*.json")))
    status = cli("status")
    assert "conferences: snapshot 1" in status.out and "35 rows" in status.out


def test_local_directory_and_file_url_work_as_sources(cli, env, conference_mirror, monkeypatch):
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", conference_mirror.as_uri())
    assert cli("collect", "conferences").rc == 0
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(conference_mirror))
    assert cli("collect", "conferences").rc == 0
    con = connect(env.db_path, read_only=True)
    rows = con.execute("SELECT count(*) FROM snapshots WHERE status = 'ok'").fetchone()[0]
    assert rows == 2


def test_raw_payloads_kept_with_provenance_sidecar(cli, env, conference_server):
    import json

    assert cli("collect", "conferences").rc == 0
    day_dirs = list((env.raw_dir / "conferences").iterdir())
    assert len(day_dirs) == 1 and not day_dirs[0].name.startswith(".")
    sidecar = json.loads((day_dirs[0] / "_snapshot.json").read_text())
    assert sidecar["origin"] == conference_server.base_url
    assert sidecar["licence"] and sidecar["accessed_at"]
    by_path = {f["path"]: f for f in sidecar["files"]}
    assert by_path["data.csv"]["bytes"] == (day_dirs[0] / "data.csv").stat().st_size


def test_raw_folder_reloads_without_network(cli, env, conference_server, monkeypatch):
    """A refresh can be re-analysed from data/raw: point the source at the raw folder."""
    assert cli("collect", "conferences").rc == 0
    day_dir = next((env.raw_dir / "conferences").iterdir())
    conference_server.stop()
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(day_dir))
    assert cli("collect", "conferences").rc == 0


def test_data_csv_fallback_when_no_listing(cli, env, conference_server):
    """No directory index: the meetings named in data.csv are tried, and the gap is recorded."""
    conference_server.fault(r"/data/$", "404", times=None)
    assert cli("collect", "conferences").rc == 0
    con = connect(env.db_path, read_only=True)
    params = con.execute("SELECT parameters FROM snapshots").fetchone()[0]
    assert "derived from data.csv" in params
    files = {r[0] for r in con.execute("SELECT DISTINCT file FROM raw_conferences__papers")
             .fetchall()}
    assert "data/cvpr_2019.json" in files and "data/aistats_2019.json" not in files


def test_pinned_commit_is_not_downloaded_twice(cli, env, conference_mirror, monkeypatch):
    from tests.fakes.raw_files import RawFileServer

    commit = "3ef0c7dee3002f66277251eda55df970b3cda293"
    with RawFileServer(conference_mirror, prefix=f"Chillee/pvt/{commit}/data_analysis") as server:
        monkeypatch.setenv("ADOPTION_CONFERENCES_URL", server.base_url)
        assert cli("collect", "conferences").rc == 0
        first = len(server.requests)
        result = cli("refresh", "--source", "conferences")
        assert result.rc == 0 and "unchanged: pinned commit 3ef0c7d" in result.err
        assert len(server.requests) == first  # nothing fetched
        assert cli("collect", "conferences", "--force").rc == 0
        assert len(server.requests) == 2 * first
    con = connect(env.db_path, read_only=True)
    assert con.execute("SELECT list(status ORDER BY snapshot_id) FROM snapshots").fetchone()[0] \
        == ["ok", "ok"]
