"""Known mirrors: which public origin a local copy of data is a verified copy of.

Offline runs read local copies ("mirrors") of public data instead of the live upstreams.
`data/reference/mirrors.toml` lists each known mirror: its public origin(s) pinned to a commit
and the sha256 of every file of a verified copy (`data/reference/mirrors/<name>.sha256`).

`provenance(path)` is what the loader records with every snapshot read from a local folder or
file: the public origin the folder is a verified copy of, recognised by its content alone
(the same file names and sha256, whatever the folder is called or wherever it is), or "a local
copy" (never the local path, which means nothing to a reader and can leak a user's folders).
A folder inside this checkout is named by its path in the repository; a kept raw folder of an
earlier snapshot by the origin its sidecar records. Chart footers, the report page and
sources.md show that text (`shown_origin`). A mirror may also be recognised by a part (one
origin of several, e.g. one PMLR volume folder). `make mirrors` (pipeline/get_mirrors.py)
downloads the same list.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import json
import tarfile
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipeline.config import PROJECT_ROOT, REFERENCE_DIR
from pipeline.source import file_sha256

MIRRORS_FILE = REFERENCE_DIR / "mirrors.toml"
LOCAL_COPY = "a local copy"
#: the mirror's own description, written by whoever made the copy: not part of its content
DESCRIPTION = "SOURCE.md"


@dataclass(frozen=True)
class Origin:
    """One public origin of a mirror (or of a part of it)."""

    repository: str  # https://github.com/<owner>/<name>
    commit: str
    path: str = ""  # the repository folder the mirror copies ("" = its root)
    folder: str = ""  # the mirror's sub-folder holding this origin's files ("" = its root)
    covers: str = ""  # which part of the mirror comes from it, when it has several

    @property
    def owner_repo(self) -> str:
        return self.repository.rstrip("/").split("github.com/", 1)[-1]

    def short(self) -> str:
        """e.g. github.com/Chillee/pytorch-vs-tensorflow@3ef0c7d (data_analysis/)"""
        where = f" ({self.path}/)" if self.path else ""
        covers = f", {self.covers}" if self.covers else ""
        return f"github.com/{self.owner_repo}@{self.commit[:7]}{where}{covers}"


@dataclass(frozen=True)
class Mirror:
    name: str
    title: str
    origins: tuple[Origin, ...]
    files: dict[str, str]  # relative path -> sha256
    converted: bool = False
    rebuild: str = ""
    cannot_rebuild: str = ""
    content_rule: str = ""
    members: str = ""
    content_sha256: str = ""
    content_lines: int = 0
    archive_name: str = ""
    inputs: tuple[str, ...] = ()  # files of the origin a conversion reads

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))

    def public(self, origins: tuple[Origin, ...] | None = None) -> str:
        """The public origin(s) in words, for footers, the page and sources.md."""
        text = "; ".join(o.short() for o in (origins or self.origins))
        return f"converted from {text} (mirror '{self.name}')" if self.converted else text

    def part(self, origin: Origin) -> dict[str, str]:
        """The files of one origin's sub-folder, relative to that sub-folder."""
        prefix = f"{origin.folder}/"
        return {p[len(prefix):]: s for p, s in self.files.items() if p.startswith(prefix)}


def read_sha256_list(path: Path) -> dict[str, str]:
    """A `sha256sum` file as {relative path: sha256}."""
    files = {}
    for line in path.read_text().splitlines():
        if line.strip():
            sha, rel = line.split(maxsplit=1)
            files[rel.lstrip("*").strip()] = sha
    return files


@cache
def known(path: Path = MIRRORS_FILE) -> tuple[Mirror, ...]:
    """Every mirror of the reference file."""
    data = tomllib.loads(path.read_text())
    mirrors = []
    for entry in data.get("mirror", []):
        fields = {k: v for k, v in entry.items() if k not in ("origin", "files")}
        mirrors.append(Mirror(
            origins=tuple(Origin(**o) for o in entry.get("origin", [])),
            files=read_sha256_list(path.parent / entry["files"]), **fields))
    return tuple(mirrors)


