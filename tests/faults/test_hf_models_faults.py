"""Fault suite for the hf_models source, against the fake Hub on 127.0.0.1.

Each fault runs after a good snapshot exists and checks: exit status, a one-line message naming
the source and the cause, the previous snapshot still current and unchanged, no orphan rows.
The listing is 1500 models = 2 pages, so "page 2" faults hit mid-crawl, after page 1 was
checkpointed. Listing faults run in api mode; auto mode must fall back to the crawl when the
dump fails, and parquet mode must fail cleanly.
"""

from __future__ import annotations

import io
import time

import pyarrow.parquet as pq
import pytest

from tests.fakes.hf_hub import CDN_PATH, DUMP_TREE_PATH, HUB_STATS_PATH, FakeHfHub
from tests.faults import helpers
from tests.faults.helpers import assert_one_line_error, current_state

SOURCE = "hf_models"
TABLE = "raw_hf__models"
N = 1500
LISTING = r"^/api/models$"
API = ("--hf-mode", "api")


@pytest.fixture
def hub(env, monkeypatch):
    # a roomier timeout than the suite's 2 s, so a loaded machine cannot turn a truncated page
    # into a timeout; the hang test sets it back
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "10")
    with FakeHfHub(n=N, article_share=0.1) as server:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", server.url)
        yield server


@pytest.fixture
def good(cli, env, hub):
    result = cli("collect", SOURCE, *API)
    assert result.rc == 0, result.err
    return current_state(env.db_path, SOURCE)


def assert_kept(env, good):
    helpers.assert_kept(env, SOURCE, good)


def fails(cli, *needles: str, args: tuple[str, ...] = API) -> str:
    result = cli("collect", SOURCE, *args)
    assert result.rc == 1, result.err
    return assert_one_line_error(result.err, SOURCE, *needles)


# -- transport ------------------------------------------------------------------------------

def test_500_once_is_retried(cli, env, hub, good):
    hub.fault(LISTING, "500", times=1)
    result = cli("collect", SOURCE, *API, "--force")
    assert result.rc == 0, result.err
    helpers.assert_same_data(env, SOURCE, good)
    assert len(hub.requests_to(LISTING)) == 2 + 3  # good run, then 500 + retry + page 2


def test_500_forever_fails_after_bounded_retries(cli, env, hub, good):
    hub.fault(LISTING, "500", times=None)
    result = cli("refresh", "--source", SOURCE, *API)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "HTTP 500", "2 retries")
    assert_kept(env, good)
    assert len(hub.requests_to(LISTING)) == 2 + 3
    assert (env.charts_dir / "hf_framework_share.png").is_file()  # charts from the good data
    assert "last attempt failed" in cli("status").out


def test_500_forever_on_page_2_mid_crawl(cli, env, hub, good):
    hub.fault_from_request(4, LISTING, "500", times=None)  # good run took requests 1-2
    fails(cli, "HTTP 500", "after 1000 models")
    assert_kept(env, good)


def test_429_waits_for_retry_after_then_continues(cli, env, hub, good):
    hub.fault_from_request(4, LISTING, "429", times=1, retry_after=1)
    started = time.monotonic()
    result = cli("collect", SOURCE, *API)
    assert result.rc == 0, result.err
    assert time.monotonic() - started >= 1.0
    helpers.assert_same_data(env, SOURCE, good, new=False)


def test_429_with_too_long_retry_after_fails_at_once(cli, env, hub, good):
    hub.fault(LISTING, "429", times=None, retry_after=600)
    started = time.monotonic()
    fails(cli, "rate-limited", "Retry-After 600s")
    assert time.monotonic() - started < 5
    assert_kept(env, good)


def test_429_forever_gives_up(cli, env, hub, good):
    hub.fault(LISTING, "429", times=None, retry_after=1)
    started = time.monotonic()
    fails(cli, "HTTP 429", "retries")
    assert time.monotonic() - started < 15
    assert_kept(env, good)


def test_hanging_response_times_out(cli, env, hub, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "2")
    hub.fault(LISTING, "hang", times=None, seconds=3)
    started = time.monotonic()
    fails(cli, "read timed out", "ADOPTION_HF_MODELS_URL")
    assert time.monotonic() - started < 20
    assert_kept(env, good)


def test_truncated_page(cli, env, hub, good):
    hub.fault_from_request(4, LISTING, "truncate", times=None)
    fails(cli, "truncated", "after 1000 models")
    assert_kept(env, good)


