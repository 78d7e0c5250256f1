"""Benchmark: hf_models ingest time and database size as the Hub grows.

For each size (default 250k, 1M, 2.5M models) a fresh database ingests a synthetic hub-stats
models.parquet of that many rows (parquet mode, from a local folder) in a child process.
Prints time, models/s, database size and bytes per model: linear growth shows as a flat
models/s and bytes/model column.

    python -m benchmarks.growth [--sizes 250000,1000000,2500000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmarks.common import run_measured, table
from pipeline.config import PROJECT_ROOT


def main(argv: list[str] | None = None) -> str:
    from pipeline.sources.hf_models import HUB_STATS_REL
    from tests.fakes.hf_hub import hub_stats_parquet

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="250000,1000000,2500000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        for n in sizes:
            work = Path(tmp) / str(n)
            source = work / "hf" / HUB_STATS_REL
            source.parent.mkdir(parents=True)
            hub_stats_parquet(n, sink=str(source))
            env = os.environ | {"ADOPTION_DATA_DIR": str(work / "data"),
                                "ADOPTION_CONFIG": str(work / "none.toml"),
                                "ADOPTION_HF_MODELS_URL": str(work / "hf")}
            run = run_measured(["-m", "pipeline", "collect", "hf_models", "--hf-mode", "parquet"],
                               env=env, cwd=PROJECT_ROOT)
            db_bytes = (work / "data" / "adoption.duckdb").stat().st_size
            rows.append([f"{n:,}", f"{run['wall_s']:.1f} s", f"{n / run['wall_s']:,.0f}",
                         f"{db_bytes / 2**20:,.0f} MiB", f"{db_bytes / n:,.0f}"])
            source.unlink()
    text = ("### Growth: hf_models ingest (parquet mode) by Hub size\n\n"
            + table(["Models", "Ingest time", "Models/s", "Database size", "Bytes/model"], rows))
    print(text)
    return text


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
