"""What a source is, and what its collector gets: `Source` and `CollectContext`.

A source is a plain generator of `(table, batch)` pairs: it fetches and parses; it never writes
to the database itself. `pipeline.collect` (the loader) runs it in one transaction and records
the snapshot. This module sits between the low layers (config, http, store) and the source
modules, so sources and the loader both import it and never each other.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipeline.config import Settings
from pipeline.errors import SourceError, Unchanged
from pipeline.http import Origin, file_sha256, redact
from pipeline.untrusted import shown, unsafe_name
from pipeline.versioned import Versioned
from pipeline.versioned import ddl as versioned_ddl

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
    #: what `--limit N` counts for this source ("models", "threads", ...); None: not supported
    limit_unit: str | None = None
    #: tables stored as row versions + a membership list (see pipeline.versioned):
    versioned: dict[str, Versioned] = field(default_factory=dict)
    #: options of [sources.<name>] besides `url`, with their kinds (checked when loaded)
    options: dict[str, type] = field(default_factory=dict)
    #: an extra line for `status` read without the database (e.g. an unfinished crawl)
    progress: Callable[[Settings], str | None] | None = None

    def create_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the source's tables (and versioned tables' lists and macros) if missing."""
        for ddl in self.tables.values():
            con.execute(ddl)
        for table, spec in self.versioned.items():
            con.execute(versioned_ddl(table, spec.members))


@dataclass
class RawFile:
    """One payload of a snapshot, as listed in its `_snapshot.json` sidecar."""

    path: str
    url: str
    sha256: str
    bytes: int | None
    #: the snapshot whose raw folder holds the file, when not this snapshot's own folder
    kept_in: int | None = None


def manifest_sha256(files: list[RawFile]) -> str:
    """The identity of a snapshot's raw payloads: sha256 over sorted "path sha256" lines."""
    lines = sorted(f"{f.path} {f.sha256}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass
class CollectContext:
    """What a collector gets: where to fetch from, where to keep raw payloads, and state."""

    source: Source
    settings: Settings
    con: duckdb.DuckDBPyConnection
    snapshot_id: int
    origin: Origin
    options: dict[str, Any]
    staging_dir: Path
    previous_snapshot_id: int | None
    previous_sha256: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    raw_files: list[RawFile] = field(default_factory=list)
    partial: bool = False
    #: the snapshot's row count when it is not the rows inserted into the primary table
    #: (a source that stores unchanged rows once and references them sets it)
    row_count: int | None = None
    #: staged payloads that are not kept: the loader keeps what they changed instead
    #: (versioned tables) and records their provenance in the snapshot's parameters
    transient: list[str] = field(default_factory=list)

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"pipeline.{self.source.name}")

    @property
    def show_progress(self) -> bool:
        return sys.stderr.isatty() and not os.environ.get("CI")

    def fail(self, message: str, hint: str = "") -> SourceError:
        return SourceError(self.source.name, redact(message), hint)

    def save_raw(self, rel: str, content: bytes, url: str) -> str:
        """Keep a payload under the snapshot's raw folder (same relative path as upstream)."""
        path = self.raw_path(rel)
        path.write_bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        self.raw_files.append(RawFile(rel, redact(url), sha, len(content)))
        return sha

    def check_name(self, rel: str) -> str:
        """`rel` if it may name a raw file, else a one-line error naming the source and the
        entry. Upstream names are untrusted: `..`, absolute paths, backslashes, glob and
        control characters and over-long names are refused (pipeline.untrusted)."""
        problem = unsafe_name(rel)
        if problem is not None:
            raise self.fail(f"refusing the upstream file name {shown(rel)} ({problem})",
                            "a hostile or broken listing; nothing was written for it")
        return rel

    def raw_path(self, rel: str) -> Path:
        """A path inside the staging folder to stream a large payload into. Every raw file is
        placed through here: `rel` is checked (`check_name`), and its normalised path must lie
        inside the staging folder (a symbolic link cannot lead out either)."""
        root = self.staging_dir.resolve()
        path = (root / self.check_name(rel)).resolve()
        if root not in path.parents:
            raise self.fail(f"refusing the upstream file name {shown(rel)}: it leads outside "
                            "the snapshot's folder", "a hostile or broken listing")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def record_raw(self, rel: str, url: str, sha256: str, size: int | None,
                   kept_in: int | None = None) -> None:
        self.raw_files.append(RawFile(self.check_name(rel), redact(url), sha256, size, kept_in))

    def record_file(self, rel: str, path: Path, url: str) -> str:
        """Record a payload already written to `path` (hashing it); returns its sha256."""
        sha = file_sha256(path)
        self.record_raw(rel, url, sha, path.stat().st_size)
        return sha

    def manifest_sha256(self) -> str:
        return manifest_sha256(self.raw_files)

    @property
    def may_skip(self) -> bool:
        """Whether an unchanged collection may be skipped (not --force, not a --limit run)."""
        return (self.previous_sha256 is not None and not self.partial
                and not self.options.get("force"))

    def unchanged(self) -> bool:
        """True when the payloads recorded so far are exactly the current snapshot's."""
        return self.may_skip and self.manifest_sha256() == self.previous_sha256

    def stop_if_unchanged(self) -> None:
        """Call once every raw payload is recorded, before yielding rows, to skip the load.

        The loader applies the same rule after the last batch anyway; calling this early only
        saves the work of parsing and inserting rows that would be thrown away."""
        if self.unchanged():
            raise Unchanged(f"same raw payloads as snapshot {self.previous_snapshot_id} "
                            f"(sha256 {self.previous_sha256[:12]})")