def test_connection_drop_mid_crawl(cli, env, hub, good):
    hub.fault_from_request(4, LISTING, "drop", times=None)
    fails(cli, "connection dropped", "after 1000 models", "1 pages are saved")
    assert_kept(env, good)


def test_one_connection_drop_is_survived(cli, env, hub, good):
    hub.fault_from_request(4, LISTING, "drop", times=1)
    result = cli("collect", SOURCE, *API)
    assert result.rc == 0, result.err
    helpers.assert_same_data(env, SOURCE, good, new=False)


def test_malformed_json_page(cli, env, hub, good):
    hub.fault_from_request(4, LISTING, "malformed", times=None)
    fails(cli, "malformed JSON", "after 1000 models")
    assert_kept(env, good)


def test_404_listing(cli, env, hub, good):
    hub.fault(LISTING, "404", times=None)
    fails(cli, "HTTP 404")
    assert_kept(env, good)


def test_connection_refused(cli, env, good, monkeypatch):
    helpers.expect_connection_refused(cli, env, monkeypatch, SOURCE, good)


# -- schema drift -----------------------------------------------------------------------------

def drift(hub, change) -> None:
    hub.mutate = change


def test_missing_required_field_on_page_2(cli, env, hub, good):
    def lose_tags(i, m):
        if i == 1200:
            m.pop("tags")
        return m

    drift(hub, lose_tags)
    line = fails(cli, "model #1201", "no 'tags' field", "model-1200")
    assert "schema drift" in line
    assert_kept(env, good)


def test_renamed_field(cli, env, hub, good):
    def rename(i, m):
        m["createdAtUtc"] = m.pop("createdAt")
        return m

    drift(hub, rename)
    fails(cli, "no 'createdAt' field")
    assert_kept(env, good)


def test_missing_id(cli, env, hub, good):
    def lose_id(i, m):
        if i == 10:
            m.pop("id")
        return m

    drift(hub, lose_id)
    fails(cli, "no 'id' field")
    assert_kept(env, good)


def test_unexpected_type(cli, env, hub, good):
    def text_downloads(i, m):
        if i == 7:
            m["downloads"] = "lots"
        return m

    drift(hub, text_downloads)
    fails(cli, "unexpected type", "'downloads'")
    assert_kept(env, good)


def test_unparseable_date(cli, env, hub, good):
    def bad_date(i, m):
        if i == 3:
            m["createdAt"] = "yesterday"
        return m

    drift(hub, bad_date)
    fails(cli, "unparseable value")
    assert_kept(env, good)


def test_new_unknown_field_is_accepted(cli, env, hub, good):
    def add(i, m):
        m["carbonFootprint"] = {"grams": i}
        return m

    drift(hub, add)
    result = cli("collect", SOURCE, *API)
    assert result.rc == 0, result.err
    helpers.assert_same_data(env, SOURCE, good, new=False)  # the unknown field is not stored


# -- empty, drop ------------------------------------------------------------------------------

def test_empty_listing_is_refused(cli, env, hub, good):
    hub.n = 0
    fails(cli, "suspicious", "0 rows")
    assert_kept(env, good)


def test_suspicious_drop_held_back_until_accepted(cli, env, hub, good):
    hub.n = 600
    helpers.expect_drop_held_back(cli, env, SOURCE, good, rows=600)


# -- parquet mode -----------------------------------------------------------------------------

PARQUET = ("--hf-mode", "parquet")


RESOLVE = r"/datasets/cfahlgren1/hub-stats/resolve/"


def test_parquet_truncated_download(cli, env, hub, good):
    hub.cdn.fault(CDN_PATH, "truncate", times=None)
    fails(cli, "truncated", args=PARQUET)
    assert_kept(env, good)


@pytest.mark.parametrize("kind, says", [("malformed", "where the listing says"),
                                         ("corrupt", "differs from the listing's")])
def test_parquet_not_the_listed_file(cli, env, hub, good, kind, says):
    """A CDN answer that is not the file the Hub listed (its X-Linked-Size, its LFS sha256):
    refused before DuckDB reads it."""
    hub.cdn.fault(CDN_PATH, kind, times=None)
    fails(cli, says, args=PARQUET)
    assert_kept(env, good)