def by_name(name: str) -> Mirror:
    found = {m.name: m for m in known()}
    if name not in found:
        raise KeyError(f"unknown mirror {name!r} (known: {', '.join(sorted(found))})")
    return found[name]


def listing(path: Path) -> dict[str, Path]:
    """The files of a folder by relative path (its SOURCE.md left out), or a single file."""
    if path.is_file():
        return {path.name: path}
    if not path.is_dir():
        return {}
    return {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*"))
            if p.is_file() and p.relative_to(path).as_posix() != DESCRIPTION}


def git_blob_lines_sha256(archive: Path, members: str) -> tuple[str, int]:
    """SOURCE.md's content rule for an archive: sha256 over the sorted lines
    "<git blob id>  <path>\\n" of its members matching `members` (and how many there are)."""
    lines = []
    opener = gzip.open if archive.name.endswith(".gz") else open
    with opener(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        for member in tar:
            if member.isfile() and fnmatch.fnmatch(member.name, members):
                content = tar.extractfile(member).read()
                blob = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
                lines.append((member.name, f"{blob}  {member.name}\n"))
    digest = hashlib.sha256("".join(line for _, line in sorted(lines)).encode())
    return digest.hexdigest(), len(lines)


def _same_files(files: dict[str, Path], expected: dict[str, str]) -> bool:
    return bool(expected) and files.keys() == expected.keys() and all(
        file_sha256(files[rel]) == sha for rel, sha in expected.items())


def _same_content(mirror: Mirror, files: dict[str, Path]) -> bool:
    """A copy made another way (e.g. from GitHub's archive) checked by the mirror's content
    rule instead of the bytes of its files."""
    if mirror.content_rule != "git-blob-lines" or files.keys() != {mirror.archive_name}:
        return False
    try:
        digest, lines = git_blob_lines_sha256(files[mirror.archive_name], mirror.members)
    except (OSError, EOFError, tarfile.TarError, gzip.BadGzipFile):
        return False
    return digest == mirror.content_sha256 and lines == mirror.content_lines


def identify(path: Path) -> tuple[Mirror, tuple[Origin, ...]] | None:
    """The mirror (and which of its origins) a local folder or file is a verified copy of:
    every file present with its sha256 and nothing else (or the mirror's content rule)."""
    files = listing(path)
    if not files:
        return None
    for mirror in known():
        if _same_files(files, mirror.files) or _same_content(mirror, files):
            return mirror, mirror.origins
        for origin in mirror.origins:
            if origin.folder and _same_files(files, mirror.part(origin)):
                return mirror, (origin,)
    return None


def provenance(path: Path | None, raw_root: Path | None = None) -> dict[str, str]:
    """What a snapshot read from `path` records about where its data publicly comes from:
    {"public_origin": ..., "mirror": name} ({} for a remote origin, whose URL says it)."""
    if path is None:
        return {}
    path = path.resolve()
    found = identify(path)
    if found:
        mirror, origins = found
        return {"public_origin": mirror.public(origins), "mirror": mirror.name}
    sidecar = path / "_snapshot.json" if path.is_dir() else None
    if sidecar is not None and sidecar.is_file():  # a kept raw folder of an earlier snapshot
        try:
            meta = json.loads(sidecar.read_text())
        except ValueError:
            meta = {}
        earlier = meta.get("public_origin") or (
            meta.get("origin") if str(meta.get("origin", "")).startswith("http") else None)
        if earlier:
            return {"public_origin": f"{earlier} (reloaded from a kept raw folder)"}
    inside = [root for root in (PROJECT_ROOT,) if path.is_relative_to(root.resolve())]
    if inside and not (raw_root and path.is_relative_to(raw_root.resolve())):
        return {"public_origin": f"{path.relative_to(inside[0].resolve()).as_posix()} "
                                 "in this repository"}
    return {"public_origin": LOCAL_COPY}


def shown_origin(origin_url: str | None, public_origin: str | None) -> str:
    """Where a snapshot's data comes from, as readers see it: the recorded public origin, an
    http(s) URL as it is, and never a local path."""
    if public_origin:
        return public_origin
    if origin_url and origin_url.startswith(("http://", "https://")):
        return origin_url
    return LOCAL_COPY if origin_url else "?"
