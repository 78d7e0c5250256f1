"""Job postings: matching rules, the HN source against the fake Algolia API (real mirror months
plus hand-written threads), incremental refreshes, the manual board counts, Adzuna, charts."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.errors import SourceError
from pipeline.rules import match_frameworks, plain_text
from pipeline.sources.jobs_boards import parse_counts
from pipeline.sources.jobs_hn import thread_month
from tests.conftest import HN_MIRROR
from tests.fakes.adzuna import AdzunaServer
from tests.fakes.algolia import HAND_COUNTS, AlgoliaServer, comment

#: postings per mirror month: SOURCE.md's counts minus one "[flagged]" post in March and May
MIRROR_POSTINGS = {"2026-01": 264, "2026-02": 421, "2026-03": 331, "2026-04": 350,
                   "2026-05": 292}


@pytest.fixture
def hand_server(env, monkeypatch):
    """Only the two hand-written threads (and the stories to ignore): small and fast."""
    with AlgoliaServer() as server:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", server.base_url)
        yield server


def db(env) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(env.db_path), read_only=True)


def figures(env) -> dict[str, float]:
    with (env.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}


# -- matching rules ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("We use PyTorch and TensorFlow", {"pytorch", "tensorflow"}),
    ("pytorch/tensorflow/jax", {"pytorch", "tensorflow", "jax"}),
    ("TensorFlow.js in the browser", {"tensorflow"}),
    ("tfjs and tf.js demos", {"tensorflow"}),
    ("TFLite on device, tf.keras models", {"tensorflow", "keras"}),
    ("Terraform (TF) and TF2 modules", set()),  # bare TF is Terraform here: not counted
    ("torch.compile, libtorch, Torch7", set()),  # "torch" alone is not PyTorch
    ("pytorch_lightning and PyTorch2", {"pytorch"}),
    ("PyTorchLightning fans", set()),  # glued to a longer word: not a word match
    ("Java with JAX-RS and jax-ws, JAXB", set()),  # the Java APIs
    ("JAX/Flax on TPUs", {"jax"}),
    ("Jax, Keras 3", {"jax", "keras"}),  # listed next to another framework: JAX
    ("Jacksonville, FL (JAX) | PyTorch engineer", {"pytorch"}),  # the airport code
    ("Jax (our CTO) trains PyTorch models", {"pytorch"}),  # a first name
    ("<a href=\"https://pytorch.org\">docs</a>", set()),  # only inside a tag: not visible
    ("&lt;pytorch&gt; &amp; TENSORFLOW", {"pytorch", "tensorflow"}),
    ("Tensor<i>Flow</i>", set()),  # a tag splits the word
    ("mypytorch and tensorflowing", set()),
])
def test_matching_rules(text, expected):
    got = {name for name, hit in match_frameworks(text).items() if hit}
    assert got == expected


def test_plain_text_strips_tags_and_unescapes():
    assert plain_text("A&#x2F;B<p>C &amp; D <a href=\"x\">link</a>") == "A/B C & D link"


@pytest.mark.parametrize(("title", "month"), [
    ("Ask HN: Who is hiring? (March 2026)", date(2026, 3, 1)),
    ("Ask HN: Who is hiring? (Sept 2014)", date(2014, 9, 1)),
    ("Ask HN: Who is hiring? (Dec. 2012)", date(2012, 12, 1)),
    ("Ask HN: Who is hiring?", None),
    ("Ask HN: Who is hiring? (Smarch 2020)", None),
])
def test_thread_month_from_title(title, month):
    assert thread_month(title) == month


# -- HN source ---------------------------------------------------------------------------

def test_hand_written_threads_counted_by_the_rules(cli, env, hand_server):
    result = cli("refresh", "--source", "jobs_hn")
    assert result.rc == 0, result.err
    con = db(env)
    got = {f"{m:%Y-%m}": dict(zip(("postings", "pytorch", "tensorflow", "jax", "keras"), rest,
                                  strict=True))
           for m, *rest in con.execute("SELECT month, postings, pytorch, tensorflow, jax, keras "
                                       "FROM out_jobs__hn_monthly").fetchall()}
    assert got == {k: {f: v[f] for f in got[k]} for k, v in HAND_COUNTS.items()}
    skipped = dict(con.execute("SELECT strftime(month, '%Y-%m'), skipped "
                               "FROM raw_jobs_hn__threads").fetchall())
    assert skipped == {k: v["skipped"] for k, v in HAND_COUNTS.items()}
    # the other whoishiring stories are listed but never fetched
    fetched = {r.path.rsplit("/", 1)[-1] for r in hand_server.requests_to(r"/items/")}
    assert fetched == {str(hand_server.thread_id(m)) for m in ("December 2021", "November 2021")}
    # the text is kept (as served, with entities) so the rules can be re-applied
    text = con.execute("SELECT text FROM raw_jobs_hn__postings WHERE text LIKE 'Kappa%'") \
        .fetchall()[0][0]
    assert "&lt;pytorch&gt;" in text


def test_headline_window_uses_complete_months_only(cli, env, hand_server):
    """December 2021 is the newest thread, still open: shown and marked, never averaged in.
    November 2021 (complete) is the whole window, today and as of the article (Dec 2021)."""
    assert cli("refresh", "--source", "jobs_hn").rc == 0
    got = figures(env)
    november = HAND_COUNTS["2021-11"]
    assert got["jobs_hn_postings_last12_today"] == november["postings"]
    assert got["jobs_hn_pt_share_last12_pct_today"] == pytest.approx(
        100 * november["pytorch"] / november["postings"], abs=0.01)
    rows = db(env).execute("SELECT strftime(month, '%Y-%m'), incomplete, in_last12, "
                           "in_article_window FROM out_jobs__hn_monthly ORDER BY 1").fetchall()
    assert rows == [("2021-11", False, True, True), ("2021-12", True, False, False)]
    assert got["jobs_hn_tf_to_pt_ratio"] == got["jobs_hn_tf_to_pt_ratio_today"] == \
        november["tensorflow"] / november["pytorch"]
    assert got["jobs_hn_months_article_window"] == 1


def test_mirror_refresh_produces_monthly_table_charts_and_figures(cli, env, mirror_server,
                                                                  monkeypatch):
    from pipeline.config import PROJECT_ROOT

    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", str(PROJECT_ROOT / "data" / "manual"))
    result = cli("refresh", "--source", "jobs_hn", "--source", "jobs_boards")
    assert result.rc == 0, result.err
    assert "jobs_boards: skipped: no counts recorded yet in data/manual/job_board_counts.csv" \
        in result.err
    con = db(env)
    months = {f"{m:%Y-%m}": (n, inc) for m, n, inc in con.execute(
        "SELECT month, postings, incomplete FROM out_jobs__hn_monthly "
        "WHERE year(month) = 2026").fetchall()}
    assert {m: n for m, (n, _) in months.items()} == MIRROR_POSTINGS
    assert [m for m, (_, inc) in months.items() if inc] == ["2026-05"]  # the newest is open
    # the headline window holds complete months only: the open May is shown, not averaged
    window = [f"{m:%Y-%m}" for (m,) in con.execute(
        "SELECT month FROM out_jobs__hn_monthly WHERE in_last12 ORDER BY month").fetchall()]
    assert window == ["2026-01", "2026-02", "2026-03", "2026-04"]
    for chart in ("jobs_hn_trend", "job_postings"):
        assert (env.charts_dir / f"{chart}.png").stat().st_size > 10_000
        assert (env.charts_dir / f"{chart}.svg").is_file()
    got = figures(env)
    pt, tf, n = con.execute(
        "SELECT sum(pytorch), sum(tensorflow), sum(postings) FROM out_jobs__hn_monthly "
        "WHERE month BETWEEN '2026-01-01' AND '2026-04-01'").fetchall()[0]
    assert n == sum(v for k, v in MIRROR_POSTINGS.items() if k != "2026-05")
    assert got["jobs_hn_postings_last12_today"] == n  # May 2026 is still open: not counted
    assert got["jobs_hn_months_last12_today"] == 4
    assert got["jobs_hn_pt_share_last12_pct_today"] == pytest.approx(100 * pt / n, abs=0.01)
    assert got["jobs_hn_tf_share_last12_pct_today"] == pytest.approx(100 * tf / n, abs=0.01)
    assert 1 < got["jobs_hn_pt_share_last12_pct_today"] < 5  # 2026: ~2% of postings
    assert pt > tf > 0  # PyTorch ahead, as in the 2022/2024 reference points
    # the article's "TensorFlow beats out PyTorch substantially", evaluated on today's data
    assert got["jobs_hn_tf_to_pt_ratio_today"] == pytest.approx(tf / pt, abs=0.005)
    # as of the article: the mirror holds no 2021 month (the hand-written threads test it)
    assert "jobs_hn_tf_to_pt_ratio" not in got
    assert (got["jobs_hn_tf_postings_last12_today"], got["jobs_hn_pt_postings_last12_today"]) \
        == (tf, pt)
    bars = dict(con.execute("SELECT framework, count FROM out_jobs__board_counts "
                            "WHERE board = 'Hacker News'").fetchall())
    assert bars == {"pytorch": pt, "tensorflow": tf,
                    "jax": con.execute("SELECT sum(jax) FROM out_jobs__hn_monthly "
                                       "WHERE in_last12").fetchall()[0][0]}
    scorecard = {r["figure_id"]: r for r in csv.DictReader(
        (env.results_dir / "scorecard.csv").open())}
    row = scorecard["jobs_hn_tf_to_pt_ratio"]
    assert row["evaluated_on"] == "today"
    assert row["status"] == "differs"  # 2026: PyTorch ahead, no TensorFlow lead at all
    assert f"TensorFlow postings, today's 12-month window: {tf} postings" in row["reason"]
    assert "complete months in today's window: 4 of 12 months" in row["reason"]
    no_data = {b for b, has in con.execute(
        "SELECT board, bool_or(has_data) FROM out_jobs__board_counts GROUP BY 1").fetchall()
        if not has}
    assert no_data == {"LinkedIn", "ZipRecruiter", "Indeed"}
    # raw payloads: the listing page and every fetched thread
    day = next((env.raw_dir / "jobs_hn").iterdir())
    sidecar = json.loads((day / "_snapshot.json").read_text())
    paths = {f["path"] for f in sidecar["files"]}
    assert "search_by_date/page-0.json" in paths
    assert {f"items/{i}.json" for i in con.execute(
        "SELECT thread_id FROM raw_jobs_hn__threads").fetchall()[0]} <= paths


def thread_requests(server) -> list[str]:
    return sorted(r.path.rsplit("/", 1)[-1] for r in server.requests_to(r"/items/"))


def test_incremental_refresh_fetches_only_what_is_new(cli, env, hand_server):
    december = hand_server.thread_id("December 2021")
    assert cli("collect", "jobs_hn").rc == 0
    first = len(hand_server.requests)

    # nothing new, or only a late post in a month already finished when fetched: the listing
    hand_server.add_comment(hand_server.thread_id("November 2021"), "Xi | late post")
    result = cli("collect", "jobs_hn")
    assert result.rc == 0 and "jobs_hn: unchanged" in result.err  # no copy stored
    new = [r.path for r in hand_server.requests[first:]]
    assert new == ["/api/v1/search_by_date"]

    # the open (newest) month grew: only that thread is fetched again
    hand_server.add_comment(december, "Lambda | ML<p>PyTorch everywhere")
    before = len(hand_server.requests)
    assert cli("collect", "jobs_hn").rc == 0
    assert [r.path for r in hand_server.requests[before:]] == [
        "/api/v1/search_by_date", f"/api/v1/items/{december}"]

    # a new month appears: it is fetched, and December (now ended) once more, as final
    january = hand_server.add_thread("Ask HN: Who is hiring? (January 2022)",
                                  [comment("Mu | JAX researcher")])["id"]
    before = len(hand_server.requests)
    assert cli("collect", "jobs_hn").rc == 0
    assert [r.path for r in hand_server.requests[before:]] == [
        "/api/v1/search_by_date", f"/api/v1/items/{january}", f"/api/v1/items/{december}"]

    # a late posting in a finished month is not fetched again
    hand_server.add_comment(december, "Nu | late post")
    before = len(hand_server.requests)
    assert "jobs_hn: unchanged" in cli("collect", "jobs_hn").err
    assert [r.path for r in hand_server.requests[before:]] == ["/api/v1/search_by_date"]

    con = db(env)
    per_snapshot = con.execute(
        "SELECT s.snapshot_id, (SELECT count(*) FROM raw_jobs_hn__postings_at(s.snapshot_id)) "
        "FROM snapshots s WHERE status = 'ok' ORDER BY 1").fetchall()
    # every snapshot is complete: 10, 11 (new Dec post), 12 (+ January); the refreshes with
    # nothing new stored none
    assert [n for _, n in per_snapshot] == [10, 11, 12]
    # ... yet each posting text is stored once, and each snapshot lists what it is made of
    assert con.execute("SELECT count(*), count(DISTINCT (comment_id, text)) "
                       "FROM raw_jobs_hn__postings").fetchall() == [(12, 12)]
    complete = dict(con.execute(
        "SELECT strftime(month, '%Y-%m'), complete "
        "FROM raw_jobs_hn__threads_at(current_snapshot('jobs_hn'))").fetchall())
    assert complete == {"2021-11": True, "2021-12": True, "2022-01": False}
    # each snapshot's own folder holds what it fetched; its sidecar lists the rest by folder
    folders = sorted((env.raw_dir / "jobs_hn").iterdir(), key=lambda p: int(p.name.rsplit("-")[-1]))
    last = json.loads((folders[-1] / "_snapshot.json").read_text())
    own = {f["path"] for f in last["files"] if "kept_in" not in f}
    kept = {f["path"]: f["kept_in"] for f in last["files"] if "kept_in" in f}
    assert own == {"search_by_date/page-0.json", f"items/{january}.json",
                   f"items/{december}.json"}
    november = hand_server.thread_id("November 2021")
    assert set(kept) == {f"items/{november}.json"}
    assert (env.raw_dir / "jobs_hn" / next(p.name for p in folders
                                           if p.name.endswith(f"-{kept[f'items/{november}.json']}"))
            / f"items/{november}.json").is_file()


def test_pagination_follows_nb_pages(cli, env, hand_server, monkeypatch):
    monkeypatch.setenv("ADOPTION_JOBS_HN_HITS_PER_PAGE", "1")
    assert cli("collect", "jobs_hn").rc == 0
    pages = [r.arg("page") for r in hand_server.requests_to(r"/search_by_date")]
    assert pages == ["0", "1", "2", "3"]  # 2 hiring threads + 2 other stories, 1 per page
    assert all(r.arg("tags") == "story,author_whoishiring"
               for r in hand_server.requests_to(r"/search_by_date"))
    assert db(env).execute("SELECT count(*) FROM raw_jobs_hn__threads").fetchall()[0][0] == 2


def test_limit_makes_a_partial_snapshot(cli, env, hand_server):
    assert cli("collect", "jobs_hn", "--limit", "1").rc == 0
    con = db(env)
    assert con.execute("SELECT partial FROM snapshots").fetchall() == [(True,)]
    assert con.execute("SELECT current_snapshot('jobs_hn')").fetchall() == [(None,)]
    con.close()
    assert cli("collect", "jobs_hn").rc == 0  # a full run fetches both threads
    assert len(hand_server.requests_to(r"/items/")) == 3


def test_raw_folder_and_local_mirror_reload_without_network(cli, env, hand_server,
                                                            monkeypatch):
    """data/raw/jobs_hn (every kept item) and a plain folder of items work as sources."""
    assert cli("collect", "jobs_hn").rc == 0
    hand_server.stop()
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(env.raw_dir / "jobs_hn"))
    again = cli("collect", "jobs_hn")
    assert again.rc == 0 and "jobs_hn: unchanged" in again.err  # the very same items
    assert cli("collect", "jobs_hn", "--force").rc == 0
    con = db(env)
    rows = con.execute("SELECT s.snapshot_id, (SELECT count(*) FROM raw_jobs_hn__postings_at("
                       "s.snapshot_id)) FROM snapshots s WHERE status = 'ok' ORDER BY 1"
                       ).fetchall()
    assert [n for _, n in rows] == [10, 10]
    assert con.execute("SELECT count(*) FROM raw_jobs_hn__postings").fetchall() == [(10,)]
    con.close()
    # a folder of item files given as a file:// URL (the shared mirror's five months)
    monkeypatch.setenv("ADOPTION_DATA_DIR", str(env.data_dir.parent / "mirror-data"))
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", HN_MIRROR.as_uri())
    assert cli("collect", "jobs_hn").rc == 0
    con = duckdb.connect(str(env.data_dir.parent / "mirror-data" / "adoption.duckdb"),
                         read_only=True)
    assert con.execute("SELECT count(*) FROM raw_jobs_hn__postings_at(current_snapshot('jobs_hn'))"
                       ).fetchall() == [(sum(MIRROR_POSTINGS.values()),)]


def test_changed_rules_are_reapplied_from_stored_text(cli, env, hand_server, monkeypatch):
    import re

    from pipeline import rules

    assert cli("refresh", "--source", "jobs_hn").rc == 0
    requests = len(hand_server.requests)
    monkeypatch.setitem(rules.RULES, "pytorch", re.compile(r"(?<![a-z0-9])(py)?torch", re.I))
    monkeypatch.setattr(rules, "KEYWORDS", (*rules.KEYWORDS, "torch"))  # changed together
    assert cli("analyze", "--force").rc == 0
    assert len(hand_server.requests) == requests  # nothing refetched
    pt = db(env).execute("SELECT pytorch FROM out_jobs__hn_monthly "
                         "WHERE month = '2021-12-01'").fetchall()[0][0]
    assert pt == HAND_COUNTS["2021-12"]["pytorch"] + 1  # Delta's "torch.compile" now counts


# -- job-board counts --------------------------------------------------------------------

HEADER = "date,board,region,query,framework,count,url,note\n"


def board_rows() -> str:
    cities = ["New York, NY", "Los Angeles, CA", "Chicago, IL"]
    lines = [
        "2026-10-01,LinkedIn,United States,pytorch,pytorch,5000,https://www.linkedin.com/jobs/"
        "search/?keywords=pytorch&location=United%20States,",
        "2026-10-01,LinkedIn,United States,tensorflow,tensorflow,4000,https://www.linkedin.com/"
        "jobs/search/?keywords=tensorflow&location=United%20States,",
        "2026-11-01,LinkedIn,United States,pytorch,pytorch,\"6,100\",https://www.linkedin.com/"
        "jobs/search/?keywords=pytorch,first of the month",
        "2026-11-01,LinkedIn,United States,tensorflow,tensorflow,3900,https://www.linkedin.com/"
        "jobs/search/?keywords=tensorflow,",
    ]
    for i, city in enumerate(cities):
        for fw, n in (("pytorch", 100 + i), ("tensorflow", 50 + i)):
            lines.append(f"2026-11-02,Indeed,\"{city} (100 mi)\",{fw},{fw},{n},"
                         f"https://www.indeed.com/jobs?q={fw}&radius=100,")
    return HEADER + "\n".join(lines) + "\n"


def test_board_counts_validate_and_parse():
    rows = parse_counts(board_rows(), "counts.csv", today=date(2026, 11, 27))
    assert len(rows) == 10
    assert rows[2]["count"] == 6100 and rows[2]["line"] == 4 and rows[2]["note"]
    assert parse_counts(HEADER, "counts.csv") == []


@pytest.mark.parametrize(("bad_line", "needles"), [
    ("2026-13-01,LinkedIn,US,pytorch,pytorch,5,https://x.example/s,", ("line 3", "date")),
    ("2026-11-01,LinkedIn,US,pytorch,pytorch,5.5,https://x.example/s,", ("line 3", "count")),
    ("2026-11-01,LinkedIn,US,pytorch,pytorch,-5,https://x.example/s,", ("line 3", "count")),
    ("2026-11-01,LinkedIn,US,pytorch,torch,5,https://x.example/s,", ("line 3", "framework")),
    ("2026-11-01,LinkedIn,US,pytorch,pytorch,5,www.linkedin.com,", ("line 3", "url")),
    ("2026-11-01,,US,pytorch,pytorch,5,https://x.example/s,", ("line 3", "board")),
    ("2026-11-01,LinkedIn,US,pytorch,pytorch,5", ("line 3", "expected 8 fields")),
    ("2026-11-01,LinkedIn,US,pytorch,pytorch,5,https://x.example/t,dup",
     ("line 3", "repeats line 2")),
    ("2099-01-01,LinkedIn,US,pytorch,pytorch,5,https://x.example/s,", ("line 3", "date")),
])
def test_board_counts_bad_row_names_file_line_and_field(bad_line, needles):
    good = "2026-11-01,LinkedIn,US,pytorch,pytorch,5,https://x.example/s,\n"
    with pytest.raises(SourceError) as info:
        parse_counts(HEADER + good + bad_line + "\n", "data/manual/x.csv",
                     today=date(2026, 11, 27))
    message = str(info.value)
    assert message.startswith("jobs_boards: data/manual/x.csv line")
    for needle in needles:
        assert needle in message


def test_board_counts_wrong_header():
    with pytest.raises(SourceError, match="line 1: header"):
        parse_counts("date,board,count\n", "x.csv")


def test_board_counts_end_to_end_with_history(cli, env, tmp_path, monkeypatch, hand_server):
    folder = tmp_path / "manual"
    folder.mkdir()
    (folder / "job_board_counts.csv").write_text(board_rows())
    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", folder.as_uri())
    result = cli("refresh", "--source", "jobs_boards", "--source", "jobs_hn")
    assert result.rc == 0, result.err
    con = db(env)
    latest = {(b, f): (c, str(d)) for b, f, c, d in con.execute(
        "SELECT board, framework, count, date FROM out_jobs__board_counts "
        "WHERE has_data AND board <> 'Hacker News'").fetchall()}
    assert latest == {
        ("LinkedIn", "pytorch"): (6100, "2026-11-01"),
        ("LinkedIn", "tensorflow"): (3900, "2026-11-01"),
        ("Indeed", "pytorch"): (100 + 101 + 102, "2026-11-02"),  # the city searches summed
        ("Indeed", "tensorflow"): (50 + 51 + 52, "2026-11-02"),
    }
    history = con.execute("SELECT count(DISTINCT date) FROM out_jobs__board_history "
                          "WHERE board = 'LinkedIn'").fetchall()[0][0]
    assert history == 2
    assert con.execute("SELECT has_data FROM out_jobs__board_counts WHERE board = "
                       "'ZipRecruiter'").fetchall() == [(False,), (False,)]
    assert (env.charts_dir / "job_postings.png").stat().st_size > 10_000


def test_board_counts_alone_analyse_without_hn_data(cli, env, tmp_path, monkeypatch):
    """Job-board counts and no HN snapshot: the jobs analysis gives no figure and must not
    fail (DuckDB refused an empty executemany: "executemany requires a non-empty list")."""
    (tmp_path / "job_board_counts.csv").write_text(board_rows())
    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", str(tmp_path))
    assert cli("collect", "jobs_boards").rc == 0
    result = cli("analyze")
    assert result.rc == 0, result.err
    assert "analysis jobs: 0 figures" in result.err
    assert db(env).execute("SELECT count(*) FROM out_jobs__board_counts WHERE has_data "
                           "AND board = 'LinkedIn'").fetchall() == [(2,)]


def test_bad_board_file_loads_nothing(cli, env, tmp_path, monkeypatch):
    path = tmp_path / "counts.csv"
    path.write_text(board_rows().replace(",3900,", ",39OO,"))
    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", str(path))
    result = cli("collect", "jobs_boards")
    assert result.rc == 1
    errors = [ln for ln in result.err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "counts.csv line 5, field count" in errors[0]
    con = db(env)
    assert con.execute("SELECT count(*) FROM raw_jobs_boards__counts").fetchall() == [(0,)]


def test_header_only_file_is_skipped_not_failed(cli, env, tmp_path, monkeypatch):
    path = tmp_path / "job_board_counts.csv"
    path.write_text(HEADER)
    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", str(tmp_path))
    result = cli("refresh", "--source", "jobs_boards")
    assert result.rc == 0
    assert "jobs_boards: skipped: no counts recorded yet" in result.err


def test_shipped_counts_file_has_header_and_no_invented_numbers():
    from pipeline.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "data" / "manual" / "job_board_counts.csv").read_text()
    assert text == HEADER
    readme = (PROJECT_ROOT / "data" / "manual" / "README.md").read_text()
    for needle in ("LinkedIn", "ZipRecruiter", "Indeed", "100 miles", "11"):
        assert needle in readme


# -- Adzuna ------------------------------------------------------------------------------

APP_ID, APP_KEY = "planted-id-7f3a", "planted-key-91c2e"


@pytest.fixture
def adzuna(env, monkeypatch):
    with AdzunaServer(APP_ID, APP_KEY) as server:
        monkeypatch.setenv("ADOPTION_JOBS_ADZUNA_URL", server.base_url)
        monkeypatch.setenv("ADZUNA_APP_ID", APP_ID)
        monkeypatch.setenv("ADZUNA_APP_KEY", APP_KEY)
        yield server


def test_adzuna_skipped_without_keys(cli, env):
    result = cli("refresh", "--source", "jobs_adzuna")
    assert result.rc == 0
    assert "jobs_adzuna: skipped: ADZUNA_APP_ID and ADZUNA_APP_KEY not set" in result.err


def test_adzuna_counts_history_and_no_key_leaks(cli, env, adzuna):
    first = cli("refresh", "--source", "jobs_adzuna")
    assert first.rc == 0, first.err
    adzuna.counts["pytorch"] = 4400
    second = cli("-v", "refresh", "--source", "jobs_adzuna")
    assert second.rc == 0, second.err
    assert len(adzuna.requests) == 6  # three counts per refresh, nothing else
    assert {r.arg("results_per_page") for r in adzuna.requests} == {"1"}
    con = db(env)
    snapshots = con.execute("SELECT DISTINCT snapshot_id FROM core_jobs__board_counts "
                            "WHERE board = 'Adzuna (API)'").fetchall()
    assert len(snapshots) == 2  # every dated snapshot is kept
    latest = dict(con.execute("SELECT framework, count FROM out_jobs__board_counts "
                              "WHERE board = 'Adzuna (API)'").fetchall())
    assert latest == {"pytorch": 4400, "tensorflow": 2345, "jax": 210}
    assert figures(env)["jobs_adzuna_us_pt_count_today"] == 4400
    # the keys are nowhere: logs, snapshots table, stored rows, raw files
    dump = "\n".join(str(r) for r in con.execute("SELECT * FROM snapshots").fetchall())
    dump += "\n".join(str(r) for r in con.execute("SELECT * FROM raw_jobs_adzuna__counts")
                      .fetchall())
    con.close()
    dump += first.err + first.out + second.err + second.out
    for path in env.raw_dir.rglob("*"):
        if path.is_file():
            dump += path.read_text()
    assert "app_key=***" in dump  # the URLs are there, redacted
    assert APP_ID not in dump and APP_KEY not in dump
    assert "A job ad we must not store" not in dump  # counts only
    assert APP_KEY.encode() not in env.db_path.read_bytes()


def test_adzuna_wrong_key_is_one_line_error_without_the_key(cli, env, adzuna, monkeypatch):
    monkeypatch.setenv("ADZUNA_APP_KEY", "wrong-secret-123")
    result = cli("collect", "jobs_adzuna")
    assert result.rc == 1
    errors = [ln for ln in result.err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "HTTP 401" in errors[0]
    assert "wrong-secret-123" not in result.err and APP_ID not in result.err


# -- notebook ----------------------------------------------------------------------------

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_jobs.ipynb"


def test_notebook_has_no_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert any("SMOOTHING_MONTHS =" in "".join(c["source"]) for c in nb["cells"])


def test_notebook_runs_with_data_and_without(cli, env, hand_server, tmp_path, monkeypatch):
    from pipeline.notebooks import execute

    out = execute(NOTEBOOK, tmp_path / "empty-run", timeout=120)
    assert "refresh" in out.read_text()  # tells the reader what to run
    assert cli("refresh", "--source", "jobs_hn").rc == 0
    out = execute(NOTEBOOK, tmp_path / "run", timeout=120)
    text = out.read_text()
    assert "Traceback" not in text and "2021-12" in text


# -- a local copy with declared gaps (small generated copies; the real mirror:
#    tests/test_jobs_hn_series.py) ---------------------------------------------------------

DECLARED_MARCH = {"2026-03": {"thread_id": 4321, "title": "Ask HN: Who is hiring? (March 2026)",
                              "reason": "no public copy of this thread (test)"}}


def write_copy(folder: Path, months: list[str], declared: dict | str | None = None) -> Path:
    """A local copy in the mirror's layout: one `YYYY-MM.json` item per month, 3 postings
    each (2 naming PyTorch), and `_missing.json` when `declared` is given."""
    import calendar

    from tests.fakes.algolia import story

    folder.mkdir(parents=True, exist_ok=True)
    for ym in months:
        year, month = (int(x) for x in ym.split("-"))
        item = story(f"Ask HN: Who is hiring? ({calendar.month_name[month]} {year})",
                     [comment("Acme | PyTorch"), comment("Beta | pytorch"), comment("Web | Go")])
        (folder / f"{ym}.json").write_text(json.dumps(item))
    if declared is not None:
        text = declared if isinstance(declared, str) else json.dumps(declared)
        (folder / "_missing.json").write_text(text)
    (folder / "SOURCE.md").write_text("# A test copy\n\n## Caveats\n- Replies are absent.\n"
                                      "- Made for a `test`:\n  two lines.\n\n## Other\n- no\n")
    return folder


def test_local_copy_with_a_declared_gap(cli, env, tmp_path, monkeypatch):
    """March declared missing: accepted, listed in the snapshot, a row without counts (never
    zero), the window saying how many months it holds; data/raw reloads with the same gap."""
    copy = write_copy(tmp_path / "copy", ["2026-01", "2026-02", "2026-04", "2026-05"],
                      DECLARED_MARCH)
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(copy))
    result = cli("refresh", "--source", "jobs_hn")
    assert result.rc == 0, result.err
    con = db(env)
    parameters = json.loads(con.execute("SELECT parameters FROM snapshots").fetchall()[0][0])
    assert parameters["months_declared_missing"] == DECLARED_MARCH
    assert parameters["local_copy"]["caveats"] == ["Replies are absent.",
                                                   "Made for a test: two lines."]
    rows = con.execute("SELECT strftime(month, '%Y-%m'), postings, pytorch, declared_missing, "
                       "in_last12 FROM out_jobs__hn_monthly ORDER BY 1").fetchall()
    assert rows == [("2026-01", 3, 2, False, True), ("2026-02", 3, 2, False, True),
                    ("2026-03", None, None, True, False), ("2026-04", 3, 2, False, True),
                    ("2026-05", 3, 2, False, False)]  # May: the newest, still collecting
    got = figures(env)
    assert got["jobs_hn_months_last12_today"] == 3 and got["jobs_hn_postings_last12_today"] == 9
    assert got["jobs_hn_pt_share_last12_pct_today"] == pytest.approx(100 * 6 / 9, abs=0.01)
    con.close()
    # data/raw/jobs_hn as the source: the newest snapshot's declaration comes with it
    monkeypatch.setenv("ADOPTION_DATA_DIR", str(tmp_path / "reloaded"))
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(env.raw_dir / "jobs_hn"))
    again = cli("collect", "jobs_hn")
    assert again.rc == 0, again.err
    with duckdb.connect(str(tmp_path / "reloaded" / "adoption.duckdb"), read_only=True) as other:
        reloaded = json.loads(other.execute("SELECT parameters FROM snapshots").fetchall()[0][0])
    assert reloaded["months_declared_missing"] == DECLARED_MARCH


class CopyContext:
    """What read_declaration / check_declaration use of a CollectContext: the origin (a local
    folder) and `fail`."""

    def __init__(self, local: Path, settings) -> None:
        from pipeline.http import Origin

        self.origin = Origin("jobs_hn", str(local), settings)

    def fail(self, message: str, hint: str = "") -> SourceError:
        return SourceError("jobs_hn", message, hint)


MARCH = {"thread_id": 4321, "reason": "no public copy (test)"}


@pytest.mark.parametrize(("declaration", "needle"), [
    (json.dumps({"2026-03": MARCH, "2026-02": MARCH, "2026-04": MARCH}),
     "declares 2026-02, 2026-04 missing, but the copy holds a thread for them"),
    ('{"2026-03": ', "_missing.json is not valid JSON"),
    (b"\xff\xfe{}", "_missing.json is not valid JSON"),
    ('["2026-03"]', "expected an object of months, got list"),
    (json.dumps({"March 2026": MARCH}), "'March 2026' is not a month (YYYY-MM)"),
    (json.dumps({"2026-13": MARCH}), "'2026-13' is not a month (YYYY-MM)"),
    (json.dumps({"2026-03": "gone"}), "2026-03 is str, not an object"),
    (json.dumps({"2026-03": {"thread_id": 4321, "reason": " "}}), "2026-03 gives no 'reason'"),
    (json.dumps({"2026-03": {"thread_id": "x", "reason": "r"}}),
     "2026-03 'thread_id' is 'x', not a positive integer"),
    (json.dumps({"2026-03": {"thread_id": True, "reason": "r"}}), "'thread_id' is 'True'"),
    (json.dumps({"2026-03": {"thread_id": 2**70, "reason": "r"}}), "not a positive integer"),
    (json.dumps({"2026-03": {"title": 7, "reason": "r"}}), "'title' is int, not text"),
    (json.dumps({"2026-03": MARCH, "2026-09": MARCH, "2025-12": MARCH}),
     "declares 2025-12, 2026-09 missing, outside the months the copy holds (2026-01 to 2026-05)"),
])
def test_declaration_is_checked(env, tmp_path, declaration, needle):
    """Every malformed `_missing.json` is refused with a message naming the file and the fault
    (the fault suite runs a few of them end to end: one line, previous snapshot kept)."""
    from pipeline.sources.jobs_hn import Thread, check_declaration, read_declaration

    path = tmp_path / "_missing.json"
    path.write_bytes(declaration if isinstance(declaration, bytes) else declaration.encode())
    listing = [Thread(i, "", date(2026, m, 1), None) for i, m in enumerate((1, 2, 4, 5))]
    ctx = CopyContext(tmp_path, env)
    with pytest.raises(SourceError) as info:
        check_declaration(ctx, read_declaration(ctx), listing)
    assert str(path) in info.value.message and needle in info.value.message
    assert "_missing.json" in str(info.value)  # the hint says what the file must hold


def test_declaration_text_is_one_bounded_line(env, tmp_path):
    """A copy's text is untrusted: its reason and title are stored as one printable line."""
    from pipeline.sources.jobs_hn import MAX_TEXT, read_declaration

    (tmp_path / "_missing.json").write_text(json.dumps({"2026-03": {
        "title": "Ask HN:\n\tWho is hiring?\x1b[31m", "reason": "x" * 5000}}))
    declared = read_declaration(CopyContext(tmp_path, env)).months[date(2026, 3, 1)]
    assert declared["title"] == "Ask HN: Who is hiring? [31m"  # ESC: a space
    assert len(declared["reason"]) == MAX_TEXT and declared["thread_id"] is None
    assert read_declaration(CopyContext(tmp_path / "elsewhere", env)) is None  # none declared
