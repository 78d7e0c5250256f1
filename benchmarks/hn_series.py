"""Benchmark: the offline HN series (../shared/mirror/hn-2021-2026, 63 months, 31,518 postings,
48 MB) through `refresh --source jobs_hn`, twice, in child processes.

The first refresh reads every month file, stores the postings and runs the analyses, charts and
scorecard; the second finds no thread changed, stores nothing and re-runs no analysis. Each run
is also split into its collect step alone (`collect jobs_hn`, a fresh store) to show where the
time goes. Skipped with a note when the mirror is absent.

    python -m benchmarks.hn_series [--mirror PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import duckdb

from benchmarks.common import run_measured, table
from pipeline.config import PROJECT_ROOT


def main(argv: list[str] | None = None) -> str:
    from tests.conftest import SHARED_MIRROR

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mirror", type=Path, default=SHARED_MIRROR / "hn-2021-2026")
    args = parser.parse_args(argv)
    if not (args.mirror / "_missing.json").is_file():
        text = (f"### HN series refresh\n\nskipped: the mirror is not at {args.mirror} "
                "(set ADOPTION_SHARED_MIRROR)")
        print(text)
        return text
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-hn-series-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADOPTION_")} | {
            "ADOPTION_DATA_DIR": str(Path(tmp) / "data"),
            "ADOPTION_CONFIG": str(Path(tmp) / "none.toml"),
            "ADOPTION_JOBS_HN_URL": str(args.mirror),
        }
        collect_only = env | {"ADOPTION_DATA_DIR": str(Path(tmp) / "collect-only")}
        steps = [("collect jobs_hn (first)", ["collect", "jobs_hn"], collect_only),
                 ("collect jobs_hn (no change)", ["collect", "jobs_hn"], collect_only),
                 ("refresh (first)", ["refresh", "--source", "jobs_hn"], env),
                 ("refresh (no change)", ["refresh", "--source", "jobs_hn"], env)]
        for label, command, step_env in steps:
            run = run_measured(["-m", "pipeline", *command], env=step_env, cwd=PROJECT_ROOT)
            db = Path(step_env["ADOPTION_DATA_DIR"]) / "adoption.duckdb"
            with duckdb.connect(str(db), read_only=True) as con:
                stored = con.execute("SELECT count(*) FROM snapshots WHERE source = 'jobs_hn' "
                                     "AND status = 'ok'").fetchall()[0][0]
            outcome = next((line for line in run["stderr"].splitlines()
                            if line.startswith("jobs_hn:")), "")
            rows.append([label, f"{run['wall_s']:.1f} s", f"{run['peak_rss_mib']:.0f} MiB",
                         str(stored), f"`{outcome[:90]}`"])
    text = ("### HN series refresh (63 months, 31,518 postings, 48 MB, read from a local copy)"
            "\n\n" + table(["Step", "Wall time", "Peak RSS", "jobs_hn snapshots stored",
                            "Outcome"], rows))
    print(text)
    return text


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
