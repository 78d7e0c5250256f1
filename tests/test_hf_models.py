"""HuggingFace Hub source, analysis, charts and notebook, against the fake Hub on 127.0.0.1."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.analysis.hf import PYTORCH_LIBRARIES
from pipeline.collect import run_source
from pipeline.config import Settings
from pipeline.sources import hf_models
from pipeline.store import connect, current_snapshot_id, utcnow
from tests.fakes.hf_hub import (
    ARTICLE_STAMP,
    CDN_PATH,
    DUMP_TREE_PATH,
    HUB_STATS_PATH,
    FakeHfHub,
)
from tests.faults.helpers import assert_one_line_error

N_MODELS = 1500
CHARTS = ("hf_framework_share", "hf_top30", "hf_framework_trend")


@pytest.fixture
def hub(env, monkeypatch):
    with FakeHfHub(n=N_MODELS, article_share=0.1) as server:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", server.url)
        yield server


def figures(settings: Settings) -> dict[str, float]:
    with (settings.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)
                if r["figure_id"].startswith("hf_")}


def ro(settings: Settings) -> duckdb.DuckDBPyConnection:
    return connect(settings.db_path, read_only=True)


# -- hand-built models with hand-computed answers -----------------------------------------------

ERA = ARTICLE_STAMP
HAND_MODELS = [
    # id, tags, library, downloads, likes, createdAt
    ("a1", ["pytorch"], "transformers", 100, 5, ERA),
    ("a2", ["pytorch", "tf"], "transformers", 50, 60, ERA),
    ("a3", ["tf"], "transformers", 10, 1, ERA),
    ("a4", ["pytorch", "jax"], "transformers", 5, 0, ERA),
    ("a5", ["keras", "tf-keras"], "keras", 1, 0, ERA),
    ("a6", ["safetensors"], "transformers", 0, 0, ERA),
    ("a7", [], "spacy", 0, 0, "2021-06-01T00:00:00.000Z"),  # not back-filled, still article era
    ("t1", ["safetensors"], "transformers", 1000, 2, "2023-05-01T00:00:00.000Z"),
    ("t2", ["safetensors"], None, 7, 0, "2023-06-01T00:00:00.000Z"),
    ("t3", ["gguf"], "gguf", 0, 0, "2024-02-01T00:00:00.000Z"),
    ("t4", ["tf"], "transformers", 3, 0, "2024-03-01T00:00:00.000Z"),
    ("t5", ["pytorch", "safetensors"], "diffusers", 2, 0, "2025-01-01T00:00:00.000Z"),
    ("t6", ["flax"], "transformers", 4, 0, "2025-02-01T00:00:00.000Z"),
    ("t7", ["pytorch"], "timm", 1, 0, "2022-03-02T23:29:05.000Z"),  # one second too late
]


def write_hand_parquet(folder: Path, drop: str | None = None) -> Path:
    """A hub-stats shaped models.parquet (dates as strings, extra columns) in a local folder."""
    path = folder / HUB_STATS_PATH.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {
        "_id": [f"{i:024x}" for i in range(len(HAND_MODELS))],
        "id": [m[0] for m in HAND_MODELS],
        "author": [None] * len(HAND_MODELS),
        "tags": [m[1] for m in HAND_MODELS],
        "library_name": [m[2] for m in HAND_MODELS],
        "downloads": [m[3] for m in HAND_MODELS],
        "likes": [m[4] for m in HAND_MODELS],
        "createdAt": [m[5] for m in HAND_MODELS],
        "sha": ["0" * 40] * len(HAND_MODELS),
    }
    if drop:
        cols.pop(drop)
    pq.write_table(pa.table(cols), path)
    return path


@pytest.fixture
def hand(cli, env, tmp_path, monkeypatch):
    folder = tmp_path / "hand"
    write_hand_parquet(folder)
    monkeypatch.setenv("ADOPTION_HF_MODELS_URL", str(folder))
    result = cli("refresh", "--source", "hf_models", "--hf-mode", "parquet")
    assert result.rc == 0, result.err
    return figures(env)


def test_classification_matches_hand_computed_answers(hand, env):
    expected = {
        # article era = a1..a7; tags: PyTorch or TF = a1 a2 a3 a4 (4)
        "hf_pt_exclusive_pct": 100 * 2 / 4, "hf_tf_exclusive_pct": 100 * 1 / 4,
        "hf_tf_available_pct": 100 * 2 / 4,
        # weights adds a6 (safetensors + transformers): 5
        "hf_pt_exclusive_pct_weights": 100 * 3 / 5, "hf_tf_exclusive_pct_weights": 100 * 1 / 5,
        "hf_tf_available_pct_weights": 100 * 2 / 5,
        # today, tags: a1 a2 a3 a4 t4 t5 t7 (7); PyTorch only a1 a4 t5 t7; TF only a3 t4
        "hf_pt_exclusive_pct_today": 100 * 4 / 7, "hf_tf_exclusive_pct_today": 100 * 2 / 7,
        "hf_tf_available_pct_today": 100 * 3 / 7,
        # today, weights adds a6 and t1 (t2 has no library): 9
        "hf_pt_exclusive_pct_weights_today": 100 * 6 / 9,
        "hf_tf_exclusive_pct_weights_today": 100 * 2 / 9,
        "hf_tf_available_pct_weights_today": 100 * 3 / 9,
        # of the models available in TensorFlow, also in PyTorch: a2 of a2 a3; today a2 of
        # a2 a3 t4 (the weights rule adds no TensorFlow model, and a2 is PyTorch either way)
        "hf_tf_also_pt_pct": 100 * 1 / 2, "hf_tf_also_pt_pct_weights": 100 * 1 / 2,
        "hf_tf_also_pt_pct_today": 100 * 1 / 3, "hf_tf_also_pt_pct_weights_today": 100 * 1 / 3,
        # fewer than 30 models: the "top 30" is every model in scope
        "hf_top30_pt_count": 3, "hf_top30_tf_count": 2, "hf_top30_tf_exclusive_count": 1,
        "hf_top30_pt_count_weights": 4, "hf_top30_tf_exclusive_count_weights": 1,
        "hf_top30_pt_count_today": 5, "hf_top30_tf_count_today": 3,
        "hf_top30_tf_exclusive_count_today": 2, "hf_top30_pt_count_weights_today": 7,
    }
    for figure_id, value in expected.items():
        assert hand[figure_id] == pytest.approx(value, abs=0.006), figure_id
    con = ro(env)
    keras = con.execute(
        "SELECT tf_exclusive, pt_or_tf, tf_exclusive_pct FROM out_hf__framework_share "
        "WHERE as_of = 'article' AND method = 'tags' AND tf_rule = 'tf+keras' "
        "AND weighting = 'models'").fetchone()
    assert keras[:2] == (2, 5) and keras[2] == pytest.approx(40.0)  # a5 joins as TF-only
    weighted = con.execute(
        "SELECT pt_or_tf, pt_exclusive FROM out_hf__framework_share WHERE as_of = 'article' "
        "AND method = 'tags' AND tf_rule = 'tf' AND weighting = 'downloads'").fetchone()
    assert weighted == (100 + 50 + 10 + 5, 100 + 5)
    jax = con.execute(
        "SELECT as_of, jax, safetensors_only FROM out_hf__framework_share WHERE method = 'tags' "
        "AND tf_rule = 'tf' AND weighting = 'models' ORDER BY as_of").fetchall()
    assert jax == [("article", 1, 1), ("today", 2, 3)]  # a4 (+t6); a6 (+t1, t2)
    top = con.execute("SELECT id FROM out_hf__top30 WHERE as_of = 'today' "
                      "AND ranking = 'downloads' ORDER BY rank LIMIT 4").fetchall()
    assert [r[0] for r in top] == ["t1", "a1", "a2", "a3"]
    by_likes = con.execute("SELECT id, approximation FROM out_hf__top30 WHERE as_of = 'article' "
                           "AND ranking = 'likes' AND rank = 1").fetchone()
    assert by_likes == ("a2", True)
    trend = con.execute("SELECT sum(models) FROM out_hf__trend "
                        "WHERE series = 'PyTorch (tag)'").fetchone()[0]
    assert trend == 7  # only models created after the back-fill: t1..t7
    q1 = con.execute("SELECT series_models, after_backfill_only FROM out_hf__trend "
                     "WHERE quarter = DATE '2022-01-01' AND series = 'PyTorch (tag)'").fetchone()
    assert q1 == (1, True)  # t7


def test_pytorch_libraries_are_pytorch_backed():
    assert {"transformers", "diffusers", "sentence-transformers", "timm"} <= set(PYTORCH_LIBRARIES)
    assert not {"keras", "tf-keras", "gguf", "spacy", "jax"} & set(PYTORCH_LIBRARIES)


# -- end to end over the fake Hub ---------------------------------------------------------------

def reference(models: list[dict], article: bool, weights: bool) -> dict[str, float]:
    """The headline numbers computed in plain Python, independently of the SQL."""
    cutoff = "2022-03-02T23:29:04.000Z"
    scope = [m for m in models if not article or m["createdAt"] <= cutoff]

    def pt(m: dict) -> bool:
        return "pytorch" in m["tags"] or (weights and "safetensors" in m["tags"]
                                           and m.get("library_name") in PYTORCH_LIBRARIES)

    def tf(m: dict) -> bool:
        return "tf" in m["tags"]

    either = [m for m in scope if pt(m) or tf(m)]
    top = sorted(scope, key=lambda m: (-m["downloads"], m["id"]))[:30]
    return {
        "pt_exclusive_pct": 100 * sum(pt(m) and not tf(m) for m in either) / len(either),
        "tf_exclusive_pct": 100 * sum(tf(m) and not pt(m) for m in either) / len(either),
        "tf_available_pct": 100 * sum(tf(m) for m in either) / len(either),
        "tf_also_pt_pct": 100 * sum(tf(m) and pt(m) for m in either)
        / sum(tf(m) for m in either),
        "top30_pt": sum(pt(m) for m in top), "top30_tf": sum(tf(m) for m in top),
        "top30_tf_exclusive": sum(tf(m) and not pt(m) for m in top),
    }


def test_crawl_snapshot_figures_and_charts_end_to_end(cli, env, hub):
    result = cli("refresh", "--source", "hf_models", "--hf-mode", "api")
    assert result.rc == 0, result.err
    got = figures(env)
    models = list(hub.models())
    for suffix, article, weights in (("", True, False), ("_today", False, False),
                                     ("_weights", True, True), ("_weights_today", False, True)):
        ref = reference(models, article, weights)
        for name in ("pt_exclusive_pct", "tf_exclusive_pct", "tf_available_pct",
                     "tf_also_pt_pct"):
            assert got[f"hf_{name}{suffix}"] == pytest.approx(ref[name], abs=0.006)
        assert got[f"hf_top30_pt_count{suffix}"] == ref["top30_pt"]
        assert got[f"hf_top30_tf_count{suffix}"] == ref["top30_tf"]
        assert got[f"hf_top30_tf_exclusive_count{suffix}"] == ref["top30_tf_exclusive"]
    for chart in CHARTS:
        assert (env.charts_dir / f"{chart}.png").stat().st_size > 10_000
        assert (env.charts_dir / f"{chart}.svg").is_file()
    con = ro(env)
    snap = con.execute("SELECT row_count, parameters, partial FROM snapshots "
                       "WHERE source = 'hf_models'").fetchone()
    assert snap[0] == N_MODELS and not snap[2]
    params = json.loads(snap[1])
    assert params["mode"] == "api" and params["endpoint"] == hub.url
    listing = hub.requests_to("/api/models")
    assert len(listing) == 2  # 1000 per page, cursor in the Link header
    assert params["http_requests"] == 2  # nothing else went out (no telemetry to huggingface.co)
    assert params["pages"] == 2 and params["crawl_id"] and params["resumed_at_page"] is None
    assert set(listing[0].query["expand"]) == set(hf_models.EXPAND)
    assert "cursor" in listing[1].query
    created = con.execute("SELECT min(created_at), count(*) FILTER (WHERE author IS NULL) "
                          "FROM raw_hf__models").fetchone()
    assert str(created[0]) == "2022-03-02 23:29:04" and created[1] > 0  # legacy un-namespaced ids
    # the raw folder keeps what changed against the parent snapshot: all models for the first;
    # the crawl's extract is recorded (sha256, size) in the snapshot's parameters
    raw = next((env.raw_dir / "hf_models").glob("2*"))  # the snapshot folder, not .checkpoint
    assert pq.read_metadata(raw / hf_models.KEPT_REL).num_rows == N_MODELS
    assert [f["path"] for f in params["payloads_not_kept"]] == [hf_models.API_RAW_REL]
    status = cli("status").out
    assert "hf_models: snapshot 1 at" in status and "unfinished" not in status


def test_api_and_parquet_modes_land_the_same_rows(cli, env, hub):
    assert cli("collect", "hf_models", "--hf-mode", "api").rc == 0
    same = cli("collect", "hf_models", "--hf-mode", "parquet")
    assert same.rc == 0 and "hf_models: unchanged: no row changed since snapshot 1" in same.err
    assert cli("collect", "hf_models", "--hf-mode", "parquet", "--force").rc == 0
    con = ro(env)
    modes = con.execute("SELECT snapshot_id, parameters->>'mode' FROM snapshots "
                        "WHERE status = 'ok' ORDER BY snapshot_id").fetchall()
    assert [m[1] for m in modes] == ["api", "parquet"]
    cols = ("id, author, tags, library_name, pipeline_tag, downloads, downloads_all_time, likes, "
            "created_at, last_modified")
    api, parquet = (con.execute(f"SELECT {cols} FROM raw_hf__models_at(?) ORDER BY id",
                                [m[0]]).fetchall() for m in modes)
    assert len(api) == N_MODELS and api == parquet
    # stored once: the parquet snapshot reuses every version the crawl stored
    assert con.execute("SELECT count(*) FROM raw_hf__models").fetchall() == [(N_MODELS,)]
    # twice: the metadata on the resolve URL's redirect (HEAD), then the bytes from the CDN
    assert [r.method for r in hub.requests_to(r"models\.parquet")] == ["HEAD"] * 2
    assert [r.method for r in hub.cdn.requests] == ["GET"] * 2


def test_figures_are_identical_whichever_mode_auto_picks(cli, env, hub):
    """auto loads the fresh dump; once the dump is stale it crawls the API instead (one log
    line); the figures of the same models are identical, and equal to explicit api mode's."""
    result = cli("refresh", "--source", "hf_models")
    assert result.rc == 0, result.err
    from_dump = figures(env)
    hub.publish_dump(age_days=3.5)  # max_dump_age_days is 3
    result = cli("refresh", "--source", "hf_models", "--force")  # the same models: recompute
    assert result.rc == 0, result.err
    assert [line for line in result.err.splitlines() if "instead" in line] == [
        "hf_models: the hub-stats dump is 3.5 days old (max_dump_age_days = 3); "
        "crawling /api/models instead"]
    assert figures(env) == from_dump
    assert cli("refresh", "--source", "hf_models", "--hf-mode", "api", "--force").rc == 0
    assert figures(env) == from_dump
    modes = ro(env).execute("SELECT parameters->>'mode' FROM snapshots ORDER BY snapshot_id")
    assert [m[0] for m in modes.fetchall()] == ["parquet", "api", "api"]
    assert current_snapshot_id(ro(env), "hf_models") == 3


