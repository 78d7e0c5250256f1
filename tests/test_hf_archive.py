"""The February 2022 Hub listing (`hf_archive`): the real mirror reproduces the figures its
SOURCE.md states, from the data; GitHub's tarball (the default origin) is read through the fake
GitHub and checked by content; the article-date figures, charts and scorecard use it."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from pipeline.config import Settings
from pipeline.sources import hf_archive
from pipeline.store import connect, current_snapshot_id, raw_folder_path
from tests.fakes.hf_archive import (
    COMMIT,
    LISTED_AT,
    FakeGitHub,
    content_digest,
    infos_json,
    listing,
    mirror_tarball,
)


@pytest.fixture(scope="session")
def real(hub_archive_run):
    return hub_archive_run


def figures(settings: Settings) -> dict[str, dict]:
    with (settings.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: r for r in csv.DictReader(fh)}


def test_real_listing_reproduces_its_stated_figures(real):
    """SOURCE.md of the mirror: 29,432 models; shares over models tagged pytorch or tf
    (case-insensitive) 90.543 / 1.390 / 9.457 %; top 30: 30 pytorch, 21 tf, 0 tf-only; weight
    files at the root: 90.555 / 1.394 / 9.445 %."""
    assert real.first == 0, real.err
    got = {k: float(v["value"]) for k, v in figures(real.settings).items()}
    stated = {"hf_pt_exclusive_pct": 90.543, "hf_tf_exclusive_pct": 1.390,
              "hf_tf_available_pct": 9.457, "hf_pt_exclusive_pct_weights": 90.555,
              "hf_tf_exclusive_pct_weights": 1.394, "hf_tf_available_pct_weights": 9.445}
    for figure_id, value in stated.items():
        assert got[figure_id] == pytest.approx(value, abs=0.006), figure_id
    assert (got["hf_top30_pt_count"], got["hf_top30_tf_count"],
            got["hf_top30_tf_exclusive_count"]) == (30, 21, 0)
    rows = figures(real.settings)
    assert {rows[f]["source"] for f in stated} == {"hf_archive"}
    assert not any(f.endswith(("_today", "_reconstructed")) and f.startswith("hf_pt")
                   for f in rows)  # no today's Hub collected: no such figure
    con = connect(real.settings.db_path, read_only=True)
    counts = con.execute(
        "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE downloads IS NULL), "
        "count(*) FILTER (WHERE library_name IS NOT NULL), "
        "count(*) FILTER (WHERE list_contains(siblings, 'pytorch_model.bin')), "
        "count(*) FILTER (WHERE list_contains(siblings, 'tf_model.h5')) "
        "FROM raw_hf_archive__models").fetchone()
    assert counts == (29_432, 29_432, 212, 22_084, 20_661, 1_979)
    top = con.execute("SELECT id, downloads FROM out_hf__top30 WHERE as_of = 'archive' AND "
                      "ranking = 'downloads' AND rank IN (1, 30) ORDER BY rank").fetchall()
    assert top == [("distilgpt2", 18_362_368), ("Helsinki-NLP/opus-mt-en-ROMANCE", 633_501)]


def test_real_listing_is_dated_when_it_was_taken_and_pinned(real):
    con = connect(real.settings.db_path, read_only=True)
    snapshot = current_snapshot_id(con, "hf_archive")
    data_as_of, finished, params, raw_dir = con.execute(
        "SELECT data_as_of, finished_at, parameters, raw_dir FROM snapshots "
        "WHERE snapshot_id = ?", [snapshot]).fetchone()
    assert str(data_as_of) == "2022-02-15 14:15:54" and finished.year >= 2026
    params = json.loads(params)
    assert params["commit"] == hf_archive.COMMIT and params["layout"] == "mirror"
    assert params["archive_sha256"] == params["pinned_sha256"] == hf_archive.SHA256
    assert params["content_sha256"] == hf_archive.CONTENT_SHA256
    assert params["listing_files"] == 29_432
    assert params["listing_taken_at"] == "2022-02-15T14:15:54Z"
    sidecar = json.loads((raw_folder_path(real.settings.raw_dir, raw_dir) / "_snapshot.json")
                         .read_text())
    assert sidecar["data_as_of"] == "2022-02-15T14:15:54Z"
    assert [f["path"] for f in sidecar["files"]] == [hf_archive.MIRROR_FILE]
    history = list(csv.DictReader((real.settings.results_dir / "figures_history.csv").open()))
    assert {r["data_date"] for r in history if r["figure_id"] == "hf_pt_exclusive_pct"} == {
        "2022-02-15"}


def test_second_refresh_stores_nothing_new(real):
    assert real.second == 0, real.second_err
    assert "hf_archive: unchanged: the pinned listing (commit 796a1d3" in real.second_err
    con = connect(real.settings.db_path, read_only=True)
    assert con.execute("SELECT status, count(*) FROM snapshots GROUP BY 1 ORDER BY 1"
                       ).fetchall() == [("ok", 1), ("unchanged", 1)]


def test_scorecard_fills_the_seven_hub_rows_from_the_listing(real):
    with (real.settings.results_dir / "scorecard.csv").open() as fh:
        rows = {r["figure_id"]: r for r in csv.DictReader(fh) if r["figure_id"].startswith("hf_")}
    assert len(rows) == 7
    for row in rows.values():
        assert row["ours_as_of_article"] and row["evaluated_on"] == "article date"
        assert row["snapshots"] == "hf_archive #1 (data of 2022-02-15)"
        assert not row["ours_today"]
    top30_tf = rows["hf_top30_tf_count"]
    assert (float(top30_tf["ours_as_of_article"]), top30_tf["status"]) == (21.0, "differs")
    assert "top 30 has 21 models tagged tf" in top30_tf["note"]  # said plainly, not hidden
    assert float(rows["hf_pt_exclusive_pct"]["ours_as_of_article"]) == pytest.approx(90.54)


# -- GitHub's tarball, the default origin (fake GitHub) -----------------------------------------

N = 60


def pin(monkeypatch, files: dict[str, bytes], commit: str = COMMIT, sha256: str = "0" * 64):
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_COMMIT", commit)
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_CONTENT_SHA256", content_digest(files))
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_SHA256", sha256)


@pytest.fixture
def github(env, monkeypatch):
    files = listing(N)
    pin(monkeypatch, files)
    with FakeGitHub(files) as server:
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", server.url)
        server.files = files
        yield server


def expected(files: dict[str, bytes]) -> dict[str, float]:
    """The tags and weight-file rules in plain Python, over the generated records."""
    records = [json.loads(data) for data in files.values()]

    def tags(r):
        return {t.lower() for t in r["tags"]}

    def names(r):
        return {s["rfilename"] for s in r["siblings"]}

    out = {}
    for suffix, pt, tf in (("", lambda r: "pytorch" in tags(r), lambda r: "tf" in tags(r)),
                           ("_weights", lambda r: "pytorch_model.bin" in names(r),
                            lambda r: "tf_model.h5" in names(r))):
        either = [r for r in records if pt(r) or tf(r)]
        out[f"hf_pt_exclusive_pct{suffix}"] = 100 * sum(pt(r) and not tf(r)
                                                        for r in either) / len(either)
        out[f"hf_tf_available_pct{suffix}"] = 100 * sum(tf(r) for r in either) / len(either)
        top = sorted(records, key=lambda r: (-r.get("downloads", 0), r["modelId"]))[:30]
        out[f"hf_top30_tf_count{suffix}"] = sum(tf(r) for r in top)
    return out


def test_default_origin_is_githubs_tarball_checked_by_content(cli, env, github, monkeypatch):
    result = cli("collect", "hf_archive")
    assert result.rc == 0 and cli("analyze").rc == 0, result.err
    assert [r.path for r in github.requests] == [
        f"/{github.repo}/archive/{COMMIT}.tar.gz", f"/codeload/{github.repo}/tar.gz/{COMMIT}"]
    got = {k: float(v["value"]) for k, v in figures(env).items()}
    for figure_id, value in expected(github.files).items():
        assert got[figure_id] == pytest.approx(value, abs=0.006), figure_id
    con = connect(env.db_path, read_only=True)
    params, data_as_of = con.execute("SELECT parameters, data_as_of FROM snapshots").fetchone()
    params = json.loads(params)
    assert params["layout"] == "github" and params["listing_files"] == N
    assert params["public_origin"] == f"https://github.com/{github.repo}/tree/{COMMIT}"
    assert data_as_of == LISTED_AT.replace(tzinfo=None)
    # the model cards in GitHub's tarball are skipped, never stored or extracted
    assert con.execute("SELECT count(*) FROM raw_hf_archive__models").fetchone()[0] == N
    con.close()
    raw = next((env.raw_dir / "hf_archive").glob("2*"))
    assert sorted(p.name for p in raw.iterdir()) == [f"{COMMIT}.tar.gz", "_snapshot.json"]
    # pinned: the next refresh asks GitHub nothing
    seen = len(github.requests)
    again = cli("collect", "hf_archive")
    assert again.rc == 0 and "unchanged: the pinned listing" in again.err
    assert len(github.requests) == seen
    # the raw folder (GitHub's layout) reloads offline, checked by content
    github.stop()
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", str(raw))
    forced = cli("collect", "hf_archive", "--force")
    assert forced.rc == 0, forced.err
    assert current_snapshot_id(connect(env.db_path, read_only=True), "hf_archive") == 3


def test_a_copy_in_the_mirrors_layout_is_checked_against_its_sha256(cli, env, tmp_path,
                                                                     monkeypatch):
    files = listing(N)
    body = mirror_tarball(files)
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / hf_archive.MIRROR_FILE).write_bytes(body)
    pin(monkeypatch, files, sha256=hashlib.sha256(body).hexdigest())
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", str(folder))
    result = cli("collect", "hf_archive")
    assert result.rc == 0, result.err
    con = connect(env.db_path, read_only=True)
    params = json.loads(con.execute("SELECT parameters FROM snapshots").fetchone()[0])
    con.close()
    assert params["layout"] == "mirror" and params["archive_sha256"] == params["pinned_sha256"]
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", str(folder / hf_archive.MIRROR_FILE))
    assert cli("collect", "hf_archive", "--force").rc == 0  # the file itself works too


def test_weight_files_count_at_the_repository_root_only(cli, env, tmp_path, monkeypatch):
    """A pytorch_model.bin in a sub-folder is not the model's weights; a record without
    downloads ranks as 0; 'PyTorch' is the pytorch tag."""
    files = {
        "models/a/infos.json": infos_json("a", ["PyTorch"], downloads=None,
                                          siblings=["pytorch_model.bin"]),
        "models/o/b/infos.json": infos_json("o/b", ["tf"], downloads=5,
                                            siblings=["sub/tf_model.h5", "sub/pytorch_model.bin"]),
        "models/o/c/infos.json": infos_json("o/c", ["pytorch", "tf"], downloads=9,
                                            siblings=["pytorch_model.bin", "tf_model.h5"]),
    }
    with FakeGitHub(files) as server:
        pin(monkeypatch, files)
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", server.url)
        result = cli("collect", "hf_archive")
        assert result.rc == 0 and cli("analyze").rc == 0, result.err
    got = {k: float(v["value"]) for k, v in figures(env).items()}
    assert got["hf_pt_exclusive_pct"] == pytest.approx(100 / 3, abs=0.006)  # a / (a, b, c)
    assert got["hf_pt_exclusive_pct_weights"] == pytest.approx(50.0)  # a / (a, c): b has none
    assert got["hf_top30_tf_count_weights"] == 1.0
    con = connect(env.db_path, read_only=True)
    assert con.execute("SELECT id FROM out_hf__top30 WHERE as_of = 'archive' AND ranking = "
                       "'downloads' ORDER BY rank").fetchall() == [("o/c",), ("o/b",), ("a",)]