def test_a_failing_cdn_is_named_without_its_signature(cli, env, hub, good):
    """The CDN's signed URL is shown with its signature and key id blanked out."""
    hub.cdn.fault(CDN_PATH, "500", times=None)
    line = fails(cli, "HTTP 500", CDN_PATH, "Signature=***", args=PARQUET)
    assert "fake-signature" not in line and "Key-Pair-Id=***" in line
    assert_kept(env, good)


def test_a_redirect_from_https_to_http_is_refused(cli, env, monkeypatch):
    """The Hub over HTTPS redirecting the dump to a plain-HTTP host: nothing is downloaded."""
    from tests.fakes.base import FakeCdn

    hub = FakeHfHub(n=N, article_share=0.1, tls=True)
    hub.cdn = FakeCdn()  # plain HTTP
    with hub:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        fails(cli, "refusing the redirect", "not https", args=PARQUET)
        assert not hub.cdn.requests


def test_parquet_malformed_local_copy(cli, env, hub, good, tmp_path, monkeypatch):
    path = tmp_path / "copy" / HUB_STATS_PATH.lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1" + hub.parquet_bytes()[100:2000])
    monkeypatch.setenv("ADOPTION_HF_MODELS_URL", str(tmp_path / "copy"))
    fails(cli, "malformed parquet", args=PARQUET)
    assert_kept(env, good)


def test_parquet_local_folder_without_the_dump(cli, env, hub, good, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("ADOPTION_HF_MODELS_URL", str(tmp_path / "empty"))
    fails(cli, "file not found", "models.parquet", args=PARQUET)
    assert_kept(env, good)


def test_parquet_500_forever(cli, env, hub, good):
    hub.fault(RESOLVE, "500", times=None)
    fails(cli, "500", "retries", args=PARQUET)
    assert_kept(env, good)


def test_parquet_missing_column(cli, env, hub, good, tmp_path, monkeypatch):
    table = pq.read_table(io.BytesIO(hub.parquet_bytes())).drop_columns(["tags"])
    path = tmp_path / "copy" / HUB_STATS_PATH.lstrip("/")
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    monkeypatch.setenv("ADOPTION_HF_MODELS_URL", str(tmp_path / "copy"))
    fails(cli, "no column 'tags'", "hub-stats", args=PARQUET)
    assert_kept(env, good)


def test_parquet_unexpected_type(cli, env, hub, good, tmp_path, monkeypatch):
    import pyarrow as pa

    table = pq.read_table(io.BytesIO(hub.parquet_bytes()))
    index = table.schema.get_field_index("downloads")
    table = table.set_column(index, "downloads",
                             pa.array(["many"] * table.num_rows, pa.string()))
    path = tmp_path / "copy" / HUB_STATS_PATH.lstrip("/")
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    monkeypatch.setenv("ADOPTION_HF_MODELS_URL", str(tmp_path / "copy"))
    fails(cli, "cannot read models.parquet", args=PARQUET)
    assert_kept(env, good)


# -- auto mode: a failing dump falls back to the crawl; an unreachable Hub fails once -----------

@pytest.mark.parametrize("cdn, path, kind, says", [
    (False, DUMP_TREE_PATH, "500", "HTTP 500"),
    (False, DUMP_TREE_PATH, "malformed", "malformed JSON"),
    (True, CDN_PATH, "truncate", "truncated"),
    (True, CDN_PATH, "corrupt", "differs from the listing's"),
])
def test_auto_falls_back_to_the_crawl_when_the_dump_fails(cli, env, hub, good, cdn, path, kind,
                                                          says):
    (hub.cdn if cdn else hub).fault(path, kind, times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    assert "Traceback" not in result.err and not helpers.error_lines(result.err)
    fallback = [line for line in result.err.splitlines() if "instead" in line]
    assert len(fallback) == 1 and says in fallback[0]
    helpers.assert_same_data(env, SOURCE, good, new=False)
    assert helpers.orphan_rows(env.db_path, TABLE) == 0


def test_auto_does_not_retry_an_unreachable_hub_twice(cli, env, hub, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_HTTP_TIMEOUT", "2")
    hub.fault(DUMP_TREE_PATH, "hang", times=None, seconds=3)
    hub.fault(LISTING, "hang", times=None, seconds=3)
    fails(cli, "read timed out", "ADOPTION_HF_MODELS_URL", args=())
    assert not hub.requests_to(LISTING)[2:]  # after the good run: no crawl was tried
    assert_kept(env, good)
