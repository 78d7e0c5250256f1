"""The provenance promise on first contact: idempotent refreshes for every source, a raw folder
per snapshot whose sidecar matches the ledger, one-line configuration errors, a fast offline
failure, usage errors, `status` during a refresh, and a clean checkout after a refresh."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.source import file_sha256, manifest_sha256
from pipeline.store import connect
from tests.conftest import CONFERENCE_MIRROR, HN_MIRROR
from tests.fakes.adzuna import AdzunaServer
from tests.fakes.algolia import AlgoliaServer
from tests.faults.helpers import assert_one_line_error, current_state


def ledger(settings) -> list[tuple]:
    con = connect(settings.db_path, read_only=True)
    try:
        return con.execute("SELECT snapshot_id, source, status, sha256, raw_dir FROM snapshots "
                           "ORDER BY snapshot_id").fetchall()
    finally:
        con.close()


# -- 1. one generic rule: the same payloads store no new snapshot, for every source ----------

def _conferences_local(monkeypatch, tmp_path):
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(CONFERENCE_MIRROR))
    return None


def _jobs_hn_remote(monkeypatch, tmp_path):
    server = AlgoliaServer(mirror=HN_MIRROR).start()
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
    return server


def _jobs_hn_local(monkeypatch, tmp_path):
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(HN_MIRROR))
    return None


def _papers_with_code_local(monkeypatch, tmp_path):
    from tests.fakes import pwc

    monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL",
                       str(pwc.write_local(tmp_path / "pwc", pwc.fixture_files())))
    return None


def _jobs_boards_local(monkeypatch, tmp_path):
    counts = tmp_path / "job_board_counts.csv"
    counts.write_text("date,board,region,query,framework,count,url,note\n"
                      "2026-11-01,LinkedIn,US,pytorch,pytorch,1234,"
                      "https://www.linkedin.com/jobs/search/?keywords=pytorch,\n")
    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", str(counts))
    return None


def _jobs_adzuna_remote(monkeypatch, tmp_path):
    server = AdzunaServer("id-1", "key-1").start()
    monkeypatch.setenv("ADOPTION_JOBS_ADZUNA_URL", server.base_url)
    monkeypatch.setenv("ADZUNA_APP_ID", "id-1")
    monkeypatch.setenv("ADZUNA_APP_KEY", "key-1")
    return server


@pytest.mark.parametrize(("source", "setup"), [
    ("conferences", _conferences_local),
    ("jobs_hn", _jobs_hn_remote),
    ("jobs_hn", _jobs_hn_local),
    ("papers_with_code", _papers_with_code_local),
    ("jobs_boards", _jobs_boards_local),
    ("jobs_adzuna", _jobs_adzuna_remote),
])
def test_same_payloads_store_no_new_snapshot(cli, env, monkeypatch, tmp_path, source, setup):
    server = setup(monkeypatch, tmp_path)
    try:
        first = cli("collect", source)
        assert first.rc == 0, first.err
        second = cli("collect", source)
        assert second.rc == 0, second.err
        assert f"{source}: unchanged" in second.err
    finally:
        if server is not None:
            server.stop()
    rows = ledger(env)
    assert [r[2] for r in rows] == ["ok", "unchanged"]
    assert rows[1][3] is None and rows[1][4] is None  # nothing stored, no raw folder
    assert len([p for p in (env.raw_dir / source).iterdir()]) == 1


def test_unchanged_inputs_rerun_no_analysis(cli, env, conference_server):
    assert cli("refresh", "--source", "conferences").rc == 0
    second = cli("refresh", "--source", "conferences")
    assert second.rc == 0
    assert "analysis research: unchanged (skipped)" in second.err


# -- 2. each snapshot's raw folder is its own and is never rewritten ------------------------

def test_same_day_snapshots_keep_their_own_raw_folders(cli, env, conference_server):
    for _ in range(3):
        assert cli("collect", "conferences", "--force").rc == 0
    rows = [r for r in ledger(env) if r[2] == "ok"]
    assert len(rows) == 3
    folders = {r[4] for r in rows}
    assert len(folders) == 3
    for snapshot_id, _, _, sha, raw_dir in rows:
        folder = Path(raw_dir)
        assert folder.name.endswith(f"-{snapshot_id}")
        sidecar = json.loads((folder / "_snapshot.json").read_text())
        assert sidecar["snapshot_id"] == snapshot_id
        assert sidecar["sha256"] == sha  # the ledger and the sidecar agree
        for entry in sidecar["files"]:
            assert file_sha256(folder / entry["path"]) == entry["sha256"]
        from pipeline.source import RawFile

        assert manifest_sha256([RawFile(**f) for f in sidecar["files"]]) == sha


def test_every_ok_snapshot_of_a_mixed_history_matches_its_sidecar(cli, env, monkeypatch):
    """jobs_hn snapshots reference items kept by earlier snapshots: every file the sidecar
    lists exists where it says (own folder or `kept_in`) with the recorded sha256."""
    with AlgoliaServer() as server:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        assert cli("collect", "jobs_hn").rc == 0
        server.add_comment(server.thread_id("December 2021"), "Omicron | PyTorch")
        assert cli("collect", "jobs_hn").rc == 0
        server.add_thread("Ask HN: Who is hiring? (January 2022)", [])
        assert cli("collect", "jobs_hn").rc == 0
    folders = {r[0]: Path(r[4]) for r in ledger(env) if r[2] == "ok"}
    assert len(folders) == 3
    for snapshot_id, folder in folders.items():
        sidecar = json.loads((folder / "_snapshot.json").read_text())
        assert sidecar["sha256"] == dict((r[0], r[3]) for r in ledger(env))[snapshot_id]
        for entry in sidecar["files"]:
            home = folders[entry.get("kept_in", snapshot_id)]
            assert file_sha256(home / entry["path"]) == entry["sha256"], entry


# -- 3. completeness: a month missing in the middle fails -----------------------------------

def test_missing_month_between_first_and_last_fails(cli, env, monkeypatch):
    with AlgoliaServer() as server:
        server.add_thread("Ask HN: Who is hiring? (February 2022)", [])
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        result = cli("collect", "jobs_hn")
    assert result.rc == 1
    assert_one_line_error(result.err, "jobs_hn", "incomplete", "2022-01")
    assert current_state(env.db_path, "jobs_hn") is None


# -- 4. configuration errors: one line, exit 2 ------------------------------------------------

@pytest.mark.parametrize(("text", "needles"), [
    ("[paths\n", ["not valid TOML", "adoption.toml"]),
    ("[http]\ntimeout = \"abc\"\n", ["[http] timeout", "'abc'", "not a number"]),
    ("[sources.conferences]\nurl = 5\n", ["[sources.conferences] url", "not a string"]),
    ("[http]\nretries = -1\n", ["retries", "-1", "at least 0"]),
    ("[http]\nmax_bytes = 0\n", ["[http] max_bytes", "greater than 0"]),
    ("[sources.hf_models]\ndeadline = -1\n", ["[sources.hf_models] deadline",
                                               "greater than 0"]),
])
def test_bad_config_file_is_one_line_exit_2(cli, env, tmp_path, monkeypatch, text, needles):
    path = tmp_path / "adoption.toml"
    path.write_text(text)
    monkeypatch.setenv("ADOPTION_CONFIG", str(path))
    for command in (("status",), ("refresh", "--source", "conferences")):
        result = cli(*command)
        assert result.rc == 2, result.err
        assert "Traceback" not in result.err
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.err
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])


def test_bad_environment_value_is_one_line_exit_2(cli, env, monkeypatch):
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "abc")
    result = cli("status")
    assert result.rc == 2
    assert result.err.strip() == ("error: ADOPTION_HTTP_TIMEOUT='abc' is not a number; set it "
                                  "to a number or unset it")
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("ADOPTION_JOBS_HN_HITS_PER_PAGE", "many")
    result = cli("refresh", "--source", "jobs_hn")
    assert result.rc == 2 and "ADOPTION_JOBS_HN_HITS_PER_PAGE='many'" in result.err


def test_unknown_sections_and_keys_are_warned_about(cli, env, tmp_path, monkeypatch,
                                                    conference_server):
    path = tmp_path / "adoption.toml"
    path.write_text("[htpp]\ntimeout = 3\n[http]\ntimout = 3\n"
                    "[sources.conference]\nurl = 'x'\n[sources.jobs_hn]\nhits_per_pag = 5\n")
    monkeypatch.setenv("ADOPTION_CONFIG", str(path))
    result = cli("collect", "conferences")
    assert result.rc == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    for needle in ("[htpp]", "'timout' in [http]", "[sources.conference]",
                   "'hits_per_pag' in [sources.jobs_hn]"):
        assert sum(needle in w for w in warnings) == 1, (needle, warnings)


def test_database_on_a_read_only_location_is_one_line_exit_1(cli, env, monkeypatch, tmp_path):
    if os.geteuid() == 0:
        target = Path("/sys/adoption-test/adoption.duckdb")  # sysfs: not writable, even by root
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = locked / "adoption.duckdb"
    monkeypatch.setenv("ADOPTION_DB", str(target))
    result = cli("refresh", "--source", "conferences")
    assert result.rc == 1
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "cannot write to" in lines[0] and "ADOPTION_DB" in lines[0]


def test_corrupt_database_advice_never_moves_a_folder(cli, env, monkeypatch, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    (folder / "precious.csv").write_text("a,b\n")
    monkeypatch.setenv("ADOPTION_DB", str(folder))
    for command in (("status",), ("refresh", "--source", "conferences")):
        result = cli(*command)
        assert result.rc == 1
        assert f"mv {folder} " not in result.err
        assert "points at the folder" in result.err and "adoption.duckdb" in result.err


# -- 5. offline: a DNS failure is retried at most once --------------------------------------

@pytest.fixture
def no_dns(monkeypatch):
    """Name resolution fails for every host but loopback, as on a machine with no network."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host, *args, **kwargs):
        if host in ("127.0.0.1", "localhost", "::1"):
            return real(host, *args, **kwargs)
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


