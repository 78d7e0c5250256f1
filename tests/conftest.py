"""Shared test fixtures. Sockets to anything but loopback are blocked (pytest-socket, see
pyproject addopts); every test gets its own data directory, so nothing a test draws can land
in the repository's data/charts/."""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.get_mirrors import missing_mirror_reason, shared_mirror_root
from tests.fakes.raw_files import RawFileServer

#: the one setting that says where the real mirrors are (data/reference/mirrors.toml lists
#: them; `make mirrors` downloads them there)
SHARED_MIRROR = shared_mirror_root()
CONFERENCE_MIRROR = SHARED_MIRROR / "pytorch-vs-tensorflow"
HN_MIRROR = SHARED_MIRROR / "hn"


#: what `make test` takes with every issue merged, measured on 2 cores (README, Development)
EXPECTED_MINUTES = "15-18"


def pytest_report_header(config) -> list[str]:
    """Say up front how long the suite takes and whether the real mirrors are there."""
    present = sorted(p.name for p in SHARED_MIRROR.glob("*/SOURCE.md") for p in [p.parent])
    mirrors = (f"real mirrors in {SHARED_MIRROR}: {', '.join(present)}" if present else
               f"no real mirror in {SHARED_MIRROR}: tests that need one are skipped (`make "
               "mirrors` downloads them; ADOPTION_SHARED_MIRROR points elsewhere)")
    return [f"framework-adoption: the full suite takes about {EXPECTED_MINUTES} minutes on 2 "
            "cores; one line per test file below", mirrors]


def mirror_dir(name: str) -> Path:
    """A real mirror folder (`pytorch-vs-tensorflow`, `hn`, `hn-2021-2026`, `hub-2022-02`,
    `pmlr`) under ADOPTION_SHARED_MIRROR, read in place (never copied into the repository); a
    test that needs one and runs where it is absent is skipped with a reason naming the mirror
    and how to get it."""
    path = SHARED_MIRROR / name
    if not (path / "SOURCE.md").is_file():
        pytest.skip(missing_mirror_reason(name, path))
    return path


def mirror_postings() -> dict[int, str]:
    """The HN mirror's real posting texts by comment id, read in place (never copied)."""
    postings = {}
    for path in sorted(mirror_dir("hn").glob("*.json")):
        for child in json.loads(path.read_text())["children"]:
            if child.get("text"):
                postings[child["id"]] = child["text"]
    assert postings, f"HN mirror has no postings at {HN_MIRROR}"
    return postings


def executed_outputs(path: Path) -> str:
    """What the executed notebook's code cells printed or displayed (its outputs, never its
    source: a test must not pass on words the notebook merely contains)."""
    import nbformat

    done = nbformat.read(path, as_version=4)
    outputs = [c.get("outputs", []) for c in done.cells if c.cell_type == "code"]
    assert not [o for cell in outputs for o in cell if o.get("output_type") == "error"], \
        f"a cell of {path.name} failed"
    return json.dumps(outputs)


@dataclass
class Refreshed:
    """The real February 2022 Hub listing, collected, analysed and reported once a session."""

    settings: Settings
    first: int  # exit status of the first refresh
    second: int
    second_err: str
    err: str


@pytest.fixture(scope="session")
def hub_archive_run(tmp_path_factory) -> Refreshed:
    """The real mirror collected once per session (29,432 JSON members: the expensive part),
    analysed and reported; then collected a second time."""
    from pipeline.cli import main

    def run(*args: str) -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(list(args))
        return rc, err.getvalue()

    mirror = mirror_dir("hub-2022-02")
    root = tmp_path_factory.mktemp("hub-2022-02")
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("ADOPTION_")]:
            mp.delenv(key)
        mp.setenv("ADOPTION_DATA_DIR", str(root / "data"))
        mp.setenv("ADOPTION_CONFIG", str(root / "none.toml"))
        mp.setenv("ADOPTION_HF_ARCHIVE_URL", str(mirror))
        first, err = run("collect", "hf_archive")
        for step in ("analyze", "report"):  # not the charts: drawn in the fake-Hub tests
            rc, more = run(step)
            first, err = max(first, rc), err + more
        second, second_err = run("collect", "hf_archive")
        settings = Settings.from_env()
    return Refreshed(settings, first, second, second_err, err)


def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private data dir, fast retries and short timeouts; no source URL or token leaks in
    (the `env` fixture; module-scoped fixtures call it with their own monkeypatch)."""
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


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private data dir, fast retries and short timeouts; no source URL or token leaks in."""
    return isolated_env(tmp_path, monkeypatch)


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
    return mirror_dir("pytorch-vs-tensorflow")


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

    with AlgoliaServer(mirror=mirror_dir("hn")) as server:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        yield server


def db_rows(env: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the test's database, opened read-only."""
    from pipeline.store import connect

    con = connect(env.db_path, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


#: the package-download sources' collection day in tests
DOWNLOADS_TODAY = date(2026, 12, 2)


@pytest.fixture(scope="session")
def clickhouse_fake():
    from tests.fakes.clickhouse import ClickHouseServer

    with ClickHouseServer() as server:
        yield server


@pytest.fixture(scope="session")
def npm_fake():
    from tests.fakes.npm import NpmServer

    with NpmServer() as server:
        yield server


@pytest.fixture
def pypi_server(clickhouse_fake, env: Settings, monkeypatch: pytest.MonkeyPatch):
    """The fake ClickHouse SQL endpoint with every reference package's monthly downloads from
    2016 to DOWNLOADS_TODAY's month, as the pypi_downloads URL; the source's today is fixed."""
    from pipeline import rules
    from pipeline.sources import pypi_downloads
    from tests.fakes.clickhouse import synthetic

    clickhouse_fake.reset(synthetic(rules.pypi_packages(), date(2016, 1, 1),
                                    DOWNLOADS_TODAY.replace(day=1)))
    monkeypatch.setenv("ADOPTION_PYPI_DOWNLOADS_URL", clickhouse_fake.url)
    monkeypatch.setattr(pypi_downloads, "today", lambda: DOWNLOADS_TODAY)
    return clickhouse_fake


@pytest.fixture
def npm_server(npm_fake, env: Settings, monkeypatch: pytest.MonkeyPatch):
    """The fake npm download counts API with every reference npm package's daily counts up to
    the day before DOWNLOADS_TODAY (npm's newest day), as the npm_downloads URL."""
    from pipeline.sources import npm_downloads
    from tests.fakes.npm import reference_counts

    npm_fake.packages = reference_counts(DOWNLOADS_TODAY - timedelta(days=1))
    npm_fake.cut_months = 18
    npm_fake.ranges.clear()
    npm_fake.requests.clear()
    npm_fake.clear_faults()
    monkeypatch.setenv("ADOPTION_NPM_DOWNLOADS_URL", npm_fake.url)
    monkeypatch.setattr(npm_downloads, "today", lambda: DOWNLOADS_TODAY)
    return npm_fake