def test_auto_loads_a_fresh_dump_and_records_which(cli, env, hub):
    """The file's metadata comes from the Hub's redirect (HEAD, not followed), as
    huggingface_hub's get_hf_file_metadata reads it: the CDN's answer carries none of it."""
    result = cli("collect", "hf_models")
    assert result.rc == 0, result.err
    assert "instead" not in result.err
    params = json.loads(ro(env).execute("SELECT parameters FROM snapshots").fetchone()[0])
    sha256 = hashlib.sha256(hub.parquet_bytes()).hexdigest()
    commit, modified = hub.file_commits["models.parquet"]
    assert params["mode"] == "parquet" and params["dump_repo"] == "cfahlgren1/hub-stats"
    assert params["dump_sha"] == commit == hub.dump_sha  # X-Repo-Commit on the redirect
    assert params["dump_etag"] == params["dump_file_oid"] == sha256  # X-Linked-Etag, the LFS oid
    assert params["dump_size"] == len(hub.parquet_bytes())  # X-Linked-Size
    assert params["dump_last_modified"] == modified.replace(
        microsecond=0, tzinfo=None).isoformat() + "Z"
    resolve = f"/datasets/cfahlgren1/hub-stats/resolve/{commit}/models.parquet"
    assert [(r.method, r.path, r.status) for r in hub.requests] == [
        ("GET", DUMP_TREE_PATH, 200), ("HEAD", resolve, 302)]
    assert hub.requests[0].query["expand"] == ["true"]  # per-file last commit
    assert [(r.method, r.path, r.status) for r in hub.cdn.requests] == [("GET", CDN_PATH, 200)]
    raw = next((env.raw_dir / "hf_models").glob("2*"))  # the dump is never kept whole
    assert [p.name for p in raw.rglob("*.parquet")] == [hf_models.KEPT_REL]
    not_kept = {f["path"]: f for f in params["payloads_not_kept"]}
    assert not_kept[hf_models.HUB_STATS_REL]["sha256"] == sha256
    assert not list((env.raw_dir / "hf_models").glob(".staging-*"))


