"""The HuggingFace Hub model listing of mid-February 2022: the Hub "as of the article".

A third party (GitHub repository saranscript/huggingface-models, commit 796a1d3, no licence
file, README "Scraped all huggingface models For education purpose") saved what the Hub API
returned for every public model: one `models/<modelId>/infos.json` per model, 29,432 in all,
in the shape of huggingface_hub's `ModelInfo` of that time (`modelId`, `sha`, `lastModified`,
`tags`, `pipeline_tag`, `siblings`, `config`, `private`, `downloads`, `likes`, and
`library_name` when the Hub set it). It is the closest record in time to the article (two
months after it) with the real downloads of the time.

Pinned, never "latest": by the repository's commit and by the content rule of the listing
(sorted `<git blob id>  <path>` lines of every `models/**/infos.json`, sha256 CONTENT_SHA256),
which any copy must satisfy; a copy in the mirror's layout (one `models-infos.tar.gz`, made by
`git archive` of those files) is also checked against its file sha256 (SHA256) before it is
read. Where it comes from:

* by default, GitHub's tarball of the pinned commit (`{base}/<repo>/archive/<commit>.tar.gz`,
  base https://github.com; GitHub redirects it to codeload), which also holds the model cards:
  checked by the content rule only (GitHub does not promise byte-identical tarballs);
* `ADOPTION_HF_ARCHIVE_URL` (or `[sources.hf_archive] url`): a local folder holding
  `models-infos.tar.gz` (the mirror's layout) or `<commit>.tar.gz` (GitHub's, e.g. the raw
  folder of an earlier snapshot), or one such file.

The tar is streamed member by member from the staged download (never extracted); member names
are checked before use. The snapshot is dated when the listing was taken (`data_as_of`: the
latest `lastModified` in it, 2022-02-15T14:15:54Z), not when it was collected. The pins can be
replaced (`commit`, `sha256`, `content_sha256`, `repo` settings) to read another archive of the
same shape; nothing is read unpinned. Once the pinned listing is the current snapshot, a
refresh reads nothing (`--force` reads it again).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Settings
from pipeline.errors import SourceError, Unchanged
from pipeline.source import CollectContext, Source
from pipeline.store import first_row
from pipeline.untrusted import shown, unsafe_name

NAME = "hf_archive"
DEFAULT_URL = "https://github.com"
REPO = "saranscript/huggingface-models"
COMMIT = "796a1d378fabf06fff864b7147be79829b0b872f"
#: the mirror's models-infos.tar.gz (`git archive` of models/**/infos.json at COMMIT, gzip -n -9)
SHA256 = "acce0cb0f1d9bd4a11e3698071942c5303b4d7ff9e1c26d4fc35b7361a38c6db"
#: sha256 of the sorted "<git blob id>  <path>\n" lines of every models/**/infos.json at COMMIT
CONTENT_SHA256 = "e03779662b13270e50bc6a9558b5d9d0a9d218b77343360c7cb3e9e02cc67f9d"
MIRROR_FILE = "models-infos.tar.gz"
LICENCE = (
    "No licence file: saranscript/huggingface-models (github.com/saranscript/huggingface-models, "
    "commit 796a1d3), a third party's copy of public HuggingFace Hub model metadata of "
    "February 2022 ('for education purpose'); used for aggregate counts with attribution"
)
DEFAULTS = {"repo": REPO, "commit": COMMIT, "sha256": SHA256, "content_sha256": CONTENT_SHA256}
BATCH_ROWS = 5000
MAX_MEMBER_BYTES = 32 << 20  # one infos.json; the largest real one is 1.7 MB
DRIFT = "the archive is not a Hub model listing of the expected shape; check the copy"
#: a model's listing file; <modelId> is `author/name` or, for legacy ids, `name`
INFOS = re.compile(r"^models/((?:[A-Za-z0-9][\w.-]{0,255}/)?[\w.-]{1,255})/infos\.json$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

TABLES = {"raw_hf_archive__models": """
    CREATE TABLE IF NOT EXISTS raw_hf_archive__models (
        snapshot_id BIGINT NOT NULL,
        id VARCHAR NOT NULL,            -- modelId as of the listing (many renamed since)
        author VARCHAR,                 -- from the id; NULL for legacy un-namespaced ids
        sha VARCHAR,
        last_modified TIMESTAMP NOT NULL,  -- UTC
        tags VARCHAR[] NOT NULL,        -- as the Hub had them then
        pipeline_tag VARCHAR,
        library_name VARCHAR,
        downloads BIGINT,               -- the Hub's 30-day count then; NULL when absent
        likes BIGINT,
        private BOOLEAN,
        siblings VARCHAR[] NOT NULL,    -- rfilename of every file of the repository
        model_type VARCHAR,             -- config.model_type
        path VARCHAR NOT NULL,          -- the member's path in the archive
        blob_id VARCHAR NOT NULL        -- its git blob id (the content rule's first column)
    )"""}
SCHEMA = pa.schema([
    ("id", pa.string()), ("author", pa.string()), ("sha", pa.string()),
    ("last_modified", pa.timestamp("us")), ("tags", pa.list_(pa.string())),
    ("pipeline_tag", pa.string()), ("library_name", pa.string()), ("downloads", pa.int64()),
    ("likes", pa.int64()), ("private", pa.bool_()), ("siblings", pa.list_(pa.string())),
    ("model_type", pa.string()), ("path", pa.string()), ("blob_id", pa.string()),
])


def pins(settings: Settings) -> dict[str, str]:
    """The pinned repository, commit and checksums (settings `repo`, `commit`, `sha256`,
    `content_sha256`, or ADOPTION_HF_ARCHIVE_*); each is checked for its shape."""
    found = {key: settings.source_option(NAME, key, default) for key, default in DEFAULTS.items()}
    for key, pattern in (("commit", HEX40), ("sha256", HEX64), ("content_sha256", HEX64)):
        if not pattern.match(found[key]):
            raise SourceError(NAME, f"setting {key} = {found[key]!r} is not a "
                              f"{'40' if key == 'commit' else '64'}-digit lower-case hex id",
                              "fix [sources.hf_archive] or ADOPTION_HF_ARCHIVE_"
                              f"{key.upper()}")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", found["repo"]):
        raise SourceError(NAME, f"setting repo = {found['repo']!r} is not 'owner/name'")
    return found


def blob_id(data: bytes) -> str:
    """The git blob id of a file's bytes, as `git hash-object` computes it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 (git's id)


