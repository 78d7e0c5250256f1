"""Fault suite for the conferences source, against the fake raw-file host on 127.0.0.1.

Each fault runs after a good snapshot exists and checks: exit status, a one-line message naming
the source and the cause, the previous snapshot still current and unchanged, no partial rows.
"""

from __future__ import annotations

import csv
import json
import shutil
import time

import pytest

from tests.faults import helpers
from tests.faults.helpers import assert_one_line_error, current_state

SOURCE = "conferences"
TABLES = ("raw_conferences__meetings", "raw_conferences__papers")


@pytest.fixture
def good(cli, env, conference_server):
    """A first, good snapshot; returns its state."""
    assert cli("collect", SOURCE).rc == 0
    return current_state(env.db_path, SOURCE)


def assert_kept(env, good):
    helpers.assert_kept(env, SOURCE, good)


def test_500_once_is_retried(cli, env, conference_server, good):
    conference_server.fault(r"/data\.csv$", "500", times=1)
    result = cli("collect", SOURCE, "--force")
    assert result.rc == 0, result.err
    helpers.assert_same_data(env, SOURCE, good)
    assert len(conference_server.requests_to(r"/data\.csv$")) == 3  # good run + 500 + retry


def test_500_forever_fails_cleanly_after_bounded_retries(cli, env, conference_server, good):
    conference_server.fault(r"/data\.csv$", "500", times=None)
    result = cli("refresh", "--source", "conferences")
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "500", "retries")
    assert_kept(env, good)
    assert len(conference_server.requests_to(r"/data\.csv$")) == 1 + 3  # retries bounded
    assert (env.charts_dir / "research_share.png").is_file()  # charts still drawn
    status = cli("status").out
    assert "last attempt failed" in status and "500" in status


def test_429_waits_for_retry_after(cli, env, conference_server, good):
    helpers.expect_wait_for_retry_after(cli, conference_server, r"/data\.csv$", SOURCE, env,
                                        good)


def test_429_forever_gives_up(cli, env, conference_server, good):
    helpers.expect_429_forever_fails(cli, env, conference_server, r"/data\.csv$", SOURCE, good)


def test_hanging_response_times_out(cli, env, conference_server, good):
    conference_server.fault(r"/data/icml_2018\.json$", "hang", times=None, seconds=4)
    started = time.monotonic()
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "timed out", "ADOPTION_CONFERENCES_URL")
    assert time.monotonic() - started < 30
    assert_kept(env, good)


def test_truncated_body(cli, env, conference_server, good):
    conference_server.fault(r"/data/cvpr_2018\.json$", "truncate", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "truncated")
    assert_kept(env, good)


def test_malformed_download_of_pinned_data_is_caught_by_its_checksum(cli, env,
                                                                     conference_server, good):
    conference_server.fault(r"/data/iclr_2019\.json$", "malformed", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    # pinned data: a damaged payload is caught by the manifest checksum before parsing
    assert_one_line_error(result.err, SOURCE, "iclr_2019.json", "differs from the pinned")
    assert_kept(env, good)


def test_missing_file_404(cli, env, conference_server, good):
    conference_server.fault(r"/data\.csv$", "404", times=None)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "404")
    assert_kept(env, good)


def scratch_copy(conference_mirror, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(conference_mirror, copy)
    for path in copy.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(copy))
    return copy


@pytest.fixture
def pinned_copy(conference_mirror, tmp_path, monkeypatch):
    """A scratch copy of the mirror (in tmp, never the repo): the pinned commit's data."""
    return scratch_copy(conference_mirror, tmp_path, monkeypatch)


@pytest.fixture
def editable_copy(conference_mirror, tmp_path, monkeypatch):
    """A scratch copy of another version of the data (its data.csv differs from the pinned
    one by a blank line), to drift the schema of: read by globbing, parsed strictly."""
    copy = scratch_copy(conference_mirror, tmp_path, monkeypatch)
    (copy / "data.csv").write_text((copy / "data.csv").read_text() + "\n")
    return copy


