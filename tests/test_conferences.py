"""Conference source end to end against the fake raw-file host serving the real mirror."""

from __future__ import annotations

import csv
import json
import re
import shutil

import duckdb

from pipeline.sources.conferences import MANIFEST
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
    # every per-paper file of the mirror was loaded
    con = duckdb.connect(str(env.db_path), read_only=True)
    files = con.execute("SELECT count(DISTINCT file) FROM raw_conferences__papers").fetchone()[0]
    assert files == len(list((conference_server.root / "data").glob("*_*.json")))
    status = cli("status")
    assert "conferences: snapshot 1" in status.out and "35 rows" in status.out


def test_local_directory_and_file_url_work_as_sources(cli, env, conference_mirror, monkeypatch):
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", conference_mirror.as_uri())
    assert cli("collect", "conferences").rc == 0
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(conference_mirror))
    second = cli("collect", "conferences")
    assert second.rc == 0 and "conferences: unchanged: same raw payloads" in second.err
    con = connect(env.db_path, read_only=True)
    assert con.execute("SELECT list(status ORDER BY snapshot_id) FROM snapshots").fetchall() \
        == [(["ok", "unchanged"],)]


def test_checkout_path_with_a_commit_sha_is_not_a_pinned_url(cli, env, conference_mirror,
                                                             monkeypatch, tmp_path):
    """A local copy under a folder named like a commit (as CI caches are) is read as a folder:
    the pinned-commit shortcut reads only the commit segment of a GitHub raw URL."""
    copy = tmp_path / "3ef0c7dee3002f66277251eda55df970b3cda293" / "pytorch-vs-tensorflow"
    shutil.copytree(conference_mirror, copy)
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(copy))
    first = cli("refresh", "--source", "conferences")
    assert first.rc == 0, first.err
    assert "Traceback" not in first.err
    (copy / "data.csv").write_text((copy / "data.csv").read_text() + "ICLR,05/23,1,1,2\n")
    changed = cli("collect", "conferences")
    assert changed.rc == 0, changed.err
    assert "unchanged" not in changed.err  # a folder's content is read, never assumed


def test_raw_payloads_kept_with_provenance_sidecar(cli, env, conference_server):
    assert cli("collect", "conferences").rc == 0
    folders = list((env.raw_dir / "conferences").iterdir())
    assert len(folders) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\d-1", folders[0].name)
    sidecar = json.loads((folders[0] / "_snapshot.json").read_text())
    assert sidecar["origin"] == conference_server.base_url
    assert sidecar["licence"] and sidecar["accessed_at"]
    by_path = {f["path"]: f for f in sidecar["files"]}
    assert by_path["data.csv"]["bytes"] == (folders[0] / "data.csv").stat().st_size
    assert set(by_path) == set(MANIFEST)


def test_raw_folder_reloads_without_network(cli, env, conference_server, monkeypatch):
    """A refresh can be re-analysed from data/raw: point the source at the raw folder."""
    assert cli("collect", "conferences").rc == 0
    folder = next((env.raw_dir / "conferences").iterdir())
    conference_server.stop()
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(folder))
    result = cli("collect", "conferences", "--force")
    assert result.rc == 0, result.err
    con = connect(env.db_path, read_only=True)
    shas = con.execute("SELECT list(sha256 ORDER BY snapshot_id) FROM snapshots").fetchall()[0][0]
    assert len(shas) == 2 and shas[0] == shas[1]  # the very same payloads


def test_remote_files_come_from_the_pinned_manifest(cli, env, conference_server):
    """Remote, the file list is the pinned commit's manifest: no directory listing is asked for,
    and every file is fetched once."""
    assert cli("collect", "conferences").rc == 0
    paths = [r.path.split("/data_analysis/", 1)[1] for r in conference_server.requests]
    assert sorted(paths) == sorted(MANIFEST)


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
        == ["ok", "unchanged", "ok"]