def content_digest(lines: list[tuple[str, str]]) -> str:
    """The content rule: sha256 of the "<blob id>  <path>\\n" lines sorted by path."""
    digest = hashlib.sha256()
    for path, blob in sorted(lines):
        digest.update(f"{blob}  {path}\n".encode())
    return digest.hexdigest()


# -- where the archive comes from ---------------------------------------------------------------

def _fetch(ctx: CollectContext, pin: dict[str, str]) -> tuple[Path, str]:
    """Stage the archive through the source's origin; returns its path and layout ("mirror":
    the mirror's models-infos.tar.gz, checked against the file pin; "github": GitHub's tarball
    of the commit, checked by content only)."""
    github_name = f"{pin['commit']}.tar.gz"
    local = ctx.origin.local
    if local is None:
        rel, name, layout = f"{pin['repo']}/archive/{github_name}", github_name, "github"
    elif local.is_file():
        rel, name = "", local.name
        layout = "github" if local.name == github_name else "mirror"
    elif (local / MIRROR_FILE).is_file() or not (local / github_name).is_file():
        rel, name, layout = MIRROR_FILE, MIRROR_FILE, "mirror"
    else:
        rel, name, layout = github_name, github_name, "github"
    path = ctx.raw_path(name)
    fetched = ctx.origin.download(rel, path)
    sha = ctx.record_file(name, path, fetched.url)
    ctx.parameters.update(layout=layout, archive_sha256=sha, archive_bytes=path.stat().st_size)
    if layout == "mirror" and sha != pin["sha256"]:
        raise ctx.fail(f"{name} has sha256 {sha[:12]}…, not the pinned {pin['sha256'][:12]}…",
                       "the copy is damaged or another archive; restore it, or point "
                       "ADOPTION_HF_ARCHIVE_URL at the pinned copy (the previous snapshot "
                       "stays current)")
    return path, layout


