"""Secrets: every source that reads a token runs against its fake with a planted token, once
succeeding and once failing, then the results are analysed, drawn, reported, built into the
page and published; the token must be found nowhere - not in any log line, any column of any
table of the database, any raw payload or sidecar, any chart, the page or a published file.

Which sources read a token is found in their code (SECRET_CALL), so a new source that
reads one fails this test until it has a run here (RUNS). Each run also checks that its fake
received the token: a source that silently stopped sending it would make the test vacuous.
"""

from __future__ import annotations

import inspect
import re
import shutil

import duckdb

from pipeline.config import PROJECT_ROOT
from tests.fakes import pwc
from tests.fakes.adzuna import AdzunaServer
from tests.fakes.hf_hub import FakeHfHub

#: how a source reads a token: `secret("X")`, or its origin's `credentials("X")` /
#: `may_send_secret("X")` (pipeline.http: sent only to that origin, only over HTTPS)
SECRET_CALL = re.compile(r"""\b(?:secret|credentials|may_send_secret)\(\s*["']([A-Z0-9_]+)["']""")
TOKENS = {name: f"planted-{name.lower().replace('_', '-')}-7f3a9c"
          for name in ("HF_TOKEN", "GITHUB_TOKEN", "ADZUNA_APP_ID", "ADZUNA_APP_KEY")}


def token_readers() -> dict[str, set[str]]:
    """Source -> the environment tokens its module reads."""
    from pipeline.sources import all_sources

    found = {}
    for name, source in all_sources().items():
        code = inspect.getsource(inspect.getmodule(source.collect))
        names = set(SECRET_CALL.findall(code))
        if names:
            found[name] = names
    return found


def run_hf_models(cli, monkeypatch, outputs: list) -> None:
    with FakeHfHub(n=300, article_share=0.2, tls=True) as hub:  # tokens go over HTTPS only
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        for mode in ("api", "parquet"):
            outputs.append(cli("-v", "collect", "hf_models", "--hf-mode", mode, "--force"))
            assert outputs[-1].rc == 0, outputs[-1].err
        hub.fault(r"^/api/models$", "500", times=None)
        outputs.append(cli("-v", "collect", "hf_models", "--hf-mode", "api", "--force"))
        assert outputs[-1].rc == 1
        sent = {r.headers.get("authorization") for r in hub.requests}
    assert f"Bearer {TOKENS['HF_TOKEN']}" in sent


def run_papers_with_code(cli, monkeypatch, outputs: list) -> None:
    with pwc.FakeHub() as hub, pwc.FakeGitHub(pwc.CREATED) as github:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", hub.url)
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_GITHUB_URL", github.url)
        github.status = 401  # the token refused: said in a line, never the token itself
        outputs.append(cli("-v", "collect", "papers_with_code"))
        assert outputs[-1].rc == 0 and "rejected" in outputs[-1].err, outputs[-1].err
        github.status = None
        outputs.append(cli("-v", "collect", "papers_with_code", "--force"))
        assert outputs[-1].rc == 0, outputs[-1].err
        hub.fault(r"/tree/", "500", times=None)
        outputs.append(cli("-v", "collect", "papers_with_code", "--force"))
        assert outputs[-1].rc == 1
    assert github.auth and set(github.auth) == {f"bearer {TOKENS['GITHUB_TOKEN']}"}


def run_jobs_adzuna(cli, monkeypatch, outputs: list) -> None:
    with AdzunaServer(TOKENS["ADZUNA_APP_ID"], TOKENS["ADZUNA_APP_KEY"]) as adzuna:
        monkeypatch.setenv("ADOPTION_JOBS_ADZUNA_URL", adzuna.base_url)
        outputs.append(cli("-v", "collect", "jobs_adzuna"))
        assert outputs[-1].rc == 0, outputs[-1].err
        adzuna.fault(r"/search/", "500", times=None)
        outputs.append(cli("-v", "collect", "jobs_adzuna"))
        assert outputs[-1].rc == 1
        keys = {(r.arg("app_id"), r.arg("app_key")) for r in adzuna.requests}
    assert (TOKENS["ADZUNA_APP_ID"], TOKENS["ADZUNA_APP_KEY"]) in keys


#: a run per token-reading source, against its fake: success, then a failure
RUNS = {"hf_models": run_hf_models, "papers_with_code": run_papers_with_code,
        "jobs_adzuna": run_jobs_adzuna}


def test_every_source_that_reads_a_token_is_run_here():
    readers = token_readers()
    assert {"hf_models", "papers_with_code", "jobs_adzuna"} <= set(readers)
    missing = sorted(set(readers) - set(RUNS))
    assert not missing, (f"sources {missing} read tokens {[readers[m] for m in missing]}: add "
                         "a run against their fake to RUNS in this file")
    assert set().union(*readers.values()) <= set(TOKENS), "plant every token read"


def database_text(db_path) -> str:
    """Every value of every table, as text."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()]
        assert "snapshots" in tables and len(tables) > 10
        return "\n".join(repr(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
    finally:
        con.close()


def test_tokens_never_reach_logs_database_raw_charts_site_or_published(cli, env, monkeypatch,
                                                                       tmp_path):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    published = tmp_path / "repo" / "published"
    published.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "README.md", published.parent / "README.md")
    monkeypatch.setenv("ADOPTION_PUBLISHED_DIR", str(published))
    outputs: list = []
    for source in sorted(token_readers()):
        RUNS[source](cli, monkeypatch, outputs)
    names = sorted(token_readers())
    sources = [arg for name in names for arg in ("--source", name)]
    outputs.append(cli("-v", "refresh", *sources))  # analyses, charts, report (sources fail)
    outputs += [cli("-v", "site"), cli("-v", "publish", "--force"), cli("status")]
    assert outputs[-3].rc == 0 and outputs[-2].rc == 0, outputs[-2].err
    assert (env.charts_dir / "hf_framework_share.svg").is_file()
    assert (env.data_dir / "site" / "index.html").is_file()
    assert any(published.rglob("*.svg")) and (published / "results" / "sources.md").is_file()
    logs = "\n".join(r.out + r.err for r in outputs)
    assert "error: hf_models" in logs and "error: jobs_adzuna" in logs  # failures were logged
    places = {"logs": logs, "database": database_text(env.db_path)}
    for root in (env.data_dir, published.parent):
        for path in root.rglob("*"):
            if path.is_file():
                places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert any("_snapshot.json" in p for p in places) and any(".png" in p for p in places)
    for name, value in TOKENS.items():
        leaks = [place for place, text in places.items() if value in text]
        assert leaks == [], f"{name} leaked into {leaks}"


def test_a_stored_token_would_be_found(env):
    """The search above can fail: a token written into any table is found there."""
    env.db_path.parent.mkdir(parents=True)
    con = duckdb.connect(str(env.db_path))
    con.execute("CREATE TABLE snapshots (x INT)")
    for filler in range(10):
        con.execute(f"CREATE TABLE f{filler} (x INT)")
    con.execute("CREATE TABLE t (x VARCHAR, y JSON)")
    con.execute("INSERT INTO t VALUES ('a', ?)", [f'{{"k": "{TOKENS["HF_TOKEN"]}"}}'])
    con.close()
    assert TOKENS["HF_TOKEN"] in database_text(env.db_path)
