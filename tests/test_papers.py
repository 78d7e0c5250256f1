"""The `papers` source end to end against fakes of the six proceedings sites (their real
shapes, generated PDFs): listings, words, the backfill state, resuming, politeness, hostile
PDFs, and the research figures it feeds ("today" values, JAX, the comparison table)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import duckdb
import pytest

from pipeline.config import PROJECT_ROOT, Settings
from pipeline.sources import papers_listings as pl
from tests.conftest import executed_outputs, isolated_env, mirror_dir
from tests.fakes.acl_anthology import AclServer
from tests.fakes.base import FakeServer
from tests.fakes.cvf import CvfServer
from tests.fakes.ecva import EcvaServer
from tests.fakes.neurips import NeuripsServer
from tests.fakes.openreview import OpenReviewServer
from tests.fakes.pmlr import PmlrServer
from tests.fakes.proceedings import FOUND, MOVERS, Catalog, FakePaper, default_catalog

SITES = (OpenReviewServer, PmlrServer, NeuripsServer, CvfServer, EcvaServer, AclServer)
PYTORCH = {"pytorch", "allennlp", "opennmt-py", "torchvision", "fairseq"}  # Horace He's
TENSORFLOW = {"tensorflow", "opennmt-tf", "keras"}


@contextlib.contextmanager
def serving(catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
            sites: tuple[type[FakeServer], ...] = SITES) -> Iterator[dict[str, FakeServer]]:
    servers = [site(catalog).start() for site in sites]
    try:
        for server in servers:
            for key, value in server.urls().items():
                monkeypatch.setenv(key, value)
        yield {type(s).__name__: s for s in servers}
    finally:
        for server in servers:
            server.stop()


def configure(monkeypatch: pytest.MonkeyPatch, **options: object) -> None:
    """The papers source's options for a test: 2024-2026, no pacing, small limits."""
    values = {"first_year": 2024, "last_year": 2026, "min_interval_seconds": 0,
              "workers": 2, "pdf_timeout_seconds": 30} | options
    for key, value in values.items():
        monkeypatch.setenv(f"ADOPTION_PAPERS_{key.upper()}", str(value))
    # a loaded machine must not turn a slow answer into a retry these tests would count
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "20")


def run(*args: str) -> tuple[int, str]:
    """`python -m pipeline ...` in this process; (exit status, what it logged)."""
    from pipeline.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, err.getvalue()


def frameworks(kind: str) -> tuple[bool, bool, bool]:
    found = FOUND[kind]
    return bool(found & PYTORCH), bool(found & TENSORFLOW), "jax" in found


def expected_year(catalog: Catalog, year: int) -> tuple[float, float]:
    """PyTorch share (exclusive counts, as Horace He counted) and JAX share of a year's
    main-track meetings, from the words each generated PDF was written with."""
    pt = tf = jax = named = 0
    for (_, y, track), papers in catalog.items():
        if y != year or track != "main":
            continue
        for paper in papers:
            p, t, j = frameworks(paper.body)
            pt += p and not t
            tf += t and not p
            jax += j
            named += p or t or j
    return 100 * pt / (pt + tf), 100 * jax / named


def db(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.db_path), read_only=True)


def pdf_requests(server: FakeServer) -> list[str]:
    return [r.path + ("?id=" + r.arg("id") if r.arg("id") else "")
            for r in server.requests if r.path.endswith(".pdf") or r.path.endswith("/pdf")]


# -- one refresh of every site, shared by the tests that only read its results -------

