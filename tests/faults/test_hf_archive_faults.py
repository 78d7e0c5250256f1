"""Fault suite for hf_archive (the February 2022 Hub listing): a good snapshot of one pinned
archive first, then a bad copy or download of another (its own pins, so it is not skipped as
already collected). Each checks: exit status 1, one line naming the source and the cause, the
previous snapshot still current, no rows of the failed attempt, nothing staged left behind."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from tests.fakes.hf_archive import (
    COMMIT,
    FakeGitHub,
    content_digest,
    github_tarball,
    infos_json,
    listing,
    mirror_tarball,
)
from tests.faults import helpers
from tests.faults.helpers import assert_one_line_error, current_state

SOURCE = "hf_archive"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"  # the bad archive's commit


def pin(monkeypatch, files: dict[str, bytes], commit: str = COMMIT, body: bytes = b"") -> None:
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_COMMIT", commit)
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_CONTENT_SHA256", content_digest(files))
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_SHA256", hashlib.sha256(body).hexdigest())


def copy(tmp_path, body: bytes):
    folder = tmp_path / f"copy-{hashlib.sha256(body).hexdigest()[:8]}"
    folder.mkdir()
    (folder / "models-infos.tar.gz").write_bytes(body)
    return folder


@pytest.fixture
def good(cli, env, tmp_path, monkeypatch):
    """A first, good snapshot from a pinned copy in the mirror's layout; returns its state."""
    files = listing(40)
    body = mirror_tarball(files)
    pin(monkeypatch, files, body=body)
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", str(copy(tmp_path, body)))
    result = cli("collect", SOURCE)
    assert result.rc == 0, result.err
    return current_state(env.db_path, SOURCE)


def bad_copy(cli, tmp_path, monkeypatch, files: dict[str, bytes], body: bytes | None = None):
    """Collect another archive, pinned to itself (a user pointing at a new copy)."""
    body = mirror_tarball(files, OTHER) if body is None else body
    pin(monkeypatch, files, OTHER, body)
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", str(copy(tmp_path, body)))
    return cli("collect", SOURCE)


def test_archive_whose_sha256_differs_from_the_pin(cli, env, tmp_path, monkeypatch, good):
    files = listing(40)
    damaged = bytearray(mirror_tarball(files))
    damaged[-20] ^= 0xFF
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", str(copy(tmp_path, bytes(damaged))))
    result = cli("collect", SOURCE, "--force")  # the same pins as the good snapshot
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "models-infos.tar.gz has sha256",
                          "not the pinned", "previous snapshot stays current")
    helpers.assert_kept(env, SOURCE, good)


def test_truncated_gz(cli, env, tmp_path, monkeypatch, good):
    files = listing(40)
    body = mirror_tarball(files, OTHER)
    result = bad_copy(cli, tmp_path, monkeypatch, files, body[: len(body) // 2])
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "truncated or not a gzip'd tar")
    helpers.assert_kept(env, SOURCE, good)
    assert "hf_archive: snapshot 1 at" in cli("status").out


def test_truncated_download(cli, env, monkeypatch, good):
    """GitHub's answer cut short (fewer bytes than its Content-Length)."""
    files = listing(40)
    with FakeGitHub(files, commit=OTHER) as github:
        pin(monkeypatch, files, OTHER)
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", github.url)
        github.fault(r"/codeload/", "truncate", times=None)
        result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "truncated")
    helpers.assert_kept(env, SOURCE, good)


def test_a_line_that_is_not_json(cli, env, tmp_path, monkeypatch, good):
    files = listing(40)
    files["models/org1/model-1/infos.json"] = b'{"modelId": "org1/model-1", "tags": ['
    result = bad_copy(cli, tmp_path, monkeypatch, files)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "models/org1/model-1/infos.json is not JSON")
    helpers.assert_kept(env, SOURCE, good)


def test_a_listing_without_tags(cli, env, tmp_path, monkeypatch, good):
    files = listing(40)
    record = json.loads(files["models/org2/model-2/infos.json"])
    del record["tags"]
    files["models/org2/model-2/infos.json"] = json.dumps(record).encode()
    result = bad_copy(cli, tmp_path, monkeypatch, files)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "models/org2/model-2/infos.json has no 'tags'")
    helpers.assert_kept(env, SOURCE, good)


@pytest.mark.parametrize("name", ["models/../../../tmp/x/infos.json", "/etc/models/infos.json",
                                  "models/a\\b/infos.json", "models/bad\x1bname/infos.json"])
def test_unsafe_member_names_are_refused(cli, env, tmp_path, monkeypatch, good, name):
    files = listing(40)
    files[name] = infos_json("x", ["pytorch"])
    result = bad_copy(cli, tmp_path, monkeypatch, files)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "unsafe member name")
    helpers.assert_kept(env, SOURCE, good)
    assert not (tmp_path.parent.parent / "tmp" / "x").exists()


def test_content_that_is_not_the_pinned_listing(cli, env, monkeypatch, good):
    """GitHub's tarball is checked by content: a file changed, nothing else differs."""
    files = listing(40)
    with FakeGitHub(files, commit=OTHER) as github:
        pin(monkeypatch, files, OTHER)
        changed = dict(files) | {"models/org3/model-3/infos.json": infos_json("org3/model-3",
                                                                               ["tf"])}
        github.body = github_tarball(changed, OTHER)
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", github.url)
        result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "content sha256", "not the pinned",
                          "40 listing files")
    helpers.assert_kept(env, SOURCE, good)


def test_an_archive_of_another_commit(cli, env, tmp_path, monkeypatch, good):
    files = listing(40)
    body = mirror_tarball(files, "1" * 40)  # its pax comment names another commit
    result = bad_copy(cli, tmp_path, monkeypatch, files, body)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "says it is commit '1111111111")
    helpers.assert_kept(env, SOURCE, good)


def test_unknown_commit_is_404(cli, env, monkeypatch, good):
    files = listing(40)
    with FakeGitHub(files, commit=OTHER) as github:
        pin(monkeypatch, files, "2" * 40)
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", github.url)
        result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "HTTP 404")
    helpers.assert_kept(env, SOURCE, good)


def test_a_pin_that_is_not_a_checksum_is_one_line(cli, env, monkeypatch, good):
    monkeypatch.setenv("ADOPTION_HF_ARCHIVE_SHA256", "latest")
    result = cli("collect", SOURCE)
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "setting sha256 = 'latest'")
    helpers.assert_kept(env, SOURCE, good)


def test_an_empty_gzip_is_refused(cli, env, tmp_path, monkeypatch, good):
    result = bad_copy(cli, tmp_path, monkeypatch, {}, gzip.compress(b"\0" * 1024))
    assert result.rc == 1
    assert_one_line_error(result.err, SOURCE, "holds no models/**/infos.json")
    helpers.assert_kept(env, SOURCE, good)
