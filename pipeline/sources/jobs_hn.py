"""Hacker News "Ask HN: Who is hiring?" threads: one row per job posting, with its text.

The monthly threads are posted by the account `whoishiring` (since April 2011). They are found
with the Algolia HN Search API (`search_by_date?tags=story,author_whoishiring`, paginated) and
each thread's tree is read from `items/<id>`. Top-level comments are the postings; deleted or
dead ones (null text) are skipped, replies are ignored. The thread's month comes from its
title ("... (March 2026)"), not from a timestamp (copies of the data may lack timestamps).

Incremental: a thread is fetched once it is finished. A stored thread is carried forward
(its rows read from the current snapshot and yielded again, so every snapshot is complete)
unless it was still open when fetched (the newest thread, or the month of today) and the
listing now reports a different comment count. A refresh with nothing new makes only the
listing request(s). Carried threads' raw payloads are hard-linked from the previous raw folder,
so each day's raw folder can be reloaded without the network
(ADOPTION_JOBS_HN_URL=data/raw/jobs_hn/<date>).

Local directories work too: a saved raw folder (search_by_date/ + items/), or a plain folder of
item JSON files (e.g. ../shared/mirror/hn), read whole on every run.
"""

from __future__ import annotations

import calendar
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.errors import SourceError, Unchanged
from pipeline.rules import FRAMEWORKS, match_frameworks
from pipeline.sources import CollectContext, Source
from pipeline.store import utcnow

NAME = "jobs_hn"
DEFAULT_URL = "https://hn.algolia.com/api/v1"
LICENCE = (
    "Hacker News content via the HN Algolia Search API (hn.algolia.com/api); posts are "
    "copyright their authors, used here for aggregate counts with attribution"
)
TITLE_PREFIX = re.compile(r"^\s*Ask HN:\s*Who is hiring\?", re.IGNORECASE)
TITLE_MONTH = re.compile(r"\(\s*([A-Za-z]+)\.?,?\s+(\d{4})\s*\)")
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
GONE_TEXT = {"", "[dead]", "[deleted]", "[flagged]"}
DEFAULT_HITS_PER_PAGE = 1000  # Algolia's maximum: the whole listing is one request today
MAX_PAGES = 50

TABLES = {
    "raw_jobs_hn__threads": """
        CREATE TABLE IF NOT EXISTS raw_jobs_hn__threads (
            snapshot_id BIGINT NOT NULL,
            thread_id BIGINT NOT NULL,
            title VARCHAR NOT NULL,
            month DATE NOT NULL,              -- first day of the month named in the title
            num_comments INTEGER,             -- the listing's comment count when fetched
            postings INTEGER NOT NULL,        -- top-level comments with text
            skipped INTEGER NOT NULL,         -- top-level comments deleted or dead
            complete BOOLEAN NOT NULL,        -- fetched after its month ended: never refetched
            fetched_at TIMESTAMP NOT NULL,    -- UTC, when its item tree was read
            fetched_by_snapshot BIGINT NOT NULL,
            raw_file VARCHAR
        )""",
    "raw_jobs_hn__postings": """
        CREATE TABLE IF NOT EXISTS raw_jobs_hn__postings (
            snapshot_id BIGINT NOT NULL,
            thread_id BIGINT NOT NULL,
            month DATE NOT NULL,
            comment_id BIGINT NOT NULL,
            author VARCHAR,
            created_at TIMESTAMP,             -- UTC; null when the copy has no time
            text VARCHAR NOT NULL,            -- the HTML as served, so rules can be re-applied
            pytorch BOOLEAN NOT NULL,         -- flags from the rules at collection time
            tensorflow BOOLEAN NOT NULL,
            jax BOOLEAN NOT NULL,
            keras BOOLEAN NOT NULL
        )""",
}


@dataclass
class Thread:
    thread_id: int
    title: str
    month: date
    num_comments: int | None


def thread_month(title: str) -> date | None:
    """The month a thread is for, from its title: 'Ask HN: Who is hiring? (March 2026)'."""
    match = TITLE_MONTH.search(title)
    if not match:
        return None
    month = MONTHS.get(match[1].lower())
    year = int(match[2])
    if month is None or not 2005 <= year <= 2100:
        return None
    return date(year, month, 1)