@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory):
    """A full offline refresh: the conference mirror plus the six fake proceedings sites."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = isolated_env(tmp_path_factory.mktemp("papers"), monkeypatch)
        monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(mirror_dir("pytorch-vs-tensorflow")))
        configure(monkeypatch)
        catalog = default_catalog()
        with serving(catalog, monkeypatch) as servers:
            rc, log = run("collect", "conferences")
            assert rc == 0, log
            rc, log = run("collect", "papers")
            for step in ("analyze", "report", "site"):  # the research charts only: below
                assert run(step)[0] == 0
            from pipeline.charts import draw_all
            from pipeline.charts.research import CHARTS
            from pipeline.store import connect

            con = connect(settings.db_path)
            assert draw_all(con, settings.charts_dir, charts=CHARTS)[1] == []
            con.close()
            yield settings, catalog, servers, rc, log, monkeypatch


def test_refresh_fills_meetings_from_every_site(refreshed):
    settings, catalog, _, rc, log, _ = refreshed
    assert rc == 0, log
    con = db(settings)
    meetings = {m: (listed, done, complete) for m, listed, done, complete in con.execute(
        "SELECT meeting, listed, processed, complete FROM raw_papers__meetings "
        "WHERE snapshot_id = current_snapshot('papers')").fetchall()}
    expected = {pl.meeting_id(c, y, t): len(p) for (c, y, t), p in catalog.items()}
    assert {m: listed for m, (listed, _, _) in meetings.items()} == expected
    assert all(done == listed and complete for listed, done, complete in meetings.values())
    params = json.loads(con.execute("SELECT parameters FROM snapshots WHERE source = 'papers' "
                                    "AND status = 'ok'").fetchone()[0])
    # published later (or never held): asked for, not invented
    assert {"neurips-2026", "emnlp-2026", "naacl-2026", "eccv-2026",
            "acl-2026-findings"} <= set(params["not_published"])
    assert "papers: 0 PDFs due" not in log and "every due paper was processed" in log


def test_every_paper_has_the_words_its_pdf_was_written_with(refreshed):
    settings, catalog, _, _, _, _ = refreshed
    rows = db(settings).execute(
        "SELECT meeting, title, authors, words, pytorch, tensorflow, jax, pages, status, "
        "pdf_sha256, pdf_bytes FROM raw_papers__papers_at(current_snapshot('papers'))"
    ).fetchall()
    by_title = {(r[0], r[1]): r for r in rows}
    assert len(rows) == sum(len(p) for p in catalog.values())
    for (conference, year, track), papers in catalog.items():
        for paper in papers:
            row = by_title[(pl.meeting_id(conference, year, track), paper.title)]
            assert row[2] == paper.authors
            assert set(row[3]) == FOUND[paper.body], (paper.title, row[3])
            assert (row[4], row[5], row[6]) == frameworks(paper.body)
            assert row[7] == 1 and row[8] == "ok" and len(row[9]) == 64 and row[10] > 1000
    # the near misses do not count, the split and the ligature do (see the catalog)
    kinds = {p.title: p.body for ps in catalog.values() for p in ps}
    near = [r for r in rows if kinds[r[1]] == "near"]
    assert near and all(r[3] == [] for r in near)


def test_findings_and_other_tracks_stay_out_of_the_main_series(refreshed):
    settings, catalog, _, _, _, _ = refreshed
    con = db(settings)
    tracks = dict(con.execute("SELECT meeting, track FROM core_papers__meetings").fetchall())
    assert tracks["acl-2024-findings"] == "findings" and tracks["acl-2024"] == "main"
    series = con.execute("SELECT sum(total_papers) FROM out_research__series "
                         "WHERE level = 'meeting' AND year = 2024").fetchone()[0]
    assert series == sum(len(p) for (_, y, t), p in catalog.items() if y == 2024 and t == "main")
    excluded = dict(con.execute("SELECT meeting, excluded FROM core_papers__meetings "
                                "WHERE meeting IN ('neurips-2024', 'cvpr-2024')").fetchall())
    assert excluded == {"neurips-2024": 1, "cvpr-2024": 1}  # datasets track, workshop paper


def test_today_values_come_from_the_newest_complete_year(refreshed):
    """2026 lacks NeurIPS, ECCV and EMNLP (not published): 2025 is the newest complete year.
    Its shares are worked out from the words each generated PDF holds."""
    settings, catalog, _, _, _, _ = refreshed
    with (settings.results_dir / "figures.csv").open() as fh:
        got = {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}
    pt_2025, jax_2025 = expected_year(catalog, 2025)
    assert got["research_pt_share_2021_pct_today"] == pytest.approx(pt_2025, abs=0.01)
    assert got["research_pt_share_2017_pct_today"] == pytest.approx(pt_2025, abs=0.01)
    assert got["research_jax_share_pct_today"] == pytest.approx(jax_2025, abs=0.01)
    # the movers: TensorFlow-only in 2024 -> PyTorch (Tina), TF (Tom), both (Theo): 2 of 3
    # used PyTorch; PyTorch-only -> PyTorch (Pat), TF (Paula): 1 of 2 stayed
    assert {k for k, (a, _) in MOVERS.items() if a == "tf"} == {"Tina Flow", "Tom Flowers",
                                                                 "Theo Tensor"}
    assert got["migration_tf_to_pt_pct_today"] == pytest.approx(100 * 2 / 3, abs=0.01)
    assert got["migration_pt_stay_pct_today"] == pytest.approx(50.0)
    # the article-date values are still Horace He's
    assert got["research_pt_share_2021_pct"] == pytest.approx(100 * 958 / (958 + 275), abs=0.01)
    with (settings.results_dir / "scorecard.csv").open() as fh:
        card = {r["figure_id"]: r for r in csv.DictReader(fh)}
    for fid in ("research_pt_share_2017_pct", "research_pt_share_2021_pct",
                "migration_tf_to_pt_pct", "migration_pt_stay_pct"):
        assert card[fid]["ours_today"], fid
    reason = card["research_pt_share_2021_pct"]["reason"]
    assert reason.startswith("today: 2025, pooled over its 8 complete main-track meetings "
                             "(ACL, CVPR, EMNLP, ICCV, ICLR, ICML, NAACL, NeurIPS)")
    assert "2024 → 2025" in card["migration_tf_to_pt_pct"]["reason"]


def test_partial_year_is_drawn_as_partial_and_comparison_table_is_built(refreshed):
    settings, _, _, _, _, _ = refreshed
    con = db(settings)
    year = dict(con.execute("SELECT year, complete FROM out_research__series "
                            "WHERE level = 'year' AND year >= 2024").fetchall())
    assert year == {2024: True, 2025: True, 2026: False}
    missing = con.execute("SELECT missing_meetings FROM out_research__series WHERE level = "
                          "'year' AND year = 2026").fetchone()[0]
    assert missing == "NeurIPS, ECCV, EMNLP"
    compared = {(c, y) for c, y in con.execute(
        "SELECT conference, year FROM out_research__comparison").fetchall()}
    assert compared == {("ICLR", 2022), ("ICML", 2021), ("NeurIPS", 2020), ("CVPR", 2020),
                        ("ECCV", 2018), ("ACL", 2020)}
    index = json.loads((settings.charts_dir / "charts.json").read_text())
    charts = {c["name"]: c for c in index["charts"]}
    assert "2026: 80% (partial: NeurIPS, ECCV, EMNLP not published yet)" in \
        charts["research_share"]["alt"]
    assert "JAX's share" in charts["research_share"]["alt"]
    assert charts["author_migration_sankey_today"]["has_data"]
    assert "2024's TensorFlow-only authors" in charts["author_migration_sankey_today"]["title"]
    assert charts["author_migration_sankey"]["title"].startswith("53% of 2018's")
    page = (settings.data_dir / "site" / "index.html").read_text()
    for heading in ("Today: the proceedings' papers, year by year", "Per conference",
                    "The same meetings, counted by Horace He and by this pipeline",
                    "Findings volumes (not in the series)"):
        assert f"<h3>{heading}</h3>" in page.replace("&#x27;", "'"), heading
    assert 'data-label="Meeting"><div>ICLR 2022</div></td>' in page


def test_research_notebook_shows_today_from_the_proceedings(refreshed, tmp_path):
    """Notebook 02 runs on a database with the papers' series and today's figures (its
    executed outputs, not its source, carry the years and the today figures)."""
    from pipeline.notebooks import execute

    settings = refreshed[0]
    out = execute(PROJECT_ROOT / "notebooks" / "02_research_papers.ipynb", tmp_path,
                  timeout=180, settings=settings)
    text = executed_outputs(out)
    assert "research_pt_share_2021_pct_today" in text and "2025" in text


def test_second_refresh_fetches_no_pdf_and_stores_nothing_new(refreshed):
    settings, _, servers, _, _, monkeypatch = refreshed
    before = {name: len(pdf_requests(s)) for name, s in servers.items()}
    asked = len(servers["NeuripsServer"].requests)
    rc, log = run("collect", "papers")
    assert rc == 0, log
    assert "papers: unchanged: no row changed" in log
    assert {name: len(pdf_requests(s)) for name, s in servers.items()} == before
    # complete meetings are never listed again: only the unpublished ones are asked for
    listed_again = [r.path for r in servers["NeuripsServer"].requests[asked:]]
    assert listed_again == ["/paper_files/paper/2026"]


# -- resuming -------------------------------------------------------------------------

def pid(year: int, i: int) -> str:
    """A paper id every site's fake takes (NeurIPS ids are hashes)."""
    return f"{year:x}{i:028x}"