def test_dns_failure_is_retried_at_most_once(cli, env, monkeypatch, no_dns):
    monkeypatch.setenv("ADOPTION_HTTP_RETRIES", "4")
    monkeypatch.setenv("ADOPTION_HTTP_BACKOFF", "1")
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", "https://no-such-host.example/data")
    started = time.monotonic()
    result = cli("collect", "conferences")
    assert result.rc == 1
    assert_one_line_error(result.err, "conferences", "DNS lookup failed")
    assert no_dns.count("no-such-host.example") == 2  # the try and one retry
    assert time.monotonic() - started < 3


def test_offline_refresh_with_default_upstreams_fails_fast(cli, env, monkeypatch, no_dns):
    """No configuration at all (the real upstreams) and no network: every network source
    fails cleanly, one line each, in well under 10 seconds of collection."""
    from pipeline.config import env_name
    from pipeline.sources import all_sources

    for name in all_sources():
        monkeypatch.delenv(env_name(name), raising=False)
    monkeypatch.setenv("ADOPTION_HTTP_RETRIES", "4")
    monkeypatch.setenv("ADOPTION_HTTP_BACKOFF", "1")
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "30")
    took = {}
    for name in ("conferences", "jobs_hn", "papers_with_code", "hf_models"):
        started = time.monotonic()
        result = cli("collect", name)
        took[name] = time.monotonic() - started
        assert result.rc == 1, (name, result.err)
        assert "Traceback" not in result.err
        assert len([line for line in result.err.splitlines() if line.startswith("error:")]) == 1
    assert sum(took.values()) < 10, took