def parse_listing(ctx: CollectContext, payload: Any, where: str) -> tuple[list[Thread], int]:
    """Hiring threads of one search_by_date page, and the page count the API reports."""
    if not isinstance(payload, dict) or not isinstance(payload.get("hits"), list):
        raise ctx.fail(f"{where}: expected an object with a 'hits' list",
                       "the Algolia search API changed; check the response")
    pages = payload.get("nbPages", 1)
    if not isinstance(pages, int) or isinstance(pages, bool):
        raise ctx.fail(f"{where}: 'nbPages' is {type(pages).__name__}, not an integer")
    threads = []
    for index, hit in enumerate(payload["hits"]):
        if not isinstance(hit, dict):
            raise ctx.fail(f"{where}: hit #{index} is {type(hit).__name__}, not an object")
        title = hit.get("title")
        if not isinstance(title, str) or not TITLE_PREFIX.match(title):
            continue  # "Who wants to be hired?", "Freelancer?" and other whoishiring posts
        raw_id = hit.get("objectID", hit.get("story_id"))
        try:
            thread_id = int(raw_id)
        except (TypeError, ValueError):
            raise ctx.fail(f"{where}: hit #{index} ({title!r}) has no usable 'objectID' "
                           f"(got {raw_id!r})", "schema drift upstream; check the response") \
                from None
        month = thread_month(title)
        if month is None:
            ctx.log.warning("%s: skipping thread %s: no month in title %r", NAME, thread_id, title)
            ctx.parameters.setdefault("titles_without_month", []).append(title)
            continue
        comments = hit.get("num_comments")
        comments = comments if isinstance(comments, int) and not isinstance(comments, bool) \
            else None
        threads.append(Thread(thread_id, title.strip(), month, comments))
    return threads, pages


def list_threads(ctx: CollectContext) -> tuple[list[Thread], dict[int, str]]:
    """Every hiring thread the listing knows, newest month first (one per thread id), and for
    a plain local folder of item files, which file holds which thread."""
    local = ctx.origin.local
    found: dict[int, Thread] = {}
    files: dict[int, str] = {}
    if local is not None and not (local / "search_by_date").is_dir():
        for path in sorted(local.glob("*.json")) + sorted(local.glob("items/*.json")):
            if path.name.startswith("_"):
                continue
            payload = ctx.origin.parse_json(ctx.origin.get(str(path.relative_to(local))))
            if isinstance(payload, dict) and payload.get("type", "story") == "story":
                for thread in parse_listing(ctx, {"hits": [{
                        "objectID": payload.get("id"), "title": payload.get("title")}]},
                        str(path))[0]:
                    found[thread.thread_id] = thread
                    files[thread.thread_id] = str(path.relative_to(local))
        return sorted(found.values(), key=lambda t: (t.month, t.thread_id), reverse=True), files
    per_page = int(ctx.settings.source_option(NAME, "hits_per_page") or DEFAULT_HITS_PER_PAGE)
    page = 0
    while True:
        if local is not None:
            rel = f"search_by_date/page-{page}.json"
            if not (local / rel).is_file():
                break
            fetched = ctx.origin.get(rel)
        else:
            fetched = ctx.origin.get("search_by_date", {
                "tags": "story,author_whoishiring", "hitsPerPage": per_page, "page": page})
        ctx.save_raw(f"search_by_date/page-{page}.json", fetched.content, fetched.url)
        threads, pages = parse_listing(ctx, ctx.origin.parse_json(fetched),
                                       f"search_by_date page {page}")
        for thread in threads:
            found.setdefault(thread.thread_id, thread)
        page += 1
        if page >= pages or page >= MAX_PAGES:
            break
    return sorted(found.values(), key=lambda t: (t.month, t.thread_id), reverse=True), files


def _timestamp(child: dict) -> datetime | None:
    value = child.get("created_at")
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    seconds = child.get("created_at_i")
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    return None