def _already_current(ctx: CollectContext, pin: dict[str, str]) -> None:
    """The pinned listing cannot change: once it is the current snapshot, read nothing."""
    if not ctx.may_skip:
        return
    row = first_row(ctx.con, "SELECT parameters->>'commit', parameters->>'content_sha256' "
                    "FROM snapshots WHERE snapshot_id = ?", [ctx.previous_snapshot_id])
    if row and row == (pin["commit"], pin["content_sha256"]):
        raise Unchanged(f"the pinned listing (commit {pin['commit'][:7]}, content sha256 "
                        f"{pin['content_sha256'][:12]}) is already snapshot "
                        f"{ctx.previous_snapshot_id} (use --force to read it again)")


# -- reading the tar ----------------------------------------------------------------------------

def _member_path(ctx: CollectContext, name: str, layout: str) -> str | None:
    """The repository path of a member (GitHub's tarball has one leading folder); an unsafe
    name (pipeline.untrusted: `..`, absolute, backslash, glob or control characters, too long)
    is refused, even for members we do not read."""
    problem = unsafe_name(name)
    if problem is not None:
        raise ctx.fail(f"unsafe member name in the archive: {shown(name, 80)} ({problem})",
                       DRIFT)
    if layout == "github":
        _, _, name = name.partition("/")
    return name


def _parse_time(ctx: CollectContext, value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ctx.fail(f"{where}: 'lastModified' is {type(value).__name__}, not a date", DRIFT)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ctx.fail(f"{where}: unparseable lastModified {shown(value, 40)}", DRIFT) \
            from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _typed(ctx: CollectContext, record: dict, key: str, kind: type | tuple, where: str) -> Any:
    value = record.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)
                              and kind is int):
        raise ctx.fail(f"{where}: field {key!r} has an unexpected type "
                       f"({type(value).__name__})", DRIFT)
    return value


def parse_record(ctx: CollectContext, data: bytes, path: str, model_id: str,
                 blob: str) -> dict:
    """One infos.json as a row; refuses what is not a listing record, naming the member."""
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ctx.fail(f"{path} is not JSON ({shown(exc, 80)})", DRIFT) from None
    if not isinstance(record, dict):
        raise ctx.fail(f"{path} is a JSON {type(record).__name__}, not an object", DRIFT)
    if record.get("modelId") != model_id:
        raise ctx.fail(f"{path} holds modelId {shown(record.get('modelId'), 80)}, not its "
                       f"folder's {shown(model_id, 80)}", DRIFT)
    tags = record.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ctx.fail(f"{path} has no 'tags' list of strings", DRIFT)
    siblings = record.get("siblings")
    if not isinstance(siblings, list) or not all(
            isinstance(s, dict) and isinstance(s.get("rfilename"), str) for s in siblings):
        raise ctx.fail(f"{path} has no 'siblings' list of {{rfilename}} objects", DRIFT)
    config = _typed(ctx, record, "config", dict, path) or {}
    model_type = config.get("model_type")
    author, _, _ = model_id.rpartition("/")
    return {
        "id": model_id, "author": author or None,
        "sha": _typed(ctx, record, "sha", str, path),
        "last_modified": _parse_time(ctx, record.get("lastModified"), path),
        "tags": tags, "pipeline_tag": _typed(ctx, record, "pipeline_tag", str, path),
        "library_name": _typed(ctx, record, "library_name", str, path),
        "downloads": _typed(ctx, record, "downloads", int, path),
        "likes": _typed(ctx, record, "likes", int, path),
        "private": _typed(ctx, record, "private", bool, path),
        "siblings": [s["rfilename"] for s in siblings],
        "model_type": model_type if isinstance(model_type, str) else None,
        "path": path, "blob_id": blob,
    }


