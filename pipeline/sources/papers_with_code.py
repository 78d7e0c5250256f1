"""Papers with Code: the final archive of paper -> code links and of papers, on the HF Hub.

Papers with Code went offline in July 2025; its last public dumps are kept as two HuggingFace
datasets (CC-BY-SA-4.0):

- `pwc-archive/links-between-paper-and-code`: one row per (paper, repository) link with the
  repository's detected `framework` (pytorch, tf, jax, ..., none) and `is_official`;
- `pwc-archive/papers-with-abstracts`: one row per paper with its `date` and `proceeding`.

Files are listed through the Hub API tree endpoint (`/api/datasets/<repo>/tree/<rev>/data`, the
call `huggingface_hub.HfApi.list_repo_tree` makes) and downloaded from
`/datasets/<repo>/resolve/<rev>/<path>` through the shared HTTP layer (its metadata read on the
Hub's redirect to the CDN, then the bytes from the CDN), so the endpoint is just the source URL
(`ADOPTION_PAPERS_WITH_CODE_URL`, default https://huggingface.co). A file whose LFS sha256 (or
git blob id) in the listing matches a file kept by an earlier snapshot is not downloaded again:
it is hard-linked from that snapshot's raw folder. Every download is checked against the
listing's sha256, so a corrupt transfer is refused; X-Linked-Etag and X-Repo-Commit (from the
redirect, as huggingface_hub reads them) are recorded in the snapshot parameters.

The local files are read with DuckDB's built-in parquet reader (no httpfs / hf:// extension),
only the columns the analysis needs. A local directory (or the raw folder of an earlier
snapshot) works as a source too: `<dir>/<owner>/<dataset>/data/*.parquet`.

Optional: with GITHUB_TOKEN set, the creation dates of the linked GitHub repositories are
looked up through the GraphQL API (100 per query, stopping when the rate limit runs out) into
`raw_papers_with_code__github_repos`; rows are carried over from snapshot to snapshot, so a
refresh asks only for repositories it has not seen (see `github_created`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import duckdb
import pyarrow as pa
import requests

from pipeline.config import env_name, secret
from pipeline.errors import SourceError
from pipeline.http import Origin
from pipeline.rules import repo_identity_sql
from pipeline.source import CollectContext, Source, file_sha256
from pipeline.store import fetch_one, raw_folder_path, utcnow
from pipeline.untrusted import shown, unsafe_name

NAME = "papers_with_code"
DEFAULT_URL = "https://huggingface.co"
LICENCE = (
    "CC-BY-SA-4.0: Papers with Code data archive (huggingface.co/pwc-archive), "
    "originally published by Papers with Code / Meta AI"
)
LINKS_REPO = "pwc-archive/links-between-paper-and-code"
PAPERS_REPO = "pwc-archive/papers-with-abstracts"
DATA_FOLDER = "data"
BATCH_ROWS = 100_000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

TABLES = {
    "raw_papers_with_code__links": """
        CREATE TABLE IF NOT EXISTS raw_papers_with_code__links (
            snapshot_id BIGINT NOT NULL,
            file VARCHAR NOT NULL,             -- <owner>/<dataset>/<path> of the parquet file
            paper_url VARCHAR,
            paper_title VARCHAR,
            paper_arxiv_id VARCHAR,
            repo_url VARCHAR,
            is_official BOOLEAN,
            mentioned_in_paper BOOLEAN,
            mentioned_in_github BOOLEAN,
            framework VARCHAR                  -- as upstream: pytorch, tf, jax, none, ...
        )""",
    "raw_papers_with_code__papers": """
        CREATE TABLE IF NOT EXISTS raw_papers_with_code__papers (
            snapshot_id BIGINT NOT NULL,
            file VARCHAR NOT NULL,
            paper_url VARCHAR,
            arxiv_id VARCHAR,
            date DATE,                         -- NULL when missing or unparseable
            date_raw VARCHAR,                  -- the upstream value, for diagnosis
            proceeding VARCHAR                 -- e.g. neurips-2021-12, cvpr-2022-1
        )""",
    "raw_papers_with_code__github_repos": """
        CREATE TABLE IF NOT EXISTS raw_papers_with_code__github_repos (
            snapshot_id BIGINT NOT NULL,
            repo VARCHAR NOT NULL,             -- owner/name, lower case
            created_at TIMESTAMP,              -- GitHub createdAt (UTC); NULL when missing
            status VARCHAR NOT NULL,           -- ok | missing (deleted, renamed or private)
            fetched_at TIMESTAMP NOT NULL      -- UTC; rows are carried over between snapshots
        )""",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text", "bool" or "date"
    required: bool


#: the columns read from each dataset; missing optional ones become NULL
LINK_COLUMNS = (
    Column("paper_url", "text", True),
    Column("paper_title", "text", False),
    Column("paper_arxiv_id", "text", False),
    Column("repo_url", "text", True),
    Column("is_official", "bool", True),
    Column("mentioned_in_paper", "bool", False),
    Column("mentioned_in_github", "bool", False),
    Column("framework", "text", True),
)
PAPER_COLUMNS = (
    Column("paper_url", "text", True),
    Column("arxiv_id", "text", False),
    Column("date", "date", True),
    Column("proceeding", "text", False),
)
DATASETS = (
    (LINKS_REPO, "raw_papers_with_code__links", LINK_COLUMNS),
    (PAPERS_REPO, "raw_papers_with_code__papers", PAPER_COLUMNS),
)
ACCEPTED_TYPES = {
    "text": ("VARCHAR",),
    "bool": ("BOOLEAN",),
    "date": ("VARCHAR", "DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S",
             "TIMESTAMP WITH TIME ZONE"),
}


@dataclass(frozen=True)
class RemoteFile:
    """One parquet file of a dataset as the Hub lists it."""

    repo: str
    path: str  # inside the dataset repo, e.g. data/train-00000-of-00001.parquet
    size: int
    sha256: str | None  # LFS object id (sha256 of the content), when the file is in LFS
    git_oid: str | None  # git blob id (sha1 of "blob <size>\0" + content)

    @property
    def rel(self) -> str:
        """Where the file lives in the raw folder (and in a local-directory source)."""
        return f"{self.repo}/{self.path}"


def _git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # git's blob id, not security
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _revision(ctx: CollectContext) -> str:
    return ctx.settings.source_option(NAME, "revision", "main") or "main"


def list_remote(ctx: CollectContext, repo: str) -> list[RemoteFile]:
    """The parquet files under `data/` of a dataset repo, from the Hub API tree endpoint."""
    revision = quote(_revision(ctx), safe="")
    url = f"api/datasets/{repo}/tree/{revision}/{DATA_FOLDER}"
    entries: list = []
    pages = 0
    while url:
        payload, fetched = ctx.origin.get_json(url)
        if not isinstance(payload, list):
            raise ctx.fail(f"tree listing of {repo} is {type(payload).__name__}, not a list",
                           "the Hub API changed or the URL is not a Hub endpoint")
        entries.extend(payload)
        pages += 1
        url = _next_page(fetched.headers)
        if pages > 100:
            raise ctx.fail(f"tree listing of {repo} did not end after 100 pages")
    files = []
    for entry in entries:
        if not isinstance(entry, dict) or "path" not in entry:
            raise ctx.fail(f"tree listing of {repo} has an entry without 'path': {entry!r:.80}")
        if entry.get("type") != "file" or not str(entry["path"]).endswith(".parquet"):
            continue
        files.append(_listed_file(ctx, repo, entry))
    return sorted(files, key=lambda f: f.path)


#: a listed file: directly under data/, a plain name (the Hub's shards: train-00000-of-00004)
LISTED_NAME = re.compile(rf"^{DATA_FOLDER}/[A-Za-z0-9][A-Za-z0-9._-]{{0,200}}\.parquet$")


def _listed_file(ctx: CollectContext, repo: str, entry: dict) -> RemoteFile:
    """One tree entry as a RemoteFile, its name and size checked: the name becomes a raw file
    and is read by DuckDB (whose readers glob), the size bounds the download."""
    path = entry["path"]
    if not isinstance(path, str) or not LISTED_NAME.match(path):
        problem = unsafe_name(path) or f"not a plain file name under {DATA_FOLDER}/"
        raise ctx.fail(f"refusing the tree entry {shown(path, 240)} of {repo} ({problem})",
                       "a hostile or broken listing; nothing was downloaded")
    size = entry.get("size")
    cap = ctx.settings.http_bound(NAME, "max_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= cap:
        raise ctx.fail(f"refusing {repo}/{path}: listed size {shown(size, 40)} is not a whole "
                       f"number of bytes up to the {int(cap):,}-byte cap",
                       f"a hostile or broken listing; if the file really is this large, raise "
                       f"{env_name(NAME, 'max_bytes')}")
    lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else {}
    sha = str(lfs.get("oid", "")).lower() or None
    oid = entry.get("oid")
    return RemoteFile(repo, path, size, sha if sha and _HEX64.match(sha) else None,
                      oid if isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{40}", oid)
                      else None)


def _next_page(headers: dict[str, str]) -> str | None:
    link = next((v for k, v in headers.items() if k.lower() == "link"), None)
    if not link:
        return None
    for item in requests.utils.parse_header_links(link):
        if item.get("rel") == "next" and item.get("url"):
            return item["url"]
    return None


def list_local(ctx: CollectContext, repo: str) -> list[RemoteFile]:
    root = ctx.origin.local / repo / DATA_FOLDER
    paths = sorted(root.glob("*.parquet"))
    return [RemoteFile(repo, f"{DATA_FOLDER}/{p.name}", p.stat().st_size, None, None)
            for p in paths]


class PreviousFiles:
    """Files kept by earlier snapshots of this source, found through their sidecars."""

    def __init__(self, ctx: CollectContext) -> None:
        self.by_sha: dict[str, tuple[Path, int]] = {}
        self.by_rel: dict[str, list[tuple[Path, int]]] = {}
        rows = ctx.con.execute(
            "SELECT snapshot_id, raw_dir FROM snapshots WHERE source = ? AND status = 'ok' "
            "AND raw_dir IS NOT NULL ORDER BY snapshot_id DESC", [NAME]).fetchall()
        for _, stored in rows:
            raw_dir = raw_folder_path(ctx.settings.raw_dir, stored)
            sidecar = raw_dir / "_snapshot.json"
            try:
                meta = json.loads(sidecar.read_text())
            except (OSError, ValueError):
                continue  # moved or deleted: nothing to reuse from it
            for entry in meta.get("files", []):
                if unsafe_name(entry.get("path")):
                    continue  # never follow a name that could lead out of the folder
                path = raw_dir / entry["path"]
                origin = (path, int(meta.get("snapshot_id") or 0))
                self.by_sha.setdefault(str(entry.get("sha256")), origin)
                self.by_rel.setdefault(str(entry.get("path")), []).append(origin)

    def match(self, remote: RemoteFile) -> tuple[Path, int, str] | None:
        """A kept file with the same content as `remote`: (path, snapshot id, sha256)."""
        if remote.sha256:
            found = self.by_sha.get(remote.sha256)
            if found and found[0].is_file() and found[0].stat().st_size == remote.size \
                    and file_sha256(found[0]) == remote.sha256:
                return found[0], found[1], remote.sha256
            return None
        if remote.git_oid:
            for path, snapshot in self.by_rel.get(remote.rel, []):
                if path.is_file() and path.stat().st_size == remote.size \
                        and _git_blob_sha1(path) == remote.git_oid:
                    return path, snapshot, file_sha256(path)
        return None


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def fetch_file(ctx: CollectContext, remote: RemoteFile, previous: PreviousFiles,
               stats: dict) -> Path:
    """Put one file into the staging folder: reused when unchanged, else downloaded."""
    dest = ctx.raw_path(remote.rel)
    revision = _revision(ctx)
    record = {"size": remote.size}
    if ctx.origin.local is not None:
        # copied, never linked: a later in-place edit of the user's mirror must not alter
        # the raw copy kept with this snapshot
        src = ctx.origin.local / remote.rel
        shutil.copyfile(src, dest)
        sha = ctx.record_file(remote.rel, dest, src.as_uri())
        stats["files"][remote.rel] = record | {"sha256": sha, "copied_from": str(src)}
        stats["copied"] += 1
        return dest
    url = ctx.origin.url(
        f"datasets/{remote.repo}/resolve/{quote(revision, safe='')}/{remote.path}")
    found = previous.match(remote)
    if found is not None:
        path, snapshot, sha = found
        _link_or_copy(path, dest)
        ctx.record_raw(remote.rel, url, sha, dest.stat().st_size)
        stats["files"][remote.rel] = record | {"sha256": sha, "reused_from_snapshot": snapshot}
        stats["reused"] += 1
        ctx.log.info("%s: %s unchanged (sha256 %s), reused", NAME, remote.rel, sha[:12])
        return dest
    ctx.log.info("%s: downloading %s (%.1f MB)", NAME, remote.rel, remote.size / 1e6)
    # the commit and the file's ETag are on the Hub's redirect to its storage CDN (read as
    # huggingface_hub's get_hf_file_metadata does), not on the CDN's answer; the listed size
    # is enforced
    meta, fetched = ctx.origin.download_resolved(url, dest, size=remote.size)
    sha = fetched.headers["x-sha256"]
    expected = remote.sha256 or (meta.etag if meta.etag and _HEX64.match(meta.etag) else None)
    if expected and sha != expected:
        raise ctx.fail(f"{remote.rel}: downloaded sha256 {sha[:12]} differs from the listing's "
                       f"{expected[:12]}", "the transfer was corrupted; retry later")
    size = dest.stat().st_size
    ctx.record_raw(remote.rel, url, sha, size)
    stats["files"][remote.rel] = record | {"sha256": sha, "etag": meta.etag,
                                           "revision": meta.commit or revision}
    stats["downloaded"] += 1
    stats["bytes_downloaded"] += size
    return dest


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select_list(ctx: CollectContext, rel: str, schema: dict[str, str],
                 columns: tuple[Column, ...]) -> str:
    """SELECT expressions reading `columns` from a file with `schema`; refuses drift."""
    parts = []
    for col in columns:
        kind = schema.get(col.name)
        if kind is None:
            if col.required:
                raise ctx.fail(
                    f"{rel} has no column '{col.name}' (columns: {', '.join(schema)})",
                    "the upstream schema changed; check the dataset before re-running")
            sql_type = {"text": "VARCHAR", "bool": "BOOLEAN", "date": "DATE"}[col.kind]
            parts.append(f"NULL::{sql_type} AS {col.name}")
            if col.kind == "date":
                parts.append(f"NULL::VARCHAR AS {col.name}_raw")
            continue
        if kind not in ACCEPTED_TYPES[col.kind]:
            raise ctx.fail(
                f"{rel}: column '{col.name}' has type {kind}, expected "
                f"{' or '.join(ACCEPTED_TYPES[col.kind][:2])}",
                "the upstream schema changed; check the dataset before re-running")
        quoted = f'"{col.name}"'
        if col.kind == "date":
            parts.append(f"TRY_CAST({quoted} AS DATE) AS {col.name}")
            parts.append(f"CAST({quoted} AS VARCHAR) AS {col.name}_raw")
        else:
            parts.append(f"{quoted} AS {col.name}")
    return ", ".join(parts)


def read_parquet(ctx: CollectContext, path: Path, rel: str, columns: tuple[Column, ...],
                 limit: int | None) -> Iterator[pa.Table]:
    """Arrow batches of the wanted columns of one local parquet file."""
    reader = duckdb.connect()
    try:
        source = f"read_parquet({_sql_string(str(path))})"
        try:
            described = reader.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "unreadable"
            raise ctx.fail(f"{rel} is not a readable parquet file ({first})",
                           "the upstream file is corrupt; the previous snapshot stays current"
                           ) from None
        schema = {name: str(kind) for name, kind, *_ in described}
        select = _select_list(ctx, rel, schema, columns)
        sql = f"SELECT {_sql_string(rel)} AS file, {select} FROM {source}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            batches = reader.sql(sql).to_arrow_reader(BATCH_ROWS)
            for batch in batches:
                yield pa.Table.from_batches([batch])
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "unreadable"
            raise ctx.fail(f"{rel} could not be read ({first})",
                           "the upstream file is corrupt; the previous snapshot stays current"
                           ) from None
    finally:
        reader.close()


def collect(ctx: CollectContext) -> Iterator[tuple[str, pa.Table]]:
    limit = ctx.options.get("limit")
    ctx.partial = limit is not None
    previous = PreviousFiles(ctx)
    stats: dict = {"downloaded": 0, "reused": 0, "copied": 0, "bytes_downloaded": 0,
                   "files": {}}
    listed: list[tuple[RemoteFile, str, tuple[Column, ...]]] = []
    for repo, table, columns in DATASETS:
        files = list_local(ctx, repo) if ctx.origin.local is not None else list_remote(ctx, repo)
        if not files:
            where = (ctx.origin.local / repo / DATA_FOLDER if ctx.origin.local is not None
                     else f"{repo}/{DATA_FOLDER}")
            raise ctx.fail(f"no parquet files listed in {where}",
                           "check the endpoint and the dataset name")
        listed.extend((f, table, columns) for f in files)
    paths = [(fetch_file(ctx, remote, previous, stats), remote, table, columns)
             for remote, table, columns in listed]
    _carry_github_raw(ctx)
    if not secret("GITHUB_TOKEN"):  # with a token, new creation dates may still come in
        ctx.stop_if_unchanged()
    ctx.parameters.update({"revision": _revision(ctx), "limit_rows_per_table": limit,
                           "files_downloaded": stats["downloaded"],
                           "files_reused": stats["reused"], "files_copied": stats["copied"],
                           "bytes_downloaded": stats["bytes_downloaded"],
                           "files": stats["files"]})
    remaining = {table: limit for _, table, _ in DATASETS}
    dates = DateCheck()
    loaded = set()
    for path, remote, table, columns in paths:
        left = remaining[table]
        if left is not None and left <= 0:
            continue
        for batch in read_parquet(ctx, path, remote.rel, columns, left):
            if left is not None:
                remaining[table] = left = left - batch.num_rows
            if "date_raw" in batch.column_names:
                dates.add(batch)
            yield table, batch
        loaded.add(remote.rel)
    not_loaded = [remote.rel for _, remote, _, _ in paths if remote.rel not in loaded]
    if not_loaded and not ctx.partial:
        raise ctx.fail(f"incomplete: {len(not_loaded)} listed archive file(s) not loaded "
                       f"({', '.join(not_loaded[:3])})", "retry; the previous snapshot stays "
                       "current")
    dates.check(ctx)
    links = [path for path, _, table, _ in paths if table == "raw_papers_with_code__links"]
    yield from github_created(ctx, links)


class DateCheck:
    """Counts paper dates that are present but unparseable: most of them means format drift."""

    def __init__(self) -> None:
        self.present = 0
        self.bad = 0
        self.example: str | None = None

    def add(self, batch: pa.Table) -> None:
        raw = batch.column("date_raw").to_pylist()
        parsed = batch.column("date").to_pylist()
        for text, value in zip(raw, parsed, strict=True):
            if text is None or not str(text).strip():
                continue
            self.present += 1
            if value is None:
                self.bad += 1
                self.example = self.example or str(text)

    def check(self, ctx: CollectContext) -> None:
        ctx.parameters["paper_dates_unparseable"] = self.bad
        if self.present and self.bad > self.present / 2:
            raise ctx.fail(
                f"{self.bad} of {self.present} paper dates cannot be parsed "
                f"(e.g. {self.example!r})",
                "the upstream date format changed; check the dataset before re-running")


# -- optional enrichment: repository creation dates from the GitHub GraphQL API -----------------

GITHUB_TABLE = "raw_papers_with_code__github_repos"
GITHUB_DEFAULT_URL = "https://api.github.com"
GITHUB_BATCH = 100  # repositories per GraphQL query (one rate-limit point)
GITHUB_NAME = re.compile(r"^[a-z0-9_.-]+$")
#: the canonical repositories on github.com among the links (one identity rule: pipeline.rules)
GITHUB_REPOS_SQL = """
SELECT DISTINCT github_repo AS repo FROM ({identities})
WHERE github_repo IS NOT NULL
ORDER BY repo
"""


def github_created(ctx: CollectContext, link_files: list[Path]) -> Iterator[tuple[str, list]]:
    """Creation dates of the linked GitHub repositories, cached across snapshots.

    Rows of the current snapshot are carried over, so a run asks GitHub only for repositories
    it has not seen (at most `ADOPTION_PAPERS_WITH_CODE_GITHUB_MAX` per run, default 50,000;
    the rest waits for the next refresh). Optional: without GITHUB_TOKEN nothing is asked, and
    a GitHub failure or an exhausted rate limit stops the enrichment - it never fails the
    snapshot - and is recorded in the snapshot parameters.
    """
    cached: dict[str, str] = {}
    if ctx.previous_snapshot_id is not None:
        carried = ctx.con.sql(
            f"SELECT repo, created_at, status, fetched_at FROM {GITHUB_TABLE} "
            f"WHERE snapshot_id = {int(ctx.previous_snapshot_id)}").to_arrow_table()
        if carried.num_rows:
            cached = dict(zip(carried.column("repo").to_pylist(),
                              carried.column("status").to_pylist(), strict=True))
            yield GITHUB_TABLE, carried
    token = secret("GITHUB_TOKEN")
    info: dict = {"cached": len(cached)}
    ctx.parameters["github_enrichment"] = info
    if token is None:
        info["status"] = "skipped: GITHUB_TOKEN not set"
        return
    if ctx.partial:  # a --limit run never becomes current, so its lookups would be lost
        info["status"] = "skipped: partial (--limit) run"
        return
    reader = duckdb.connect()
    try:
        files = "[" + ", ".join(_sql_string(str(p)) for p in link_files) + "]"
        links = repo_identity_sql(f"SELECT repo_url FROM read_parquet({files})")
        wanted = [r[0] for r in reader.execute(
            GITHUB_REPOS_SQL.format(identities=links)).fetchall()]
    finally:
        reader.close()
    missing = [r for r in wanted if r not in cached and _valid_repo(r)]
    limit = ctx.settings.source_option(NAME, "github_max", 50000, int)
    info |= {"linked_repos": len(wanted), "to_fetch": len(missing), "max_per_run": limit}
    todo = missing[:limit]
    base = ctx.settings.source_option(NAME, "github_url", GITHUB_DEFAULT_URL)
    github = Origin(NAME, base or GITHUB_DEFAULT_URL, ctx.settings)
    auth = github.credentials("GITHUB_TOKEN", "bearer")  # only to that API, only over HTTPS
    if not auth:
        info["status"] = f"skipped: GITHUB_TOKEN is sent only over HTTPS, not to {github.base}"
        return
    fetched = 0
    info["status"] = "complete"
    for start in range(0, len(todo), GITHUB_BATCH):
        batch = todo[start:start + GITHUB_BATCH]
        try:
            rows, remaining, content = _github_batch(github, auth, batch)
        except GitHubStop as stop:
            info["status"] = f"stopped: {stop}"
            ctx.log.warning("%s: GitHub creation dates %s; %d repositories left for the next "
                            "refresh", NAME, stop, len(todo) - start)
            break
        fetched += len(rows)
        ctx.save_raw(f"github/graphql-{ctx.snapshot_id}-{start // GITHUB_BATCH:05d}.json",
                     content, github.url("graphql"))
        yield GITHUB_TABLE, rows
        if remaining is not None and remaining < 2:
            info["status"] = "stopped: rate limit used up"
            ctx.log.warning("%s: GitHub rate limit used up; %d repositories left for the next "
                            "refresh", NAME, len(todo) - start - len(batch))
            break
    info["fetched"] = fetched
    info["left"] = len(missing) - fetched


def _carry_github_raw(ctx: CollectContext) -> None:
    """The GraphQL responses behind the creation dates carried over from the current snapshot
    are part of this snapshot's payloads too (kept in the folder that fetched them)."""
    if ctx.previous_snapshot_id is None:
        return
    raw_dir = fetch_one(ctx.con, "SELECT raw_dir FROM snapshots WHERE snapshot_id = ?",
                        [ctx.previous_snapshot_id])[0]
    try:
        files = json.loads((raw_folder_path(ctx.settings.raw_dir, raw_dir) / "_snapshot.json")
                           .read_text())["files"]
    except (OSError, TypeError, ValueError, KeyError):
        return
    for entry in files:
        if str(entry.get("path", "")).startswith("github/"):
            ctx.record_raw(entry["path"], entry.get("url", ""), entry["sha256"],
                           entry.get("bytes"), kept_in=entry.get("kept_in")
                           or ctx.previous_snapshot_id)


