"""Benchmark: the package-download sources' first refresh and a no-change refresh.

Serves every reference package's monthly downloads since 2016 from the fake ClickHouse SQL
endpoint and the npm packages' daily counts from the fake npm API on 127.0.0.1 (with a
realistic latency per answer), then runs `python -m pipeline refresh --source pypi_downloads
--source npm_downloads` twice in child processes, counting the requests and bytes each upstream
answered. The first run asks PyPI for every month in one query and npm for every day in ranges
of at most 18 months; the second asks only for the newest complete and the current month and
stores no snapshot.

    python -m benchmarks.downloads_refresh [--latency 0.4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import machine, run_measured, table
from pipeline.config import PROJECT_ROOT


def main(argv: list[str] | None = None) -> str:
    from pipeline import rules
    from tests.fakes.clickhouse import ClickHouseServer, synthetic
    from tests.fakes.npm import NpmServer, daily

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.4, help="seconds per answer")
    args = parser.parse_args(argv)
    today = datetime.now(UTC).date()
    this_month = today.replace(day=1)
    packages, npm = rules.pypi_packages(), rules.npm_packages()
    rows = []
    servers = {
        "pypi_downloads": ClickHouseServer(
            synthetic(packages, this_month.replace(year=2016, month=1), this_month),
            latency=args.latency),
        "npm_downloads": NpmServer({name: daily(first, today, 5_000 + 1_000 * i)
                                    for i, (name, first) in enumerate(sorted(npm.items()))},
                                   latency=args.latency / 2),
    }
    for server in servers.values():
        server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-downloads-") as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ADOPTION_")}
            env |= {"ADOPTION_DATA_DIR": str(Path(tmp) / "data"),
                    "ADOPTION_CONFIG": str(Path(tmp) / "none.toml")}
            env |= {f"ADOPTION_{name.upper()}_URL": server.url
                    for name, server in servers.items()}
            sources = [arg for name in servers for arg in ("--source", name)]
            for label in ("first refresh", "no-change refresh"):
                marks = {name: len(server.requests) for name, server in servers.items()}
                measured = run_measured(["-m", "pipeline", "refresh", *sources], env=env,
                                        cwd=PROJECT_ROOT)
                for name, server in servers.items():
                    asked = server.requests[marks[name]:]
                    unchanged = f"{name}: unchanged" in measured["stderr"]
                    rows.append([label, f"`{name}`", f"{measured['wall_s']:.1f} s",
                                 len(asked), f"{sum(r.bytes_sent for r in asked):,} B",
                                 "none (unchanged)" if unchanged else "yes"])
    finally:
        for server in servers.values():
            server.stop()
    text = "\n".join([
        "### Package downloads: first and no-change refresh",
        "",
        f"{len(packages)} PyPI packages, every month since January 2016, from the fake "
        f"ClickHouse SQL endpoint ({args.latency:g} s per answer); {len(npm)} npm packages, "
        f"every day since their first month, from the fake npm API ({args.latency / 2:g} s "
        "per answer, cutting ranges over 18 months as npm does). Wall time is the whole "
        "`refresh --source pypi_downloads --source npm_downloads` (collect, analyse, charts, "
        "report, site) in a child process, once per run.",
        "",
        table(["Run", "Source", "Wall time", "Requests", "Bytes answered", "New snapshot"],
              rows),
    ])
    print(text)
    return text


if __name__ == "__main__":
    print(machine())
    main()
