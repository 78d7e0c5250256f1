"""Shared helpers for benchmarks: run a step in a child process and measure it."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
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
    """Run a Python child; returns its wall seconds, its own peak RSS (MiB, from wait4) and
    its JSON result if the child printed one as its last stdout line."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], env=env, cwd=cwd, stdout=out,
                                stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed ({proc.returncode}): {stderr[-2000:]}")
    result = {}
    lines = stdout.strip().splitlines()
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {}
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "result": result,
            "stderr": stderr}


def self_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
