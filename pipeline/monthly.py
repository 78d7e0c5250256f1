"""Monthly series collected incrementally: which months a refresh asks an upstream for again.

Shared by the package-download sources (`pypi_downloads`, `npm_downloads`). A month stored after
it ended is final and never asked again. A refresh asks for the newest complete month (its last
days can land after a refresh early in the next month) and the current one, plus any month
stored while it was still open and any month missing between stored ones; a package new to the
reference data makes it ask for every month once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from pipeline.store import raw_folder_path

if TYPE_CHECKING:
    from pipeline.source import CollectContext


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_from(first: date, last: date) -> list[date]:
    """Every month from `first` to `last`, both included."""
    out, month = [], month_start(first)
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


@dataclass
class Plan:
    """Which months one refresh asks for: `since` onwards, plus `extra` older months."""

    since: date
    extra: list[date] = field(default_factory=list)
    full: bool = False  # every month (first refresh, or a package new to the reference data)
    why: str = ""

    def asks(self, month: date) -> bool:
        return month >= self.since or month in self.extra

    def describe(self) -> str:
        text = f"months from {self.since:%Y-%m}"
        if self.extra:
            text += " and " + ", ".join(f"{m:%Y-%m}" for m in self.extra)
        return text + (f" ({self.why})" if self.why else "")


#: the stored rows of the current snapshot: {(package, month): (downloads, complete, snapshot)}
Stored = dict[tuple[str, date], tuple[int, bool, int]]


def plan(stored: Stored, packages: list[str], today: date, first: date) -> Plan:
    """The months to ask for, given the current snapshot's stored rows."""
    newest_complete = add_months(month_start(today), -1)
    if not stored:
        return Plan(first, full=True, why="first collection")
    new = sorted(set(packages) - {p for p, _ in stored})
    if new:
        return Plan(first, full=True, why=f"new package(s): {', '.join(new)}")
    months = {m for _, m in stored}
    open_then = {m for (_, m), (_, done, _) in stored.items() if not done}
    gaps = set(months_from(min(months), newest_complete)) - months
    extra = sorted(m for m in open_then | gaps if m < newest_complete)
    return Plan(newest_complete, extra, why="stored while open or missing" if extra else "")


def missing_months(plan_: Plan, today: date, answered: set[date], stored: Stored) -> list[date]:
    """Complete months asked for that the answer has no row for: gaps, never zeros. Months
    before the first month with data are not gaps (the packages did not exist yet)."""
    asked = months_from(plan_.since, add_months(month_start(today), -1)) + plan_.extra
    known = {m for _, m in stored} | answered
    return sorted({m for m in asked if known and m >= min(known)} - answered)


def record_kept(ctx: CollectContext, snapshots: set[int]) -> None:
    """List, in this snapshot's manifest, the raw payloads of earlier snapshots whose rows it
    keeps (`kept_in`): read from their sidecars, so the manifest names every payload the
    snapshot's rows come from."""
    if not snapshots:
        return
    rows = ctx.con.execute("SELECT snapshot_id, raw_dir FROM snapshots WHERE "
                           "list_contains(?, snapshot_id) ORDER BY snapshot_id",
                           [sorted(snapshots)]).fetchall()
    for snapshot, raw_dir in rows:
        try:
            folder = raw_folder_path(ctx.settings.raw_dir, raw_dir)
            sidecar = json.loads((folder / "_snapshot.json").read_text())
        except (OSError, TypeError, ValueError):
            continue  # pruned or never placed: nothing to name
        for entry in sidecar.get("files", []):
            if entry.get("kept_in") is None and isinstance(entry.get("path"), str):
                ctx.record_raw(entry["path"], entry.get("url", ""), entry.get("sha256", ""),
                               entry.get("bytes"), kept_in=snapshot)