def test_a_stale_models_parquet_in_a_fresh_repository_is_stale(cli, env, hub):
    """The repository's lastModified and sha move every day while its other files are updated;
    models.parquet's own last commit says how old the dump is."""
    hub.publish_dump(age_days=10)
    hub.publish_others(age_days=0.1)
    assert hub.dump_modified > utcnow().replace(tzinfo=UTC) - timedelta(days=1)  # repo: fresh
    result = cli("collect", "hf_models")
    assert result.rc == 0, result.err
    fallback = [line for line in result.err.splitlines() if "instead" in line]
    assert fallback == ["hf_models: the hub-stats dump is 10.0 days old (max_dump_age_days = 3); "
                        "crawling /api/models instead"]
    assert not hub.cdn.requests


@pytest.mark.parametrize("broken", ["stale", "no models.parquet", "a column missing",
                                    "download failing", "metadata failing"])
def test_auto_crawls_the_api_when_the_dump_is_stale_or_broken(cli, env, hub, broken):
    expected = {"stale": "10.0 days old", "no models.parquet": "models.parquet is gone from "
                "cfahlgren1/hub-stats", "a column missing": "has no column 'tags'",
                "download failing": "HTTP 500", "metadata failing": "HTTP 404"}[broken]
    if broken == "stale":
        hub.publish_dump(age_days=10)
    elif broken == "no models.parquet":
        hub.dump_files = ("README.md", "datasets.parquet")
    elif broken == "a column missing":
        hub.dump_drop = ("tags",)
    elif broken == "download failing":
        hub.fault(r"/resolve/", "500", times=None)
    else:
        hub.fault(DUMP_TREE_PATH, "404", times=None)
    result = cli("collect", "hf_models")
    assert result.rc == 0, result.err
    fallback = [line for line in result.err.splitlines() if "crawling /api/models" in line]
    assert len(fallback) == 1 and expected in fallback[0], result.err
    params = json.loads(ro(env).execute("SELECT parameters FROM snapshots").fetchone()[0])
    assert params["mode"] == "api" and expected in params["mode_reason"]
    assert "dump_sha" not in params
    assert ro(env).execute("SELECT count(*) FROM raw_hf__models").fetchone()[0] == N_MODELS
    raw = next((env.raw_dir / "hf_models").glob("2*"))
    assert [p.name for p in raw.rglob("*.parquet")] == [hf_models.KEPT_REL]
    assert [f["path"] for f in params["payloads_not_kept"]] == [hf_models.API_RAW_REL]