def parse_thread(ctx: CollectContext, payload: Any, thread: Thread) -> tuple[list[dict], int]:
    """The postings (top-level comments with text) of one thread, and how many were skipped."""
    where = f"thread {thread.thread_id} ({thread.month:%B %Y})"
    if not isinstance(payload, dict):
        raise ctx.fail(f"{where}: expected an item object, got {type(payload).__name__}",
                       "the Algolia items API changed; check the response")
    if str(payload.get("id")) != str(thread.thread_id):
        raise ctx.fail(f"{where}: the item has id {payload.get('id')!r}",
                       "the upstream returned the wrong item; retry later")
    children = payload.get("children")
    if not isinstance(children, list):
        raise ctx.fail(f"{where}: no 'children' list in the item",
                       "schema drift upstream; check the items API response")
    rows, skipped = [], 0
    for index, child in enumerate(children):
        if not isinstance(child, dict):
            raise ctx.fail(f"{where}: child #{index} is {type(child).__name__}, not an object")
        comment_id = child.get("id")
        if not isinstance(comment_id, int) or isinstance(comment_id, bool):
            raise ctx.fail(f"{where}: child #{index} has no integer 'id' (got {comment_id!r})",
                           "schema drift upstream; check the items API response")
        text = child.get("text")
        if text is not None and not isinstance(text, str):
            raise ctx.fail(f"{where}: child {comment_id} 'text' is {type(text).__name__}, "
                           "not a string", "schema drift upstream; check the response")
        if text is None or text.strip() in GONE_TEXT or child.get("dead") or child.get("deleted"):
            skipped += 1
            continue
        author = child.get("author")
        rows.append({
            "thread_id": thread.thread_id, "month": thread.month, "comment_id": comment_id,
            "author": author if isinstance(author, str) else None,
            "created_at": _timestamp(child), "text": text, **match_frameworks(text),
        })
    return rows, skipped


