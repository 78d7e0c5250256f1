"""HuggingFace Hub models: id, tags, library, downloads, likes and dates of every public model.

Three modes fill the same table (`raw_hf__models`), chosen with `--hf-mode`,
`ADOPTION_HF_MODELS_MODE` or `[sources.hf_models] mode`:

* `auto` (default): one request, the tree listing of the daily dump `cfahlgren1/hub-stats`
  (`expand=true`), decides on `models.parquet`'s own last commit (the repository's
  `lastModified` moves every day with its other files). Changed within `max_dump_age_days`
  (default 3): parquet mode. Older, missing, gone, failing or lacking a column: the api crawl,
  said in one log line.
* `parquet`: download the dump's `models.parquet` (~1.1-1.4 GB in 2026: its metadata from the
  Hub's redirect, the bytes from the CDN, checked against the listed size and sha256) and read
  only our columns with DuckDB. When the file's oid (its LFS sha256) is the one the current
  snapshot was built from, nothing is downloaded and no snapshot is made (`Unchanged`).
* `api`: crawl `/api/models` 1,000 models a page, following the cursor in the `Link` header,
  through the pipeline's own HTTP layer (same retries, timeouts and errors as every source)
  and paced on the Hub's `RateLimit` headers. After each page the cursor and the page's rows
  are checkpointed under `<raw_dir>/hf_models/.checkpoint/` (never in the database); the next
  refresh resumes an interrupted crawl there if it is younger than `checkpoint_max_age_hours`
  (default 24). Rows reach the database only when the crawl is complete, in one transaction.

huggingface_hub parses what the Hub answers (`RepoFile`, `parse_ratelimit_headers`). The
endpoint is `ADOPTION_HF_MODELS_URL`, else `HF_ENDPOINT`, else https://huggingface.co.
`HF_TOKEN` (environment only) is sent when set and never logged or stored.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from requests.utils import parse_header_links

from pipeline.config import Settings, env_name
from pipeline.errors import HttpStatusError, SourceError, Unchanged, Unreachable
from pipeline.http import Origin, redact
from pipeline.source import CollectContext, Source, file_sha256
from pipeline.store import utcnow
from pipeline.untrusted import shown
from pipeline.versioned import Versioned

NAME = "hf_models"
DEFAULT_URL = "https://huggingface.co"
LICENCE = (
    "HuggingFace Hub public model metadata (huggingface.co/api/models), used under the Hub's "
    "terms of service; parquet mode: dataset cfahlgren1/hub-stats (public)"
)
MODES = ("auto", "api", "parquet")
DEFAULTS = {"mode": "auto", "max_dump_age_days": 3.0, "checkpoint_max_age_hours": 24.0,
            "max_pages": 0}
#: the api crawl's page cap (unless `max_pages` is set): twice the pages the expected total
#: needs, plus a margin; the expected total is the current snapshot's, else this
FIRST_CRAWL_EXPECTED = 5_000_000
DUMP_REPO = "cfahlgren1/hub-stats"
DUMP_FILE = "models.parquet"
DUMP_TREE_REL = f"api/datasets/{DUMP_REPO}/tree/main"
HUB_STATS_REL = f"datasets/{DUMP_REPO}/resolve/main/{DUMP_FILE}"  # also a local copy's layout
API_RAW_REL = "api_models.parquet"
#: what a snapshot's raw folder keeps: the models new or changed since its parent snapshot
#: (every model for a first snapshot, which therefore reloads alone, offline)
KEPT_REL = "raw_hf__models.changes.parquet"
PAGE_SIZE = 1000
BATCH_ROWS = 20_000
PACE_BELOW = 0.5  # spread requests out once under half of the rate-limit window's quota is left
DRIFT = "schema drift upstream; check the /api/models response"

#: raw_hf__models: our column, its name at the Hub (JSON and hub-stats parquet), type, required
COLUMNS = [
    ("id", "id", pa.string(), True),
    ("author", "author", pa.string(), False),  # empty for legacy ids such as bert-base-uncased
    ("tags", "tags", pa.list_(pa.string()), True),
    ("library_name", "library_name", pa.string(), False),
    ("pipeline_tag", "pipeline_tag", pa.string(), False),
    ("downloads", "downloads", pa.int64(), True),  # the Hub's rolling 30-day count
    ("downloads_all_time", "downloadsAllTime", pa.int64(), False),
    ("likes", "likes", pa.int64(), True),
    ("created_at", "createdAt", pa.timestamp("us"), True),  # UTC, as both dates
    ("last_modified", "lastModified", pa.timestamp("us"), False),
]
EXPAND = [hub for _, hub, _, _ in COLUMNS[1:]]  # fields asked of /api/models (`id` always comes)
SCHEMA = pa.schema([(name, kind) for name, _, kind, _ in COLUMNS])
RAW_SCHEMA = pa.schema([(hub, kind) for _, hub, kind, _ in COLUMNS])  # api_models.parquet
SQL_TYPES = {pa.string(): "VARCHAR", pa.list_(pa.string()): "VARCHAR[]", pa.int64(): "BIGINT",
             pa.timestamp("us"): "TIMESTAMP"}
#: stored as row versions + a membership list (pipeline.versioned): snapshot_id is the snapshot
#: that first stored a version; the macro raw_hf__models_at(s) gives snapshot s in full
TABLES = {"raw_hf__models": "CREATE TABLE IF NOT EXISTS raw_hf__models (snapshot_id BIGINT NOT "
          "NULL, version_id BIGINT, row_hash UBIGINT, "
          + ", ".join(f"{name} {SQL_TYPES[kind]}" + " NOT NULL" * required
                      for name, _, kind, required in COLUMNS) + ")"}


# -- configuration ------------------------------------------------------------------------------

def option(settings: Settings, key: str) -> Any:
    """A `[sources.hf_models]` setting (or its ADOPTION_HF_MODELS_* variable), else its default;
    numbers are checked, so a bad value is one clear line."""
    return settings.source_option(NAME, key, DEFAULTS[key], type(DEFAULTS[key]))


def _previous(ctx: CollectContext) -> tuple[dict, int | None]:
    """Parameters and row count of the current snapshot (empty before the first)."""
    rows = ctx.con.execute("SELECT parameters, row_count FROM snapshots WHERE snapshot_id = ?",
                           [ctx.previous_snapshot_id]).fetchall()
    return (json.loads(rows[0][0] or "{}"), rows[0][1]) if rows else ({}, None)


def _first(exc: BaseException, path: Path | None = None) -> str:
    """The first line of an error, with `path` shortened to its name."""
    text = str(exc).replace(str(path), path.name) if path else str(exc)
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


# -- the hub-stats dump (parquet mode) ----------------------------------------------------------

def dump(ctx: CollectContext, mode: str, headers: dict) -> Path | None:
    """Download and check models.parquet; None when auto mode should crawl the API instead."""
    if ctx.origin.local is not None:  # a folder: a copy of the dump, or a snapshot's raw folder
        rel = next((r for r in (HUB_STATS_REL, API_RAW_REL, KEPT_REL)
                    if (ctx.origin.local / r).is_file()), HUB_STATS_REL)
        source = ctx.origin.local / rel
        if not source.is_file():
            raise ctx.fail(f"file not found: {source}", "check the configured local directory")
        # read in place: the dump is never kept, so copying a GB into staging would only cost
        ctx.record_raw(rel, source.as_uri(), file_sha256(source), source.stat().st_size)
        return source
    try:
        found = _dump_download(ctx, mode, headers)
    except Unreachable:
        raise  # no answer from the endpoint at all: the crawl would get none either
    except SourceError as exc:
        if mode != "auto":
            raise
        found = exc.message if isinstance(exc, DumpGone) else \
            f"the hub-stats dump cannot be used ({exc.message})"
    if isinstance(found, Path):
        return found
    ctx.log.warning("%s: %s; crawling /api/models instead", NAME, found)
    ctx.parameters["mode_reason"] = found
    shutil.rmtree(ctx.staging_dir / "datasets", ignore_errors=True)
    return None


@dataclass(frozen=True)
class DumpFile:
    """models.parquet as the dataset's tree listing describes it: the file's own identity and
    freshness, not the repository's (whose `sha` and `lastModified` move with every daily
    update of its other files while models.parquet may stay stale)."""

    oid: str  # its LFS sha256, else its xet hash, else its git blob id: same oid, same bytes
    sha256: str | None  # the LFS sha256, to check the download against
    size: int
    commit: str  # the last commit that changed it (a revision at which it is exactly this)
    modified: datetime  # that commit's date, UTC (naive)


class DumpGone(SourceError):
    """The hub-stats dataset, or its models.parquet, answers "not found" (taken down)."""


def _gone(ctx: CollectContext, mode: str, what: str, exc: HttpStatusError) -> DumpGone:
    """The dataset (or its file) answers "not found": one line saying so and what to do."""
    hint = ("parquet mode has no dump to read: use --hf-mode api (or auto, which crawls then)"
            if mode == "parquet" else "")
    return DumpGone(NAME, redact(f"{what} is gone ({exc.message})"), hint)


def dump_file(ctx: CollectContext, mode: str, headers: dict) -> DumpFile:
    """models.parquet's entry in the tree listing of the dataset (`expand=true`: with its last
    commit), parsed by huggingface_hub's RepoFile; refuses a listing without it."""
    from huggingface_hub.hf_api import RepoFile

    try:
        fetched = ctx.origin.get(DUMP_TREE_REL, {"expand": "true"}, headers)
    except HttpStatusError as exc:
        if exc.gone:
            raise _gone(ctx, mode, f"the hub-stats dataset {DUMP_REPO}", exc) from None
        raise
    listing = ctx.origin.parse_json(fetched)
    entry = next((e for e in listing if isinstance(e, dict) and e.get("path") == DUMP_FILE)
                 if isinstance(listing, list) else (), None)
    if entry is None:
        raise DumpGone(NAME, f"{DUMP_FILE} is gone from {DUMP_REPO} (not in its tree listing)",
                       "parquet mode has no dump to read: use --hf-mode api (or auto)"
                       if mode == "parquet" else "")
    try:
        file = RepoFile(**entry)
        commit = file.last_commit
        when = commit.date.astimezone(UTC).replace(tzinfo=None)
        oid = (file.lfs.sha256 if file.lfs else None) or file.xet_hash or file.blob_id
        if not (re.fullmatch(r"[0-9a-f]{40}", str(commit.oid))
                and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", str(oid))):
            raise ValueError(f"commit id {shown(commit.oid, 50)} or oid {shown(oid, 70)} is "
                             "not a hex id")
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ctx.fail(f"unexpected tree entry for {DUMP_FILE} of {DUMP_REPO}: {_first(exc)}",
                       "the Hub's tree listing changed; check it") from None
    size, cap = file.size, int(ctx.settings.http_bound(NAME, "max_bytes"))
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= cap:
        raise ctx.fail(f"refusing {DUMP_FILE} of {DUMP_REPO}: listed size {shown(size, 40)} "
                       f"is not a whole number of bytes up to the {cap:,}-byte cap",
                       f"a hostile or broken listing; if the dump really is this large, raise "
                       f"{env_name(NAME, 'max_bytes')} or [http] max_bytes")
    return DumpFile(str(oid), file.lfs.sha256 if file.lfs else None, size, str(commit.oid),
                    when)


def _dump_download(ctx: CollectContext, mode: str, headers: dict) -> Path | str:
    """The checked models.parquet, or why auto mode should not use it."""
    file = dump_file(ctx, mode, headers)
    age = (utcnow() - file.modified) / timedelta(days=1)
    found = {"dump_repo": DUMP_REPO, "dump_file_commit": file.commit, "dump_file_oid": file.oid,
             "dump_age_days": round(age, 2),
             "dump_last_modified": file.modified.isoformat(timespec="seconds") + "Z"}
    if mode == "auto" and age > option(ctx.settings, "max_dump_age_days"):
        return (f"the hub-stats dump is {age:.1f} days old (max_dump_age_days = "
                f"{option(ctx.settings, 'max_dump_age_days'):g})")
    previous, _ = _previous(ctx)
    reuse = not ctx.options.get("limit") and not ctx.options.get("force")
    if reuse and file.oid in (previous.get("dump_file_oid"), previous.get("dump_etag")):
        raise Unchanged(f"hub-stats {DUMP_FILE} {file.oid[:12]} (last changed in commit "
                        f"{file.commit[:12]}, {found['dump_last_modified']}) is already "
                        f"snapshot {ctx.previous_snapshot_id} (use --force to reload)")
    path = ctx.raw_path(HUB_STATS_REL)
    rel = f"datasets/{DUMP_REPO}/resolve/{file.commit}/{DUMP_FILE}"
    try:
        meta, fetched = ctx.origin.download_resolved(rel, path, headers)
    except HttpStatusError as exc:
        if exc.gone:
            raise _gone(ctx, mode, f"{DUMP_FILE} of {DUMP_REPO}", exc) from None
        raise
    sha = fetched.headers["x-sha256"]
    if file.sha256 and sha != file.sha256 or meta.etag and file.sha256 and meta.etag != sha:
        path.unlink(missing_ok=True)
        raise ctx.fail(f"{DUMP_FILE} of {DUMP_REPO}: downloaded sha256 {sha[:12]} differs from "
                       f"the listing's {str(file.sha256)[:12]} (X-Linked-Etag "
                       f"{str(meta.etag)[:12]})", "the transfer was corrupted; retry later")
    parquet_query(ctx, path)
    ctx.parameters.update(found, dump_sha=meta.commit or file.commit, dump_etag=meta.etag,
                          dump_size=meta.size, mode_reason=f"hub-stats dump {age:.1f} days old")
    ctx.record_raw(HUB_STATS_REL, meta.url, sha, path.stat().st_size)
    return path


def parquet_query(ctx: CollectContext, path: Path) -> str:
    """SQL reading a hub-stats-shaped parquet as our columns; refuses a broken file or a
    missing required column before anything is loaded (so auto mode can still fall back)."""
    import duckdb

    cur = ctx.con.cursor()  # an error here must not abort the loader's transaction on ctx.con
    try:
        described = cur.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise ctx.fail(f"malformed parquet {path.name}: {_first(exc, path)}",
                       "the download is broken or truncated; retry later") from None
    finally:
        cur.close()
    types = {row[0] for row in described}
    # the changes file a snapshot keeps (pipeline.versioned) has our column names
    named = {hub: (name if hub not in types and name in types else hub)
             for name, hub, _, _ in COLUMNS}
    types |= {hub for hub, col in named.items() if col in types}
    missing = [hub for _, hub, _, required in COLUMNS if required and hub not in types]
    if missing:
        raise ctx.fail(f"{path.name} has no column {', '.join(map(repr, missing))}",
                       "schema drift in the hub-stats dataset; check its columns")
    # TimeZone is UTC on the reading cursor, so TIMESTAMPTZ and ISO strings with Z land in UTC
    select = ", ".join((f'CAST("{named[hub]}" AS {SQL_TYPES[kind]})' if hub in types
                        else f"NULL::{SQL_TYPES[kind]}") + f" AS {name}"
                       for name, hub, kind, _ in COLUMNS)
    limit = ctx.options.get("limit")
    return (f"SELECT {select} FROM read_parquet(?) "
            + (f"ORDER BY downloads DESC, id LIMIT {int(limit)}" if limit else ""))


def read_parquet(ctx: CollectContext, path: Path) -> Iterator[tuple[str, pa.Table]]:
    """Stream the parquet file as batches of raw_hf__models rows."""
    import duckdb

    sql = parquet_query(ctx, path)
    cur = ctx.con.cursor()  # its own result stream; the loader inserts on ctx.con meanwhile
    try:
        cur.execute("SET TimeZone = 'UTC'")
        with _progress(ctx, ctx.options.get("limit")) as bar:
            for batch in cur.sql(sql, params=[str(path)]).to_arrow_reader(BATCH_ROWS):
                table = pa.Table.from_batches([batch]).cast(SCHEMA)
                lost = [hub for name, hub, _, needed in COLUMNS if needed
                        and table.column(name).null_count]
                if lost:
                    raise ctx.fail(f"{path.name} has rows without {lost[0]!r}",
                                   "schema drift in the hub-stats dataset")
                bar.update(table.num_rows)
                yield "raw_hf__models", table
    except duckdb.Error as exc:
        raise ctx.fail(f"cannot read {path.name}: {_first(exc)}",
                       "the file is malformed or a column has an unexpected type") from None
    finally:
        cur.close()


# -- the api crawl ------------------------------------------------------------------------------

def checkpoint_dir(settings: Settings) -> Path:
    return settings.raw_dir / NAME / ".checkpoint"


def _read_state(folder: Path) -> dict | None:
    try:
        state = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return None
    keys = {"crawl_id", "query", "next", "pages", "models", "started_at"}
    return state if isinstance(state, dict) and keys <= state.keys() else None


def _age_hours(state: dict) -> float:
    return (utcnow() - datetime.fromisoformat(state["started_at"])) / timedelta(hours=1)


def crawl_status(settings: Settings) -> str | None:
    """One line about an unfinished api crawl, read from its checkpoint file alone (never the
    database, so it works while a refresh holds it); None when there is none."""
    state = _read_state(checkpoint_dir(settings))
    if not state or state.get("complete"):
        return None
    age, total = _age_hours(state), state.get("total")
    of = f" of about {total:,}" if total else ""
    then = ("the next refresh starts over (older than checkpoint_max_age_hours)"
            if age > option(settings, "checkpoint_max_age_hours")
            else "the next refresh resumes it (--restart discards it)")
    return (f"unfinished api crawl: {state['pages']:,} pages, {state['models']:,} models{of}, "
            f"started {age:.1f} h ago; {then}")


def _resume(ctx: CollectContext, folder: Path, query: str) -> dict:
    """The checkpointed crawl to continue, or a fresh one (saying why an old one is dropped)."""
    state, max_age = _read_state(folder), option(ctx.settings, "checkpoint_max_age_hours")
    reason = None
    if state and ctx.options.get("restart"):
        reason = "--restart"
    elif state and state["query"] != query:
        reason = "it crawled another endpoint or other fields"
    elif state and _age_hours(state) > max_age:
        reason = f"it is {_age_hours(state):.1f} h old, over checkpoint_max_age_hours = {max_age:g}"
    elif state:
        ctx.log.info("%s: resuming the crawl at page %d (%d models kept, started %.1f h ago)",
                     NAME, state["pages"] + 1, state["models"], _age_hours(state))
        return state
    if reason:
        ctx.log.info("%s: discarded the checkpoint of an unfinished crawl (%s); starting from "
                     "the first page", NAME, reason)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return {"crawl_id": uuid.uuid4().hex, "query": query, "next": query, "pages": 0,
            "models": 0, "started_at": utcnow().isoformat(timespec="seconds"), "complete": False}


def page_table(ctx: CollectContext, items: Any, seen: int) -> pa.Table:
    """One page of the listing as our columns; refuses drift, naming the model and field."""
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ctx.fail("unexpected shape of the model listing (not a list of objects)", DRIFT)
    arrays = []
    for _, hub, kind, required in COLUMNS:
        is_date = pa.types.is_timestamp(kind)
        try:
            arr = pa.array([item.get(hub) for item in items], pa.string() if is_date else kind)
            if is_date:
                arr = arr.cast(pa.timestamp("us", tz="UTC")).cast(kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            problem = "unparseable value" if is_date else "unexpected type"
            raise ctx.fail(f"{problem} in field {hub!r} of the model listing: {_first(exc)}",
                           DRIFT) from None
        if required and arr.null_count:
            k = arr.is_null().to_pylist().index(True)
            model = shown(items[k].get("id", "no id"), 80)
            raise ctx.fail(f"model #{seen + k + 1} ({model}) of the listing has no {hub!r} "
                           "field", DRIFT)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _pace(ctx: CollectContext, headers: dict, started: float) -> None:
    """Spread the requests left in the Hub's rate-limit window over the time left in it, once
    under PACE_BELOW of the quota is left; stop if the wait is longer than we wait."""
    from huggingface_hub.utils import parse_ratelimit_headers

    info = parse_ratelimit_headers(headers)
    if info is None or (info.limit and info.remaining >= info.limit * PACE_BELOW):
        return
    wait = (info.reset_in_seconds / (info.remaining + 1) - (time.monotonic() - started)
            if info.remaining else float(info.reset_in_seconds))
    if wait > ctx.settings.retry_after_max:
        again = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%H:%M")
        raise ctx.fail(f"the Hub's rate limit ({info.limit} requests per {info.window_seconds} s)"
                       f" is used up for {wait:.0f} s, longer than the "
                       f"{ctx.settings.retry_after_max:g} s we wait", f"re-run after {again} UTC")
    time.sleep(max(0.0, wait))


def page_cap(ctx: CollectContext, total: int | None, limit: int | None) -> int:
    """Most listing pages a crawl may take: `max_pages`, else derived from the expected total
    (an endless or looping listing stops there instead of filling the disk)."""
    configured = option(ctx.settings, "max_pages")
    if configured > 0:
        return configured
    if limit:
        return -(-limit // PAGE_SIZE) + 1
    return 2 * -(-(total or FIRST_CRAWL_EXPECTED) // PAGE_SIZE) + 10


def _next_link(ctx: CollectContext, fetched: Any, url: str, rows: int) -> str | None:
    """The listing's next page, checked before it is kept: on the origin's own scheme and
    host (Origin.url refuses any other), not the page just read, not after an empty page."""
    links = parse_header_links(next((v for k, v in fetched.headers.items()
                                     if k.lower() == "link"), ""))
    link = next((item["url"] for item in links if item.get("rel") == "next"), None)
    if not link:
        return None
    following = ctx.origin.url(link)
    if following == url or not rows:
        raise ctx.fail(f"the listing does not advance: page {shown(url)} "
                       f"{'is empty but' if not rows else ''} links itself or another page",
                       "a hostile or broken listing; the crawl is stopped")
    return following


def _pages(ctx: CollectContext, headers: dict, state: dict, folder: Path | None,
           limit: int | None) -> Iterator[pa.Table]:
    """The pages kept in the checkpoint, then the rest of the listing, each one checkpointed
    (rows first, then the state naming them) before it is handed on."""
    for n in range(1, state["pages"] + 1):
        yield pq.read_table(folder / f"page-{n:06d}.parquet").cast(SCHEMA)
    url = state["next"]
    cap = page_cap(ctx, state.get("total"), limit)
    while url and not (limit and state["models"] >= limit):
        if state["pages"] >= cap:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)  # a runaway crawl is not resumed
            raise ctx.fail(
                f"the listing did not end after {cap:,} pages (twice what about "
                f"{state.get('total') or FIRST_CRAWL_EXPECTED:,} models need)",
                "a hostile or looping listing; if the Hub really grew this much, set "
                f"{env_name(NAME, 'max_pages')}")
        started = time.monotonic()
        fetched = ctx.origin.get(url, headers=headers)
        table = page_table(ctx, ctx.origin.parse_json(fetched), state["models"])
        table = table.slice(0, limit - state["models"]) if limit else table
        url = _next_link(ctx, fetched, url, table.num_rows)
        state.update(next=url, pages=state["pages"] + 1, models=state["models"] + table.num_rows)
        if folder:
            page = folder / f"page-{state['pages']:06d}.parquet"
            pq.write_table(table, page.with_suffix(".tmp"))
            page.with_suffix(".tmp").replace(page)
            _save(folder / "state.json", state)
        yield table
        _pace(ctx, fetched.headers, started)
    if folder:  # kept until a snapshot holding this crawl_id is stored (see collect)
        _save(folder / "state.json", state | {"complete": True})


def _save(path: Path, state: dict) -> None:
    """Replace the state file atomically: a kill leaves the old state or the new one."""
    path.with_suffix(".tmp").write_text(json.dumps(state))
    path.with_suffix(".tmp").replace(path)


def crawl(ctx: CollectContext, headers: dict) -> Iterator[tuple[str, pa.Table]]:
    """Crawl /api/models (resuming a checkpoint), yielding batches of BATCH_ROWS rows."""
    if ctx.origin.local is not None:
        raise ctx.fail(f"api mode needs an http(s) endpoint, not the local path {ctx.origin.base}",
                       "use --hf-mode parquet to read a local models.parquet")
    limit = ctx.options.get("limit")
    params: dict[str, Any] = {"expand": EXPAND, "limit": min(PAGE_SIZE, limit or PAGE_SIZE)}
    if limit:  # --limit N: the N most downloaded models
        params.update(sort="downloads", direction=-1)
    query = ctx.origin.url("api/models", params)
    folder = None if limit else checkpoint_dir(ctx.settings)  # a --limit crawl is not kept
    state = _resume(ctx, folder, query) if folder else {"next": query, "pages": 0, "models": 0}
    ctx.parameters.update(expand=EXPAND, sort=params.get("sort"), crawl_id=state.get("crawl_id"),
                          crawl_started_at=state.get("started_at"),
                          resumed_at_page=state["pages"] + 1 if state["pages"] else None)
    total = state.setdefault("total", _previous(ctx)[1])
    raw_path = ctx.raw_path(API_RAW_REL)
    pending = SCHEMA.empty_table()
    try:
        with pq.ParquetWriter(raw_path, RAW_SCHEMA, compression="zstd") as raw, \
                _progress(ctx, limit or total) as bar:
            for table in _pages(ctx, headers, state, folder, limit):
                bar.update(table.num_rows)
                pending = pa.concat_tables([pending, table])
                while pending.num_rows >= BATCH_ROWS:
                    batch, pending = pending.slice(0, BATCH_ROWS), pending.slice(BATCH_ROWS)
                    raw.write_table(batch.rename_columns(RAW_SCHEMA.names))
                    yield "raw_hf__models", batch
            if pending.num_rows:
                raw.write_table(pending.rename_columns(RAW_SCHEMA.names))
                yield "raw_hf__models", pending
    except SourceError as exc:
        saved = (f"; {state['pages']} pages are saved and the next refresh resumes from there"
                 if folder and state["pages"] else "")
        raise ctx.fail(f"{exc.message} (after {state['models']} models{saved})", exc.hint) \
            from None
    if folder and not state["models"]:
        shutil.rmtree(folder, ignore_errors=True)  # an empty listing is refused, not resumed
    ctx.parameters.update(pages=state["pages"], http_requests=ctx.origin.session.stats.requests)
    ctx.record_file(API_RAW_REL, raw_path, f"{ctx.origin.base}/api/models")


def _progress(ctx: CollectContext, total: int | None):
    """A progress bar with models/s and an ETA, on a terminal only (never in CI logs)."""
    from tqdm import tqdm

    return tqdm(total=total, unit=" models", unit_scale=True, desc=NAME,
                disable=not ctx.show_progress, mininterval=1.0)


# -- the source ---------------------------------------------------------------------------------

def collect(ctx: CollectContext) -> Iterator[tuple[str, Any]]:
    mode = ctx.options.get("hf_mode") or option(ctx.settings, "mode")
    if mode not in MODES:
        raise ctx.fail(f"unknown mode {mode!r}", f"use one of {', '.join(MODES)}")
    hf_endpoint = os.environ.get("HF_ENDPOINT", "").strip()  # used unless our URL is set
    if hf_endpoint and not ctx.settings.source_option(NAME, "url"):
        ctx.origin = Origin(NAME, hf_endpoint.rstrip("/"), ctx.settings)
    headers = ctx.origin.credentials("HF_TOKEN")  # only to the endpoint, only over HTTPS
    token = bool(headers)
    ctx.parameters.update(endpoint=redact(ctx.origin.base), authenticated=bool(token),
                          collected_at=utcnow().isoformat(timespec="seconds") + "Z")
    state = _read_state(checkpoint_dir(ctx.settings))
    if state and ctx.con.execute("SELECT count(*) FROM snapshots WHERE source = ? AND status = "
                                 "'ok' AND parameters->>'crawl_id' = ?",
                                 [NAME, state["crawl_id"]]).fetchall()[0][0]:
        shutil.rmtree(checkpoint_dir(ctx.settings))  # that crawl is a stored snapshot now
    path = dump(ctx, mode, headers) if mode != "api" else None
    ctx.parameters["mode"] = "parquet" if path else "api"
    yield from read_parquet(ctx, path) if path else crawl(ctx, headers)
    ctx.partial = bool(ctx.options.get("limit"))
    # the dump (re-downloadable by its commit) or the crawl's extract is not kept whole: the
    # loader keeps what changed against the current snapshot (pipeline.versioned)
    ctx.transient.extend(f.path for f in ctx.raw_files)


SOURCE = Source(
    name=NAME,
    title="HuggingFace Hub models (framework tags, downloads, likes)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_hf__models",
    collect=collect,
    limit_unit="models (the most downloaded)",
    versioned={"raw_hf__models": Versioned("raw_hf__snapshot_models", ("id",))},
    options={"mode": str, "max_dump_age_days": float, "checkpoint_max_age_hours": float,
             "max_pages": int},
    progress=crawl_status,
)
