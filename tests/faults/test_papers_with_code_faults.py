"""Fault suite for the papers_with_code source, against the fake Hub on 127.0.0.1.

Each fault runs after a good snapshot exists and checks: exit status, a one-line message naming
the source and the cause, the previous snapshot still current and unchanged, no partial rows.
Download faults first change the upstream links file, because unchanged files are reused from
the previous snapshot and never fetched again.
"""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from tests.fakes import pwc
from tests.faults import helpers
from tests.faults.helpers import assert_one_line_error, current_state

SOURCE = "papers_with_code"
TABLES = ("raw_papers_with_code__links", "raw_papers_with_code__papers")
LINKS_KEY = (pwc.LINKS_REPO, pwc.LINKS_FILE)
TREE = r"/api/datasets/pwc-archive/links-between-paper-and-code/tree/"
RESOLVE = r"/resolve/main/data/train-00000-of-00001\.parquet$"
CDN = r"^/repos/"  # the file's bytes come from the CDN the resolve URL redirects to


@pytest.fixture
def hub(env, monkeypatch):
    with pwc.FakeHub() as server:
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", server.url)
        yield server


@pytest.fixture
def good(cli, env, hub):
    """A first, good snapshot; returns its state."""
    assert cli("collect", SOURCE).rc == 0
    return current_state(env.db_path, SOURCE)


def assert_kept(env, good):
    helpers.assert_kept(env, SOURCE, good)


def change_links(hub, links: pa.Table | None = None) -> None:
    """Upstream publishes a new links file (so the next run must download it)."""
    if links is None:
        links = pwc.links_table(pwc.LINKS + [("p9-last", "https://github.com/r/new", "jax",
                                              True)])
    hub.files[LINKS_KEY] = pwc.parquet_bytes(links)


def test_500_once_is_retried(cli, env, hub, good):
    hub.fault(TREE, "500", times=1)
    result = cli("collect", SOURCE, "--force")
    assert result.rc == 0, result.err
    helpers.assert_same_data(env, SOURCE, good)
    assert len(hub.requests_to(TREE)) == 3  # good run + 500 + retry


def test_500_forever_fails_cleanly_after_bounded_retries(cli, env, hub, good):
    change_links(hub)
    hub.fault(RESOLVE, "500", times=None)
    result = cli("refresh", "--source", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "500", "retries")
    assert_kept(env, good)
    assert len(hub.requests_to(RESOLVE)) == 1 + 3  # retries bounded
    assert (env.charts_dir / "pwc_quarterly_share.png").is_file()  # drawn from the last good
    assert "last attempt failed" in cli("status").out


def test_429_waits_for_retry_after(cli, env, hub, good):
    helpers.expect_wait_for_retry_after(cli, hub, TREE, SOURCE, env, good)


def test_429_forever_gives_up(cli, env, hub, good):
    helpers.expect_429_forever_fails(cli, env, hub, TREE, SOURCE, good)


def test_hanging_download_times_out(cli, env, hub, good):
    change_links(hub)
    hub.cdn.fault(CDN, "hang", times=None, seconds=4)
    started = time.monotonic()
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "timed out", "ADOPTION_PAPERS_WITH_CODE_URL")
    assert time.monotonic() - started < 30
    assert_kept(env, good)


def test_truncated_download(cli, env, hub, good):
    change_links(hub)
    hub.cdn.fault(CDN, "truncate", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "truncated")
    assert_kept(env, good)


@pytest.mark.parametrize("where", ["the CDN's bytes", "the listing's sha256"])
def test_a_download_that_is_not_the_listed_file_is_refused(cli, env, hub, good, where):
    """Other bytes than the listing's sha256: the CDN corrupts the file (same size), or the
    listing states the sha256 of other bytes."""
    change_links(hub)
    if where == "the CDN's bytes":
        hub.cdn.fault(CDN, "corrupt", times=None)
    else:
        listed = hub.entry

        def corrupted(repo, path):
            entry = listed(repo, path)
            if entry.get("lfs") and path == pwc.LINKS_FILE:
                entry["lfs"]["oid"] = "0" * 64
            return entry

        hub.entry = corrupted
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "train-00000-of-00001.parquet",
                          "differs from the listing")
    assert_kept(env, good)


def test_malformed_tree_listing(cli, env, hub, good):
    hub.fault(TREE, "malformed", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "malformed JSON")
    assert_kept(env, good)


def test_corrupt_parquet_upstream(cli, env, hub, good):
    content = hub.files[LINKS_KEY]
    hub.files[LINKS_KEY] = content[:len(content) // 2] + b"garbage"  # listing agrees
    result = cli("refresh", "--source", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "train-00000-of-00001.parquet",
                          "not a readable parquet file")
    assert_kept(env, good)


def test_dataset_not_found(cli, env, hub, good):
    hub.fault(TREE, "404", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "404")
    assert_kept(env, good)


def test_no_parquet_files_listed(cli, env, hub, good):
    del hub.files[LINKS_KEY]
    hub.files[(pwc.LINKS_REPO, "data/README.md")] = b"moved"
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "no parquet files")
    assert_kept(env, good)


def test_schema_drift_missing_field(cli, env, hub, good):
    change_links(hub, pwc.links_table().drop_columns(["repo_url"]))
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "train-00000-of-00001.parquet", "'repo_url'")
    assert_kept(env, good)


def test_schema_drift_renamed_field(cli, env, hub, good):
    links = pwc.links_table()
    names = ["frameworks" if n == "framework" else n for n in links.column_names]
    change_links(hub, links.rename_columns(names))
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "no column 'framework'", "schema changed")
    assert_kept(env, good)


def test_schema_drift_unexpected_type(cli, env, hub, good):
    links = pwc.links_table()
    index = links.column_names.index("is_official")
    as_text = pa.array(["yes" if v else "no" for v in links["is_official"].to_pylist()])
    change_links(hub, links.set_column(index, "is_official", as_text))
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "'is_official' has type VARCHAR", "BOOLEAN")
    assert_kept(env, good)


def test_schema_drift_new_field_is_accepted(cli, env, hub, good):
    links = pwc.links_table()
    change_links(hub, links.append_column("stars", pa.array([1] * links.num_rows)))
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    state = current_state(env.db_path, SOURCE)
    assert state[0] != good[0] and state[1] == good[1] and state[2] != good[2]
    assert state[3] == good[3]  # the new field is not stored: the same rows read back


def test_empty_result_is_refused(cli, env, hub, good):
    change_links(hub, pwc.links_table([]))
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "suspicious", "0 rows")
    assert_kept(env, good)


def test_suspicious_drop_held_back_until_accepted(cli, env, hub, good):
    change_links(hub, pwc.links_table(pwc.LINKS[:5]))
    helpers.expect_drop_held_back(cli, env, SOURCE, good, rows=5)


def test_connection_refused(cli, env, good, monkeypatch):
    helpers.expect_connection_refused(cli, env, monkeypatch, SOURCE, good, "")


def test_schema_drift_date_format_changed(cli, env, hub, good):
    papers = [(slug, a, f"{d[8:10]}/{d[5:7]}/{d[:4]}" if d else d, p)
              for slug, a, d, p in pwc.PAPERS]
    hub.files = pwc.fixture_files(papers=pwc.papers_table(papers))
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "12 of 12 paper dates cannot be parsed", "15/07/2021")
    assert_kept(env, good)
