"""Hostile upstreams: every source URL can be overridden and any upstream compromised, so each
source that takes names, sizes or links from upstream is attacked through its own fake.

Each attack runs `python -m pipeline collect` in a subprocess after a good snapshot exists
and asserts: exit status 1, one error line naming the source and the cause, no traceback,
nothing written outside the data folder, the previous snapshot still current and unchanged,
and the child's peak RSS (os.wait4) bounded. The bounds are the HTTP layer's settings, made
small here (a few MiB, a few seconds) so the attacks are cheap; no test measures time.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.http import redact
from tests.fakes import pwc
from tests.fakes.adzuna import AdzunaServer
from tests.fakes.base import gzip_bomb
from tests.fakes.hf_hub import FakeHfHub
from tests.fakes.hostile import INJECTION, HostileTreeHub, LinkingHub, Witness, entry
from tests.faults import helpers
from tests.faults.helpers import assert_one_line_error, current_state

#: the attacks' bounds: 4 MiB per response held in memory, 32 MiB per source, 3 s per request
BOUNDS = {"ADOPTION_HTTP_MAX_RESPONSE_BYTES": str(4 << 20),
          "ADOPTION_HTTP_MAX_BYTES": str(32 << 20), "ADOPTION_HTTP_DEADLINE": "3"}
ATTACK_BYTES = 1 << 30  # what an endless body or a bomb would deliver to a client without bounds
RSS_LIMIT_MB = 600  # the pipeline's own ~250 MB plus the bounds, far under ATTACK_BYTES
TREE = r"/api/datasets/pwc-archive/links-between-paper-and-code/tree/"
RESOLVE = r"/resolve/main/data/train-00000-of-00001\.parquet$"


@dataclasses.dataclass
class Run:
    rc: int
    err: str
    peak_rss_mb: float


def run_pipeline(*args: str, extra: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """`python -m pipeline ARGS` in a child process with the test's environment (and `extra`),
    its exit status, stderr and peak RSS (from wait4). A child still running after `timeout`
    is killed (a hang is a failure, not a wait)."""
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT,
                                 env=os.environ | BOUNDS | (extra or {}), stdout=null,
                                 stderr=err)
        killer = threading.Timer(timeout, child.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            killer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return Run(child.returncode, err.read().decode(errors="replace"),
                   usage.ru_maxrss / 1024)


def files_outside(root: Path, data: Path) -> set[Path]:
    return {p for p in root.rglob("*") if data not in p.parents and p != data}


def attack(settings, tmp_path: Path, source: str, good, *needles: str,
           extra: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Run:
    """Run one collection against the armed fake and check that it failed safely."""
    before = files_outside(tmp_path, settings.data_dir)
    run = run_pipeline("collect", source, *args, extra=extra)
    assert run.rc == 1, run.err
    assert_one_line_error(run.err, source, *needles)
    assert not [line for line in run.err.splitlines() if line.lstrip().startswith("::")]
    assert files_outside(tmp_path, settings.data_dir) == before
    helpers.assert_kept(settings, source, good)
    assert run.peak_rss_mb < RSS_LIMIT_MB, f"peak RSS {run.peak_rss_mb:.0f} MB"
    return run


# -- Papers with Code: names, sizes and links from the Hub's tree listing ----------------------

PWC = "papers_with_code"


@pytest.fixture
def tree_hub(env, monkeypatch):
    with HostileTreeHub() as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", server.url)
        yield server


@pytest.fixture
def pwc_good(cli, env, tree_hub):
    assert cli("collect", PWC).rc == 0
    return current_state(env.db_path, PWC)


def new_links(hub) -> None:
    """Upstream publishes a new links file, so the next collection downloads it."""
    hub.files[(pwc.LINKS_REPO, pwc.LINKS_FILE)] = pwc.parquet_bytes(pwc.links_table(
        pwc.LINKS + [("p9-last", "https://github.com/r/new", "jax", True)]))


def test_pwc_tree_entry_leading_out_of_the_folder_is_refused(env, tmp_path, tree_hub,
                                                             pwc_good):
    """A tree entry `data/../../…/outside/PWNED.parquet` is refused, naming it; nothing is
    written outside the data folder."""
    target = tmp_path / "outside" / "PWNED.parquet"
    content = tree_hub.files[(pwc.LINKS_REPO, pwc.LINKS_FILE)]
    tree_hub.entries.append(entry("data/" + "../" * 40 + str(target).lstrip("/"), content))
    attack(env, tmp_path, PWC, pwc_good, "refusing the tree entry", "PWNED")
    assert not target.exists() and not target.with_suffix(".parquet.part").exists()


def test_pwc_tree_entry_with_a_glob_is_refused(env, tmp_path, tree_hub, pwc_good):
    """A tree entry `data/*.parquet` (DuckDB would read every sibling through it) is
    refused before anything is downloaded."""
    content = tree_hub.files[(pwc.LINKS_REPO, pwc.LINKS_FILE)]
    tree_hub.entries.append(entry("data/*.parquet", content))
    attack(env, tmp_path, PWC, pwc_good, "refusing the tree entry", "glob character")


def test_pwc_download_longer_than_listed_is_cut_off(env, tmp_path, tree_hub, pwc_good):
    """A file served with a Content-Length of 1 GiB where the listing says a few KB is refused
    on its headers; the client stops reading at once."""
    new_links(tree_hub)
    tree_hub.fault(RESOLVE, "oversize", times=None, size=ATTACK_BYTES)
    attack(env, tmp_path, PWC, pwc_good, "train-00000-of-00001.parquet", "listing says")
    assert max(r.bytes_sent for r in tree_hub.requests_to(RESOLVE)) < 64 << 20


def test_pwc_next_page_on_another_host_is_not_followed(env, tmp_path, tree_hub, pwc_good):
    """The tree listing's `Link: rel="next"` points to another host: refused in one line,
    and that host is never contacted."""
    with Witness() as other:
        tree_hub.next_url = other.url.replace("127.0.0.1", "localhost") + "/steal?cursor=1"
        attack(env, tmp_path, PWC, pwc_good, "refusing the link", "another host or scheme")
        assert other.requests == []


def test_pwc_endless_tree_listing_is_capped(env, tmp_path, tree_hub, pwc_good):
    """A tree listing that never ends (1 GiB, chunked) stops at the response cap."""
    tree_hub.fault(TREE, "endless", times=None, size=ATTACK_BYTES)
    attack(env, tmp_path, PWC, pwc_good, "4,194,304-byte cap",
           "ADOPTION_PAPERS_WITH_CODE_MAX_RESPONSE_BYTES")


def test_pwc_dripping_download_hits_the_deadline(env, tmp_path, tree_hub, pwc_good):
    """A download dripping one byte every 0.2 s (never tripping the read timeout) is cut off
    at the per-request deadline."""
    new_links(tree_hub)
    tree_hub.fault(RESOLVE, "drip", times=None, seconds=0.2)
    attack(env, tmp_path, PWC, pwc_good, "longer than the 3 s deadline per request")


# -- HuggingFace Hub: links and bodies of the model listing, the dump's size ---------------------

HF = "hf_models"
API = ("--hf-mode", "api")


@pytest.fixture
def hub(env, monkeypatch):
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "10")
    with FakeHfHub(n=1500, article_share=0.1) as server:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", server.url)
        yield server


@pytest.fixture
def hf_good(cli, env, hub):
    result = cli("collect", HF, *API)
    assert result.rc == 0, result.err
    return current_state(env.db_path, HF)


def test_hf_next_page_on_another_host_never_gets_the_token(cli, env, tmp_path, monkeypatch):
    """The listing's next page points to another host (over HTTPS too): the link is refused
    in one line and that host never sees a request, let alone HF_TOKEN."""
    monkeypatch.setenv("HF_TOKEN", "hf_planted_token_4f2a")
    with Witness(tls=True) as other, \
            LinkingHub(n=1500, tls=True, next_base="") as hub:
        hub.next_base = other.url.replace("127.0.0.1", "localhost")
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        attack(env, tmp_path, HF, None, "refusing the link", "another host", args=API)
        assert other.requests == []
        assert {r.headers.get("authorization") for r in hub.requests} == {
            "Bearer hf_planted_token_4f2a"}  # the token went to its origin only


def test_hf_endless_listing_stops_at_the_page_cap(env, tmp_path, hub, hf_good):
    """A listing that keeps linking next pages (the Hub now 'has' 40x the models) stops at
    the page cap derived from the current snapshot's 1,500 models (2 x 2 pages + 10); its
    checkpoint is dropped, not resumed."""
    hub.n = 60_000
    attack(env, tmp_path, HF, hf_good, "did not end after 14 pages", args=API)
    assert len(hub.requests_to(r"^/api/models$")) == 2 + 14
    assert not (env.raw_dir / HF / ".checkpoint").exists()


@pytest.fixture
def bomb():
    """Build the 1 GiB gzip bomb (~1 MB) before the fake serves it (cached per process)."""
    gzip_bomb(ATTACK_BYTES)


def test_hf_gzip_bomb_page_is_capped(env, tmp_path, hub, hf_good, bomb):
    """A listing page of 1 MB gzip inflating to 1 GiB stops at the response cap, counted
    after decompression."""
    hub.fault(r"^/api/models$", "gzip_bomb", times=None, size=ATTACK_BYTES)
    attack(env, tmp_path, HF, hf_good, "4,194,304-byte cap", args=API)


def test_hf_dump_over_the_source_cap_is_refused(env, tmp_path, hub, hf_good):
    """The hub-stats dump is listed at 1 GiB (tree listing and X-Linked-Size), over the
    source's 32 MiB cap: refused on the listing, its bytes never asked for."""
    hub.listed_sizes["models.parquet"] = ATTACK_BYTES
    attack(env, tmp_path, HF, hf_good, "33,554,432-byte cap", "ADOPTION_HF_MODELS_MAX_BYTES",
           args=("--hf-mode", "parquet"))
    assert not hub.cdn.requests