def test_unchanged_dump_downloads_nothing(cli, env, hub):
    """"Unchanged" is models.parquet's own oid (its LFS sha256), read from the tree listing:
    the repository's daily commits to its other files, or a commit that re-uploads the same
    bytes, download nothing and store no snapshot."""
    assert cli("collect", "hf_models").rc == 0
    sha256 = hashlib.sha256(hub.parquet_bytes()).hexdigest()
    for change in (None, hub.publish_others, hub.publish_dump):
        if change:
            change()
        seen = len(hub.requests)
        result = cli("collect", "hf_models")
        assert result.rc == 0, result.err
        assert f"hf_models: unchanged: hub-stats models.parquet {sha256[:12]}" in result.err
        assert [r.path for r in hub.requests[seen:]] == [DUMP_TREE_PATH]
    assert len(hub.cdn.requests) == 1  # the first collection only
    ok = "SELECT count(*) FROM snapshots WHERE status = 'ok'"
    assert ro(env).execute(ok).fetchone()[0] == 1
    assert cli("collect", "hf_models", "--force").rc == 0  # --force reloads
    assert ro(env).execute(ok).fetchone()[0] == 2


@pytest.mark.parametrize("token", [None, "hf_TokenForTheGoneCase"])
def test_a_dataset_that_is_gone(cli, env, monkeypatch, token):
    """The hub-stats dataset taken down: the Hub answers 401 (anonymous) or 404 (with a token,
    sent over HTTPS only), X-Error-Code RepoNotFound. auto crawls instead, saying why in one
    line; parquet mode fails with one line saying what to do."""
    with FakeHfHub(n=N_MODELS, article_share=0.1, tls=True) as hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        if token:
            monkeypatch.setenv("HF_TOKEN", token)
        check_gone(cli, env, hub, token)