# -- 7. usage errors ----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("refresh", "--source", "conferences", "--limit", "-5"),
    ("collect", "jobs_hn", "--limit", "0"),
    ("collect", "jobs_hn", "--limit", "ten"),
    ("collect", "conferences", "--limit", "5"),  # cannot be honoured: refused, not ignored
    ("refresh", "--limit", "5"),  # the default sources include ones that cannot honour it
])
def test_limit_must_be_a_positive_number_a_source_can_honour(cli, env, args):
    result = cli(*args)
    assert result.rc == 2
    assert "--limit" in result.err and "Traceback" not in result.err
    assert not env.db_path.exists()  # nothing ran


# -- 8. status during a refresh ---------------------------------------------------------------

def test_status_works_while_a_refresh_runs(cli, env, conference_server):
    assert cli("collect", "conferences").rc == 0
    conference_server.fault(r"/data/nips_2019\.json$", "hang", times=1, seconds=6)
    seen = len(conference_server.requests_to(r"/data/nips_2019\.json$"))
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "refresh", "--source", "conferences", "--force"],
        env=os.environ | {"ADOPTION_HTTP_TIMEOUT": "30"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(conference_server.requests_to(r"/data/nips_2019\.json$")) == seen:
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        started = time.monotonic()
        status = cli("status")
        assert time.monotonic() - started < 3  # never waits for the writer
        assert status.rc == 0, status.err
        first = status.out.splitlines()[0]
        assert re.search(rf"A refresh is running: pid {child.pid}, started \d{{4}}-", first)
        assert "now collecting conferences" in first
        assert "conferences: snapshot 1" in status.out  # the last known state, read aside
    finally:
        out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert [r[2] for r in ledger(env)] == ["ok", "ok"]  # the writer was not disturbed


def test_status_piped_into_a_reader_that_leaves_early_is_quiet(cli, env, conference_server):
    """`python -m pipeline status | head -1`: the closed pipe ends the command, not a trace."""
    assert cli("collect", "conferences").rc == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is already gone when status writes
    child = subprocess.run([sys.executable, "-m", "pipeline", "status"], stdout=write_end,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(write_end)
    assert "Traceback" not in child.stderr and "BrokenPipe" not in child.stderr, child.stderr
    assert child.returncode == 141


def test_interrupted_attempt_shows_its_start_time(cli, env, conference_server):
    conference_server.fault(r"/data/nips_2019\.json$", "hang", times=1, seconds=30)
    child = subprocess.Popen([sys.executable, "-m", "pipeline", "collect", "conferences"],
                             env=os.environ | {"ADOPTION_HTTP_TIMEOUT": "60"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not conference_server.requests_to(r"/data/nips_2019\.json$"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    result = cli("status")
    assert result.rc == 0
    assert re.search(r"an attempt started at \d{4}-\d\d-\d\d \d\d:\d\dZ is running or was "
                     "interrupted", result.out), result.out


# -- 6 + 9. a refresh in a fresh clone under a commit-named folder leaves it clean ------------

def test_refresh_in_a_fresh_clone_leaves_the_checkout_clean(tmp_path):
    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    box = tmp_path / "5f3c2a9e8b7d6c4f1a0e9d8c7b6a5f4e3d2c1b0a"
    box.mkdir()
    clone = box / "framework-adoption"
    subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADOPTION_", "HF_"))}
    env |= {"ADOPTION_CONFERENCES_URL": str(CONFERENCE_MIRROR),
            "ADOPTION_JOBS_HN_URL": str(HN_MIRROR), "ADOPTION_HTTP_RETRIES": "0"}
    oks = []
    for _ in range(2):
        run = subprocess.run([sys.executable, "-m", "pipeline", "refresh", "--source",
                              "conferences", "--source", "jobs_hn"], cwd=clone, env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        con = duckdb.connect(str(clone / "data" / "adoption.duckdb"), read_only=True)
        oks.append(con.execute("SELECT count(*) FROM snapshots WHERE status = 'ok'"
                               ).fetchall()[0][0])
        con.close()
    assert oks == [2, 2]  # the second identical refresh stored nothing
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                            text=True, check=True)
    assert status.stdout == ""


# -- 15.5: a failing step of one source never stops the others; a half-done move is undone ----

def test_raw_folder_that_cannot_be_placed_fails_only_that_source(cli, env, conference_server,
                                                                 monkeypatch):
    real_rename = Path.rename

    def rename(self, target):
        if self.name.startswith(".staging-") and "conferences" in str(self):
            raise OSError(28, "No space left on device", str(target))
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with AlgoliaServer(mirror=HN_MIRROR) as hn:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", hn.base_url)
        result = cli("refresh", "--source", "conferences", "--source", "jobs_hn")
    assert result.rc == 1
    assert_one_line_error(result.err, "conferences", "No space left on device")
    assert current_state(env.db_path, "conferences") is None
    assert current_state(env.db_path, "jobs_hn") is not None
    assert (env.results_dir / "scorecard.md").is_file()  # analyses and report still ran
    assert not [p for p in (env.raw_dir / "conferences").iterdir()]  # nothing half-placed


def test_folder_placed_by_a_killed_load_is_removed_on_the_next_run(cli, env, conference_server):
    """A process killed after placing its raw folder but before COMMIT leaves a `running` row
    and the folder: the next run marks the attempt failed and removes the folder."""
    assert cli("collect", "conferences").rc == 0
    orphan = env.raw_dir / "conferences" / "2026-01-01-99"
    shutil.copytree(Path(ledger(env)[0][4]), orphan)
    con = duckdb.connect(str(env.db_path))
    con.execute("INSERT INTO snapshots (snapshot_id, source, started_at, status, raw_dir) "
                "VALUES (99, 'conferences', now(), 'running', ?)", [str(orphan)])
    con.close()
    assert cli("collect", "conferences", "--force").rc == 0
    assert not orphan.exists()
    killed = [r for r in ledger(env) if r[0] == 99][0]
    assert killed[2] == "failed" and killed[4] is None


# -- 9. no query result is left open on a shared connection ----------------------------------

def test_no_fetchone_in_the_pipeline():
    """`fetchone()` leaves DuckDB's result open on the connection; a later `register` on the
    same connection then fails ("connection has an unfinished result"). Read rows fully."""
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{n}"
                 for p in (PROJECT_ROOT / "pipeline").rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if ".fetchone()" in line]
    assert offenders == []
