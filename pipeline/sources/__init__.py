"""Sources: one module per upstream, each exposing `SOURCE = Source(...)`.

A source is a plain generator of `(table, batch)` pairs (see `pipeline.source`); the loader
(`pipeline.collect`) runs it into one snapshot. Adding a source = adding one module here (found
automatically) and one fake server in `tests/fakes/`.
"""

from __future__ import annotations

import sys

import duckdb

from pipeline.registry import modules_defining
from pipeline.source import Batch, CollectContext, Source


def all_sources() -> dict[str, Source]:
    """Every module in this package that defines SOURCE, by source name."""
    package = sys.modules[__name__]
    return {s.name: s for s in modules_defining(package, "SOURCE") if isinstance(s, Source)}


def ensure_tables(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Create the (possibly empty) raw tables (and macros) of the named sources (default: all),
    so analyses of sources never collected still find their inputs."""
    sources = all_sources()
    for name in names or sources:
        sources[name].create_tables(con)


def stored_tables(source: Source) -> list[str]:
    """Every table a source's snapshots are stored in (membership lists included)."""
    return [*source.tables, *(spec.members for spec in source.versioned.values())]


__all__ = ["Batch", "CollectContext", "Source", "all_sources", "ensure_tables", "stored_tables"]
