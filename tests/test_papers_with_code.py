"""Papers with Code source, analysis and chart against the fake Hub on 127.0.0.1.

The expected numbers below are worked out by hand from `tests/fakes/pwc.py` (FIXTURE rows):

Repositories (normalised URL -> framework, quarter of the earliest linked paper):
  z/zero TF 2021-Q3 (p0)            c/three PyTorch 2021-Q3 (p5 2021-08-01 before p3 2021-12-31)
  a/one PyTorch 2021-Q4 (p1; A/One.git on p6 2022 is the same repo)
  b/two/ TF 2021-Q4 (a 'none' link on p7 does not outvote tf)
  d/four None, e/five Other (mindspore), g/seven JAX, h/eight PyTorch (row duplicated): 2021-Q4
  f/six PyTorch 2021-Q4 (paper has no date: month from arXiv id 2110.09999)
  i/nine TF, j/ten PyTorch (two URL spellings): 2022-Q1
  k/eleven PyTorch, m/thirteen Other (paddle), n/fourteen None (null framework),
  l/twelve TF (paper missing from the papers dataset: arXiv id 2205.01234): 2022-Q2
  o/fifteen PyTorch 2022-Q3 - the archive ends 2022-07-10, so Q3 is incomplete
  p/sixteen (no date, no arXiv id) and q/seventeen (dated 2031) are undated.
=> 2021-Q4: 7 repos, 3 PyTorch (42.86%), 1 TF (14.29%); latest complete 2022-Q2: 4 repos,
   1 PyTorch (25%), 1 TF (25%). Official links only, 2021-Q4: a/one, e/five, c/three (its only
   official link is on p3) -> 3 repos, 2 PyTorch (66.67%), 0 TF.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date

import duckdb
import pytest

from pipeline.store import connect
from tests.conftest import executed_outputs
from tests.fakes import pwc

SOURCE = "papers_with_code"


@pytest.fixture
def hub(env, monkeypatch):
    with pwc.FakeHub() as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", server.url)
        yield server


def figures(settings) -> dict[str, float]:
    with (settings.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}


def collect_and_analyze(cli, *args: str) -> None:
    """Collect and analyse without drawing every chart (faster than a refresh)."""
    result = cli(*args, "collect", SOURCE)
    assert result.rc == 0, result.err
    assert cli("analyze").rc == 0


def db(settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.db_path), read_only=True)


def test_refresh_produces_chart_and_hand_computed_figures(cli, env, hub):
    result = cli("refresh", "--source", SOURCE)
    assert result.rc == 0, result.err
    assert (env.charts_dir / "pwc_quarterly_share.png").stat().st_size > 10_000
    assert (env.charts_dir / "pwc_quarterly_share.svg").is_file()
    got = figures(env)
    assert got["pwc_repos_q4_2021"] == 7
    assert got["pwc_pt_share_q4_2021_pct"] == pytest.approx(100 * 3 / 7, abs=0.01)
    assert got["pwc_tf_share_q4_2021_pct"] == pytest.approx(100 * 1 / 7, abs=0.01)
    assert got["pwc_repos_latest"] == 4
    assert got["pwc_pt_share_latest_pct"] == 25 and got["pwc_tf_share_latest_pct"] == 25
    # the scorecard's "today" column is filled from the latest complete quarter
    assert got["pwc_pt_share_q4_2021_pct_today"] == got["pwc_pt_share_latest_pct"]
    assert got["pwc_tf_share_q4_2021_pct_today"] == got["pwc_tf_share_latest_pct"]
    assert got["pwc_repos_q4_2021_today"] == 4
    assert got["pwc_latest_quarter"] == 2022.25
    assert got["pwc_repos_q4_2021_official"] == 3
    assert got["pwc_pt_share_q4_2021_official_pct"] == pytest.approx(200 / 3, abs=0.01)
    assert got["pwc_tf_share_q4_2021_official_pct"] == 0
    scorecard = (env.results_dir / "scorecard.csv").read_text()
    assert "pwc_pt_share_q4_2021_pct" in scorecard


def test_quarterly_shares_include_none_in_the_denominator(cli, env, hub):
    collect_and_analyze(cli)
    rows = db(env).execute(
        "SELECT variant, quarter, repos, pytorch_repos, tensorflow_repos, jax_repos, "
        "other_repos, none_repos, complete FROM out_pwc__quarterly_share "
        "ORDER BY variant, quarter").fetchall()
    assert rows == [
        ("all", "2021-Q3", 2, 1, 1, 0, 0, 0, True),
        ("all", "2021-Q4", 7, 3, 1, 1, 1, 1, True),
        ("all", "2022-Q1", 2, 1, 1, 0, 0, 0, True),
        ("all", "2022-Q2", 4, 1, 1, 0, 1, 1, True),
        ("all", "2022-Q3", 1, 1, 0, 0, 0, 0, False),
        ("official", "2021-Q3", 1, 0, 1, 0, 0, 0, True),   # z/zero
        ("official", "2021-Q4", 3, 2, 0, 0, 1, 0, True),   # a/one, c/three, e/five
        ("official", "2022-Q1", 1, 1, 0, 0, 0, 0, True),   # j/ten
        ("official", "2022-Q2", 1, 1, 0, 0, 0, 0, True),   # k/eleven
        ("official", "2022-Q3", 1, 1, 0, 0, 0, 0, False),  # o/fifteen
    ]
    pcts = db(env).execute(
        "SELECT pytorch_pct + tensorflow_pct + jax_pct + other_pct + none_pct "
        "FROM out_pwc__quarterly_share").fetchall()
    assert all(abs(p[0] - 100) < 1e-9 for p in pcts)


def test_repositories_are_normalised_and_counted_at_their_earliest_paper(cli, env, hub):
    collect_and_analyze(cli)
    repos = {r[0].removeprefix("https://github.com/"): r[1:] for r in db(env).execute(
        "SELECT repo, framework, papers, url_variants, first_paper_date, first_official_date, "
        "first_date_basis FROM core_pwc__repos").fetchall()}
    assert len(repos) == 18
    assert repos["a/one"][:3] == ("PyTorch", 2, 2)           # A/One.git folded in
    assert repos["j/ten"][2] == 2                             # HTTPS://GitHub.com/J/Ten/
    assert repos["c/three"][3:5] == (date(2021, 8, 1), date(2021, 12, 31))
    assert repos["b/two"][0] == "TensorFlow"
    assert repos["e/five"][0] == "Other" and repos["m/thirteen"][0] == "Other"
    assert repos["n/fourteen"][0] == "None" and repos["d/four"][0] == "None"
    assert repos["f/six"][3:] == (date(2021, 10, 1), None, "arXiv id month")
    assert repos["l/twelve"][3] == date(2022, 5, 1)
    assert repos["p/sixteen"][3] is None and repos["q/seventeen"][3] is None


def test_conference_share_from_proceedings(cli, env, hub):
    collect_and_analyze(cli)
    con = db(env)
    rows = con.execute(
        "SELECT conference, year, papers, papers_with_code, repos, pytorch_repos, "
        "tensorflow_repos, jax_repos FROM out_pwc__conference_share ORDER BY 1, 2").fetchall()
    assert rows == [
        ("CVPR", 2022, 1, 1, 3, 1, 0, 0),     # k/eleven, m/thirteen (paddle), n/fourteen
        ("EMNLP", 2021, 1, 1, 1, 1, 0, 0),    # c/three
        ("ICCV", 2021, 1, 1, 1, 1, 0, 0),     # c/three again: per conference-year
        ("ICLR", 2022, 1, 1, 2, 1, 1, 0),     # j/ten, b/two
        ("ICML", 2019, 1, 0, 0, 0, 0, 0),     # a paper without code
        ("NeurIPS", 2021, 2, 2, 4, 2, 1, 1),  # 'neurips-2021-12' and 'NeurIPS 2021' merged
    ]
    unmapped = con.execute(
        "SELECT proceeding FROM core_pwc__proceedings WHERE conference IS NULL").fetchall()
    assert unmapped == [("findings-acl-2022-5",)]


def test_conference_series_is_drawn_on_the_research_chart(cli, env, hub, conference_server):
    assert cli("refresh", "--source", SOURCE, "--source", "conferences").rc == 0
    con = db(env)
    pooled = con.execute(
        "SELECT year, sum(pytorch_repos), sum(tensorflow_repos) FROM out_pwc__conference_share "
        "GROUP BY year HAVING sum(pytorch_repos) + sum(tensorflow_repos) > 0 ORDER BY year"
    ).fetchall()
    assert pooled == [(2021, 4, 1), (2022, 2, 1)]
    assert (env.charts_dir / "research_share.png").stat().st_size > 10_000
    svg = (env.charts_dir / "research_share.svg").read_text()
    assert "Papers with Code" in svg and "papers_with_code as collected" in svg


def test_unchanged_files_are_not_downloaded_again(cli, env, hub):
    assert cli("collect", SOURCE).rc == 0
    assert len(hub.requests_to(r"/resolve/")) == 3
    result = cli("collect", SOURCE)
    assert result.rc == 0 and "unchanged: same raw payloads as snapshot 1" in result.err
    assert len(hub.requests_to(r"/resolve/")) == 3  # only the two tree listings were asked
    assert len(hub.requests_to(r"/tree/")) == 4
    con = connect(env.db_path, read_only=True)
    assert con.execute("SELECT list(status ORDER BY snapshot_id) FROM snapshots").fetchall() \
        == [(["ok", "unchanged"],)]  # no copy stored
    con.close()
    assert cli("collect", SOURCE, "--force").rc == 0  # forced: a new snapshot, files reused
    assert len(hub.requests_to(r"/resolve/")) == 3
    con = connect(env.db_path, read_only=True)
    params = json.loads(con.execute(
        "SELECT parameters FROM snapshots ORDER BY snapshot_id DESC LIMIT 1").fetchone()[0])
    con.close()
    assert params["files_reused"] == 3 and params["files_downloaded"] == 0
    forced = env.raw_dir / SOURCE / next(p.name for p in (env.raw_dir / SOURCE).iterdir()
                                         if p.name.endswith("-3"))
    links = forced / pwc.LINKS_REPO / pwc.LINKS_FILE
    assert links.read_bytes() == hub.files[(pwc.LINKS_REPO, pwc.LINKS_FILE)]
    # one changed file: only that one is fetched
    extra = pwc.LINKS + [("p9-last", "https://github.com/r/new", "jax", True)]
    hub.files[(pwc.LINKS_REPO, pwc.LINKS_FILE)] = pwc.parquet_bytes(pwc.links_table(extra))
    assert cli("collect", SOURCE).rc == 0
    assert [r.path.rsplit("/", 1)[-1] for r in hub.requests_to(r"/resolve/")][3:] == \
        ["train-00000-of-00001.parquet"]
    assert links.read_bytes() != hub.files[(pwc.LINKS_REPO, pwc.LINKS_FILE)]  # never rewritten
    con = connect(env.db_path, read_only=True)
    rows = con.execute("SELECT row_count FROM snapshots WHERE status = 'ok' "
                       "ORDER BY snapshot_id").fetchall()
    con.close()
    assert rows == [(23,), (23,), (24,)]


def test_commit_and_etag_come_from_the_hubs_redirect(cli, env, hub):
    """The Hub puts X-Repo-Commit and X-Linked-Etag on its redirect to the CDN, not on the CDN's
    answer: they are read there (HEAD, not followed), then the bytes come from the CDN."""
    assert cli("collect", SOURCE).rc == 0
    con = connect(env.db_path, read_only=True)
    params = json.loads(con.execute("SELECT parameters FROM snapshots").fetchone()[0])
    con.close()
    assert len(params["files"]) == 3
    for rel, entry in params["files"].items():
        repo, path = rel.split("/data/", 1)[0], "data/" + rel.split("/data/", 1)[1]
        content = hub.files[(repo, path)]
        assert entry["revision"] == pwc.COMMIT and entry["sha256"] == entry["etag"] \
            == hashlib.sha256(content).hexdigest(), rel
    assert {(r.method, r.status) for r in hub.requests_to(r"/resolve/")} == {("HEAD", 302)}
    assert [r.method for r in hub.cdn.requests] == ["GET"] * 3
    assert all(r.status == 200 for r in hub.cdn.requests)


def test_files_without_lfs_info_are_matched_by_git_blob_id(cli, env, hub):
    hub.non_lfs = set(hub.files)
    assert cli("collect", SOURCE).rc == 0
    assert cli("collect", SOURCE).rc == 0
    # served directly (no CDN redirect): metadata from the HEAD, then the bytes, once each
    assert [r.method for r in hub.requests_to(r"/resolve/")] == ["HEAD", "GET"] * 3
    assert not hub.cdn.requests


def test_paginated_tree_listing_is_followed(cli, env, monkeypatch):
    with pwc.FakeHub(pwc.fixture_files(shards=3), page_size=2) as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", server.url)
        assert cli("collect", SOURCE).rc == 0
        papers_listing = server.requests_to(r"papers-with-abstracts/tree/")
    assert len(papers_listing) == 2  # 3 shards, 2 per page
    con = connect(env.db_path, read_only=True)
    assert con.execute("SELECT count(DISTINCT file) FROM raw_papers_with_code__papers"
                       ).fetchone()[0] == 3
    assert con.execute("SELECT count(*) FROM raw_papers_with_code__papers").fetchone()[0] == \
        len(pwc.PAPERS)


def test_local_directory_and_raw_folder_work_as_sources(cli, env, tmp_path, monkeypatch):
    root = pwc.write_local(tmp_path / "mirror", pwc.fixture_files())
    monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", str(root))
    collect_and_analyze(cli)
    first = figures(env)
    day_dir = next(p for p in (env.raw_dir / SOURCE).iterdir() if not p.name.startswith("."))
    sidecar = json.loads((day_dir / "_snapshot.json").read_text())
    assert sidecar["licence"].startswith("CC-BY-SA-4.0")
    assert {f["path"] for f in sidecar["files"]} == {
        f"{repo}/{path}" for repo, path in pwc.fixture_files()}
    monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", day_dir.as_uri())
    collect_and_analyze(cli)
    assert figures(env) == first


def test_limit_gives_a_partial_snapshot_that_is_not_current(cli, env, hub):
    assert cli("collect", SOURCE).rc == 0
    assert cli("collect", SOURCE, "--limit", "5").rc == 0
    con = connect(env.db_path, read_only=True)
    rows = con.execute("SELECT snapshot_id, partial, row_count FROM snapshots ORDER BY 1"
                       ).fetchall()
    assert rows == [(1, False, 23), (2, True, 5)]
    assert con.execute(f"SELECT current_snapshot('{SOURCE}')").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM raw_papers_with_code__papers WHERE snapshot_id = 2"
                       ).fetchone()[0] == 5


def test_notebook_runs_with_data_and_without(cli, env, hub, tmp_path, monkeypatch):
    from pipeline.config import PROJECT_ROOT
    from pipeline.notebooks import execute

    notebook = PROJECT_ROOT / "notebooks" / "03_papers_with_code.ipynb"
    import nbformat

    stored = nbformat.read(notebook, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in stored.cells if c.cell_type == "code")
    assert cli("refresh", "--source", SOURCE).rc == 0
    out = execute(notebook, tmp_path / "out")
    text = executed_outputs(out)
    assert "2021-Q4" in text and "NeurIPS" in text and "No results to show yet" not in text
    monkeypatch.setenv("ADOPTION_DATA_DIR", str(tmp_path / "empty"))
    out = execute(notebook, tmp_path / "out-empty")
    assert "make refresh" in executed_outputs(out)


# -- GitHub creation dates (optional enrichment) ----------------------------------------------
TOKEN = "ghp-test-token-5c1e"


@pytest.fixture
def github(env, monkeypatch):
    with pwc.FakeGitHub(pwc.CREATED) as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_GITHUB_URL", server.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield server


def enrichment(settings) -> dict:
    con = connect(settings.db_path, read_only=True)
    try:
        params = con.execute("SELECT parameters FROM snapshots ORDER BY snapshot_id DESC LIMIT 1"
                             ).fetchone()[0]
    finally:
        con.close()
    return json.loads(params)["github_enrichment"]


def test_github_creation_dates_give_the_articles_attribution(cli, env, hub, github):
    """Hand-computed: created in 2021-Q4 are b/two TF, d/four None, f/six, h/eight PyTorch and
    g/seven JAX -> 5 repos, 40% PyTorch, 20% TF. 9 of the 16 dated repos have a creation date;
    6 of them were created in their paper's quarter (not a/one, c/three: earlier; e/five: later).
    """
    collect_and_analyze(cli)
    got = figures(env)
    assert got["pwc_repos_q4_2021_created"] == 5
    assert got["pwc_pt_share_q4_2021_created_pct"] == 40
    assert got["pwc_tf_share_q4_2021_created_pct"] == 20
    assert got["pwc_github_created_known_pct"] == 56.25
    assert got["pwc_created_same_quarter_pct"] == pytest.approx(200 / 3, abs=0.01)
    assert got["pwc_pt_share_q4_2021_pct"] == pytest.approx(100 * 3 / 7, abs=0.01)  # unchanged
    rows = db(env).execute(
        "SELECT paper_quarter, repos_with_both_dates, created_same_quarter, created_earlier, "
        "created_later FROM out_pwc__attribution ORDER BY 1").fetchall()
    assert rows == [("2021-Q3", 2, 1, 1, 0), ("2021-Q4", 7, 5, 1, 1)]
    assert len(github.queries) == 1 and len(github.queries[0]) == 18
    assert github.auth == [f"bearer {TOKEN}"]
    info = enrichment(env)
    assert info["status"] == "complete" and info["fetched"] == 18 and info["left"] == 0


def test_github_dates_are_cached_and_only_new_repos_are_asked(cli, env, hub, github):
    assert cli("collect", SOURCE).rc == 0
    again = cli("collect", SOURCE)
    assert again.rc == 0 and "papers_with_code: unchanged" in again.err  # nothing new at all
    assert len(github.queries) == 1  # everything cached, the not-found ones included
    extra = pwc.LINKS + [("p9-last", "https://github.com/r/new", "jax", True)]
    hub.files[(pwc.LINKS_REPO, pwc.LINKS_FILE)] = pwc.parquet_bytes(pwc.links_table(extra))
    assert cli("collect", SOURCE).rc == 0
    assert github.queries[1:] == [["r/new"]]
    assert enrichment(env)["cached"] == 18
    con = connect(env.db_path, read_only=True)
    counts = con.execute("SELECT snapshot_id, count(*) FROM raw_papers_with_code__github_repos "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    con.close()
    assert counts == [(1, 18), (3, 19)]
    # the GraphQL responses behind the dates are payloads of the snapshot, wherever kept
    sidecar = json.loads(next((env.raw_dir / SOURCE).glob("*-3/_snapshot.json")).read_text())
    github_files = [f for f in sidecar["files"] if f["path"].startswith("github/")]
    assert [f.get("kept_in") for f in github_files] == [1, None]


def test_github_rate_limit_stops_the_enrichment_not_the_snapshot(cli, env, hub, github,
                                                                monkeypatch):
    from pipeline.sources import papers_with_code

    monkeypatch.setattr(papers_with_code, "GITHUB_BATCH", 5)
    github.remaining = 2
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert "rate limit" in result.err and "13 repositories left" in result.err
    info = enrichment(env)
    assert info["fetched"] == 5 and info["left"] == 13 and info["status"].startswith("stopped")
    github.remaining = 100
    monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_GITHUB_MAX", "10")  # per-run cap
    assert cli("collect", SOURCE).rc == 0
    info = enrichment(env)
    assert info["fetched"] == 10 and info["left"] == 3 and info["cached"] == 5
    assert cli("collect", SOURCE).rc == 0
    assert enrichment(env)["left"] == 0
    asked = [repo for query in github.queries for repo in query]
    assert len(asked) == len(set(asked)) == 18  # nobody asked twice


@pytest.mark.parametrize("status, reason", [(401, "rejected"), (502, "HTTP 502")])
def test_github_failure_never_fails_the_snapshot(cli, env, hub, github, status, reason):
    github.status = status
    result = cli("-v", "collect", SOURCE)
    assert result.rc == 0, result.err
    assert cli("analyze").rc == 0
    assert reason in enrichment(env)["status"]
    assert "pwc_repos_q4_2021_created" not in figures(env)
    assert TOKEN not in result.err + result.out
    for path in env.data_dir.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_without_token_github_is_not_asked(cli, env, hub, monkeypatch):
    with pwc.FakeGitHub(pwc.CREATED) as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_GITHUB_URL", server.url)
        collect_and_analyze(cli)
    assert server.queries == [] and server.auth == []
    assert enrichment(env)["status"] == "skipped: GITHUB_TOKEN not set"
    assert db(env).execute("SELECT count(*) FROM out_pwc__quarterly_share "
                           "WHERE variant = 'created'").fetchone()[0] == 0


def test_notebook_variant_parameter_redraws_the_created_series(cli, env, hub, github, tmp_path):
    import nbformat

    from pipeline.config import PROJECT_ROOT
    from pipeline.notebooks import execute

    assert cli("refresh", "--source", SOURCE).rc == 0
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "03_papers_with_code.ipynb",
                             as_version=4)
    parameter = next(c for c in notebook.cells if "VARIANT = " in c.source)
    parameter.source = parameter.source.replace('VARIANT = "all"', 'VARIANT = "created"')
    changed = tmp_path / "03_created.ipynb"
    nbformat.write(notebook, changed)
    out = nbformat.read(execute(changed, tmp_path / "out"), as_version=4)
    outputs = json.dumps([c.get("outputs") for c in out.cells if c.cell_type == "code"])
    assert '"output_type": "error"' not in outputs
    assert "image/png" in outputs and "same_quarter_pct" in outputs and "created" in outputs


# -- one repository, one count (issue 15, items 1 and 2) ----------------------------------
#: (slug, arxiv_id, date, proceeding)
IDENTITY_PAPERS = [
    ("q1", "2110.00001", "2021-10-05", None), ("q2", "2110.00002", "2021-10-20", None),
    ("q3", "2111.00003", "2021-11-02", None), ("q4", "2111.00004", "2021-11-15", None),
    ("q5", "2112.00005", "2021-12-01", None),
    ("monorepo-2018", "1811.00006", "2018-11-01", None),
    ("newthing-2021", "2111.00007", "2021-11-20", None),
]
#: the review's five spellings of one repository, each on its own Q4 2021 paper; a repository
#: linked only in scp style; google-research's monorepo and a 2021 sub-folder project in it
IDENTITY_LINKS = [
    ("q1", "https://github.com/A/B", "pytorch", True),
    ("q2", "https://github.com/a/b/tree/master", "pytorch", False),
    ("q3", "https://github.com/a/b/blob/main/README.md", "pytorch", False),
    ("q4", "https://github.com/a/b#readme", "pytorch", False),
    ("q5", "git@github.com:a/b.git", "pytorch", False),
    ("q5", "https://github.com/c/d", "tf", True),
    ("q5", "git@github.com:E/F.git", "pytorch", True),
    ("monorepo-2018", "https://github.com/google-research/google-research", "tf", True),
    ("newthing-2021", "https://github.com/google-research/google-research/tree/master/newthing",
     "jax", True),
]
IDENTITY_CREATED = {"a/b": "2021-10-01T08:00:00Z", "c/d": "2019-05-01T08:00:00Z",
                    "e/f": "2021-12-10T08:00:00Z",
                    "google-research/google-research": "2018-10-15T08:00:00Z"}


@pytest.fixture
def identity_hub(env, monkeypatch):
    files = pwc.fixture_files(pwc.links_table(IDENTITY_LINKS), pwc.papers_table(IDENTITY_PAPERS))
    with pwc.FakeHub(files) as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", server.url)
        yield server


def test_url_variants_of_one_repository_count_once(cli, env, identity_hub):
    """2021-Q4: a/b (5 spellings, PyTorch), c/d (TF), e/f (scp only, PyTorch), and the
    google-research sub-folder project newthing (JAX); the monorepo itself sits in 2018-Q4."""
    collect_and_analyze(cli)
    got = figures(env)
    assert got["pwc_repos_q4_2021"] == 4
    assert got["pwc_pt_share_q4_2021_pct"] == 50 and got["pwc_tf_share_q4_2021_pct"] == 25
    con = db(env)
    repos = {r[0]: r[1:] for r in con.execute(
        "SELECT repo, url_variants, papers, first_paper_date, subfolder, github_repo "
        "FROM core_pwc__repos").fetchall()}
    assert repos["https://github.com/a/b"] == (5, 5, date(2021, 10, 5), None, "a/b")
    assert repos["https://github.com/e/f"][4] == "e/f"
    newthing = "https://github.com/google-research/google-research/tree/HEAD/newthing"
    assert repos[newthing][3:] == ("newthing", "google-research/google-research")
    assert len(repos) == 5
    # how many archive links each normalisation step merges (9 links, 9 spellings)
    steps = con.execute("SELECT name, applied, links, distinct_values, merged, links_rewritten "
                        "FROM out_pwc__normalisation ORDER BY step").fetchall()
    assert steps == [
        ("repo_url", True, 9, 9, 0, 0),
        ("scheme_folded", True, 9, 9, 0, 2),     # the two git@host:owner/name links
        ("case_folded", True, 9, 9, 0, 3),       # A/B, E/F.git, README.md
        ("suffix_dropped", True, 9, 7, 2, 3),    # a/b.git and a/b#readme merge into a/b
        ("repo", True, 9, 5, 2, 3),              # /tree/master and /blob/main/README.md
        ("repository", False, 9, 4, 1, 1),       # not applied: newthing into its monorepo
    ]


def test_created_variant_dates_sub_folders_by_their_earliest_paper(cli, env, identity_hub,
                                                                  monkeypatch):
    """With GitHub creation dates: a/b (created 2021-10) and e/f (2021-12) in 2021-Q4, c/d in
    2019-Q2, the monorepo in 2018-Q4 - and its sub-folder newthing at its 2021-11 paper, not at
    the monorepo's creation. Each repository is asked once, the scp-only e/f included."""
    with pwc.FakeGitHub(IDENTITY_CREATED) as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_GITHUB_URL", server.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        collect_and_analyze(cli)
    assert sorted(r for q in server.queries for r in q) == sorted(IDENTITY_CREATED)
    created = {q: (n, pt) for q, n, pt in db(env).execute(
        "SELECT quarter, repos, pytorch_repos FROM out_pwc__quarterly_share "
        "WHERE variant = 'created'").fetchall()}
    assert created == {"2018-Q4": (1, 0), "2019-Q2": (1, 0), "2021-Q4": (3, 2)}
    basis = dict(db(env).execute("SELECT repo, created_variant_basis FROM core_pwc__repos "
                                 "WHERE subfolder IS NOT NULL").fetchall())
    assert basis == {"https://github.com/google-research/google-research/tree/HEAD/newthing":
                     "earliest paper (sub-folder)"}
    got = figures(env)
    assert got["pwc_repos_q4_2021_created"] == 3
    assert got["pwc_pt_share_q4_2021_created_pct"] == pytest.approx(200 / 3, abs=0.01)
