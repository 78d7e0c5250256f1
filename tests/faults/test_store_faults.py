"""Process- and store-level faults: a second refresh, a broken database file, secrets, and the
loopback-only rule for tests themselves (SIGKILL mid-load: test_kill_faults.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from pipeline.http import redact
from tests.conftest import mirror_dir
from tests.faults.helpers import current_state

SOURCE = "conferences"


def start_collect(env_overrides: dict[str, str] | None = None) -> subprocess.Popen:
    env = os.environ | {"ADOPTION_HTTP_TIMEOUT": "30"} | (env_overrides or {})
    return subprocess.Popen([sys.executable, "-m", "pipeline", "collect", SOURCE], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_request_after(server, pattern: str, timeout: float = 30):
    """A waiter for the next request matching `pattern` (counting from now)."""
    seen = len(server.requests_to(pattern))

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while len(server.requests_to(pattern)) <= seen:
            assert time.monotonic() < deadline, f"no request to {pattern} within {timeout}s"
            time.sleep(0.05)

    return wait


def test_second_refresh_gets_clear_message_and_first_is_unaffected(cli, env, conference_server):
    conference_server.fault(r"/data/icml_2019\.json$", "hang", times=1, seconds=4)
    waiting = wait_for_request_after(conference_server, r"/data/icml_2019\.json$")
    child = start_collect()
    waiting()
    result = cli("refresh", "--source", "conferences")
    assert result.rc == 1
    assert "Traceback" not in result.err
    assert result.err.strip().splitlines() == [result.err.strip()]
    assert "is in use by pid" in result.err and "wait for that refresh" in result.err
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert current_state(env.db_path, SOURCE)[1] == 35


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_database_file(cli, env, conference_server, damage):
    if damage == "garbage":
        env.db_path.parent.mkdir(parents=True, exist_ok=True)
        env.db_path.write_bytes(os.urandom(64 * 1024))
    else:
        assert cli("collect", SOURCE).rc == 0
        size = env.db_path.stat().st_size
        with env.db_path.open("r+b") as fh:
            fh.truncate(size // 3)
    for command in (("status",), ("refresh",)):
        result = cli(*command)
        assert result.rc == 1
        assert "Traceback" not in result.err
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, result.err
        assert "cannot be opened" in lines[0] and "move it aside" in lines[0]


def test_status_before_any_refresh_explains(cli, env):
    result = cli("status")
    assert result.rc == 1
    assert "no database" in result.err and "make refresh" in result.err


def test_redact_hides_credentials_in_urls():
    url = "https://api.example/jobs?app_id=abc123&app_key=s3cr3t&what=pytorch&token=t0k"
    shown = redact(url)
    assert "abc123" not in shown and "s3cr3t" not in shown and "t0k" not in shown
    assert "what=pytorch" in shown


def test_tests_cannot_open_non_loopback_sockets():
    from pytest_socket import SocketConnectBlockedError

    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("10.255.255.1", 80), timeout=0.5)
    with socket.create_server(("127.0.0.1", 0)) as server:  # loopback stays allowed
        socket.create_connection(server.getsockname(), timeout=1).close()


def test_one_failing_source_never_blocks_the_others(cli, env, conference_server, monkeypatch):
    """conferences fails (500 forever) in the same refresh as jobs_hn: jobs_hn still lands,
    analyses and charts still run, and the exit status says a source failed."""
    from tests.fakes.algolia import AlgoliaServer

    conference_server.fault(r"/data\.csv$", "500", times=None)
    with AlgoliaServer(mirror=mirror_dir("hn")) as hn:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", hn.base_url)
        result = cli("refresh", "--source", "conferences", "--source", "jobs_hn")
    assert result.rc == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: conferences: ")
    assert current_state(env.db_path, "jobs_hn") is not None
    assert current_state(env.db_path, "conferences") is None
    assert (env.charts_dir / "jobs_hn_trend.png").is_file()
    assert (env.results_dir / "scorecard.md").is_file()
