"""Shared helpers for benchmarks: run a step in a child process and measure it."""

from __future__ import annotations

import json
import os
import platform
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


#: A small process that runs the measured command and reports its rusage. Linux keeps a
#: process's RSS high-water mark across fork+exec, so a child forked straight from a large
#: benchmark process would report the parent's size; forked from this small launcher it
#: reports its own.
LAUNCHER = (
    "import json, os, subprocess, sys\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "with open(sys.argv[1], 'w') as fh:\n"
    "    json.dump({'rc': os.waitstatus_to_exitcode(status), 'maxrss_kib': usage.ru_maxrss,\n"
    "               'cpu_s': usage.ru_utime + usage.ru_stime}, fh)\n"
)


def run_measured(args: list[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> dict:
    """Run a Python child; returns its wall seconds, its CPU seconds (user + system, its own and
    its waited-for children's: steadier than wall time on a shared machine), its own peak RSS
    (MiB) and its JSON result if the child printed one as its last stdout line."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), sys.executable,
                               *args], env=env, cwd=cwd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        usage = json.loads(report.read_text()) if report.is_file() else {"rc": proc.returncode,
                                                                         "maxrss_kib": 0}
    if proc.returncode != 0 or usage["rc"] != 0:
        raise RuntimeError(f"{args} failed ({usage['rc']}): {proc.stderr[-2000:]}")
    result = {}
    lines = proc.stdout.strip().splitlines()
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {}
    return {"wall_s": wall, "cpu_s": usage.get("cpu_s"), "peak_rss_mib": usage["maxrss_kib"] / 1024,
            "result": result, "stderr": proc.stderr}


def table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