def check_gone(cli, env, hub, token):
    hub.dump_gone = True
    result = cli("collect", "hf_models", "--hf-mode", "parquet")
    assert result.rc == 1
    status = 404 if token else 401
    line = assert_one_line_error(result.err, "hf_models", "the hub-stats dataset "
                                 "cfahlgren1/hub-stats is gone", f"HTTP {status}",
                                 "use --hf-mode api")
    assert "Traceback" not in result.err and (token is None or token not in line)
    result = cli("collect", "hf_models")
    assert result.rc == 0, result.err
    fallback = [line for line in result.err.splitlines() if "instead" in line]
    assert len(fallback) == 1 and fallback[0].startswith(
        "hf_models: the hub-stats dataset cfahlgren1/hub-stats is gone (HTTP "), fallback
    params = json.loads(ro(env).execute("SELECT parameters FROM snapshots WHERE status = 'ok'")
                        .fetchone()[0])
    assert params["mode"] == "api" and "is gone" in params["mode_reason"]


def test_file_metadata_follows_a_renamed_repository_but_not_the_cdn(env):
    """A same-host redirect (a renamed repository) is followed to the file's metadata; the
    redirect to another host (the CDN) is not, and carries the metadata; the token stays."""
    from pipeline.http import Origin
    from tests.fakes.base import FakeCdn, FakeServer, Reply

    COMMIT = "c" * 40  # noqa: N806

    class Renamed(FakeServer):
        def route(self, request):
            if request.path == "/datasets/old/set/resolve/main/f.parquet":
                return Reply(307, b"", {"Location": "/datasets/new/set/resolve/main/f.parquet"})
            return Reply(302, b"", {"Location": cdn.put("/f", b"12345"), "X-Repo-Commit": COMMIT,
                                    "X-Linked-Etag": '"abc"', "X-Linked-Size": "5"})

    with FakeCdn(tls=True) as cdn, Renamed(tls=True) as hub:  # credentials: HTTPS only
        origin = Origin("hf_models", hub.url, env)
        meta, _ = origin.download_resolved("datasets/old/set/resolve/main/f.parquet",
                                           env.data_dir / "f.parquet", {"Authorization": "x"})
    assert (meta.commit, meta.etag, meta.size) == (COMMIT, "abc", 5)
    assert meta.location.startswith(cdn.url)
    assert meta.url.endswith("/old/set/resolve/main/f.parquet")
    assert [(r.method, r.path) for r in hub.requests] == [
        ("HEAD", "/datasets/old/set/resolve/main/f.parquet"),
        ("HEAD", "/datasets/new/set/resolve/main/f.parquet")]
    assert all(r.headers.get("authorization") == "x" for r in hub.requests)
    assert [(r.method, "authorization" in r.headers) for r in cdn.requests] == [("GET", False)]
    assert (env.data_dir / "f.parquet").read_bytes() == b"12345"


def top_downloads(n: int, hub) -> list[int]:
    return sorted((m["downloads"] for m in hub.models()), reverse=True)[:n]


def test_limit_is_partial_and_never_feeds_headlines(cli, env, hub):
    assert cli("refresh", "--source", "hf_models", "--hf-mode", "api").rc == 0
    full = figures(env)
    result = cli("refresh", "--source", "hf_models", "--hf-mode", "api", "--limit", "40")
    assert result.rc == 0, result.err
    assert "partial snapshot 2, 40 rows" in result.err
    con = ro(env)
    assert current_snapshot_id(con, "hf_models") == 1
    top = con.execute("SELECT downloads FROM raw_hf__models_at(2) "
                      "ORDER BY downloads DESC").fetchall()
    assert len(top) == 40
    assert [d[0] for d in top] == top_downloads(40, hub)  # --limit asks for the most downloaded
    assert figures(env) == full
    assert hub.requests_to("/api/models")[-1].query["limit"] == ["40"]
    assert not hf_models.checkpoint_dir(env).exists()  # a --limit crawl keeps no checkpoint,
    # and the full crawl's was dropped once stored


def test_limit_first_gives_no_headline_figures(cli, env, hub):
    result = cli("refresh", "--source", "hf_models", "--limit", "25")  # auto: the fresh dump
    assert result.rc == 0, result.err
    assert not figures(env)
    assert "No data yet" in (env.charts_dir / "hf_top30.svg").read_text()
    con = ro(env)
    assert current_snapshot_id(con, "hf_models") is None
    top = con.execute("SELECT downloads FROM raw_hf__models_at(1) ORDER BY downloads DESC"
                      ).fetchall()
    assert [d[0] for d in top] == top_downloads(25, hub)  # the same N models in every mode


@pytest.mark.parametrize("mode", ["api", "parquet"])
def test_batches_are_streamed_not_accumulated(env, hub, monkeypatch, mode):
    monkeypatch.setattr(hf_models, "BATCH_ROWS", 400)
    sizes: list[int] = []

    def recording(ctx):
        for table, batch in hf_models.collect(ctx):
            sizes.append(batch.num_rows)
            yield table, batch

    con = connect(env.db_path)
    source = dataclasses.replace(hf_models.SOURCE, collect=recording)
    run_source(con, source, env, {"hf_mode": mode})
    assert sizes == [400, 400, 400, 300]


def test_interrupted_crawl_keeps_previous_snapshot(env, hub, monkeypatch):
    con = connect(env.db_path)
    first = run_source(con, hf_models.SOURCE, env, {"hf_mode": "api"})
    monkeypatch.setattr(hf_models, "BATCH_ROWS", 300)

    def interrupted(ctx):
        for n, item in enumerate(hf_models.collect(ctx)):
            if n == 2:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        run_source(con, dataclasses.replace(hf_models.SOURCE, collect=interrupted), env,
                   {"hf_mode": "api"})
    assert current_snapshot_id(con, "hf_models") == first["snapshot_id"]
    assert con.execute("SELECT count(*) FROM raw_hf__models").fetchone()[0] == N_MODELS
    status, error = con.execute("SELECT status, error FROM snapshots WHERE snapshot_id = 2") \
        .fetchone()
    assert status == "failed" and "interrupted" in error
    assert not list((env.raw_dir / "hf_models").glob(".staging-*"))
    assert hf_models.crawl_status(env).startswith(  # Ctrl-C kept the page it had
        "unfinished api crawl: 1 pages, 1,000 models of about 1,500, started 0.0 h ago; "
        "the next refresh resumes it")


