"""`make mirrors`: download the real mirrors from their public origins, pinned and checked.

Tests that need real data (and offline refreshes) read the mirrors listed in
`data/reference/mirrors.toml` from one folder, ADOPTION_SHARED_MIRROR (default
`../shared/mirror` beside the checkout). This fills that folder from the internet, each mirror
the way its entry says (`rebuild`):

* `raw`: every file from raw.githubusercontent.com at the origin's pinned commit, byte for
  byte, each checked against its sha256 (pytorch-vs-tensorflow, pmlr);
* `github-archive`: GitHub's archive of the pinned commit, from which the listed members are
  packed into the mirror's archive, checked by the content rule of its SOURCE.md (the sorted
  git blob ids of the members: the same rule GitHub's own tree obeys) (hub-2022-02);
* `hn-jobs-data`: the conversion described in the mirror's SOURCE.md, from the pinned commit's
  run files; the result is checked byte for byte against the sha256 list (hn).

A mirror the entry says cannot be rebuilt (`cannot_rebuild`, hn-2021-2026: converted from HTML
captures with estimated times) is reported, not made; the tests needing it stay skipped. A
mirror already present and verified is left alone (the shared folder may be read-only). A new
mirror is assembled in a hidden folder beside and renamed into place only once every check
passed, with a short SOURCE.md naming its origins. Downloads go through the pipeline's HTTP
layer (timeouts, bounded retries, one-line errors); `ADOPTION_MIRRORS_RAW_URL` and
`ADOPTION_MIRRORS_ARCHIVE_URL` point it elsewhere (tests use local fakes).

    python -m pipeline.get_mirrors [NAME ...]     # default: every mirror
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import json
import logging
import os
import shutil
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from pipeline.config import PROJECT_ROOT, Settings
from pipeline.errors import PipelineError, SourceError
from pipeline.http import Origin
from pipeline.mirrors import Mirror, by_name, git_blob_lines_sha256, identify, known, listing
from pipeline.source import file_sha256

log = logging.getLogger("pipeline.mirrors")
RAW_URL = "https://raw.githubusercontent.com"
ARCHIVE_URL = "https://codeload.github.com"
NAME = "mirrors"  # how download errors are labelled


def shared_mirror_root() -> Path:
    """Where the real mirrors are: ADOPTION_SHARED_MIRROR, else ../shared/mirror beside the
    checkout (the one setting tests and `make mirrors` share)."""
    named = os.environ.get("ADOPTION_SHARED_MIRROR", "").strip()
    return Path(named).expanduser().absolute() if named else \
        PROJECT_ROOT.parent / "shared" / "mirror"


def missing_mirror_reason(name: str, path: Path) -> str:
    """Why a test needing mirror `name` is skipped, and what gets the mirror."""
    try:
        mirror = by_name(name)
    except KeyError:
        return f"real mirror '{name}' not found at {path}: set ADOPTION_SHARED_MIRROR"
    if mirror.cannot_rebuild:
        return (f"real mirror '{name}' not found at {path}: `make mirrors` cannot rebuild it "
                "(see data/reference/mirrors.toml); set ADOPTION_SHARED_MIRROR to a folder "
                "holding a copy")
    return (f"real mirror '{name}' not found at {path}: run `make mirrors` (downloads it from "
            f"{mirror.origins[0].short().split(' ')[0]}; needs the internet) or set "
            "ADOPTION_SHARED_MIRROR to the folder holding it")


def verified(mirror: Mirror, folder: Path) -> bool:
    found = identify(folder) if folder.is_dir() else None
    return bool(found and found[0].name == mirror.name and found[1] == mirror.origins)


def _origin(kind: str, settings: Settings) -> Origin:
    """The raw-file or archive host (`kind` = raw | archive), overridable by
    ADOPTION_MIRRORS_RAW_URL / ADOPTION_MIRRORS_ARCHIVE_URL (errors name that variable)."""
    default = {"raw": RAW_URL, "archive": ARCHIVE_URL}[kind]
    return Origin(f"{NAME}_{kind}", settings.source_url(f"{NAME}_{kind}", default), settings)


def _check(mirror: Mirror, rel: str, path: Path) -> None:
    expected = mirror.files.get(rel)
    actual = file_sha256(path)
    if actual != expected:
        raise SourceError(NAME, f"{rel} has sha256 {actual[:12]}, expected "
                          f"{(expected or 'no such file')[:12]}",
                          "the origin changed or the download is damaged; nothing was kept")


def rebuild_raw(mirror: Mirror, dest: Path, settings: Settings) -> None:
    """Every listed file from the origin's pinned commit, each checked."""
    origin = _origin("raw", settings)
    for rel in sorted(mirror.files):
        source = next(o for o in mirror.origins
                      if not o.folder or rel.startswith(f"{o.folder}/"))
        inner = rel[len(source.folder) + 1:] if source.folder else rel
        remote = "/".join(filter(None, [source.owner_repo, source.commit, source.path, inner]))
        origin.download(remote if origin.local else quote(remote), dest / rel)
        _check(mirror, rel, dest / rel)