def _previous_threads(ctx: CollectContext) -> dict[int, dict]:
    if ctx.previous_snapshot_id is None:
        return {}
    cur = ctx.con.execute(
        "SELECT * EXCLUDE (snapshot_id) FROM raw_jobs_hn__threads WHERE snapshot_id = ?",
        [ctx.previous_snapshot_id])
    cols = [d[0] for d in cur.description]
    return {row[0]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


def _previous_raw(ctx: CollectContext) -> tuple[Path | None, dict[str, dict]]:
    """The previous snapshot's raw folder and its files by path (for hard-linking payloads)."""
    if ctx.previous_snapshot_id is None:
        return None, {}
    row = ctx.con.execute("SELECT raw_dir FROM snapshots WHERE snapshot_id = ?",
                          [ctx.previous_snapshot_id]).fetchall()[0]
    folder = Path(row[0]) if row and row[0] else None
    sidecar = folder / "_snapshot.json" if folder else None
    if sidecar is None or not sidecar.is_file():
        return folder, {}
    try:
        files = json.loads(sidecar.read_text()).get("files", [])
    except (OSError, json.JSONDecodeError):
        return folder, {}
    return folder, {f["path"]: f for f in files if isinstance(f, dict) and "path" in f}


def _carry_raw(ctx: CollectContext, folder: Path | None, files: dict[str, dict],
               rel: str | None) -> bool:
    """Hard-link (or copy) a payload kept by the previous snapshot into this one's folder."""
    if not rel or folder is None or rel not in files or not (folder / rel).is_file():
        return False
    target = ctx.raw_path(rel)
    try:
        os.link(folder / rel, target)
    except OSError:
        target.write_bytes((folder / rel).read_bytes())
    info = files[rel]
    ctx.record_raw(rel, info.get("url", ""), info.get("sha256", ""), int(info.get("bytes", 0)))
    return True


def _carry_rows(ctx: CollectContext, thread_ids: list[int], complete: dict[int, bool]) \
        -> Iterator[tuple[str, pa.Table]]:
    """Rows of threads not refetched, read from the current snapshot and yielded again."""
    for start in range(0, len(thread_ids), 20):
        chunk = thread_ids[start:start + 20]
        threads = ctx.con.sql(
            "SELECT * EXCLUDE (snapshot_id) FROM raw_jobs_hn__threads "
            "WHERE snapshot_id = ? AND list_contains(?, thread_id)",
            params=[ctx.previous_snapshot_id, chunk]).to_arrow_table()
        flags = [complete[t] for t in threads.column("thread_id").to_pylist()]
        index = threads.schema.get_field_index("complete")
        threads = threads.set_column(index, "complete", pa.array(flags, pa.bool_()))
        yield "raw_jobs_hn__threads", threads
        yield "raw_jobs_hn__postings", ctx.con.sql(
            "SELECT * EXCLUDE (snapshot_id) FROM raw_jobs_hn__postings "
            "WHERE snapshot_id = ? AND list_contains(?, thread_id)",
            params=[ctx.previous_snapshot_id, chunk]).to_arrow_table()


def _fetch_item(ctx: CollectContext, thread: Thread, local_files: dict[int, str]) \
        -> tuple[Any, str, bytes] | None:
    """The thread's item tree, its URL and its bytes; None when it is not found (HTTP 404)."""
    if ctx.origin.local is not None:
        rel = local_files.get(thread.thread_id, f"items/{thread.thread_id}.json")
    else:
        rel = f"items/{thread.thread_id}"
    try:
        fetched = ctx.origin.get(rel)
    except SourceError as exc:
        if "HTTP 404" in exc.message or "file not found" in exc.message:
            return None
        raise
    return ctx.origin.parse_json(fetched), fetched.url, fetched.content


def collect(ctx: CollectContext) -> Iterator[tuple[str, Any]]:
    listing, local_files = list_threads(ctx)
    if not listing:
        raise ctx.fail("the listing has no 'Ask HN: Who is hiring?' threads",
                       "check ADOPTION_JOBS_HN_URL points at the Algolia API (…/api/v1)")
    today = utcnow().date().replace(day=1)
    newest = listing[0].month
    previous = _previous_threads(ctx)
    folder, prev_files = _previous_raw(ctx)
    to_fetch, carry = [], {}
    for thread in listing:
        is_open = thread.month >= min(newest, today)
        stored = previous.get(thread.thread_id)
        if ctx.origin.local is not None or stored is None:
            to_fetch.append(thread)
        elif stored["complete"] or (thread.num_comments is not None
                                    and stored["num_comments"] == thread.num_comments):
            carry[thread.thread_id] = bool(stored["complete"]) or not is_open
        else:
            to_fetch.append(thread)
    listed = {t.thread_id for t in listing}
    vanished = [tid for tid in previous if tid not in listed]
    for tid in vanished:  # gone from the listing: keep what we had (nothing is lost)
        carry[tid] = bool(previous[tid]["complete"])
    if (not to_fetch and not vanished and not ctx.options.get("force")
            and all(carry[tid] == bool(previous[tid]["complete"]) for tid in carry)):
        raise Unchanged(f"no new or changed thread among the {len(listing)} listed; "
                        f"snapshot {ctx.previous_snapshot_id} stays current")
    limit = ctx.options.get("limit")
    if limit is not None and len(to_fetch) > limit:  # --limit N: the N newest threads due
        to_fetch = to_fetch[:limit]
        ctx.partial = True
    missing = []
    progress = None
    if ctx.show_progress:
        from tqdm import tqdm

        progress = tqdm(total=len(to_fetch), desc=f"{NAME} threads", unit="thread")
    for thread in to_fetch:
        item = _fetch_item(ctx, thread, local_files)
        if progress is not None:
            progress.update()
        if item is None:
            missing.append(f"{thread.thread_id} ({thread.month:%Y-%m})")
            if thread.thread_id in previous:
                carry[thread.thread_id] = bool(previous[thread.thread_id]["complete"])
            ctx.log.warning("%s: thread %s (%s) is not found upstream (404); %s", NAME,
                            thread.thread_id, f"{thread.month:%B %Y}",
                            "keeping its stored rows" if thread.thread_id in previous
                            else "skipped this time, retried on the next refresh")
            continue
        payload, url, content = item
        rows, skipped = parse_thread(ctx, payload, thread)
        rel = f"items/{thread.thread_id}.json"
        ctx.save_raw(rel, content, url)
        yield "raw_jobs_hn__threads", [{
            "thread_id": thread.thread_id, "title": thread.title, "month": thread.month,
            "num_comments": thread.num_comments, "postings": len(rows), "skipped": skipped,
            "complete": thread.month < min(newest, today), "fetched_at": utcnow(),
            "fetched_by_snapshot": ctx.snapshot_id, "raw_file": rel,
        }]
        if rows:
            yield "raw_jobs_hn__postings", rows
    if progress is not None:
        progress.close()
    carried = sorted(carry)
    no_raw = [tid for tid in carried
              if not _carry_raw(ctx, folder, prev_files, previous[tid].get("raw_file"))]
    if no_raw:  # e.g. data/raw was cleaned: the rows (with text) are still carried
        ctx.parameters["carried_without_raw_file"] = no_raw
    yield from _carry_rows(ctx, carried, carry)
    ctx.parameters.update({
        "threads_listed": len(listing), "threads_fetched": len(to_fetch) - len(missing),
        "threads_carried": len(carried), "newest_month": f"{newest:%Y-%m}",
        "rules": "pipeline.analysis.jobs.match_frameworks",
        "frameworks": list(FRAMEWORKS),
    })
    if missing:
        ctx.parameters["threads_not_found"] = missing
    if vanished:
        ctx.parameters["threads_not_in_listing"] = vanished


SOURCE = Source(
    name=NAME,
    title="Hacker News 'Who is hiring?' postings mentioning PyTorch / TensorFlow / JAX",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_jobs_hn__postings",
    collect=collect,
)
