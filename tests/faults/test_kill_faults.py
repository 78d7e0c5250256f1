"""SIGKILL in the middle of a load, for each way rows reach the store: plain tables
(conferences), versioned tables (jobs_hn: versions + membership lists) and the Hub's parquet
path (hf_models: a staged DuckDB read of the dump, then versions + membership).

The load is stopped at an exact moment by the loader's test hook (`ADOPTION_TEST_PAUSE`, see
`pipeline.collect.pause_point`): after its first batch of rows is inserted, or with everything
written (rows, versions, the ledger's `ok`, the raw folder placed) just before COMMIT. The test
waits for the hook's line on the child's stderr (an event, not a timer), kills the child with
SIGKILL, and checks that the next process to open the store finds the previous snapshot
reading exactly as before (rows through the analyses' views), no row, version, membership list
or staging table of the killed load, its attempt marked failed, no raw folder of it, and that
the next collection works.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from pipeline.store import connect
from tests.fakes.algolia import AlgoliaServer, hand_threads
from tests.fakes.hf_hub import FakeHfHub
from tests.faults.helpers import assert_kept, current_state

MARKER = "test-pause: "


def start_paused(source: str, point: str, *args: str) -> subprocess.Popen:
    """`python -m pipeline collect <source>` in a child that stops at `point`."""
    env = os.environ | {"ADOPTION_TEST_PAUSE": point, "ADOPTION_HTTP_TIMEOUT": "60"}
    return subprocess.Popen([sys.executable, "-m", "pipeline", "collect", source, *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait_for_pause(child: subprocess.Popen, point: str, limit: float = 240) -> None:
    """Block until the child prints the hook's line (`limit` only guards against a hang)."""
    deadline = time.monotonic() + limit
    seen = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the load never reached {point}: {''.join(seen)[-2000:]}"
        ready, _, _ = select.select([child.stderr], [], [], left)
        if not ready:
            continue
        line = child.stderr.readline()
        assert line or child.poll() is None, f"the child ended early: {''.join(seen)[-2000:]}"
        seen.append(line)
        if line.startswith(MARKER + point):
            return


def kill_at(source: str, point: str, *args: str) -> int:
    """Run a collection, SIGKILL it at `point`; returns the killed attempt's snapshot id."""
    child = start_paused(source, point, *args)
    try:
        wait_for_pause(child, point)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    con = connect_readonly_after_recovery()
    try:
        return con.execute("SELECT max(snapshot_id) FROM snapshots WHERE source = ?",
                           [source]).fetchall()[0][0]
    finally:
        con.close()


def connect_readonly_after_recovery():
    """The next process to open the store for writing cleans up (recover_interrupted); then
    read what a reader would see."""
    from pipeline.config import Settings

    settings = Settings.from_env()
    connect(settings.db_path, raw_dir=settings.raw_dir).close()
    return connect(settings.db_path, read_only=True)


def assert_killed_load_left_nothing(env, source: str, good: tuple, killed: int) -> None:
    assert killed != good[0]
    assert_kept(env, source, good)  # same rows through the views, no orphan row or version
    con = connect(env.db_path, read_only=True)
    try:
        status, error, raw_dir = con.execute(
            "SELECT status, error, raw_dir FROM snapshots WHERE snapshot_id = ?",
            [killed]).fetchall()[0]
        leftovers = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '\\_%' "
            "ESCAPE '\\'").fetchall()
    finally:
        con.close()
    assert status == "failed" and "interrupted" in error and raw_dir is None
    assert leftovers == []  # no staging table of the killed load
    folder = env.raw_dir / source
    assert not [p.name for p in folder.iterdir()
                if p.name.startswith(".staging") or p.name.endswith(f"-{killed}")]


POINTS = ["batch-inserted", "before-commit"]
# plain tables at both points; the versioned path with its versions and membership list
# merged (before COMMIT), the Hub's parquet path mid-stream (its first batch staged)


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_mid_load_plain_tables(cli, env, conference_server, point):
    assert cli("collect", "conferences").rc == 0
    good = current_state(env.db_path, "conferences")
    killed = kill_at("conferences", point, "--force")
    assert_killed_load_left_nothing(env, "conferences", good, killed)
    if point == "before-commit":  # the next run works (and stores the same data)
        assert cli("collect", "conferences", "--force").rc == 0
        assert current_state(env.db_path, "conferences")[1:] == good[1:]


def test_sigkill_mid_load_versioned_tables(cli, env, monkeypatch, point="before-commit"):
    with AlgoliaServer(threads=hand_threads()) as server:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        assert cli("collect", "jobs_hn").rc == 0
        good = current_state(env.db_path, "jobs_hn")
        thread = server.thread_id("December 2021")
        server.add_comment(thread, "Newco | PyTorch")  # new versions and a new list to store
        killed = kill_at("jobs_hn", point)
        assert_killed_load_left_nothing(env, "jobs_hn", good, killed)
        assert cli("collect", "jobs_hn").rc == 0
        assert current_state(env.db_path, "jobs_hn")[1] > good[1]


def test_sigkill_mid_load_hub_parquet(cli, env, monkeypatch, point="batch-inserted"):
    with FakeHfHub(n=1500, article_share=0.1) as hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        assert cli("collect", "hf_models", "--hf-mode", "parquet").rc == 0
        good = current_state(env.db_path, "hf_models")
        hub.n = 1600  # a new dump: 100 new models, every other one kept as a version
        hub.publish_dump()
        killed = kill_at("hf_models", point, "--hf-mode", "parquet")
        assert_killed_load_left_nothing(env, "hf_models", good, killed)
        assert cli("collect", "hf_models", "--hf-mode", "parquet").rc == 0
        assert current_state(env.db_path, "hf_models")[1] == 1600