def _valid_repo(repo: str) -> bool:
    owner, _, name = repo.partition("/")
    return bool(GITHUB_NAME.match(owner) and GITHUB_NAME.match(name))


class GitHubStop(Exception):
    """The enrichment cannot go on in this run (rate limit, bad token, outage)."""


def _github_batch(github: Origin, auth: dict[str, str],
                  repos: list[str]) -> tuple[list[dict], int | None, bytes]:
    """Creation dates of up to 100 repositories in one GraphQL query (and the response)."""
    fields = " ".join(
        f'r{i}: repository(owner: "{r.split("/")[0]}", name: "{r.split("/")[1]}") '
        "{ createdAt }" for i, r in enumerate(repos))
    query = "query { rateLimit { remaining resetAt } " + fields + " }"
    payload, content = None, b""
    for attempt in range(2):
        try:  # the shared HTTP layer: same caps and deadlines as every request
            response = github.post("graphql", {"query": query}, headers=auth)
        except SourceError as exc:
            raise GitHubStop(f"request failed ({exc.message})") from None
        if response.status in (502, 503, 504) and attempt == 0:
            continue
        if response.status == 401:
            raise GitHubStop("GITHUB_TOKEN was rejected (HTTP 401)")
        if response.status in (403, 429):
            raise GitHubStop(f"rate limited (HTTP {response.status})")
        if response.status >= 400:
            raise GitHubStop(f"HTTP {response.status}")
        try:
            payload = json.loads(response.content)
            content = response.content
        except (ValueError, RecursionError):
            raise GitHubStop("malformed JSON response") from None
        break
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        errors = payload.get("errors") if isinstance(payload, dict) else None
        kind = errors[0].get("type", "error") if isinstance(errors, list) and errors else "?"
        raise GitHubStop(f"no data in the GraphQL response ({kind})")
    data = payload["data"]
    now = utcnow()
    rows = []
    for i, repo in enumerate(repos):
        node = data.get(f"r{i}")
        created = node.get("createdAt") if isinstance(node, dict) else None
        when = None
        if isinstance(created, str):
            try:
                when = datetime.fromisoformat(created.replace("Z", "+00:00"))
            except ValueError:
                when = None
            else:
                when = when.astimezone(UTC).replace(tzinfo=None)
        rows.append({"repo": repo, "created_at": when, "status": "ok" if when else "missing",
                     "fetched_at": now})
    limit = data.get("rateLimit")
    remaining = limit.get("remaining") if isinstance(limit, dict) else None
    return rows, remaining if isinstance(remaining, int) else None, content


SOURCE = Source(
    name=NAME,
    title="Papers with Code archive: paper -> code links with framework, and papers",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_papers_with_code__links",
    collect=collect,
    limit_unit="rows per table",
    options={"revision": str, "github_url": str, "github_max": int},
)