def figures(env) -> dict[str, str]:
    with (env.results_dir / "figures.csv").open() as fh:
        return {row["figure_id"]: row["value"] for row in csv.DictReader(fh)}


def test_missing_paper_file_in_a_pinned_copy_changes_no_figure(cli, env, conference_server,
                                                                pinned_copy):
    """Deleting one per-paper file from a copy of the pinned data fails the collection naming
    the file; the previous snapshot and every promoted figure stay as they were."""
    assert cli("refresh", "--source", "conferences").rc == 0
    good, before = current_state(env.db_path, SOURCE), figures(env)
    (pinned_copy / "data" / "iclr_2019.json").unlink()
    result = cli("refresh", "--source", "conferences")
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "incomplete", "data/iclr_2019.json")
    assert_kept(env, good)
    assert figures(env) == before


def test_damaged_file_in_a_pinned_copy_is_refused(cli, env, good, pinned_copy):
    path = pinned_copy / "data" / "cvpr_2018.json"
    path.write_bytes(path.read_bytes()[:-100])
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "data/cvpr_2018.json", "differs from the pinned")
    assert_kept(env, good)


def edit_papers(path, change):
    papers = json.loads(path.read_text())
    change(papers)
    path.write_text(json.dumps(papers))


def test_malformed_json_in_an_unpinned_copy_reaches_the_parser_and_fails(cli, env, good,
                                                                         editable_copy):
    """Another version of the data (no checksum to catch it): the parser itself must refuse a
    broken file, never read it as a meeting without papers."""
    path = editable_copy / "data" / "iclr_2019.json"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # cut mid-JSON
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "malformed JSON", "iclr_2019.json")
    assert_kept(env, good)


def test_schema_drift_missing_field(cli, env, good, editable_copy):
    edit_papers(editable_copy / "data/icml_2019.json", lambda ps: ps[3].pop("authors"))
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "icml_2019.json", "paper #3", "authors")
    assert_kept(env, good)


def test_schema_drift_renamed_field(cli, env, good, editable_copy):
    def rename(papers):
        for p in papers:
            p["meta"] = p.pop("metadata")

    edit_papers(editable_copy / "data/acl_2018.json", rename)
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "acl_2018.json", "metadata")
    assert_kept(env, good)


def test_schema_drift_unexpected_type(cli, env, good, editable_copy):
    csv_path = editable_copy / "data.csv"
    lines = csv_path.read_text().splitlines()
    lines[4] = lines[4].replace(",74,", ",seventy-four,")
    csv_path.write_text("\n".join(lines) + "\n")
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "data.csv line 5", "not integers")
    assert_kept(env, good)


def test_schema_drift_new_field_is_accepted(cli, env, good, editable_copy):
    def add(papers):
        for p in papers:
            p["openreview_id"] = "xyz"

    edit_papers(editable_copy / "data/iclr_2020.json", add)
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    state = current_state(env.db_path, SOURCE)
    assert state[2] != good[2]  # new payload, new checksum
    assert state[3] == good[3]  # the new field is not stored: the same rows read back


def test_empty_result_is_refused(cli, env, good, editable_copy):
    (editable_copy / "data.csv").write_text("")
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "suspicious", "0 rows")
    assert_kept(env, good)


def test_suspicious_drop_held_back_until_accepted(cli, env, good, editable_copy):
    csv_path = editable_copy / "data.csv"
    csv_path.write_text("\n".join(csv_path.read_text().splitlines()[:10]) + "\n")
    helpers.expect_drop_held_back(cli, env, SOURCE, good, rows=10)


def test_connection_refused(cli, env, good, monkeypatch):
    helpers.expect_connection_refused(cli, env, monkeypatch, SOURCE, good, "/x")


def test_dns_failure(cli, env, good, monkeypatch):
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", "http://no-such-host.invalid/data_analysis")
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "cannot connect", "no-such-host.invalid")
    assert_kept(env, good)
