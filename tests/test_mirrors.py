"""Known mirrors (data/reference/mirrors.toml): a local copy is named by the public origin it
is a verified copy of, in the snapshot and everywhere it is shown; `make mirrors` rebuilds
each mirror from its origins (local fakes here) and refuses anything that does not check."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import duckdb
import pytest

from pipeline import get_mirrors, mirrors
from pipeline.mirrors import LOCAL_COPY, Mirror, Origin, by_name, known, provenance
from tests.conftest import mirror_dir
from tests.fakes.raw_files import RawFileServer
from tests.faults.helpers import closed_port

NAMES = {"pytorch-vs-tensorflow", "hn", "hn-2021-2026", "hub-2022-02", "pmlr"}
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def test_every_mirror_names_pinned_public_origins_and_checksums():
    assert {m.name for m in known()} == NAMES
    for mirror in known():
        assert mirror.files and all(re.fullmatch(r"[0-9a-f]{64}", s)
                                    for s in mirror.files.values()), mirror.name
        assert mirror.origins, mirror.name
        for origin in mirror.origins:
            assert origin.repository.startswith("https://github.com/") and \
                COMMIT.match(origin.commit), (mirror.name, origin)
        assert (mirror.rebuild in get_mirrors.REBUILD) != bool(mirror.cannot_rebuild), mirror


def test_a_verified_copy_is_recognised_by_content_wherever_it_is(tmp_path):
    copy = tmp_path / "anything"
    shutil.copytree(mirror_dir("hn"), copy)
    assert provenance(copy) == {"mirror": "hn", "public_origin": (
        "converted from github.com/gantryops/hn-jobs-data@de8c3ae (runs/) (mirror 'hn')")}
    (copy / "SOURCE.md").unlink()  # the description is not part of the content
    assert provenance(copy)["mirror"] == "hn"
    (copy / "2026-03.json").chmod(0o644)
    (copy / "2026-03.json").write_bytes((copy / "2026-03.json").read_bytes() + b" ")
    assert provenance(copy) == {"public_origin": LOCAL_COPY}  # never the path
    assert str(tmp_path) not in json.dumps(provenance(copy))


def test_one_origin_of_a_mirror_is_recognised_alone():
    assert provenance(mirror_dir("pmlr") / "v216") == {
        "mirror": "pmlr", "public_origin": "github.com/mlresearch/v216@181c81b"}


def test_a_snapshot_names_its_public_origin_in_footers_sources_and_page(cli, env,
                                                                        conference_mirror,
                                                                        monkeypatch):
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(conference_mirror))
    assert cli("refresh", "--source", "conferences").rc == 0
    assert cli("site").rc == 0
    public = "github.com/Chillee/pytorch-vs-tensorflow@3ef0c7d (data_analysis/)"
    con = duckdb.connect(str(env.db_path), read_only=True)
    params, raw_dir = con.execute("SELECT parameters, raw_dir FROM snapshots").fetchall()[0]
    con.close()
    assert json.loads(params)["public_origin"] == public
    assert json.loads((env.raw_dir / raw_dir / "_snapshot.json").read_text())[
        "public_origin"] == public
    shown = {"footer": (env.charts_dir / "research_share.svg").read_text(),
             "sources.md": (env.results_dir / "sources.md").read_text(),
             "page": (env.data_dir / "site" / "index.html").read_text()}
    for where, text in shown.items():  # (sources.md escapes Markdown: data\_analysis)
        assert (public.split(" ")[0] if where == "sources.md" else public) in text, where
        assert str(conference_mirror.parent) not in text, where  # no local path


# -- make mirrors ---------------------------------------------------------------------------

def pinned_raw_server(mirror: Path) -> RawFileServer:
    commit = by_name("pytorch-vs-tensorflow").origins[0].commit
    return RawFileServer(mirror, prefix=f"Chillee/pytorch-vs-tensorflow/{commit}/data_analysis")


def test_make_mirrors_downloads_a_byte_exact_copy(env, conference_mirror, tmp_path,
                                                  monkeypatch, capsys):
    monkeypatch.setenv("ADOPTION_SHARED_MIRROR", str(tmp_path / "mirrors"))
    with pinned_raw_server(conference_mirror) as server:
        monkeypatch.setenv("ADOPTION_MIRRORS_RAW_URL", server.url)
        assert get_mirrors.main(["pytorch-vs-tensorflow", "hn-2021-2026"]) == 0
        made = tmp_path / "mirrors" / "pytorch-vs-tensorflow"
        for rel in by_name("pytorch-vs-tensorflow").files:
            assert (made / rel).read_bytes() == (conference_mirror / rel).read_bytes(), rel
        assert "pytorch-vs-tensorflow at commit 3ef0c7d" in (made / "SOURCE.md").read_text()
        asked = len(server.requests)
        assert get_mirrors.main(["pytorch-vs-tensorflow"]) == 0  # verified: not downloaded again
        assert len(server.requests) == asked
    err = capsys.readouterr().err
    assert "pytorch-vs-tensorflow: downloaded and verified (47 files)" in err
    assert "pytorch-vs-tensorflow: present and verified" in err
    assert "hn-2021-2026: not rebuilt: " in err  # said, not an error
    assert not (tmp_path / "mirrors" / "hn-2021-2026").exists()


def test_make_mirrors_refuses_a_damaged_download_and_keeps_nothing(env, conference_mirror,
                                                                   tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.setenv("ADOPTION_SHARED_MIRROR", str(tmp_path / "mirrors"))
    with pinned_raw_server(conference_mirror) as server:
        server.fault(r"/data/iclr_2019\.json$", "malformed", times=None)
        monkeypatch.setenv("ADOPTION_MIRRORS_RAW_URL", server.url)
        assert get_mirrors.main(["pytorch-vs-tensorflow"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "pytorch-vs-tensorflow: data/iclr_2019.json has sha256" in \
        errors[0]
    assert list((tmp_path / "mirrors").iterdir()) == []  # no partial mirror left


def test_make_mirrors_offline_fails_in_one_line_per_mirror(env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ADOPTION_SHARED_MIRROR", str(tmp_path / "mirrors"))
    monkeypatch.setenv("ADOPTION_MIRRORS_RAW_URL", f"http://127.0.0.1:{closed_port()}")
    assert get_mirrors.main(["pmlr"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith("error: mirrors: pmlr: cannot connect")
    assert "ADOPTION_MIRRORS_RAW_URL" in errors[0]


def test_make_mirrors_maps_each_volume_to_its_repository(env, tmp_path, monkeypatch):
    """pmlr: three repositories, each at its own commit, into three sub-folders."""
    source = mirror_dir("pmlr")
    raw = tmp_path / "raw"
    for origin in by_name("pmlr").origins:  # the raw-file layout (a scratch copy in tmp)
        shutil.copytree(source / origin.folder, raw / origin.owner_repo / origin.commit)
    monkeypatch.setenv("ADOPTION_SHARED_MIRROR", str(tmp_path / "mirrors"))
    monkeypatch.setenv("ADOPTION_MIRRORS_RAW_URL", str(raw))
    assert get_mirrors.main(["pmlr"]) == 0
    assert provenance(tmp_path / "mirrors" / "pmlr")["mirror"] == "pmlr"


def test_the_hn_conversion_rebuilds_the_mirror_byte_for_byte(env, tmp_path, monkeypatch):
    """The run files of the origin, made back from the mirror's own records (split over the
    runs as upstream had them, an id in two runs), convert to the identical files."""
    mirror, hn = mirror_dir("hn"), by_name("hn")
    (origin,) = hn.origins
    runs = tmp_path / "raw" / origin.owner_repo / origin.commit / origin.path
    for month in sorted(mirror.glob("2026-*.json")):
        story = json.loads(month.read_text())
        inputs = [r for r in hn.inputs if r[:7] == month.stem]
        jobs = [{"id": c["id"], "source": "who_is_hiring", "by": c["author"],
                 "time": c["created_at_i"], "text": c["text"]} for c in story["children"]]
        for k, rel in enumerate(inputs):  # split over the month's runs; the last repeats one
            part = jobs[k::len(inputs)] + ([dict(jobs[0], text="an older version")]
                                           if k == 0 and len(inputs) > 1 else [])
            if k == len(inputs) - 1 and len(inputs) > 1:
                part.append(jobs[0])
            (runs / rel).parent.mkdir(parents=True, exist_ok=True)
            (runs / rel).write_text(json.dumps({"sources": {
                "who_is_hiring_thread_id": story["id"],
                "who_is_hiring_thread_title": story["title"]}, "jobs": part + [
                {"id": 1, "source": "direct", "by": "x", "time": 0, "text": "dropped"}]}))
    monkeypatch.setenv("ADOPTION_SHARED_MIRROR", str(tmp_path / "mirrors"))
    monkeypatch.setenv("ADOPTION_MIRRORS_RAW_URL", str(tmp_path / "raw"))
    assert get_mirrors.main(["hn"]) == 0
    for month in mirror.glob("2026-*.json"):
        assert (tmp_path / "mirrors" / "hn" / month.name).read_bytes() == month.read_bytes()


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_an_archive_of_the_commit_is_repacked_and_checked_by_its_content(env, tmp_path,
                                                                         monkeypatch):
    """GitHub's archive of a commit holds more than the mirror (model cards) under a
    `<repo>-<commit>/` folder: the members are packed into the mirror's archive and checked by
    the git blob rule, whatever the bytes of either archive."""
    members = {f"models/org{i}/m{i}/infos.json": json.dumps({"modelId": f"org{i}/m{i}"})
               .encode() for i in range(5)}
    lines = [f"{git_blob(v)}  {k}\n" for k, v in sorted(members.items())]  # by path
    commit = "ab" * 20
    mirror = Mirror("tiny-hub", "test", (Origin("https://github.com/o/r", commit),), {},
                    rebuild="github-archive", content_rule="git-blob-lines",
                    members="models/**/infos.json", archive_name="models-infos.tar.gz",
                    content_sha256=hashlib.sha256("".join(lines).encode()).hexdigest(),
                    content_lines=len(members))
    archive = tmp_path / "archive" / "o" / "r" / "tar.gz" / commit
    archive.parent.mkdir(parents=True)

    def pack(files: dict[str, bytes]) -> None:
        with gzip.open(archive, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"r-{commit}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

    pack({**members, "models/org0/m0/README.md": b"card", "README.md": b"readme"})
    monkeypatch.setenv("ADOPTION_MIRRORS_ARCHIVE_URL", str(tmp_path / "archive"))
    settings = env
    dest = tmp_path / "made"
    dest.mkdir()
    get_mirrors.rebuild_github_archive(mirror, dest, settings)
    assert mirrors.git_blob_lines_sha256(dest / "models-infos.tar.gz", mirror.members) == (
        mirror.content_sha256, 5)
    pack({**members, "models/org1/m1/infos.json": b"{}"})  # a member changed
    with pytest.raises(get_mirrors.SourceError, match="blob list has sha256"):
        get_mirrors.rebuild_github_archive(mirror, tmp_path / "made", settings)


def test_a_missing_mirror_skips_naming_it_and_the_command(tmp_path):
    reason = get_mirrors.missing_mirror_reason("pmlr", tmp_path / "pmlr")
    assert "'pmlr'" in reason and "make mirrors" in reason and "ADOPTION_SHARED_MIRROR" in reason
    reason = get_mirrors.missing_mirror_reason("hn-2021-2026", tmp_path / "x")
    assert "cannot rebuild" in reason and "ADOPTION_SHARED_MIRROR" in reason