def one_meeting(n: int, year: int = 2024, conference: str = "ICLR") -> Catalog:
    return {(conference, year, "main"): [
        FakePaper(pid(year, i), f"Paper {i}", [f"Author {i}"], "pt" if i % 2 else "tf")
        for i in range(n)]}


def test_killed_mid_meeting_then_rerun_fetches_no_processed_pdf(env, monkeypatch):
    """SIGKILL right after the first "saved" line, then collect again: every paper saved
    before the kill was fetched once; the meeting completes."""
    configure(monkeypatch, sites="openreview", first_year=2024, last_year=2024,
              compare="false")
    with serving(one_meeting(8), monkeypatch, (OpenReviewServer,)) as servers:
        server = servers["OpenReviewServer"]
        server.latency = 0.2
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "-v", "collect", "papers"],
                                cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ))
        saved = []
        for line in proc.stderr:
            match = re.search(r"papers: saved iclr-2024/(\S+): ", line)
            if match:
                saved.append(match[1])
                proc.kill()
                break
        proc.wait()
        proc.stderr.close()
        assert saved, "the collector never reported a saved paper"
        state = env.raw_dir / "papers" / ".backfill" / "results.jsonl"
        assert 1 <= len(state.read_text().splitlines()) < 8  # killed mid-meeting
        server.latency = 0
        rc, log = run("collect", "papers")
        assert rc == 0, log
        fetched = pdf_requests(server)
        for paper in saved:
            assert fetched.count(f"/v2/pdf?id={paper}") == 1, paper
        assert {f.rsplit("=", 1)[1] for f in fetched} == {pid(2024, i) for i in range(8)}
    con = db(env)
    assert con.execute("SELECT processed, complete FROM raw_papers__meetings").fetchall() == \
        [(8, True)]
    assert con.execute("SELECT status FROM snapshots WHERE source = 'papers' ORDER BY 1"
                       ).fetchall() == [("failed",), ("ok",)]  # the killed attempt: failed