def rebuild_hn_jobs_data(mirror: Mirror, dest: Path, settings: Settings) -> None:
    """The hn mirror's conversion (its SOURCE.md): the "who_is_hiring" records of each run,
    one file per thread month in the HN Algolia items shape; a month's runs are merged by
    comment id, the later run winning; comments sorted by (time, id)."""
    (source,) = mirror.origins
    origin = _origin("raw", settings)
    months: dict[int, dict] = {}
    for rel in sorted(mirror.inputs):
        remote = "/".join([source.owner_repo, source.commit, source.path, rel])
        run = origin.parse_json(origin.get(remote if origin.local else quote(remote)))
        try:
            thread = run["sources"]["who_is_hiring_thread_id"]
            month = months.setdefault(thread, {
                "title": run["sources"]["who_is_hiring_thread_title"], "jobs": {}})
            month["jobs"].update({j["id"]: j for j in run["jobs"]
                                  if j.get("source") == "who_is_hiring"})
        except (KeyError, TypeError, AttributeError) as exc:
            raise SourceError(NAME, f"{rel} of {source.owner_repo}@{source.commit[:7]} is not "
                              f"a run file as SOURCE.md describes ({type(exc).__name__}: {exc})",
                              "the origin changed; nothing was kept") from None
    for thread, month in months.items():
        when = datetime.strptime(month["title"].rsplit("(", 1)[1].rstrip(")"), "%B %Y")
        children = [{
            "id": j["id"], "type": "comment", "author": j["by"], "text": j["text"],
            "created_at": datetime.fromtimestamp(j["time"], UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"),
            "created_at_i": j["time"], "parent_id": thread, "story_id": thread, "children": [],
        } for j in sorted(month["jobs"].values(), key=lambda j: (j["time"], j["id"]))]
        story = {"id": thread, "type": "story", "author": "whoishiring", "title": month["title"],
                 "created_at": None, "created_at_i": None, "children": children}
        rel = f"{when:%Y-%m}.json"
        (dest / rel).write_text(json.dumps(story, indent=1, ensure_ascii=False))
        _check(mirror, rel, dest / rel)
    missing = sorted(set(mirror.files) - {p for p in listing(dest)})
    if missing:
        raise SourceError(NAME, f"the conversion made no {', '.join(missing)}")


def rebuild_github_archive(mirror: Mirror, dest: Path, settings: Settings) -> None:
    """GitHub's archive of the pinned commit; its members matching the mirror's pattern are
    packed (deterministically) into the mirror's archive, checked by the content rule."""
    (source,) = mirror.origins
    origin = _origin("archive", settings)
    with tempfile.TemporaryDirectory(dir=dest) as scratch:
        archive = Path(scratch) / "commit.tar.gz"
        origin.download(f"{source.owner_repo}/tar.gz/{source.commit}", archive)
        target = dest / mirror.archive_name
        pattern = mirror.members
        with gzip.open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tar, \
                target.open("wb") as out, \
                gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as packed, \
                tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as kept:
            for member in tar:
                name = member.name.split("/", 1)[1] if "/" in member.name else ""
                if member.isfile() and fnmatch.fnmatch(name, pattern):
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = member.size, 0o644, 0
                    kept.addfile(info, tar.extractfile(member))
    digest, lines = git_blob_lines_sha256(target, pattern)
    if (digest, lines) != (mirror.content_sha256, mirror.content_lines):
        raise SourceError(NAME, f"GitHub's archive of {source.commit[:7]} holds "
                          f"{lines} members whose blob list has sha256 {digest[:12]}, expected "
                          f"{mirror.content_lines} and {mirror.content_sha256[:12]}",
                          "the archive is damaged or not the pinned commit's; nothing was kept")


REBUILD = {"raw": rebuild_raw, "hn-jobs-data": rebuild_hn_jobs_data,
           "github-archive": rebuild_github_archive}


def describe(mirror: Mirror) -> str:
    """The SOURCE.md of a mirror made here."""
    origins = "\n".join(f"- {o.repository} at commit {o.commit}"
                        + (f", folder `{o.path}/`" if o.path else "")
                        + (f" -> `{o.folder}/`" if o.folder else "")
                        + (f" ({o.covers})" if o.covers else "") for o in mirror.origins)
    how = {"raw": "each file downloaded at the pinned commit and checked against its sha256",
           "hn-jobs-data": "converted from the pinned commit's run files as the shared copy's "
                           "SOURCE.md describes; every file checked against its sha256",
           "github-archive": "the listed members of GitHub's archive of the pinned commit, "
                             "checked by the content rule (sorted git blob ids)"}[mirror.rebuild]
    return (f"# {mirror.name}: {mirror.title}\n\nDownloaded by `make mirrors` "
            f"(pipeline/get_mirrors.py): {how}.\n\nOrigins:\n{origins}\n\nThe files and "
            f"checksums are listed in data/reference/mirrors/{mirror.name}.sha256 and "
            "data/reference/mirrors.toml of framework-adoption.\n")


def get(mirror: Mirror, root: Path, settings: Settings) -> str:
    """Make one mirror under `root`; returns what was done (raises PipelineError)."""
    folder = root / mirror.name
    if folder.exists() and verified(mirror, folder):
        return "present and verified"
    if folder.exists():
        raise PipelineError(f"{folder} exists but is not a verified copy of {mirror.name} "
                            "(files or checksums differ): move it aside and run make mirrors "
                            "again")
    if mirror.cannot_rebuild:
        return f"not rebuilt: {mirror.cannot_rebuild}"
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".{mirror.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        REBUILD[mirror.rebuild](mirror, partial, settings)
        (partial / "SOURCE.md").write_text(describe(mirror))
        if not verified(mirror, partial):
            raise PipelineError("the rebuilt copy does not verify")
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return f"downloaded and verified ({len(listing(folder))} files)"


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import setup_logging

    names = [m.name for m in known()]
    parser = argparse.ArgumentParser(prog="python -m pipeline.get_mirrors",
                                     description="Download the real mirrors (make mirrors).")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"mirrors to get (default: all): {', '.join(names)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"unknown mirror(s) {', '.join(unknown)}; known: {', '.join(names)}")
    setup_logging()
    root = shared_mirror_root()
    try:
        settings = Settings.from_env()
    except PipelineError as exc:
        log.error("error: %s", exc)
        return 2
    ok = True
    for name in args.names or names:
        try:
            log.info("mirrors: %s: %s", name, get(by_name(name), root, settings))
        except SourceError as exc:
            log.error("error: mirrors: %s: %s", name, exc.message + (f" ({exc.hint})"
                                                                      if exc.hint else ""))
            ok = False
        except PipelineError as exc:
            log.error("error: mirrors: %s: %s", name, exc)
            ok = False
        except OSError as exc:  # e.g. a read-only or full ADOPTION_SHARED_MIRROR
            log.error("error: mirrors: %s: cannot write %s (%s); point ADOPTION_SHARED_MIRROR "
                      "at a writable folder", name, exc.filename or root, exc.strerror or exc)
            ok = False
    log.info("mirrors: in %s (ADOPTION_SHARED_MIRROR)", root)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
