"""Fault suite for the job sources (jobs_hn against the fake Algolia API, jobs_boards' file,
jobs_adzuna against the fake Adzuna API).

Each fault runs after a good snapshot exists and checks: exit status, a one-line message naming
the source and the cause, the previous snapshot still current and unchanged (id, row count,
sha256), and no rows of a failed attempt visible.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from pipeline.store import connect
from tests.fakes.adzuna import AdzunaServer
from tests.fakes.algolia import AlgoliaServer, comment, hand_threads, story
from tests.faults import helpers
from tests.faults.helpers import assert_one_line_error, current_state, orphan_rows

SOURCE = "jobs_hn"
TABLES = ("raw_jobs_hn__threads", "raw_jobs_hn__postings")
LISTING = r"/search_by_date$"


def open_thread() -> dict:
    """A newest (still open) month, refetched whenever its comment count changes."""
    return story("Ask HN: Who is hiring? (January 2022)",
                 [comment(f"Co{i} | PyTorch engineer") for i in range(6)])


@pytest.fixture
def server(env, monkeypatch):
    with AlgoliaServer(threads=[*hand_threads(), open_thread()]) as fake:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", fake.base_url)
        yield fake


def postings_digest(env) -> str:
    con = connect(env.db_path, read_only=True)
    try:
        rows = con.execute("SELECT comment_id, text FROM raw_jobs_hn__postings "
                           "WHERE snapshot_id = current_snapshot('jobs_hn') "
                           "ORDER BY comment_id").fetchall()
    finally:
        con.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture
def good(cli, env, server):
    """A first, good snapshot; returns its state and a digest of its rows."""
    assert cli("collect", SOURCE).rc == 0
    return current_state(env.db_path, SOURCE), postings_digest(env)


def assert_kept(env, good):
    state, digest = good
    helpers.assert_kept(env, SOURCE, state)
    assert postings_digest(env) == digest


def january(server) -> int:
    return server.thread_id("January 2022")


def grow_open_month(server) -> None:
    """Make the next refresh fetch the open thread again (its comment count changed)."""
    server.add_comment(january(server), "Newco | TensorFlow")


def test_500_once_is_retried(cli, env, server, good):
    server.fault(LISTING, "500", times=1)
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert len(server.requests_to(LISTING)) == 3  # good run + 500 + retry


def test_500_forever_on_a_thread_fails_cleanly(cli, env, server, good):
    grow_open_month(server)
    server.fault(rf"/items/{january(server)}$", "500", times=None)
    result = cli("refresh", "--source", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "500", "retries")
    assert_kept(env, good)
    assert len(server.requests_to(rf"/items/{january(server)}$")) == 1 + 3  # retries bounded
    assert (env.charts_dir / "jobs_hn_trend.png").is_file()  # charts still drawn


def test_429_waits_for_retry_after(cli, env, server, good):
    helpers.expect_wait_for_retry_after(cli, server, LISTING, SOURCE)


def test_429_forever_gives_up(cli, env, server, good):
    state, digest = good
    helpers.expect_429_forever_fails(cli, env, server, LISTING, SOURCE, state)
    assert postings_digest(env) == digest


def test_hanging_thread_times_out(cli, env, server, good):
    grow_open_month(server)
    server.fault(rf"/items/{january(server)}$", "hang", times=None, seconds=4)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "timed out", "ADOPTION_JOBS_HN_URL")
    assert_kept(env, good)


def test_truncated_listing(cli, env, server, good):
    server.fault(LISTING, "truncate", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "truncated")
    assert_kept(env, good)


def test_malformed_thread_json(cli, env, server, good):
    grow_open_month(server)
    server.fault(rf"/items/{january(server)}$", "malformed", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "malformed JSON", f"items/{january(server)}")
    assert_kept(env, good)


def test_malformed_listing_json(cli, env, server, good):
    server.fault(LISTING, "malformed", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "malformed JSON", "search_by_date")
    assert_kept(env, good)


def test_thread_404_keeps_its_stored_rows_and_other_months(cli, env, server, good):
    grow_open_month(server)
    server.fault(rf"/items/{january(server)}$", "404", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert "not found upstream (404); keeping its stored rows" in result.err
    assert "jobs_hn: unchanged" in result.err  # nothing else changed: no new snapshot
    assert postings_digest(env) == good[1]  # January's stored version stands: nothing lost
    assert current_state(env.db_path, SOURCE) == good[0]


def test_thread_404_on_first_run_skips_only_that_month(cli, env, server):
    server.fault(rf"/items/{january(server)}$", "404", times=1)
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert "retried on the next refresh" in result.err
    con = connect(env.db_path, read_only=True)
    months = [r[0] for r in con.execute("SELECT strftime(month, '%Y-%m') FROM "
                                        "raw_jobs_hn__threads ORDER BY 1").fetchall()]
    con.close()
    assert months == ["2021-11", "2021-12"]
    assert cli("collect", SOURCE).rc == 0  # the next refresh fetches the missing month
    assert len(server.requests_to(rf"/items/{january(server)}$")) == 2


def drift_item(server, thread_id: int, change) -> None:
    """Edit a served thread and bump its comment count so the next refresh refetches it."""
    item = server.item(thread_id)
    change(item)
    if isinstance(item.get("children"), list):
        item["children"].append(comment("Late | forces a refetch"))
    server.items[thread_id] = json.dumps(item).encode()
    server.hits[thread_id]["num_comments"] += 1


def test_schema_drift_missing_children(cli, env, server, good):
    drift_item(server, january(server), lambda item: item.pop("children"))
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, f"thread {january(server)} (January 2022)",
                          "children")
    assert_kept(env, good)


def test_schema_drift_renamed_listing_field(cli, env, server, good):
    server.hits[january(server)]["id"] = server.hits[january(server)].pop("objectID")
    server.hits[january(server)].pop("story_id")
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "objectID", "January 2022")
    assert_kept(env, good)


def test_schema_drift_unexpected_type(cli, env, server, good):
    def stringify(item):
        item["children"][2]["id"] = str(item["children"][2]["id"])

    drift_item(server, january(server), stringify)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "child #2", "integer 'id'")
    assert_kept(env, good)


def test_schema_drift_new_field_is_accepted(cli, env, server, good):
    def add(item):
        for child in item["children"]:
            child["sentiment"] = 0.5

    drift_item(server, january(server), add)
    server.hits[january(server)]["_rankingInfo"] = {"nbTypos": 0}
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert current_state(env.db_path, SOURCE)[2] != good[0][2]  # new payload, new checksum


def test_listing_without_hiring_threads_is_refused(cli, env, good, monkeypatch):
    with AlgoliaServer(threads=[]) as other:  # only "Who wants to be hired?" and "Freelancer?"
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", other.base_url)
        result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "no 'Ask HN: Who is hiring?' threads")
    assert_kept(env, good)


def test_empty_result_is_refused(cli, env, monkeypatch):
    empty = story("Ask HN: Who is hiring? (May 2026)", [comment(None, None), comment(None)])
    with AlgoliaServer(threads=[empty]) as other:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", other.base_url)
        result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "suspicious", "0 rows")
    assert current_state(env.db_path, SOURCE) is None
    for table in TABLES:
        assert orphan_rows(env.db_path, table) == 0


def test_suspicious_drop_held_back_until_accepted(cli, env, monkeypatch):
    with AlgoliaServer(threads=[open_thread()], others=False) as fake:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", fake.base_url)
        assert cli("collect", SOURCE).rc == 0
        good = current_state(env.db_path, SOURCE)
        assert good[1] == 6

        def moderate(item):  # a mass deletion leaves 1 of the open month's 6 postings
            for child in item["children"][1:]:
                child["text"] = child["author"] = None

        drift_item(fake, january(fake), moderate)  # + 1 late posting: 2 of 6
        helpers.expect_drop_held_back(cli, env, SOURCE, good, rows=2)


def test_connection_refused(cli, env, good, monkeypatch):
    state, digest = good
    helpers.expect_connection_refused(cli, env, monkeypatch, SOURCE, state, "/api/v1")
    assert postings_digest(env) == digest


# -- jobs_hn: a local copy's declared gaps (small generated copies) -----------------------

@pytest.fixture
def local_copy(env, tmp_path, monkeypatch):
    """A copy of Jan-May 2026 without March, which its `_missing.json` declares; collected
    once (the good snapshot every fault must leave current)."""
    from tests.test_jobs import DECLARED_MARCH, write_copy

    folder = write_copy(tmp_path / "copy", ["2026-01", "2026-02", "2026-04", "2026-05"],
                        DECLARED_MARCH)
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(folder))
    return folder


@pytest.fixture
def good_copy(cli, env, local_copy):
    assert cli("collect", SOURCE).rc == 0
    return current_state(env.db_path, SOURCE), postings_digest(env)


MARCH = {"thread_id": 4321, "reason": "no public copy (test)"}


@pytest.mark.parametrize(("declaration", "needles"), [
    (json.dumps({"2026-03": MARCH, "2026-02": MARCH}),
     ("declares 2026-02 missing, but the copy holds a thread for it", "remove that month")),
    ('{"2026-03": {"reason": "cut', ("_missing.json is not valid JSON", "YYYY-MM")),
    (json.dumps({"2026-03": {"thread_id": 4321}}), ("2026-03 gives no 'reason'",)),
])  # every other malformed declaration: tests/test_jobs.py::test_declaration_is_checked
def test_bad_declaration_is_one_line(cli, env, local_copy, good_copy, declaration, needles):
    path = local_copy / "_missing.json"
    path.write_text(declaration)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, str(path), *needles)
    assert_kept(env, good_copy)


def test_unreadable_declaration_is_one_line(cli, env, local_copy, good_copy):
    path = local_copy / "_missing.json"
    path.unlink()
    path.mkdir()  # there, but not a file that can be read
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, f"cannot read {path}", "fix or remove "
                          "_missing.json")
    assert_kept(env, good_copy)
    path.rmdir()
    path.symlink_to(local_copy / "nowhere.json")  # a dangling link
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, f"cannot read {path}", "file not found")
    assert_kept(env, good_copy)


def test_undeclared_gap_in_a_copy_is_one_line(cli, env, local_copy, good_copy):
    (local_copy / "_missing.json").unlink()
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "incomplete: no thread for 2026-03 between "
                          "2026-01 and 2026-05", "declare the months it lacks in _missing.json")
    assert_kept(env, good_copy)


def test_online_no_month_may_be_missing(cli, env, monkeypatch):
    """Algolia holds every thread: a gap in its listing fails, naming the month (there is no
    declaration online)."""
    november, december = hand_threads()[1], hand_threads()[0]
    assert "December 2021" in december["title"]
    january = open_thread()
    with AlgoliaServer(threads=[november, january]) as fake:
        monkeypatch.setenv("ADOPTION_JOBS_HN_URL", fake.base_url)
        result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "incomplete: no thread for 2021-12 between "
                          "2021-11 and 2022-01", "check the upstream")
    assert current_state(env.db_path, SOURCE) is None
    for table in TABLES:
        assert orphan_rows(env.db_path, table) == 0


# -- jobs_boards: the file is the upstream -----------------------------------------------

BOARD_HEADER = "date,board,region,query,framework,count,url,note\n"
BOARD_ROW = "2026-11-01,LinkedIn,United States,pytorch,pytorch,{n},https://www.linkedin.com/s,\n"


@pytest.fixture
def board_file(env, tmp_path, monkeypatch):
    path = tmp_path / "manual" / "job_board_counts.csv"
    path.parent.mkdir()
    path.write_text(BOARD_HEADER + BOARD_ROW.format(n=10))
    monkeypatch.setenv("ADOPTION_JOBS_BOARDS_URL", str(path.parent))
    return path


def test_board_file_bad_row_keeps_previous_snapshot(cli, env, board_file):
    assert cli("collect", "jobs_boards").rc == 0
    before = current_state(env.db_path, "jobs_boards")
    board_file.write_text(BOARD_HEADER + BOARD_ROW.format(n=10) + BOARD_ROW.format(n="ten")
                          .replace("pytorch,pytorch", "tensorflow,tensorflow"))
    result = cli("collect", "jobs_boards")
    assert result.rc == 1
    assert_one_line_error(result.err, "jobs_boards", "job_board_counts.csv line 3",
                          "field count", "nothing from the file is loaded")
    assert current_state(env.db_path, "jobs_boards") == before
    assert orphan_rows(env.db_path, "raw_jobs_boards__counts") == 0


def test_board_file_missing(cli, env, board_file):
    board_file.unlink()
    result = cli("collect", "jobs_boards")
    assert result.rc == 1
    assert_one_line_error(result.err, "jobs_boards", "job_board_counts.csv not found")


# -- jobs_adzuna -------------------------------------------------------------------------

@pytest.fixture
def adzuna(env, monkeypatch):
    with AdzunaServer("fault-id", "fault-secret-key") as fake:
        monkeypatch.setenv("ADOPTION_JOBS_ADZUNA_URL", fake.base_url)
        monkeypatch.setenv("ADZUNA_APP_ID", "fault-id")
        monkeypatch.setenv("ADZUNA_APP_KEY", "fault-secret-key")
        yield fake


def test_adzuna_500_forever_keeps_previous_and_hides_key(cli, env, adzuna):
    assert cli("collect", "jobs_adzuna").rc == 0
    before = current_state(env.db_path, "jobs_adzuna")
    adzuna.fault(r"/jobs/us/search/1$", "500", times=None)
    result = cli("collect", "jobs_adzuna")
    assert result.rc == 1
    line = assert_one_line_error(result.err, "jobs_adzuna", "500", "retries")
    assert "fault-secret-key" not in result.err and "app_key=***" in line
    assert current_state(env.db_path, "jobs_adzuna") == before
    assert orphan_rows(env.db_path, "raw_jobs_adzuna__counts") == 0


def test_adzuna_schema_drift(cli, env, adzuna, monkeypatch):
    adzuna.counts = {}
    original = adzuna.route

    def no_count(request):
        reply = original(request)
        body = json.loads(reply.body)
        body["total"] = body.pop("count")
        reply.body = json.dumps(body).encode()
        return reply

    monkeypatch.setattr(adzuna, "route", no_count)
    result = cli("collect", "jobs_adzuna")
    assert result.rc == 1
    assert_one_line_error(result.err, "jobs_adzuna", "'count'")
    assert "fault-secret-key" not in result.err