def test_time_budget_stops_and_a_fresh_database_continues(env, monkeypatch):
    """Budget 0: the meetings are listed, nothing is read, the snapshot says pending. Then a
    fresh database with the kept state (as the weekly workflow runs) continues."""
    configure(monkeypatch, sites="openreview", compare="false", time_budget_minutes=0)
    with serving(one_meeting(4), monkeypatch, (OpenReviewServer,)) as servers:
        rc, log = run("collect", "papers")
        assert rc == 0, log
        assert "time budget spent" in log and "the next refresh continues" in log
        assert db(env).execute("SELECT listed, processed, pending, complete FROM "
                               "raw_papers__meetings").fetchall() == [(4, 0, 4, False)]
        configure(monkeypatch, sites="openreview", compare="false", time_budget_minutes=5,
                  max_attempts=3)
        assert run("collect", "papers")[0] == 0
        first = len(pdf_requests(servers["OpenReviewServer"]))
        assert first == 4
        env.db_path.unlink()  # a fresh database, the backfill state kept
        rc, log = run("collect", "papers")
        assert rc == 0 and "0 PDFs due (4 papers already done)" in log, log
        assert len(pdf_requests(servers["OpenReviewServer"])) == first
    assert db(env).execute("SELECT processed, complete FROM raw_papers__meetings").fetchall() \
        == [(4, True)]