def test_hf_endpoint_and_token_are_honoured_but_never_stored(cli, env, monkeypatch, caplog):
    with FakeHfHub(n=N_MODELS, article_share=0.1, tls=True) as hub:  # tokens: HTTPS only
        check_token_honoured_never_stored(cli, env, hub, monkeypatch, caplog)


def check_token_honoured_never_stored(cli, env, hub, monkeypatch, caplog):
    monkeypatch.delenv("ADOPTION_HF_MODELS_URL")
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", "hf_SeCrEt0123456789")
    result = cli("-v", "collect", "hf_models")
    assert result.rc == 0, result.err
    crawl = cli("-v", "collect", "hf_models", "--hf-mode", "api", "--force")
    assert crawl.rc == 0, crawl.err
    assert {r.path.split("/resolve/")[0] for r in hub.requests} == {
        DUMP_TREE_PATH, "/datasets/cfahlgren1/hub-stats", "/api/models"}
    assert {r.headers.get("authorization") for r in hub.requests} == {
        "Bearer hf_SeCrEt0123456789"}
    # the CDN the resolve URL redirects to is another host: it never sees the token
    assert [r.path for r in hub.cdn.requests] == [CDN_PATH]
    assert all("authorization" not in r.headers and "SeCrEt" not in str(r.headers)
               for r in hub.cdn.requests)
    con = ro(env)
    stored = con.execute("SELECT origin_url, parameters FROM snapshots").fetchall()
    assert [json.loads(s[1])["endpoint"] for s in stored] == [hub.url] * 2
    assert [json.loads(s[1])["authenticated"] for s in stored] == [True] * 2
    text = str(stored) + result.err + result.out + crawl.err + caplog.text
    for path in env.raw_dir.rglob("*"):
        if path.is_file():
            text += path.read_bytes().decode("latin-1")
    assert "SeCrEt" not in text


def test_token_is_not_sent_to_an_http_endpoint(cli, env, hub, monkeypatch):
    """An http:// endpoint gets no HF_TOKEN (credentials go only over HTTPS): the refresh runs
    anonymously and says so in one warning line."""
    monkeypatch.setenv("HF_TOKEN", "hf_SeCrEt0123456789")
    result = cli("collect", "hf_models")
    assert result.rc == 0, result.err
    assert {r.headers.get("authorization") for r in hub.requests} == {None}
    assert "HF_TOKEN is not sent to http://" in result.err and "SeCrEt" not in result.err