def test_hf_dump_the_cdn_announces_larger_than_listed_is_refused(env, tmp_path, hub, hf_good):
    """The CDN the Hub redirects to announces 1 GiB for the dump the Hub listed at its real
    size: refused on the CDN's headers, nothing downloaded."""
    hub.cdn.fault(r"models\.parquet$", "oversize", times=None, size=ATTACK_BYTES)
    attack(env, tmp_path, HF, hf_good, "1,073,741,824 bytes where the listing says",
           args=("--hf-mode", "parquet"))
    assert max(r.bytes_sent for r in hub.cdn.requests) < 64 << 20


def test_hf_slow_crawl_hits_the_source_deadline(env, tmp_path, hub, hf_good):
    """Every page answers in time (0.4 s) but the crawl would never end: the source's total
    deadline (2 s here) stops it."""
    hub.n, hub.latency = 60_000, 0.4
    attack(env, tmp_path, HF, hf_good, "source's 2 s deadline", args=API,
           extra={"ADOPTION_HF_MODELS_SOURCE_DEADLINE": "2",
                  "ADOPTION_HF_MODELS_MAX_PAGES": "1000"})


# -- the other sources inherit the same bounds -------------------------------------------------

def test_conferences_endless_file_is_capped(env, tmp_path, cli, conference_server):
    """An endless data.csv stops at the response cap."""
    assert cli("collect", "conferences").rc == 0
    good = current_state(env.db_path, "conferences")
    conference_server.fault(r"/data\.csv$", "endless", times=None, size=ATTACK_BYTES)
    attack(env, tmp_path, "conferences", good, "4,194,304-byte cap")