def test_the_byte_bound_of_a_collection_stops_the_backfill_gracefully(env, monkeypatch):
    """Near the HTTP layer's byte bound for one collection (ADOPTION_PAPERS_MAX_BYTES) no new
    PDF is started: the snapshot is stored, the run ends well, the next one continues."""
    configure(monkeypatch, sites="openreview", compare="false", max_bytes=150_000,
              host_concurrency=1)
    with serving(one_meeting(8), monkeypatch, (OpenReviewServer,)):
        rc, log = run("collect", "papers")
        assert rc == 0 and "byte budget spent (150,000 bytes: ADOPTION_PAPERS_MAX_BYTES)" in log
        done, pending = db(env).execute("SELECT processed, pending FROM raw_papers__meetings"
                                        ).fetchone()
        assert done >= 1 and pending >= 1 and done + pending == 8
        monkeypatch.delenv("ADOPTION_PAPERS_MAX_BYTES")
        rc, log = run("collect", "papers")
        assert rc == 0 and f"{pending} PDFs due" in log, log
    assert db(env).execute("SELECT processed FROM raw_papers__meetings WHERE snapshot_id = "
                           "current_snapshot('papers')").fetchone() == (8,)


def test_a_line_cut_short_in_the_state_is_skipped_and_the_paper_redone(env, monkeypatch):
    configure(monkeypatch, sites="openreview", compare="false")
    with serving(one_meeting(3), monkeypatch, (OpenReviewServer,)) as servers:
        assert run("collect", "papers")[0] == 0
        state = env.raw_dir / "papers" / ".backfill" / "results.jsonl"
        lines = state.read_text().splitlines()
        state.write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])  # killed mid-write
        before = len(pdf_requests(servers["OpenReviewServer"]))
        rc, log = run("collect", "papers")
        assert rc == 0, log
        lost = json.loads(lines[2])["paper_id"]
        assert pdf_requests(servers["OpenReviewServer"])[before:] == [f"/v2/pdf?id={lost}"]
        assert "1 damaged line(s) of the backfill state skipped" in log
    # the paper read again gives the same row: a new snapshot only when a row changed
    status, params = db(env).execute("SELECT status, parameters FROM snapshots "
                                     "WHERE snapshot_id = 2").fetchone()
    if status == "ok":
        assert json.loads(params)["state_lines_skipped"] == 1
    else:
        assert status == "unchanged"


# -- politeness and failures ---------------------------------------------------------

class ProbedNeurips(NeuripsServer):
    """Counts the requests it answers at the same time (each held a moment)."""

    hold = 0.15

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.inflight = self.most = 0
        self.probe = threading.Lock()

    def route(self, request):
        with self.probe:
            self.inflight += 1
            self.most = max(self.most, self.inflight)
        try:
            self._stopped.wait(self.hold)
            return super().route(request)
        finally:
            with self.probe:
                self.inflight -= 1


