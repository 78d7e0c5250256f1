"""Fake npm download counts API on 127.0.0.1 (`/downloads/range/{start}:{end}/{names}`).

It behaves as api.npmjs.org does (npm/registry docs/download-counts.md and its reported
behaviour): daily counts `{"start", "end", "package", "downloads": [{"downloads", "day"}]}`;
scoped names allowed; data from 2015-01-10; a range longer than 18 months is NOT refused but
silently cut to the 18 months before `end` (the answer's `start` shows it: `cut_months`
changes the limit); bulk queries (comma-separated) take unscoped names only, at most 128 and
365 days, answering `{name: answer | null}`; an unknown package is a 404
`{"error": "package <name> not found"}`. Faults (429, 500, malformed, ...) come from the base.

    server = NpmServer({"@tensorflow/tfjs": daily_counts(...)})
    server.ranges  # (names, start, end) of every range asked for
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from tests.fakes.base import FakeServer, Reply, Request

DATA_START = date(2015, 1, 10)
RANGE = re.compile(r"^/downloads/range/(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})/(.+)$")


def months_back(day: date, months: int) -> date:
    """The same day `months` months earlier (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


class NpmServer(FakeServer):
    def __init__(self, packages: dict[str, dict[date, int]] | None = None,
                 cut_months: int = 18, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.packages = dict(packages or {})
        self.cut_months = cut_months
        self.ranges: list[tuple[tuple[str, ...], date, date]] = []

    def _answer(self, name: str, start: date, end: date) -> dict:
        counts = self.packages[name]
        days, day = [], start
        while day <= end:
            days.append({"downloads": counts.get(day, 0), "day": f"{day}"})
            day += timedelta(days=1)
        return {"start": f"{start}", "end": f"{end}", "package": name, "downloads": days}

    def route(self, request: Request) -> Reply:
        match = RANGE.match(request.path)
        if not match:
            return Reply.json('{"error":"not found"}', 404)
        try:
            start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
        except ValueError:
            return Reply.json('{"error":"invalid date"}', 400)
        names = match[3].split(",")
        self.ranges.append((tuple(names), start, end))
        start = max(start, DATA_START)
        if len(names) > 1:
            if any(n.startswith("@") for n in names):
                return Reply.json('{"error":"scoped packages not supported in bulk '
                                  'queries"}', 400)
            if len(names) > 128:
                return Reply.json('{"error":"bulk queries are limited to 128 packages"}', 400)
            if (end - start).days + 1 > 365:
                return Reply.json('{"error":"exceeded max days of 365"}', 400)
            body = {n: self._answer(n, start, end) if n in self.packages else None
                    for n in names}
            return Reply.json(json.dumps(body))
        name = names[0]
        if name not in self.packages:
            return Reply.json(json.dumps({"error": f"package {name} not found"}), 404)
        start = max(start, months_back(end, self.cut_months))  # the silent cut
        return Reply.json(json.dumps(self._answer(name, start, end)))


def daily(first: date, last: date, base: int, growth: float = 1.002) -> dict[date, int]:
    """Deterministic daily counts from `first` to `last` (weekends lower, steady growth)."""
    out, day, n = {}, first, 0
    while day <= last:
        out[day] = int(base * growth ** n * (0.6 if day.weekday() >= 5 else 1.0))
        day += timedelta(days=1)
        n += 1
    return out


def reference_counts(last: date) -> dict[str, dict[date, int]]:
    """Daily counts up to `last` for every npm package of data/reference/rounds_packages.csv,
    each from its first month, except @huggingface/transformers: from 2023, before its first
    month (2024-10), as a name held earlier would be (never asked for)."""
    from pipeline import rules

    out = {}
    for i, (name, first) in enumerate(sorted(rules.npm_packages().items())):
        start = date(2023, 1, 1) if name == "@huggingface/transformers" else first
        out[name] = daily(start, last, 800 + 150 * i)
    return out