def test_jobs_hn_gzip_bomb_listing_is_capped(env, tmp_path, cli, mirror_server, bomb):
    """The Algolia listing as a gzip bomb stops at the response cap."""
    assert cli("collect", "jobs_hn").rc == 0
    good = current_state(env.db_path, "jobs_hn")
    mirror_server.fault(r"/search_by_date$", "gzip_bomb", times=None, size=ATTACK_BYTES)
    attack(env, tmp_path, "jobs_hn", good, "4,194,304-byte cap")


def test_adzuna_keys_never_go_over_http(env, tmp_path, monkeypatch):
    """An http:// Adzuna endpoint gets no request: the keys go only over HTTPS."""
    monkeypatch.setenv("ADZUNA_APP_ID", "planted-id")
    monkeypatch.setenv("ADZUNA_APP_KEY", "planted-key")
    with AdzunaServer("planted-id", "planted-key", tls=False) as server:
        monkeypatch.setenv("ADOPTION_JOBS_ADZUNA_URL", server.base_url)
        attack(env, tmp_path, "jobs_adzuna", None, "only over HTTPS")
        assert server.requests == []


# -- what reaches the log, README, sources.md and the published CSVs ---------------------------

def test_injected_model_id_cannot_start_a_log_line(env, tmp_path, hub, hf_good):
    """A model id holding a newline with a `::error::` workflow command and a terminal escape
    reaches the error line escaped: one line, no `::` line, no escape character."""
    def hostile(i: int, model: dict) -> dict:
        if i == 3:
            model = {k: v for k, v in model.items() if k != "downloads"}
            model["id"] = model["modelId"] = "m\n::error::pwned\x1b[2J" + INJECTION
        return model

    hub.mutate = hostile
    run = attack(env, tmp_path, HF, hf_good, "has no 'downloads' field", args=API)
    assert "\x1b" not in run.err and "\\n::error::pwned" in run.err