def test_at_most_two_requests_at_a_time_per_host(env, monkeypatch):
    configure(monkeypatch, sites="neurips", first_year=2025, last_year=2025, compare="false",
              workers=4)
    with serving(one_meeting(8, 2025, "NeurIPS"), monkeypatch, (ProbedNeurips,)) as servers:
        rc, log = run("collect", "papers")
        assert rc == 0, log
        assert servers["ProbedNeurips"].most == 2
    ua = {r.headers.get("user-agent") for r in servers["ProbedNeurips"].requests}
    assert len(ua) == 1 and ua.pop().startswith("framework-adoption/")


def test_429_with_retry_after_is_waited_for(env, monkeypatch):
    configure(monkeypatch, sites="neurips", first_year=2025, last_year=2025, compare="false")
    with serving(one_meeting(2, 2025, "NeurIPS"), monkeypatch, (NeuripsServer,)) as servers:
        server = servers["NeuripsServer"]
        server.fault(r"/file/.*-Paper-Conference\.pdf$", "429", times=1, retry_after=1)
        rc, log = run("collect", "papers")
        assert rc == 0, log
        statuses = [r.status for r in server.requests if r.path.endswith(".pdf")]
        assert statuses.count(429) == 1 and statuses.count(200) == 2


def test_a_long_retry_after_stops_that_host_and_the_next_run_continues(env, monkeypatch):
    configure(monkeypatch, sites="neurips", first_year=2025, last_year=2025, compare="false")
    with serving(one_meeting(2, 2025, "NeurIPS"), monkeypatch, (NeuripsServer,)) as servers:
        server = servers["NeuripsServer"]
        server.fault(r"\.pdf$", "429", times=None, retry_after=3600)
        rc, log = run("collect", "papers")
        assert rc == 1 and "papers: snapshot 1 stored" in log
        assert "rate-limited" in log and "Traceback" not in log
        assert db(env).execute("SELECT pending FROM raw_papers__meetings").fetchall() == [(2,)]
        server.clear_faults()
        assert run("collect", "papers")[0] == 0
    assert db(env).execute("SELECT processed FROM raw_papers__meetings WHERE snapshot_id = "
                           "current_snapshot('papers')").fetchall() == [(2,)]


def test_one_site_failing_keeps_the_others(env, monkeypatch):
    configure(monkeypatch, sites="neurips,cvf", first_year=2025, last_year=2025,
              compare="false")
    catalog = one_meeting(2, 2025, "NeurIPS") | one_meeting(2, 2025, "CVPR")
    with serving(catalog, monkeypatch, (NeuripsServer, CvfServer)) as servers:
        servers["CvfServer"].fault(r"^/CVPR2025$", "500", times=None)
        rc, log = run("collect", "papers")
    assert rc == 1, log
    assert re.search(r"error: papers: snapshot 1 stored .*cvf: gave up on http://127\.0\.0\.1"
                     r":\d+/CVPR2025\?day=all", log), log
    assert "Traceback" not in log
    assert db(env).execute("SELECT meeting, complete FROM raw_papers__meetings").fetchall() == \
        [("neurips-2025", True)]


def test_schema_drift_in_a_listing_is_one_line(env, monkeypatch):
    configure(monkeypatch, sites="openreview", compare="false")
    with serving(one_meeting(2), monkeypatch, (OpenReviewServer,)) as servers:
        servers["OpenReviewServer"].note = staticmethod(  # type: ignore[method-assign]
            lambda paper, venue, api: {"id": paper.pid, "content": {"name": paper.title}})
        rc, log = run("collect", "papers")
    assert rc == 1 and "Traceback" not in log
    assert "openreview: unexpected listing shape (note #0 lacks id, content.title or " \
           "content.authors)" in log
    assert "no meeting could be listed" in log