def test_adoption_url_beats_hf_endpoint(cli, env, hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/unused")
    assert cli("collect", "hf_models", "--hf-mode", "api").rc == 0
    assert len(hub.requests_to("/api/models")) == 2


def test_api_mode_raw_folder_reloads_offline_in_parquet_mode(cli, env, hub, monkeypatch):
    """A first snapshot's raw folder keeps every model: it reloads offline, to the very same
    content (so no new snapshot, unless forced)."""
    assert cli("collect", "hf_models", "--hf-mode", "api").rc == 0
    raw = next((env.raw_dir / "hf_models").glob("2*"))  # the snapshot folder, not .checkpoint
    hub.stop()
    monkeypatch.setenv("ADOPTION_HF_MODELS_URL", str(raw))
    result = cli("collect", "hf_models", "--hf-mode", "parquet")
    assert result.rc == 0 and "hf_models: unchanged: no row changed" in result.err
    assert cli("collect", "hf_models", "--hf-mode", "parquet", "--force").rc == 0
    con = ro(env)
    counts = con.execute("SELECT snapshot_id, (SELECT count(*) FROM raw_hf__models_at("
                         "s.snapshot_id)) FROM snapshots s WHERE status = 'ok' ORDER BY 1"
                         ).fetchall()
    assert counts == [(1, N_MODELS), (3, N_MODELS)]


# -- fields: what the crawl asks for, what the dump holds -----------------------------------------

def test_the_crawl_asks_for_every_field_by_its_hub_name():
    """Every column of raw_hf__models but `id` (always sent) is asked by its name among the
    Hub's `expand` fields (huggingface_hub's list), the landscape's included; the fake knows the
    same list, and refuses others as the Hub does."""
    from typing import get_args

    from huggingface_hub.hf_api import ExpandModelProperty_T

    from tests.fakes.hf_hub import EXPAND_FIELDS

    assert set(get_args(ExpandModelProperty_T)) == EXPAND_FIELDS
    assert set(hf_models.EXPAND) <= EXPAND_FIELDS
    assert set(hf_models.EXPAND) == {hub for _, hub, _, _ in hf_models.COLUMNS[1:]}
    assert {"tags", "library_name", "createdAt", "downloads", "downloadsAllTime"} \
        <= set(hf_models.EXPAND)


def test_the_hub_refuses_an_unknown_expand_field(cli, env, hub, monkeypatch):
    monkeypatch.setattr(hf_models, "EXPAND", [*hf_models.EXPAND, "frameworks"])
    result = cli("collect", "hf_models", "--hf-mode", "api")
    assert result.rc == 1
    assert_one_line_error(result.err, "hf_models", "HTTP 400", "/api/models")


def test_the_dump_has_its_heavy_nested_columns_and_only_ours_are_read(hub, tmp_path):
    """The fake models.parquet has the dump's real columns, nested ones included; DuckDB reads
    only the ten raw_hf__models needs (projection pushdown on the local file)."""
    from types import SimpleNamespace

    from tests.fakes.hf_hub import HEAVY_COLUMNS, HUB_STATS_SCHEMA

    path = tmp_path / "models.parquet"
    path.write_bytes(hub.parquet_bytes())
    schema = pq.read_schema(path)
    assert schema == HUB_STATS_SCHEMA
    assert all(pa.types.is_nested(schema.field(c).type) for c in HEAVY_COLUMNS)
    assert {"siblings", "config", "cardData", "safetensors", "gguf"} <= set(HEAVY_COLUMNS)
    table = pq.read_table(path, columns=["siblings", "gguf", "tags"])
    with_gguf = [r for r in table.to_pylist() if "gguf" in r["tags"]]
    assert with_gguf and all(r["gguf"]["chat_template"] for r in with_gguf)
    assert all(any(f["rfilename"].endswith(".gguf") for f in r["siblings"]) for r in with_gguf)
    con = duckdb.connect()
    sql = hf_models.parquet_query(SimpleNamespace(con=con, options={}), path)
    plan = json.loads(con.execute(f"EXPLAIN (FORMAT JSON) {sql}", [str(path)]).fetchall()[0][1])
    nodes, scans = list(plan), []
    while nodes:
        node = nodes.pop()
        nodes += node.get("children", [])
        if node["name"] == "READ_PARQUET":
            scans.append(node["extra_info"]["Projections"])
    assert scans == [[hub for _, hub, _, _ in hf_models.COLUMNS]]


def test_unknown_mode_is_a_one_line_error(cli, env, hub, monkeypatch):
    monkeypatch.setenv("ADOPTION_HF_MODELS_MODE", "scrape")
    result = cli("collect", "hf_models")
    assert result.rc == 1
    assert "hf_models: unknown mode 'scrape'" in result.err


# -- the resumable api crawl --------------------------------------------------------------------

LISTING = r"^/api/models$"
PAGES = 4500  # five pages of the listing
API = ("collect", "hf_models", "--hf-mode", "api")


@pytest.fixture
def big(env, monkeypatch):
    with FakeHfHub(n=PAGES, article_share=0.1) as server:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", server.url)
        yield server


def state(env) -> dict:
    return json.loads((hf_models.checkpoint_dir(env) / "state.json").read_text())


def listing_since(hub, seen: int) -> list:
    return [r for r in hub.requests[seen:] if r.path == "/api/models"]


def crawled(settings: Settings) -> tuple[list, str, str]:
    """Rows of the current snapshot, sha256 of its sorted ids, sha256 of its raw file."""
    con = connect(settings.db_path, read_only=True)
    rows = con.execute("SELECT * EXCLUDE (snapshot_id, stored_by_snapshot) FROM "
                       "raw_hf__models_at(current_snapshot('hf_models')) ORDER BY id").fetchall()
    params = json.loads(con.execute("SELECT parameters FROM snapshots WHERE snapshot_id = "
                                    "current_snapshot('hf_models')").fetchone()[0])
    con.close()
    ids = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
    extract = {f["path"]: f["sha256"] for f in params["payloads_not_kept"]}
    return rows, ids, extract[hf_models.API_RAW_REL]


def test_too_long_retry_after_stops_then_the_crawl_resumes_from_its_cursor(cli, env, big,
                                                                           tmp_path):
    """A 429 asking for 600 s on page 3 stops at once, saying when to re-run, with pages 1-2
    kept (and shown by `status`); the next run starts at page 3's cursor, re-fetches nothing,
    and stores exactly what an uninterrupted crawl stores."""
    big.fault_from_request(3, LISTING, "429", times=None, retry_after=600)
    started = time.monotonic()
    result = cli(*API)
    assert result.rc == 1 and time.monotonic() - started < 5
    line = assert_one_line_error(result.err, "hf_models", "Retry-After 600s", "re-run after",
                                 "after 2000 models", "2 pages are saved")
    assert "UTC" in line
    assert state(env)["pages"] == 2 and state(env)["models"] == 2000
    assert ("\n  unfinished api crawl: 2 pages, 2,000 models, started 0.0 h ago; the next "
            "refresh resumes it (--restart discards it)\n") in cli("status").out
    big.clear_faults()
    seen = len(big.requests)
    result = cli(*API)
    assert result.rc == 0, result.err
    assert "hf_models: resuming the crawl at page 3 (2000 models kept" in result.err
    pages = listing_since(big, seen)
    assert len(pages) == 3 and "cursor" in pages[0].query  # pages 3-5, none fetched twice
    params = json.loads(ro(env).execute("SELECT parameters FROM snapshots WHERE status = 'ok'")
                        .fetchone()[0])
    assert params["resumed_at_page"] == 3 and params["pages"] == 5
    assert hf_models.crawl_status(env) is None
    reference = dataclasses.replace(env, db_path=tmp_path / "ref.duckdb",
                                    raw_dir=tmp_path / "ref-raw")
    run_source(connect(reference.db_path), hf_models.SOURCE, reference, {"hf_mode": "api"})
    resumed, uninterrupted = crawled(env), crawled(reference)
    assert len(resumed[0]) == PAGES and resumed == uninterrupted


def test_sigkill_mid_crawl_then_resume(cli, env, big):
    """A crawl killed (SIGKILL) while page 4 is in flight: the next run re-fetches no page."""
    big.fault_from_request(4, LISTING, "hang", times=None, seconds=60)
    child = subprocess.Popen([sys.executable, "-m", "pipeline", *API],
                             env=os.environ | {"ADOPTION_HTTP_TIMEOUT": "30"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while big.listing_requests < 4:
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "the crawl never reached page 4"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    big.clear_faults()
    assert state(env)["pages"] == 3
    seen = len(big.requests)
    result = cli(*API)
    assert result.rc == 0, result.err
    pages = listing_since(big, seen)
    assert len(pages) == 2 and "cursor" in pages[0].query
    con = ro(env)
    assert con.execute("SELECT count(DISTINCT id) FROM raw_hf__models").fetchone()[0] == PAGES
    killed = con.execute("SELECT status, error FROM snapshots WHERE snapshot_id = 1").fetchone()
    assert killed[0] == "failed" and "interrupted" in killed[1]


@pytest.mark.parametrize("max_age", [None, "72"])
def test_old_checkpoint_is_discarded_with_a_log_line(cli, env, big, monkeypatch, max_age):
    big.fault_from_request(3, LISTING, "500", times=None)
    assert cli(*API).rc == 1
    big.clear_faults()
    old = state(env) | {"started_at": (utcnow() - timedelta(hours=48)).isoformat()}
    (hf_models.checkpoint_dir(env) / "state.json").write_text(json.dumps(old))
    if max_age:
        monkeypatch.setenv("ADOPTION_HF_MODELS_CHECKPOINT_MAX_AGE_HOURS", max_age)
    assert "the next refresh " + ("resumes it" if max_age else "starts over") in \
        hf_models.crawl_status(env)
    seen = len(big.requests)
    result = cli(*API)
    assert result.rc == 0, result.err
    pages = listing_since(big, seen)
    if max_age:
        assert len(pages) == 3 and "cursor" in pages[0].query
    else:
        assert ("hf_models: discarded the checkpoint of an unfinished crawl (it is 48.0 h old, "
                "over checkpoint_max_age_hours = 24); starting from the first page") in result.err
        assert len(pages) == 5 and "cursor" not in pages[0].query


def test_restart_discards_the_checkpoint(cli, env, big):
    big.fault_from_request(3, LISTING, "500", times=None)
    assert cli(*API).rc == 1
    big.clear_faults()
    seen = len(big.requests)
    result = cli(*API, "--restart")
    assert result.rc == 0, result.err
    assert "discarded the checkpoint of an unfinished crawl (--restart)" in result.err
    assert "cursor" not in listing_since(big, seen)[0].query


def test_crawl_paces_itself_on_the_ratelimit_headers(cli, env, monkeypatch):
    """4 requests per 2 s window: the crawl spreads its requests out and never gets a 429."""
    with FakeHfHub(n=PAGES, article_share=0.1, quota={"api": 4}, window=2) as hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        started = time.monotonic()
        result = cli(*API)
        assert result.rc == 0, result.err
        assert time.monotonic() - started >= 2.0  # 5 requests do not fit in one window
        assert [r.status for r in hub.requests] == [200] * 5


def test_rate_limit_window_longer_than_we_wait_stops_with_the_checkpoint(cli, env,
                                                                          monkeypatch):
    with FakeHfHub(n=PAGES, article_share=0.1, quota={"api": 2}, window=600) as hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        result = cli(*API)
        assert result.rc == 1
        assert_one_line_error(result.err, "hf_models", "rate limit (2 requests per 600 s)",
                              "re-run after", "2 pages are saved")
        assert [r.status for r in hub.requests] == [200, 200]  # stopped before any 429
        assert state(env)["pages"] == 2


# -- notebook -----------------------------------------------------------------------------------

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_huggingface.ipynb"


def test_notebook_runs_on_results_and_on_empty_data(cli, env, hub, tmp_path, monkeypatch):
    import nbformat

    from pipeline.notebooks import execute

    stored = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count")
               for c in stored.cells if c.cell_type == "code")
    out = execute(NOTEBOOK, tmp_path / "empty-run", timeout=120)
    assert "No results to show yet" in outputs(out)
    assert cli("refresh", "--source", "hf_models").rc == 0
    text = outputs(execute(NOTEBOOK, tmp_path / "run", timeout=120))
    assert "hf_pt_exclusive_pct_today" in text and "out_hf" not in text  # tables, not hints
    assert "image/png" in text
    assert "What new Hub models are built for" in text and "GGUF" in text  # the landscape


def outputs(path: Path) -> str:
    """Everything the executed notebook's cells printed or displayed."""
    import nbformat

    done = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in done.cells if c.cell_type == "code"])


def test_loading_batches_in_the_transaction_does_not_hold_them(tmp_path):
    """A crawl's batches are loaded inside one transaction; the loader must not keep each Arrow
    batch alive until COMMIT (a registered Arrow table is), or a million-model crawl holds them
    all in memory at once."""
    from pipeline.collect import insert_batch

    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("CREATE TABLE t (snapshot_id BIGINT, id VARCHAR, tags VARCHAR[])")
    con.execute("BEGIN TRANSACTION")
    before = pa.total_allocated_bytes()
    for i in range(20):
        batch = pa.table({"id": [f"org/model-{i}-{j}-{'x' * 40}" for j in range(5000)],
                          "tags": [["pytorch", "transformers"]] * 5000})
        insert_batch(con, "t", 1, batch)
        del batch
    held = pa.total_allocated_bytes() - before
    con.execute("COMMIT")
    assert con.execute("SELECT count(*) FROM t").fetchall()[0][0] == 100_000
    assert held < 2 * 2**20, f"{held / 2**20:.1f} MiB of Arrow batches held until COMMIT"
