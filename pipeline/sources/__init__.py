"""Sources: one module per upstream, each exposing `SOURCE = Source(...)`.

A source is a plain generator of `(table, batch)` pairs: it fetches and parses; it never
writes to the database itself. `pipeline.collect` loads the batches in one transaction and
records the snapshot. Adding a source = adding one module here (found automatically) and one
fake server in `tests/fakes/`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.registry import modules_defining

#: A batch of rows: a pyarrow Table, a pandas DataFrame, or a list of dicts.
Batch = Any
Collector = Callable[["CollectContext"], Iterator[tuple[str, Batch]]]


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    default_url: str
    licence: str
    #: raw table name -> CREATE TABLE statement (each table has a `snapshot_id BIGINT` column)
    tables: dict[str, str]
    #: the table whose row count is the snapshot's row count (empty/drop checks use it)
    primary_table: str
    collect: Collector
    #: returns a reason to skip (e.g. an API key is not set), or None to run
    skip_reason: Callable[[], str | None] = field(default=lambda: None)
    #: included in a plain `refresh` (optional sources still run when named with --source)
    default: bool = True
    #: minimum rows for a snapshot to be believable (0 rows is always refused)
    min_rows: int = 1


def all_sources() -> dict[str, Source]:
    """Every module in this package that defines SOURCE, by source name."""
    package = sys.modules[__name__]
    return {s.name: s for s in modules_defining(package, "SOURCE") if isinstance(s, Source)}


from pipeline.collect import CollectContext  # noqa: E402  (re-export for source modules)

__all__ = ["Batch", "CollectContext", "Source", "all_sources"]