def test_hostile_pdfs_are_recorded_as_failed_and_the_refresh_finishes(env, monkeypatch):
    """Truncated, not a PDF, encrypted, a decompression bomb (memory limit 256 MiB) and one
    that keeps the parser busy (time limit 3 s): each is a failure with its reason."""
    configure(monkeypatch, sites="neurips", first_year=2025, last_year=2025, compare="false",
              pdf_timeout_seconds=3, pdf_memory_mb=256)
    kinds = ["pt", "truncated", "not_pdf", "encrypted", "bomb", "busy", "tf"]
    catalog = {("NeurIPS", 2025, "main"): [FakePaper(f"{i:032x}", f"Paper {kind}", ["A"], kind)
                                           for i, kind in enumerate(kinds)]}
    with serving(catalog, monkeypatch, (NeuripsServer,)):
        rc, log = run("collect", "papers")
    assert rc == 0, log
    rows = dict(db(env).execute("SELECT title, status || ': ' || coalesce(reason, '') "
                                "FROM raw_papers__papers_at(1)").fetchall())
    assert rows["Paper pt"] == rows["Paper tf"] == "ok: "
    assert rows["Paper truncated"] == "failed: truncated (no %%EOF at the end of the file)"
    assert rows["Paper not_pdf"] == "failed: not a PDF (no %PDF- header)"
    assert rows["Paper encrypted"] == "failed: encrypted (a password is needed to open it)"
    assert rows["Paper bomb"].startswith("failed: parser crashed or exceeded the memory limit "
                                         "of 256 MiB")
    assert rows["Paper busy"] == "failed: timed out after 3 s"
    assert db(env).execute("SELECT processed, failed, complete FROM raw_papers__meetings"
                           ).fetchall() == [(2, 5, True)]


def test_pdf_links_must_stay_on_the_site(env, monkeypatch):
    configure(monkeypatch, sites="cvf", first_year=2025, last_year=2025, compare="false")

    class Elsewhere(CvfServer):
        def route(self, request):
            reply = super().route(request)
            if request.path == "/CVPR2025":
                reply.body = reply.body.replace(b'href="/content/CVPR2025/papers/',
                                                b'href="http://203.0.113.9/x/')
            return reply

    with serving(one_meeting(1, 2025, "CVPR"), monkeypatch, (Elsewhere,)):
        rc, log = run("collect", "papers")
    assert rc == 0, log
    assert db(env).execute("SELECT status, reason FROM raw_papers__papers_at(1)").fetchall() \
        == [("failed", "PDF link to an unexpected host (203.0.113.9)")]


def test_limit_is_refused(cli, env):
    result = cli("collect", "papers", "--limit", "3")
    assert result.rc == 2 and "--limit is not supported by papers" in result.err


# -- listings: units -----------------------------------------------------------------

def test_pmlr_index_names_newer_icml_volumes():
    index = (b'<ul class="proceedings-list"><li><a href="v306"><b>Volume 306</b></a> Proceedings '
             b'of ICML 2026</li><li><a href="https://proceedings.mlr.press/v340/"><b>Volume 340'
             b'</b></a> International Conference on Machine Learning, 12-18 July 2027, Paris'
             b'</li><li><a href="v341"><b>Volume 341</b></a> Workshop at ICML 2027</li></ul>')
    volumes = pl.icml_volumes(pl.parse_pmlr_index(index))
    assert volumes[2027] == 340 and volumes[2024] == 235 and volumes[2026] == 306


def test_anthology_reads_both_published_forms():
    old = (b'<collection id="2024.acl"><volume id="long"><meta><booktitle>P</booktitle></meta>'
           b'<frontmatter><url hash="1">2024.acl-long.0</url></frontmatter><paper id="1"><title>'
           b'A <fixed-case>B</fixed-case>c</title><author><first>Ada</first><last>Lo</last>'
           b'</author><url hash="ab12">2024.acl-long.1</url></paper></volume></collection>')
    new = (b'<collection id="2026.findings"><volume id="acl"><meta><booktitle>F</booktitle>'
           b'</meta><paper id="7"><title>T</title><author openreview="~Ada_Lo1"><first>Ada'
           b'</first><last>Lo</last></author><pdf hash="cd34"/></paper><paper id="8"><title>'
           b'No PDF</title></paper></volume></collection>')
    (paper,), _, _ = pl.parse_anthology(old, ("long", "short"))
    assert (paper.paper_id, paper.title, paper.authors, paper.pdf_ref) == \
        ("2024.acl-long.1", "A Bc", ["Ada Lo"], "ab12")
    (paper,), _, _ = pl.parse_anthology(new, ("acl",))
    assert (paper.paper_id, paper.author_ids, paper.pdf_ref) == \
        ("2026.findings-acl.7", ["~Ada_Lo1"], "cd34")
    with pytest.raises(pl.ListingError, match="malformed XML"):
        pl.parse_anthology(b"<collection", ("long",))


