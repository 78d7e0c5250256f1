"""Shared helpers for benchmarks: run a step in a child process and measure it."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb


def machine() -> str:
    cpus = os.cpu_count()
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.system()} {platform.machine()}, {cpus} cores, {mem_gib:.0f} GiB, "
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}")


def run_measured(args: list[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> dict:
    """Run a Python child; returns wall seconds, peak RSS (MiB) of the child, and its JSON
    result if the child printed one as its last stdout line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                          text=True)
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result = {}
    lines = proc.stdout.strip().splitlines()
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {}
    # ru_maxrss of children is the max over all children so far: only exact when this child is
    # the largest yet, so callers run the smaller step first or use the child's own report.
    return {"wall_s": wall, "peak_rss_mib": max(peak_kib, before) / 1024, "result": result,
            "stderr": proc.stderr}


def self_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