def test_injected_error_text_is_inert_in_readme_and_sources(cli, env, tmp_path, monkeypatch,
                                                            conference_server):
    """A failed attempt whose error holds a link, an image, HTML, a newline, a `::` workflow
    command, a terminal escape and a forged README end marker (an HTTP reason phrase or a
    model id can carry any of them): README and sources.md show it as inert text, the
    README keeps one end marker, and the next clean publish leaves none of it behind."""
    from pipeline.store import connect

    assert cli("collect", "conferences").rc == 0
    con = connect(env.db_path)
    con.execute("INSERT INTO snapshots (snapshot_id, source, started_at, status, error) "
                "VALUES (99, 'jobs_hn', now(), 'failed', ?)", [INJECTION])
    con.close()
    repo = tmp_path / "repo"
    (repo / "published").mkdir(parents=True)
    (repo / "README.md").write_text((PROJECT_ROOT / "README.md").read_text())
    monkeypatch.setenv("ADOPTION_PUBLISHED_DIR", str(repo / "published"))
    assert cli("report").rc == 0 and cli("publish", "--force").rc == 0
    readme = (repo / "README.md").read_text()
    sources = (repo / "published" / "results" / "sources.md").read_text()
    for text in (readme, sources):
        assert "pwned" in text  # shown, as text
        for live in ("](https://evil", "<img", "\n::error::", "\x1b", "-->EVIL"):
            assert live not in text, live
    assert readme.count("<!-- sources:end") == 1
    con = connect(env.db_path)
    con.execute("DELETE FROM snapshots WHERE snapshot_id = 99")
    con.close()
    assert cli("report").rc == 0 and cli("publish", "--force").rc == 0
    assert "EVIL" not in (repo / "README.md").read_text()


def test_publish_refuses_a_block_holding_a_marker(env, tmp_path):
    """Only the first start marker and the next end marker count, and a generated block
    holding a marker is refused: README is left as it was."""
    from pipeline.errors import PipelineError
    from pipeline.publish import update_readme

    readme = tmp_path / "README.md"
    original = ("a\n<!-- sources:start (generated by `make publish`; do not edit) -->\nold\n"
                "<!-- sources:end (generated by `make publish`; do not edit) -->\nb\n")
    readme.write_text(original)
    with pytest.raises(PipelineError, match="refusing the generated sources block"):
        update_readme({"sources": "| x |\n<!-- sources:end (forged) -->\nkept"}, readme)
    assert readme.read_text() == original
    assert update_readme({"sources": "new"}, readme)
    assert readme.read_text() == original.replace("\nold\n", "\nnew\n")


