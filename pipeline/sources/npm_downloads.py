"""Monthly npm downloads of the rounds' JavaScript packages, from npm's public download counts.

`GET https://api.npmjs.org/downloads/range/{start}:{end}/{package}` answers daily counts
(`{"start", "end", "package", "downloads": [{"day", "downloads"}, ...]}`; scoped names such as
`@tensorflow/tfjs` are allowed; data from 2015-01-10). Its limits, as npm documents and as it
behaves:

* a range longer than 18 months is not refused: the API silently keeps the last 18 months
  before `end` (the answer's `start` shows the cut). Requests are split into ranges of at most
  18 whole months, and every answer's `start` and `end` are checked against what was asked;
* bulk queries (comma-separated names) take unscoped names only, at most 128 names and 365
  days; they answer `{name: <range answer> | null}`;
* an unknown package is a 404 `{"error": "package <name> not found"}` (null in a bulk answer).

Daily counts are summed per month. The packages are the npm rows of
data/reference/rounds_packages.csv, each asked from its first month. Incremental like the
PyPI source (`pipeline.monthly`): a month stored after it ended is final; a refresh asks for
the newest complete month and the current one (up to yesterday: npm loads each day after UTC
midnight), months stored while open and missing ones, with one bulk request for the unscoped
names and one request per scoped name. Rows are versioned: an unchanged answer stores no
snapshot.

Raw payloads: every answer as served, `ranges/<start>_<end>/<names>.json`; a snapshot that
keeps months answered earlier lists those answers with the folder that holds them (`kept_in`).
A local folder works as a source: every answer file in it and its snapshot sub-folders (e.g.
`data/raw/npm_downloads`), newer snapshot folders winning per day.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline import rules
from pipeline.errors import HttpStatusError
from pipeline.monthly import (
    Plan,
    Stored,
    add_months,
    missing_months,
    month_start,
    months_from,
    plan,
    record_kept,
)
from pipeline.source import CollectContext, Source
from pipeline.store import utcnow
from pipeline.versioned import Versioned

NAME = "npm_downloads"
DEFAULT_URL = "https://api.npmjs.org"
LICENCE = ("npm registry download counts (api.npmjs.org, public API, no key); aggregate "
           "counts, cited with attribution to npm, Inc.")
DATA_START = date(2015, 1, 10)  # npm's earliest day with counts
SINGLE_MONTHS = 18  # a longer range is cut silently to its last 18 months
BULK_NAMES, BULK_DAYS = 128, 365
SNAPSHOT_FOLDER = re.compile(r"-(\d+)$")

TABLES = {
    "raw_npm__downloads": """
        CREATE TABLE IF NOT EXISTS raw_npm__downloads (
            snapshot_id BIGINT NOT NULL,      -- the snapshot that first stored this version
            version_id BIGINT,                -- (pipeline.versioned)
            row_hash UBIGINT,
            package VARCHAR NOT NULL,         -- npm name, scoped names included
            month DATE NOT NULL,              -- first day of the month
            downloads BIGINT NOT NULL,        -- the month's daily counts summed
            days INTEGER NOT NULL,            -- days of the month the answers covered
            complete BOOLEAN NOT NULL         -- the month had ended and every day was answered
        )""",
}
VERSIONED = {"raw_npm__downloads": Versioned("raw_npm__snapshot_downloads",
                                             ("package", "month"), keep_changes=False)}


def today() -> date:
    """The collection day (UTC); tests move it."""
    return utcnow().date()


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
    except ValueError:
        return None


def runs(months: list[date], last_day: date) -> list[tuple[date, date]]:
    """Contiguous month runs as (first day, last day), the last day at most `last_day`."""
    out: list[tuple[date, date]] = []
    for month in sorted(set(months)):
        end = min(add_months(month, 1) - timedelta(days=1), last_day)
        if month > last_day:
            continue
        if out and out[-1][1] + timedelta(days=1) == month:
            out[-1] = (out[-1][0], end)
        else:
            out.append((max(month, DATA_START), end))
    return out


def chunks(start: date, end: date, bulk: bool) -> list[tuple[date, date]]:
    """A range split into requests the API answers whole: at most 365 days (bulk) or 18
    whole months (a single package: the API's silent cut starts 18 months before `end`)."""
    out = []
    while start <= end:
        if bulk:
            stop = min(end, start + timedelta(days=BULK_DAYS - 1))
        else:
            stop = min(end, add_months(month_start(start), SINGLE_MONTHS) - timedelta(days=1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def requests_for(wanted: dict[str, list[date]], last_day: date) -> list[tuple[list[str], date,
                                                                              date]]:
    """(names, start, end) of every request: unscoped names asking the same months share bulk
    requests (<= 128 names, <= 365 days); scoped names (and a name alone) go one by one."""
    groups: dict[tuple, list[str]] = {}
    for name, months in wanted.items():
        key = tuple(runs(months, last_day))
        groups.setdefault(("bulk", key) if not name.startswith("@") else (name, key), []) \
            .append(name)
    out = []
    for (kind, spans), names in sorted(groups.items(), key=lambda g: (g[1][0], g[0][1])):
        bulk = kind == "bulk" and len(names) > 1
        for i in range(0, len(names), BULK_NAMES if bulk else 1):
            part = sorted(names[i:i + (BULK_NAMES if bulk else 1)])
            for span in spans:
                out += [(part, s, e) for s, e in chunks(*span, bulk=bulk)]
    return out


def _check_range(ctx: CollectContext, answer: Any, name: str, start: date, end: date,
                 where: str, recent: date) -> dict[date, int]:
    """The daily counts of one range answer, checked against what was asked."""
    if not isinstance(answer, dict) or not isinstance(answer.get("downloads"), list):
        raise ctx.fail(f"malformed answer ({where}): expected an object with a 'downloads' "
                       "list", "the npm downloads API changed; check the URL")
    if answer.get("package") != name:
        raise ctx.fail(f"malformed answer ({where}): it is for {str(answer.get('package'))[:80]!r}"
                       f", not {name}", "check the URL")
    got_start, got_end = _day(answer.get("start")), _day(answer.get("end"))
    if got_start != start:
        raise ctx.fail(f"the API answered {name} from {answer.get('start')!r} instead of "
                       f"{start} ({where}): it cut the range silently",
                       "its range limit changed; the previous snapshot stays current")
    if got_end is None or got_end > end or (got_end < end and got_end < recent):
        raise ctx.fail(f"the API answered {name} up to {answer.get('end')!r} instead of {end} "
                       f"({where})", "retry later; the previous snapshot stays current")
    days: dict[date, int] = {}
    for entry in answer["downloads"]:
        day = _day(entry.get("day")) if isinstance(entry, dict) else None
        count = entry.get("downloads") if isinstance(entry, dict) else None
        if day is None or not start <= day <= got_end or day in days:
            raise ctx.fail(f"malformed answer ({where}): day {str(day or entry)[:40]} outside "
                           "the range or repeated", "check the URL")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ctx.fail(f"malformed answer ({where}): {name} on {day} has count "
                           f"{str(count)[:20]!r}", "check the URL")
        days[day] = count
    return days


def parse(ctx: CollectContext, payload: Any, names: list[str], start: date, end: date,
          where: str, recent: date) -> dict[str, dict[date, int]]:
    """{name: {day: count}} of one answer (single: one name asked; bulk: several)."""
    if len(names) == 1:
        return {names[0]: _check_range(ctx, payload, names[0], start, end, where, recent)}
    if not isinstance(payload, dict) or set(payload) != set(names):
        listed = sorted(payload)[:3] if isinstance(payload, dict) else type(payload).__name__
        raise ctx.fail(f"malformed bulk answer ({where}): names {listed} are not the "
                       f"{len(names)} asked for", "check the URL")
    out = {}
    for name in names:
        if payload[name] is None:
            raise ctx.fail(f"npm has no package {name} ({where}: null in the bulk answer)",
                           "check data/reference/rounds_packages.csv")
        out[name] = _check_range(ctx, payload[name], name, start, end, where, recent)
    return out


def _fetch(ctx: CollectContext, names: list[str], start: date, end: date) -> tuple[Any, str]:
    rel = f"downloads/range/{start}:{end}/{','.join(names)}"
    try:
        fetched = ctx.origin.get(rel)
    except HttpStatusError as exc:
        if exc.status == 404:
            said = exc.body.decode("utf-8", "replace")[:120]
            with contextlib.suppress(ValueError, AttributeError):
                said = str(json.loads(exc.body).get("error", said))[:120]
            raise ctx.fail(f"npm has no package {', '.join(names)} (HTTP 404: {said})",
                           "check data/reference/rounds_packages.csv") from None
        raise
    safe = ",".join(n.replace("/", "__") for n in names)
    ctx.save_raw(f"ranges/{start}_{end}/{safe}.json", fetched.content, fetched.url)
    return ctx.origin.parse_json(fetched), f"{start}:{end} {','.join(names)}"


def _local_days(ctx: CollectContext, local: Path) -> dict[str, dict[date, int]]:
    """Every answer file of a local copy (its snapshot folders oldest first, so newer win)."""
    def order(path: Path) -> tuple[int, str]:
        match = next((SNAPSHOT_FOLDER.search(p.name) for p in path.relative_to(local).parents
                      if SNAPSHOT_FOLDER.search(p.name)), None)
        return (int(match[1]) if match else 0, str(path))

    files = sorted((p for p in local.rglob("*.json") if not p.name.startswith("_")), key=order)
    if not files:
        raise ctx.fail(f"no npm answers (*.json) in {local}",
                       "point ADOPTION_NPM_DOWNLOADS_URL at the npm API or a copy of "
                       "data/raw/npm_downloads")
    days: dict[str, dict[date, int]] = {}
    for path in files:
        rel = path.relative_to(local).as_posix()
        payload = ctx.origin.parse_json(ctx.origin.get(rel))
        ctx.save_raw(rel, path.read_bytes(), path.as_uri())
        answers = payload.values() if isinstance(payload, dict) and "downloads" not in payload \
            else [payload]
        for answer in answers:
            if isinstance(answer, dict) and rules.is_npm_name(answer.get("package")):
                start, end = _day(answer.get("start")), _day(answer.get("end"))
                if start and end:
                    found = _check_range(ctx, answer, answer["package"], start, end, rel, end)
                    days.setdefault(answer["package"], {}).update(found)
    return days


def _stored(ctx: CollectContext) -> tuple[Stored, dict[tuple[str, date], int]]:
    """The current snapshot's rows, and the days each month covered."""
    if ctx.previous_snapshot_id is None:
        return {}, {}
    rows = ctx.con.execute(
        "SELECT package, month, downloads, complete, stored_by_snapshot, days "
        "FROM raw_npm__downloads_at(?)", [ctx.previous_snapshot_id]).fetchall()
    return {(p, m): (d, c, s) for p, m, d, c, s, _ in rows}, \
        {(p, m): n for p, m, _, _, _, n in rows}


def collect(ctx: CollectContext) -> Iterator[tuple[str, Any]]:
    try:
        packages = rules.npm_packages()
    except ValueError as exc:
        raise ctx.fail(str(exc), "fix the reference file") from None
    now = today()
    yesterday, this_month = now - timedelta(days=1), month_start(now)
    stored, stored_days = _stored(ctx)
    local = ctx.origin.local
    if local is not None:
        the_plan = Plan(DATA_START, full=True, why="local copy")
        days = _local_days(ctx, local)
        absent = sorted(set(packages) - set(days))
        if absent:
            raise ctx.fail(f"the local copy has no counts for {', '.join(absent)}",
                           "collect from the npm API once")
        asked = {name: sorted({month_start(d) for d in days[name]}) for name in packages}
        requests = 0
    else:
        the_plan = plan(stored, list(packages), now, DATA_START)
        last = month_start(yesterday)
        asked = {name: [m for m in (months_from(max(first, month_start(DATA_START)), last)
                                    if the_plan.full else
                                    months_from(the_plan.since, last) + the_plan.extra)
                        if m >= first]
                 for name, first in packages.items()}
        days = {name: {} for name in packages}
        wanted = requests_for(asked, yesterday)
        for names, start, end in wanted:
            payload, where = _fetch(ctx, names, start, end)
            for name, counts in parse(ctx, payload, names, start, end, where,
                                      recent=yesterday - timedelta(days=2)).items():
                days[name].update(counts)
        requests = len(wanted)
    rows_out, kept_from, answered = [], set(), set()
    for name in packages:
        months: dict[date, list[int]] = {}
        for day, count in days[name].items():
            months.setdefault(month_start(day), []).append(count)
        for month in asked[name]:
            counts = months.get(month)
            if not counts:
                continue
            answered.add(month)
            full = calendar.monthrange(month.year, month.month)[1]
            row = {"package": name, "month": month, "downloads": sum(counts),
                   "days": len(counts), "complete": month < this_month and len(counts) == full}
            before = stored.get((name, month))
            if before is not None and before[:2] == (row["downloads"], row["complete"]):
                kept_from.add(before[2])
            rows_out.append(row)
        for (package, month), (downloads, complete, snapshot) in sorted(stored.items()):
            if package == name and month not in months:
                kept_from.add(snapshot)
                rows_out.append({"package": package, "month": month, "downloads": downloads,
                                 "days": stored_days[(package, month)], "complete": complete})
    missing = missing_months(the_plan, now, answered, stored) if local is None else []
    if missing:
        ctx.log.warning("%s: no daily counts for %s: asked again next time", NAME,
                        ", ".join(f"{m:%Y-%m}" for m in missing[:6]))
        ctx.parameters["months_missing"] = [f"{m:%Y-%m}" for m in missing]
    record_kept(ctx, kept_from)
    ctx.parameters.update({"asked": the_plan.describe(), "packages": sorted(packages),
                           "requests": requests, "rules": "pipeline.rules.rounds_packages"})
    if not rows_out:
        raise ctx.fail(f"no daily counts for {the_plan.describe()}", "check the URL")
    yield "raw_npm__downloads", rows_out


SOURCE = Source(
    name=NAME,
    title="Monthly npm downloads of the deployment packages (npm download counts API)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_npm__downloads",
    collect=collect,
    versioned=VERSIONED,
)
