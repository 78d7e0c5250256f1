"""Hacker News "Ask HN: Who is hiring?" threads: one row per job posting, with its text.

The monthly threads are posted by the account `whoishiring` (since April 2011). They are found
with the Algolia HN Search API (`search_by_date?tags=story,author_whoishiring`, paginated) and
each thread's tree is read from `items/<id>`. Top-level comments are the postings; deleted or
dead ones (null text) are skipped, replies are ignored. The thread's month comes from its
title ("... (March 2026)"), not from a timestamp (copies of the data may lack timestamps).

Storage grows with change, not with time: threads and postings are versioned tables
(`pipeline.versioned`): a thread fetch or a posting text is stored once, and each snapshot lists
the versions it is made of (`raw_jobs_hn__threads_at(s)`, `raw_jobs_hn__postings_at(s)` give
its complete contents). A refresh fetches only threads that are new, or still open (fetched
before a newer month existed) and either grew (the listing's comment count changed) or have
ended since (one final fetch); the other threads' rows are carried over from the current
snapshot and stored as nothing new. Nothing new = no new snapshot.

Completeness: the months of a snapshot must have no gap between the first and the last (every
month has one thread since 2011); a gap fails the collection naming the missing months. A local
copy may declare months it lacks in `_missing.json` (`{"YYYY-MM": {"thread_id", "title",
"reason"}}`, the shared mirror's format): a declared gap is accepted and listed in the
snapshot's parameters (`months_declared_missing`), so analyses show it as missing, never as
zero. A declaration naming a month the copy holds, or outside its first and last month, or an
unreadable one, fails the collection. Online, no month may be missing (Algolia holds every
thread). A copy's `SOURCE.md` (its own account of where it came from) is kept with the
snapshot and its "Caveats" section is quoted in the parameters (`local_copy`).

Raw payloads: each snapshot's folder keeps the listing pages and the item trees it fetched;
its sidecar also lists the items it reuses, with the snapshot folder that holds them
(`kept_in`). Local folders work as sources: a folder of item JSON files (e.g.
../shared/mirror/hn-2021-2026), or `data/raw/jobs_hn` itself (every kept item, the newest copy of
each thread wins; the declaration and description kept by its newest snapshot), read whole on
every run.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import SourceError, Unchanged
from pipeline.http import Fetched
from pipeline.rules import FRAMEWORKS, match_frameworks
from pipeline.source import CollectContext, Source
from pipeline.store import utcnow
from pipeline.untrusted import plain_line, shown
from pipeline.versioned import Versioned

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
SNAPSHOT_FOLDER = re.compile(r"-(\d+)$")
MISSING_FILE = "_missing.json"  # a local copy's declaration of the months it lacks
DESCRIPTION_FILE = "SOURCE.md"  # a local copy's own account of where it came from
MONTH_KEY = re.compile(r"(\d{4})-(\d{2})")
DECLARATION_HINT = (f"fix or remove {MISSING_FILE}: it maps each month the copy lacks "
                    '("YYYY-MM") to {"thread_id", "title", "reason"}; the previous snapshot '
                    "stays current")
MAX_TEXT = 500  # characters kept of a declaration's title/reason or a quoted caveat
MAX_CAVEATS = 12

TABLES = {
    "raw_jobs_hn__threads": """
        CREATE TABLE IF NOT EXISTS raw_jobs_hn__threads (
            snapshot_id BIGINT NOT NULL,      -- the snapshot that first stored this version
            version_id BIGINT,                -- (pipeline.versioned)
            row_hash UBIGINT,
            thread_id BIGINT NOT NULL,
            title VARCHAR NOT NULL,
            month DATE NOT NULL,              -- first day of the month named in the title
            num_comments INTEGER,             -- the listing's comment count when fetched
            postings INTEGER NOT NULL,        -- top-level comments with text
            skipped INTEGER NOT NULL,         -- top-level comments deleted or dead
            complete BOOLEAN NOT NULL,        -- fetched after a newer month existed: final
            fetched_at TIMESTAMP NOT NULL,    -- UTC, when its item tree was read
            raw_file VARCHAR NOT NULL,        -- items/<id>.json in the fetching snapshot's folder
            item_sha256 VARCHAR NOT NULL      -- of the item payload: identical = same version
        )""",
    "raw_jobs_hn__postings": """
        CREATE TABLE IF NOT EXISTS raw_jobs_hn__postings (
            snapshot_id BIGINT NOT NULL,      -- the snapshot that first stored this text
            version_id BIGINT,
            row_hash UBIGINT,
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
#: the item files are the raw payload: no changes file is needed
VERSIONED = {"raw_jobs_hn__threads": Versioned("raw_jobs_hn__snapshot_threads", ("thread_id",),
                                               keep_changes=False),
             "raw_jobs_hn__postings": Versioned("raw_jobs_hn__snapshot_postings",
                                                ("comment_id",), keep_changes=False)}
THREAD_COLUMNS = ("thread_id, title, month, num_comments, postings, skipped, complete, "
                  "fetched_at, raw_file, item_sha256")
POSTING_COLUMNS = ("thread_id, month, comment_id, author, created_at, text, pytorch, "
                   "tensorflow, jax, keras")


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
    if local is not None:
        for path in _local_items(local):
            payload = ctx.origin.parse_json(ctx.origin.get(str(path.relative_to(local))))
            if isinstance(payload, dict) and payload.get("type", "story") == "story":
                for thread in parse_listing(ctx, {"hits": [{
                        "objectID": payload.get("id"), "title": payload.get("title")}]},
                        str(path))[0]:
                    found[thread.thread_id] = thread  # a later copy of a thread wins
                    files[thread.thread_id] = str(path.relative_to(local))
        return sorted(found.values(), key=lambda t: (t.month, t.thread_id), reverse=True), files
    per_page = ctx.settings.source_option(NAME, "hits_per_page", DEFAULT_HITS_PER_PAGE, int)
    for page in range(MAX_PAGES):
        fetched = ctx.origin.get("search_by_date", {
            "tags": "story,author_whoishiring", "hitsPerPage": per_page, "page": page})
        ctx.save_raw(f"search_by_date/page-{page}.json", fetched.content, fetched.url)
        threads, pages = parse_listing(ctx, ctx.origin.parse_json(fetched),
                                       f"search_by_date page {page}")
        for thread in threads:
            found.setdefault(thread.thread_id, thread)
        if page + 1 >= pages:
            break
    return sorted(found.values(), key=lambda t: (t.month, t.thread_id), reverse=True), files


def _timestamp(child: dict) -> datetime | None:
    """A comment's time (UTC): `created_at_i` (epoch seconds), else the ISO `created_at`."""
    seconds = child.get("created_at_i")
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    with contextlib.suppress(KeyError, AttributeError, TypeError, ValueError):
        parsed = datetime.fromisoformat(child["created_at"].replace("Z", "+00:00"))
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
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


def _local_items(local: Path) -> list[Path]:
    """Item files of a local folder: plain `*.json`, `items/*.json`, and the items kept in
    the snapshot folders of `data/raw/jobs_hn` (older folders first, so newer copies win)."""
    def order(path: Path) -> tuple[int, str]:
        match = SNAPSHOT_FOLDER.search(path.parent.parent.name)
        return (int(match[1]) if match else 0, str(path))

    kept = sorted(local.glob("*/items/*.json"), key=order)
    plain = sorted(local.glob("*.json")) + sorted(local.glob("items/*.json"))
    return [p for p in plain + kept if not p.name.startswith("_")]


def _copy_file(local: Path, name: str) -> Path | None:
    """A file that describes a local copy: at its root, or, for `data/raw/jobs_hn`, in its
    newest snapshot folder (what that snapshot was collected with; None if it had none). Any
    entry of that name counts (a folder or a dangling link is then unreadable, not absent)."""
    def present(path: Path) -> bool:
        return path.exists() or path.is_symlink()

    if present(local / name):
        return local / name
    folders = [p for p in local.glob("*-*/_snapshot.json") if SNAPSHOT_FOLDER.search(p.parent.name)]
    if not folders:
        return None
    newest = max(folders, key=lambda p: int(SNAPSHOT_FOLDER.search(p.parent.name)[1])).parent
    return newest / name if present(newest / name) else None


def _text(value: Any) -> str:
    """Untrusted text from a copy's files, as stored and shown: one line without control
    characters (pipeline.untrusted), spaces collapsed, at most MAX_TEXT characters."""
    text = " ".join(plain_line(value).split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _read_copy_file(ctx: CollectContext, path: Path) -> bytes:
    """A file of the local copy, read through the source's origin (confined to the folder,
    bounded by max_response_bytes); any failure is one line naming the file."""
    try:
        return ctx.origin.get(str(path.relative_to(ctx.origin.local))).content
    except SourceError as exc:
        hint = DECLARATION_HINT if path.name == MISSING_FILE else (
            "check the copy's files and their permissions; the previous snapshot stays current")
        raise ctx.fail(f"cannot read {path}: {exc.message}", hint) from None


def _month_key(key: str) -> date | None:
    match = MONTH_KEY.fullmatch(key)
    if not match or not 1 <= int(match[2]) <= 12 or not 2005 <= int(match[1]) <= 2100:
        return None
    return date(int(match[1]), int(match[2]), 1)


@dataclass
class Declaration:
    """The months a local copy declares it lacks (its `_missing.json`), validated."""

    months: dict[date, dict]  # month -> {"thread_id", "title", "reason"}
    path: Path
    content: bytes


def read_declaration(ctx: CollectContext) -> Declaration | None:
    """A local copy's `_missing.json`, checked; None online (Algolia holds every thread) or
    when the copy declares nothing."""
    local = ctx.origin.local
    path = _copy_file(local, MISSING_FILE) if local is not None else None
    if path is None:
        return None
    content = _read_copy_file(ctx, path)
    try:
        payload = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ctx.fail(f"{path} is not valid JSON ({exc})", DECLARATION_HINT) from None
    if not isinstance(payload, dict):
        raise ctx.fail(f"{path}: expected an object of months, got {type(payload).__name__}",
                       DECLARATION_HINT)
    months: dict[date, dict] = {}
    for key, value in payload.items():
        month = _month_key(key)
        if month is None:
            raise ctx.fail(f"{path}: {shown(key, 40)} is not a month (YYYY-MM)",
                           DECLARATION_HINT)
        if not isinstance(value, dict):
            raise ctx.fail(f"{path}: {key} is {type(value).__name__}, not an object",
                           DECLARATION_HINT)
        thread_id, title, reason = value.get("thread_id"), value.get("title"), value.get("reason")
        if thread_id is not None and (not isinstance(thread_id, int) or isinstance(
                thread_id, bool) or not 0 < thread_id < 2**63):
            raise ctx.fail(f"{path}: {key} 'thread_id' is {shown(thread_id, 40)}, not a "
                           "positive integer", DECLARATION_HINT)
        if title is not None and not isinstance(title, str):
            raise ctx.fail(f"{path}: {key} 'title' is {type(title).__name__}, not text",
                           DECLARATION_HINT)
        if not isinstance(reason, str) or not reason.strip():
            raise ctx.fail(f"{path}: {key} gives no 'reason' (why the copy lacks the month)",
                           DECLARATION_HINT)
        months[month] = {"thread_id": thread_id, "title": _text(title) if title else None,
                         "reason": _text(reason)}
    return Declaration(months, path, content)


def check_declaration(ctx: CollectContext, declared: Declaration, listing: list[Thread]) -> None:
    """A declared month must be one the copy lacks, between its first and last month. (A
    snapshot folder's declaration, read back from data/raw/jobs_hn, may since have been filled
    by a thread kept from another snapshot: that month is simply no longer missing.)"""
    held = {t.month for t in listing}
    if declared.path.parent != ctx.origin.local:
        declared.months = {m: v for m, v in declared.months.items() if m not in held}
    both = sorted(m for m in declared.months if m in held)
    if both:
        raise ctx.fail(
            f"{declared.path} declares {_months(both)} missing, but the copy holds a thread "
            f"for {'it' if len(both) == 1 else 'them'}",
            f"remove {'that month' if len(both) == 1 else 'those months'} from {MISSING_FILE} "
            "(or the thread files); the previous snapshot stays current")
    first, last = min(held), max(held)
    outside = sorted(m for m in declared.months if not first < m < last)
    if outside:
        raise ctx.fail(
            f"{declared.path} declares {_months(outside)} missing, outside the months the copy "
            f"holds ({first:%Y-%m} to {last:%Y-%m})",
            "only a gap between the first and the last month can be declared; "
            "the previous snapshot stays current")


def _months(months: list[date]) -> str:
    shown = ", ".join(f"{m:%Y-%m}" for m in months[:6])
    return shown + (f" (+{len(months) - 6} more)" if len(months) > 6 else "")


def copy_caveats(text: str) -> list[str]:
    """The bullets of a copy description's "Caveats" section (Markdown), as plain lines."""
    caveats: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("#"):
            inside = line.lstrip("#").strip().lower().startswith("caveats")
            continue
        if not inside or not line.strip():
            continue
        if line.lstrip().startswith(("- ", "* ")):
            caveats.append(line.lstrip()[2:])
        elif caveats:  # a bullet's continuation line
            caveats[-1] += " " + line.strip()
    plain = [_text(re.sub(r"[`*]", "", c)) for c in caveats]
    return [c for c in plain if c][:MAX_CAVEATS]


def record_copy(ctx: CollectContext, declared: Declaration | None) -> None:
    """Keep a local copy's declaration and description with the snapshot (raw payloads) and
    name them in its parameters, so provenance can show what the copy is and lacks."""
    local = ctx.origin.local
    if local is None:
        return
    described = _copy_file(local, DESCRIPTION_FILE)
    info: dict[str, Any] = {"missing_file": None, "description": None, "caveats": []}
    if declared is not None:
        sha = ctx.save_raw(MISSING_FILE, declared.content, declared.path.as_uri())
        info["missing_file"] = {"path": MISSING_FILE, "sha256": sha}
    if described is not None:
        content = _read_copy_file(ctx, described)
        sha = ctx.save_raw(DESCRIPTION_FILE, content, described.as_uri())
        info["description"] = {"path": DESCRIPTION_FILE, "sha256": sha}
        info["caveats"] = copy_caveats(content.decode("utf-8", "replace"))
    ctx.parameters["local_copy"] = info


@dataclass
class Version:
    """A stored thread version: what a snapshot carries over instead of fetching again."""

    snapshot_id: int  # the snapshot that fetched it (its raw folder holds the item)
    complete: bool
    item_sha256: str
    raw_file: str
    month: date
    num_comments: int | None


def _members(ctx: CollectContext) -> dict[int, Version]:
    """The thread versions of the current snapshot, by thread id."""
    if ctx.previous_snapshot_id is None:
        return {}
    rows = ctx.con.execute(
        "SELECT thread_id, stored_by_snapshot, complete, item_sha256, raw_file, month, "
        "num_comments FROM raw_jobs_hn__threads_at(?)", [ctx.previous_snapshot_id]).fetchall()
    return {r[0]: Version(*r[1:]) for r in rows}


def _carried(ctx: CollectContext, table: str, columns: str, threads: list[int]):
    """Rows of the current snapshot for threads not fetched again (stored as nothing new)."""
    return ctx.con.sql(f"SELECT {columns} FROM {table}_at($s) WHERE list_contains($t, thread_id)",
                       params={"s": ctx.previous_snapshot_id, "t": threads}).to_arrow_table()


def _fetch_item(ctx: CollectContext, thread: Thread, local_files: dict[int, str]) \
        -> Fetched | None:
    """The thread's item (URL and bytes, parsed only if changed); None when it is not found
    (HTTP 404)."""
    rel = local_files[thread.thread_id] if ctx.origin.local else f"items/{thread.thread_id}"
    try:
        fetched = ctx.origin.get(rel)
    except SourceError as exc:
        if "HTTP 404" in exc.message or "file not found" in exc.message:
            return None
        raise
    return fetched


def _due(ctx: CollectContext, listing: list[Thread], members: dict[int, Version],
         open_from: date) -> list[Thread]:
    """Threads to fetch: every one from a local folder (cheap, and the only way to see a
    change); else those never stored, and open ones (stored before their month ended) whose
    comment count changed or whose month has now ended (one last, final fetch)."""
    return [t for t in listing if ctx.origin.local is not None or t.thread_id not in members
            or not members[t.thread_id].complete and (
                members[t.thread_id].num_comments != t.num_comments or t.month < open_from)]


def check_months(ctx: CollectContext, months: list[date],
                 declared: Declaration | None = None) -> list[date]:
    """No month may be missing between the first and the last thread of a snapshot, except the
    months a local copy declares missing: those gaps are returned."""
    if not months:
        return []
    have = set(months)
    first, last = min(have), max(have)
    gaps, month = [], first
    while month < last:
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if month not in have:
            gaps.append(month)
    accepted = declared.months if declared is not None else {}
    undeclared = [m for m in gaps if m not in accepted]
    if undeclared:
        hint = ("a local copy must hold every month, or declare the months it lacks in "
                f"{MISSING_FILE}" if ctx.origin.local is not None else
                "the listing or a thread fetch is missing months; check the upstream")
        raise ctx.fail(f"incomplete: no thread for {_months(undeclared)} "
                       f"between {first:%Y-%m} and {last:%Y-%m}",
                       f"{hint}; the previous snapshot stays current")
    return [m for m in gaps if m in accepted]


def collect(ctx: CollectContext) -> Iterator[tuple[str, Any]]:
    listing, local_files = list_threads(ctx)
    if not listing:
        raise ctx.fail("the listing has no 'Ask HN: Who is hiring?' threads",
                       "check ADOPTION_JOBS_HN_URL points at the Algolia API (…/api/v1)")
    declared = read_declaration(ctx)
    if declared is not None:
        check_declaration(ctx, declared, listing)  # before fetching anything
    newest = listing[0].month
    open_from = min(newest, utcnow().date().replace(day=1))  # this month and later are open
    members = _members(ctx)
    to_fetch = _due(ctx, listing, members, open_from)
    if not to_fetch and ctx.may_skip and set(members) >= {t.thread_id for t in listing}:
        raise Unchanged(f"no new or open thread among the {len(listing)} listed; "
                        f"snapshot {ctx.previous_snapshot_id} stays current")
    limit = ctx.options.get("limit")
    if limit is not None and len(to_fetch) > limit:  # --limit N: the N newest threads due
        to_fetch = to_fetch[:limit]
        ctx.partial = True
    from tqdm import tqdm

    fetched, missing = [], []
    for thread in tqdm(to_fetch, desc=f"{NAME} threads", unit="thread",
                       disable=not ctx.show_progress):
        item = _fetch_item(ctx, thread, local_files)
        if item is None:
            missing.append(f"{thread.thread_id} ({thread.month:%Y-%m})")
            ctx.log.warning("%s: thread %s (%s) is not found upstream (404); %s", NAME,
                            thread.thread_id, f"{thread.month:%B %Y}",
                            "keeping its stored rows" if thread.thread_id in members
                            else "skipped this time, retried on the next refresh")
            continue
        url, content = item.url, item.content
        sha = hashlib.sha256(content).hexdigest()
        complete = thread.month < open_from
        stored = members.get(thread.thread_id)
        if stored is not None and stored.item_sha256 == sha and stored.complete == complete:
            continue  # byte-identical and no more final than before: the stored version stands
        rows, skipped = parse_thread(ctx, ctx.origin.parse_json(item), thread)
        rel = f"items/{thread.thread_id}.json"
        ctx.save_raw(rel, content, url)
        fetched.append(thread.thread_id)
        yield "raw_jobs_hn__threads", [{
            "thread_id": thread.thread_id, "title": thread.title, "month": thread.month,
            "num_comments": thread.num_comments, "postings": len(rows), "skipped": skipped,
            "complete": complete, "fetched_at": utcnow(), "raw_file": rel, "item_sha256": sha}]
        yield "raw_jobs_hn__postings", rows
    kept = sorted(set(members) - set(fetched))
    months = {t.thread_id: t.month for t in listing} | {t: v.month for t, v in members.items()}
    gaps = check_months(ctx, [months[t] for t in [*fetched, *kept]], declared)
    if not fetched and ctx.may_skip:
        # every thread is as stored (and nothing was yielded): skip carrying every row over
        raise Unchanged(f"no thread changed among the {len(listing)} listed; "
                        f"snapshot {ctx.previous_snapshot_id} stays current")
    for tid in kept:  # their items stay in the folder of the snapshot that fetched them
        version = members[tid]
        ctx.record_raw(version.raw_file, "", version.item_sha256, None,
                       kept_in=version.snapshot_id)
    if kept:
        yield "raw_jobs_hn__threads", _carried(ctx, "raw_jobs_hn__threads", THREAD_COLUMNS, kept)
        yield "raw_jobs_hn__postings", _carried(ctx, "raw_jobs_hn__postings", POSTING_COLUMNS,
                                                kept)
    record_copy(ctx, declared)
    ctx.parameters.update({
        "threads_listed": len(listing), "threads_fetched": len(fetched),
        "threads_carried": len(kept), "newest_month": f"{newest:%Y-%m}",
        "rules": "pipeline.rules.match_frameworks", "frameworks": list(FRAMEWORKS)})
    if gaps:  # declared by the copy, and really missing from this snapshot
        ctx.parameters["months_declared_missing"] = {
            f"{m:%Y-%m}": declared.months[m] for m in gaps}
    if missing:
        ctx.parameters["threads_not_found"] = missing
    gone = sorted(set(members) - {t.thread_id for t in listing})
    if gone:
        ctx.parameters["threads_not_in_listing"] = gone  # kept: nothing is lost


SOURCE = Source(
    name=NAME,
    title="Hacker News 'Who is hiring?' postings mentioning PyTorch / TensorFlow / JAX",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_jobs_hn__postings",
    collect=collect,
    limit_unit="threads (the newest due)",
    versioned=VERSIONED,
    options={"hits_per_page": int},
)