def test_formula_cells_are_neutralised_in_published_csvs(cli, env, monkeypatch, tmp_path):
    """Model ids and job-board names starting with = + - @ reach hf_top30.csv and
    job_postings.csv as text ('=...), never as a formula; numbers such as -0.5 stay numbers.
    Job-board counts alone (no HN data) analyse without error."""
    formulas = ["=HYPERLINK(\"https://evil.example\",\"x\")", "+cmd|' /C calc'!A0",
                "-2+3", "@SUM(1+1)"]

    def hostile(i: int, model: dict) -> dict:
        if model["createdAt"].startswith("2022-03-02") and i < 40:
            model["id"] = model["modelId"] = formulas[i % 4] + f"-{i}"
            model["downloads"] = 10**9 - i
        return model

    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "job_board_counts.csv").write_text(
        "date,board,region,query,framework,count,url,note\n"
        "2021-12-01,=cmd|' /C calc'!A0,US,pytorch,pytorch,100,https://example.com/a,\n"
        "2021-12-01,=cmd|' /C calc'!A0,US,tensorflow,tensorflow,90,https://example.com/b,\n")
    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", str(boards))
    with FakeHfHub(n=1500, article_share=0.1, mutate=hostile) as hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        assert cli("collect", HF, *API).rc == 0
    assert cli("collect", "jobs_boards").rc == 0
    result = cli("analyze")
    assert result.rc == 0, result.err  # no HN data: was "executemany requires a non-empty list"
    assert cli("charts").rc == 0
    for name in ("hf_top30.csv", "job_postings.csv"):
        cells = [c for row in csv.reader(io.StringIO((env.charts_dir / name).read_text()))
                 for c in row]
        assert any(c.startswith("'=") for c in cells), name
        assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t")], name


def test_redact_drops_userinfo_and_unlisted_query_values():
    """Userinfo and signature parameters (X-Amz-Signature, sig, tokens) never reach what is
    shown or stored; allow-listed parameters (cursor, expand, ...) stay readable."""
    url = ("https://user:pa55word@cdn.example/f.parquet?X-Amz-Signature=abcdef&sig=s1g"
           "&X-Amz-Credential=AKIA123&expand=tags&cursor=c2&Expires=1#access_token=t0k")
    shown = redact(f"cannot connect to {url}: DNS lookup failed")
    for secret in ("user", "pa55word", "abcdef", "s1g", "AKIA123", "t0k"):
        assert secret not in shown, secret
    assert "expand=tags" in shown and "cursor=c2" in shown and "cdn.example/f.parquet" in shown
    assert shown.endswith(": DNS lookup failed")


@pytest.mark.parametrize("name", [
    "data/../../escape.parquet", "/etc/passwd", "data\\..\\x", "data/*.parquet",
    "data/[ab].parquet", "data/x\x00.parquet", "data/x\n.parquet", "a//b", "x" * 300, ""])
def test_raw_files_are_confined_to_the_snapshot_folder(env, tmp_path, name):
    """Every raw file is placed through CollectContext: a name leading out of the staging
    folder, absolute, with a backslash, glob or control character, empty or over-long is
    refused with one line naming the source and the entry."""
    from pipeline.errors import SourceError
    from pipeline.source import CollectContext
    from pipeline.sources import all_sources

    staging = tmp_path / "data" / "raw" / "x" / ".staging-1"
    staging.mkdir(parents=True)
    ctx = CollectContext(all_sources()[PWC], env, None, 1, None, {}, staging, None)
    for place in (lambda: ctx.raw_path(name), lambda: ctx.save_raw(name, b"x", "u"),
                  lambda: ctx.record_raw(name, "u", "0" * 64, 1)):
        with pytest.raises(SourceError) as refused:
            place()
        assert str(refused.value).startswith(f"{PWC}: refusing the upstream file name")
        assert "\n" not in str(refused.value)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
