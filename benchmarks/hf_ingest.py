"""Benchmark: ingesting the HuggingFace model listing, ours vs the naive pandas way.

Serves N synthetic models from the fake Hub (tests/fakes/hf_hub.py) on 127.0.0.1, then runs,
each in its own subprocess so memory is measured per run (os.wait4 -> ru_maxrss of the child):

* ours:   `pipeline.collect.run_source` of the hf_models source in api mode (streams Arrow
          batches into DuckDB, writes the raw parquet, commits a snapshot);
* naive:  `pandas.DataFrame([vars(m) for m in HfApi().list_models(expand=...)])`;
* parquet (only with --parquet-rows P): hf_models in parquet mode on a synthetic hub-stats
  models.parquet of P rows with the real dump's columns, heavy nested ones included, served
  by the fake Hub like the real one (tree listing, HEAD on the resolve URL, the CDN). Off by
  default: the parquet-mode ingest by Hub size is measured once, in benchmarks/growth.py, so
  the published figures never give two values for it.

Prints a markdown table: models/s and peak RSS of each, and the ratios. Targets: our peak RSS
at most 1/5 of naive's, our throughput at least naive's.

    python -m benchmarks.hf_ingest                       # 1,000,000 models
    python -m benchmarks.hf_ingest --models 20000 --parquet-rows 50000   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child_ours(url: str, workdir: Path, mode: str) -> dict:
    os.environ.update({"ADOPTION_DATA_DIR": str(workdir / "data"),
                       "ADOPTION_CONFIG": str(workdir / "none.toml"),
                       "ADOPTION_HF_MODELS_URL": url})
    from pipeline.collect import run_source
    from pipeline.config import Settings
    from pipeline.sources.hf_models import SOURCE
    from pipeline.store import connect

    settings = Settings.from_env()
    con = connect(settings.db_path)
    started = time.perf_counter()
    result = run_source(con, SOURCE, settings, {"hf_mode": mode})
    seconds = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM raw_hf__models").fetchone()[0]
    con.close()
    raw = sum(f.stat().st_size for f in (settings.raw_dir / "hf_models").rglob("*")
              if f.is_file())
    return {"rows": rows, "snapshot_rows": result["rows"], "seconds": seconds, "raw_bytes": raw}


def _child_naive(url: str) -> dict:
    import pandas as pd
    from huggingface_hub import HfApi

    from pipeline.sources.hf_models import EXPAND

    started = time.perf_counter()
    frame = pd.DataFrame([vars(m) for m in HfApi(endpoint=url, token=False)
                          .list_models(expand=EXPAND)])
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "seconds": seconds}


def _run_child(args: list[str]) -> dict:
    """Run this module as a child; its JSON result plus its own peak RSS. The child is started
    by a small launcher (benchmarks.common.run_measured): forked straight from this process,
    which holds the fake Hub and its dump, it would report this process's high-water mark."""
    from benchmarks.common import run_measured

    env = os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_DISABLE_PROGRESS_BARS": "1", "CI": "1"}
    try:
        measured = run_measured(["-m", "benchmarks.hf_ingest", "--child", *args], env=env,
                                cwd=ROOT)
    except RuntimeError as exc:
        raise SystemExit(f"benchmark child {args[0]} failed: {exc}") from None
    return measured["result"] | {"peak_rss_mb": measured["peak_rss_mib"] * 1.048576}


def _row(name: str, r: dict) -> str:
    rate = r["rows"] / r["seconds"] if r["seconds"] else float("nan")
    return (f"| {name} | {r['rows']:,} | {r['seconds']:.1f} | {rate:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} |")


def run(models: int, parquet_rows: int) -> str:
    sys.path.insert(0, str(ROOT))
    from tests.fakes.hf_hub import FakeHfHub, hub_stats_parquet

    lines = ["| run | models | seconds | models/s | peak RSS (MB) |",
             "|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="hf-bench-") as tmp:
        work = Path(tmp)
        with FakeHfHub(n=models) as hub:
            ours = _run_child(["ours", hub.url, str(work / "ours"), "api"])
            naive = _run_child(["naive", hub.url])
        if ours["rows"] != models or naive["rows"] != models:
            raise SystemExit(f"row counts differ: ours {ours['rows']}, naive {naive['rows']}")
        lines += [_row("ours: hf_models api mode -> DuckDB", ours),
                  _row("naive: DataFrame([vars(m) for m in list_models()])", naive)]
        speed = (ours["rows"] / ours["seconds"]) / (naive["rows"] / naive["seconds"])
        memory = naive["peak_rss_mb"] / ours["peak_rss_mb"]
        notes = []
        if parquet_rows:
            target = work / "models.parquet"
            with target.open("wb") as sink:
                hub_stats_parquet(parquet_rows, sink=sink)
            with FakeHfHub(n=1, dump_path=target) as hub:
                hub.dump_sha256()  # hashed before the clock starts, as the Hub has it ready
                parquet = _run_child(["ours", hub.url, str(work / "parquet"), "parquet"])
                served = sum(r.bytes_sent for r in hub.cdn.requests)
            size = target.stat().st_size
            lines.append(_row(f"ours: parquet mode, {size / 1e9:,.2f} GB dump downloaded from "
                              "the fake Hub, then read", parquet))
            notes.append(_projection_note(target, parquet, served))
    missed = [name for name, ok in (("throughput", speed >= 1), ("memory", memory >= 5))
              if not ok]
    verdict = f"MISSES the {' and '.join(missed)} target" if missed else "meets both targets"
    lines += ["", f"Throughput ours / naive: **{speed:.2f}x** (target >= 1). "
              f"Peak RSS naive / ours: **{memory:.2f}x** (target >= 5). "
              f"Result: {verdict}.", *notes]
    return "\n".join(lines)


def _projection_note(path: Path, parquet: dict, served: int) -> str:
    """How much of the dump the parquet run read, and what it kept, from the file's own
    metadata: the compressed bytes of the columns we store against the whole file."""
    import pyarrow.parquet as pq

    from pipeline.sources.hf_models import COLUMNS

    wanted = {hub for _, hub, _, _ in COLUMNS}
    meta = pq.ParquetFile(path).metadata
    total = read = 0
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            column = meta.row_group(g).column(c)
            total += column.total_compressed_size
            read += column.total_compressed_size * (column.path_in_schema.split(".")[0] in wanted)
    return (f"\nParquet mode: {served / 1e9:,.2f} GB downloaded (the whole file, through the "
            f"HTTP layer, sha256-checked), then DuckDB reads {len(wanted)} of its "
            f"{len(meta.schema.to_arrow_schema())} columns: {read / 1e6:,.0f} MB of its "
            f"{total / 1e6:,.0f} MB of column data ({100 * read / total:.0f}%); the heavy nested "
            "columns are never decoded. The dump is not kept: the snapshot's raw folder holds "
            f"{parquet['raw_bytes'] / 1e6:,.0f} MB (the rows as zstd parquet, for offline "
            "reloads), and the staging copy is removed after the load.")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hf_ingest",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1_000_000,
                        help="synthetic models served by the fake Hub (default 1,000,000)")
    parser.add_argument("--parquet-rows", type=int, default=0,
                        help="also time parquet mode on a synthetic models.parquet of this many "
                             "rows (default 0: growth.py measures it)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        result = _child_naive(rest[0]) if kind == "naive" else \
            _child_ours(rest[0], Path(rest[1]), rest[2])
        print(json.dumps(result))
        return 0
    print(f"## HuggingFace ingest: {args.models:,} models from the fake Hub\n")
    print(run(args.models, args.parquet_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