def read_archive(ctx: CollectContext, path: Path, layout: str,
                 commit: str) -> Iterator[pa.Table]:
    """Stream the tar (never extracted): every models/**/infos.json as a row, in batches; the
    content lines are collected for the content rule and the pax comment checked."""
    lines: list[tuple[str, str]] = []
    rows: list[dict] = []
    seen: set[str] = set()
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                comment = tar.pax_headers.get("comment")
                if comment and comment != commit:
                    raise ctx.fail(f"the archive says it is commit {shown(comment, 40)}, not "
                                   f"the pinned {commit[:7]}", "point ADOPTION_HF_ARCHIVE_URL "
                                   "at the pinned archive")
                rel = _member_path(ctx, member.name, layout)
                match = INFOS.match(rel or "")
                if not match:
                    if rel and rel.endswith("infos.json") and rel.startswith("models/"):
                        raise ctx.fail(f"unexpected listing file name {shown(rel, 80)}",
                                       DRIFT)
                    continue
                if not member.isreg():
                    raise ctx.fail(f"{rel} is not a regular file in the archive", DRIFT)
                if member.size > MAX_MEMBER_BYTES:
                    raise ctx.fail(f"{rel} is {member.size:,} bytes, over the "
                                   f"{MAX_MEMBER_BYTES:,} accepted for one record", DRIFT)
                if rel in seen:
                    raise ctx.fail(f"{rel} appears twice in the archive", DRIFT)
                seen.add(rel)
                data = tar.extractfile(member).read()
                blob = blob_id(data)
                lines.append((rel, blob))
                rows.append(parse_record(ctx, data, rel, match[1], blob))
                if len(rows) >= BATCH_ROWS:
                    yield pa.Table.from_pylist(rows, SCHEMA)
                    rows = []
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ctx.fail(f"{path.name} is truncated or not a gzip'd tar ({shown(text)}), after "
                       f"{len(lines):,} listing files", "the download or copy is broken; "
                       "fetch it again (the previous snapshot stays current)") from None
    if rows:
        yield pa.Table.from_pylist(rows, SCHEMA)
    if not lines:
        raise ctx.fail(f"{path.name} holds no models/**/infos.json", DRIFT)
    ctx.parameters.update(listing_files=len(lines), content_sha256=content_digest(lines))


def collect(ctx: CollectContext) -> Iterator[tuple[str, pa.Table]]:
    pin = pins(ctx.settings)
    ctx.parameters.update(repo=pin["repo"], commit=pin["commit"],
                          public_origin=f"https://github.com/{pin['repo']}/tree/{pin['commit']}",
                          pinned_sha256=pin["sha256"], pinned_content_sha256=pin["content_sha256"])
    _already_current(ctx, pin)
    path, layout = _fetch(ctx, pin)
    latest = None
    for table in read_archive(ctx, path, layout, pin["commit"]):
        newest = pc.max(table.column("last_modified")).as_py()
        latest = newest if latest is None or newest > latest else latest
        yield "raw_hf_archive__models", table
    if ctx.parameters["content_sha256"] != pin["content_sha256"]:
        raise ctx.fail(f"the listing's content sha256 is {ctx.parameters['content_sha256'][:12]}…"
                       f", not the pinned {pin['content_sha256'][:12]}… "
                       f"({ctx.parameters['listing_files']:,} listing files)",
                       "the copy is incomplete, damaged or of another commit; the previous "
                       "snapshot stays current")
    ctx.data_as_of = latest
    ctx.parameters["listing_taken_at"] = latest.isoformat(timespec="seconds") + "Z"


SOURCE = Source(
    name=NAME,
    title="HuggingFace Hub model listing of February 2022 (third-party archive)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_hf_archive__models",
    collect=collect,
    options={"repo": str, "commit": str, "sha256": str, "content_sha256": str},
)
