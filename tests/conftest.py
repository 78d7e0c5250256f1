"""Shared test fixtures. Sockets to anything but loopback are blocked (pytest-socket, see
pyproject addopts); every test gets its own data directory, so nothing a test draws can land
in the repository's data/charts/."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT, Settings
from tests.fakes.raw_files import RawFileServer

SHARED_MIRROR = Path(os.environ.get("ADOPTION_SHARED_MIRROR",
                                    PROJECT_ROOT.parent / "shared" / "mirror"))
CONFERENCE_MIRROR = SHARED_MIRROR / "pytorch-vs-tensorflow"
HN_MIRROR = SHARED_MIRROR / "hn"


def mirror_dir(name: str) -> Path:
    """A real mirror folder (`hn-2021-2026`, `hub-2022-02`, `pmlr`, ...) under
    ADOPTION_SHARED_MIRROR, read in place (never copied into the repository); a test that needs
    one and runs where it is absent is skipped with a reason naming the mirror."""
    path = SHARED_MIRROR / name
    if not (path / "SOURCE.md").is_file():
        pytest.skip(f"real mirror '{name}' not found at {path}: set ADOPTION_SHARED_MIRROR to "
                    "the folder holding it")
    return path


def mirror_postings() -> dict[int, str]:
    """The HN mirror's real posting texts by comment id, read in place (never copied)."""
    postings = {}
    for path in sorted(HN_MIRROR.glob("*.json")):
        for child in json.loads(path.read_text())["children"]:
            if child.get("text"):
                postings[child["id"]] = child["text"]
    assert postings, f"HN mirror missing at {HN_MIRROR}"
    return postings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private data dir, fast retries and short timeouts; no source URL or token leaks in."""
    for key in list(os.environ):
        if key.startswith("ADOPTION_") or key in ("HF_TOKEN", "GITHUB_TOKEN", "ADZUNA_APP_ID",
                                                  "ADZUNA_APP_KEY", "CI"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ADOPTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ADOPTION_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "2")
    monkeypatch.setenv("ADOPTION_HTTP_RETRIES", "2")
    monkeypatch.setenv("ADOPTION_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("ADOPTION_HTTP_RETRY_AFTER_MAX", "3")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from tests.fakes.base import test_ca

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", test_ca()[1])  # the HTTPS fakes' CA
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    # a source a test did not configure must fail fast on loopback, never reach the internet
    from pipeline.config import env_name
    from pipeline.sources import all_sources

    for name in all_sources():
        monkeypatch.setenv(env_name(name), f"http://127.0.0.1:9/unconfigured-{name}")
    return Settings.from_env()


@dataclass
class Result:
    rc: int
    out: str
    err: str


@pytest.fixture
def cli(env: Settings, capsys: pytest.CaptureFixture):
    """Run `python -m pipeline ...` in-process; returns exit code and captured output."""
    from pipeline.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            rc = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run


@pytest.fixture
def conference_mirror() -> Path:
    assert (CONFERENCE_MIRROR / "data.csv").is_file(), (
        f"conference mirror missing at {CONFERENCE_MIRROR}; set ADOPTION_SHARED_MIRROR")
    return CONFERENCE_MIRROR


@pytest.fixture
def conference_server(conference_mirror: Path, env: Settings, monkeypatch: pytest.MonkeyPatch):
    """The mirror served in raw-file form on 127.0.0.1, configured as the conferences URL."""
    with RawFileServer(conference_mirror, prefix="Chillee/pytorch-vs-tensorflow/data_analysis") \
            as server:
        monkeypatch.setenv("ADOPTION_CONFERENCES_URL", server.base_url)
        yield server


@pytest.fixture
def mirror_server(env: Settings, monkeypatch: pytest.MonkeyPatch):
    """The five HN months of the shared mirror behind the fake Algolia API on 127.0.0.1."""
    from tests.fakes.algolia import AlgoliaServer

    assert any(HN_MIRROR.glob("*.json")), f"HN mirror missing at {HN_MIRROR}"
    with AlgoliaServer(mirror=HN_MIRROR) as server:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        yield server