def test_weekly_workflow_keeps_the_backfill_state_between_runs(env):
    """refresh.yml restores the state folder the source uses by default before `make refresh`
    and saves it after, whatever the refresh's outcome, under a new key each run."""
    import yaml

    from pipeline.sources.papers import state_dir

    flow = yaml.safe_load((PROJECT_ROOT / ".github/workflows/refresh.yml").read_text())
    job = next(j for j in flow["jobs"].values()
               if any(s.get("run") == "make refresh" for s in j["steps"]))
    steps = job["steps"]
    refresh = next(i for i, s in enumerate(steps) if s.get("run") == "make refresh")
    folder = state_dir(env).relative_to(env.data_dir.parent).as_posix()
    # its own cache entry beside the database's (tests/test_workflows.py checks that one)
    restore, save = (next(i for i, s in enumerate(steps) if f"actions/cache/{verb}@" in
                          s.get("uses", "") and s["with"]["path"] == folder)
                     for verb in ("restore", "save"))
    assert restore < refresh < save
    assert steps[restore]["with"]["path"] == steps[save]["with"]["path"] == folder
    assert steps[save]["if"] == "always()"
    assert steps[restore]["with"]["restore-keys"] == "papers-backfill-"
    assert "github.run_id" in steps[save]["with"]["key"]
    assert float(job["env"]["ADOPTION_PAPERS_TIME_BUDGET_MINUTES"]) <= job["timeout-minutes"]


def test_a_hostile_local_pmlr_folder_names_nothing_outside_the_data_folder(env, monkeypatch,
                                                                             tmp_path):
    """Names from _config.yml and the posts are data: a shortname or an id that climbs out of
    the folder names no file (the paper is a failure), and nothing is written outside."""
    from tests.fakes.proceedings import BODIES, paper_pdf

    volume = tmp_path / "pmlr" / "v999"
    (volume / "_posts").mkdir(parents=True)
    (volume / "good24a").mkdir()
    (volume / "good24a" / "good24a.pdf").write_bytes(paper_pdf("Good", tuple(BODIES["pt"])))
    (volume / "_config.yml").write_text("shortname: ../../evil\nyear: '2024'\nvolume: 999\n")
    for pid in ("good24a", "../../../outside"):
        name = pid.replace("/", "_").replace(".", "_")
        (volume / "_posts" / f"2024-01-01-{name}.md").write_text(
            f"---\ntitle: Paper {name}\nid: '{pid}'\nauthor:\n- given: A\n  family: B\n"
            f"pdf: https://proceedings.mlr.press/v999/{pid}/{pid}.pdf\n---\n")
    configure(monkeypatch, sites="pmlr", compare="false")
    monkeypatch.setenv("ADOPTION_PAPERS_PMLR_URL", str(tmp_path / "pmlr"))
    rc, log = run("collect", "papers")
    assert rc == 0, log
    rows = db(env).execute("SELECT meeting, paper_id, status, reason FROM "
                           "raw_papers__papers_at(1) ORDER BY 2 DESC").fetchall()
    assert rows == [("evil-2024", "good24a", "ok", None),
                    ("evil-2024", "../../../outside", "failed", "PDF not found in the local "
                                                                "copy")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "pmlr"]
    assert not list(tmp_path.glob("**/outside.pdf"))
