"""Benchmark: the HuggingFace Hub source's modes on a fake Hub that behaves like the real one.

The fake Hub (tests/fakes/hf_hub.py) serves N synthetic models (default 1,000,000) with the
real Hub's manners: a latency per reply (default 0.3 s), the documented anonymous quota of
500 API requests per 5-minute window with `RateLimit` / `RateLimit-Policy` headers (429 +
`Retry-After` past it), and a bandwidth cap (default 12.5 MB/s, i.e. 100 Mbit/s). Each run is
`python -m pipeline collect hf_models` in a child process:

1. `auto` with a fresh hub-stats dump (so: parquet mode);
2. `auto` again, nothing changed upstream;
3. `api`: the full crawl;
4. `api` killed with SIGKILL at ~50% of the pages, then run again to finish the crawl.

Targets: `auto` at least 20x faster than `api` end to end; a no-change `auto` refresh
downloads 0 bytes of model data; the resumed crawl fetches at most one page twice.

    python -m benchmarks.hf_modes                     # 1,000,000 models: ~25 minutes
    python -m benchmarks.hf_modes --models 20000 --latency 0.05   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import run_measured, table
from pipeline.config import PROJECT_ROOT

COLLECT = ["-m", "pipeline", "collect", "hf_models"]


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n else "0 bytes"


def _mark(hub) -> tuple[int, int]:
    """Requests served so far by the Hub and by its CDN (another host)."""
    return len(hub.requests), len(hub.cdn.requests)


def _served(hub, since: tuple[int, int]) -> tuple[int, int, int, int]:
    """Requests, 429s, bytes of model data (listing pages and the parquet file, which comes from
    the CDN the Hub redirects to), listing pages served, since the mark `since`."""
    new = hub.requests[since[0]:] + hub.cdn.requests[since[1]:]
    data = [r for r in new if r.path == "/api/models" or r.path.endswith("models.parquet")]
    pages = sum(r.path == "/api/models" and r.status == 200 for r in new)
    return len(new), sum(r.status == 429 for r in new), sum(r.bytes_sent for r in data), pages


def _run(hub, label: str, env: dict, *args: str) -> tuple[list, dict]:
    since = _mark(hub)
    measured = run_measured([*COLLECT, *args], env=env, cwd=PROJECT_ROOT)
    count, limited, data, pages = _served(hub, since)
    row = [label, f"{measured['wall_s']:,.1f} s", f"{count:,}", f"{limited:,}", _mb(data), "—"]
    return row, {"wall": measured["wall_s"], "data": data, "pages": pages}


def _killed_then_resumed(hub, env: dict, pages_total: int) -> tuple[list, list, dict]:
    """Kill an api crawl at half its pages, then finish it; rows for both runs."""
    since = _mark(hub)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, *COLLECT, "--hf-mode", "api"], env=env,
                             cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    while sum(r.path == "/api/models" for r in hub.requests[since[0]:]) < pages_total // 2:
        if child.poll() is not None:
            raise RuntimeError(f"the crawl ended (rc {child.returncode}) before half its pages")
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed_wall = time.perf_counter() - started
    count, limited, data, served = _served(hub, since)
    state = Path(env["ADOPTION_DATA_DIR"]) / "raw" / "hf_models" / ".checkpoint" / "state.json"
    kept = json.loads(state.read_text())["pages"]
    killed = [f"api, SIGKILL at page {kept + 1:,} of {pages_total:,}", f"{killed_wall:,.1f} s",
              f"{count:,}", f"{limited:,}", _mb(data), "—"]
    resumed, result = _run(hub, "api, the next run (resumes)", env, "--hf-mode", "api")
    # pages the Hub served to both runs (the one in flight at the kill may have been sent)
    result["refetched"] = served + result["pages"] - pages_total
    resumed[-1] = f"{result['refetched']:,}"
    return killed, resumed, result


def main(argv: list[str] | None = None) -> str:
    from tests.fakes.hf_hub import ANONYMOUS_QUOTA, PAGE_MAX, FakeHfHub

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per reply")
    parser.add_argument("--bandwidth", type=float, default=12.5e6, help="bytes per second")
    parser.add_argument("--quota", type=int, default=ANONYMOUS_QUOTA["api"],
                        help="API requests per window")
    parser.add_argument("--window", type=float, default=300, help="seconds")
    args = parser.parse_args(argv)
    pages_total = -(-args.models // PAGE_MAX)
    hub = FakeHfHub(n=args.models, latency=args.latency, bandwidth=args.bandwidth,
                    quota={"api": args.quota, "resolvers": ANONYMOUS_QUOTA["resolvers"]},
                    window=args.window)
    size = len(hub.parquet_bytes())  # built before the clock starts, as the Hub has it ready
    hub.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-hf-modes-") as tmp:
            def env(name: str) -> dict:
                return os.environ | {"ADOPTION_DATA_DIR": str(Path(tmp) / name),
                                     "ADOPTION_CONFIG": str(Path(tmp) / "none.toml"),
                                     "ADOPTION_HF_MODELS_URL": hub.url, "CI": "1"}

            fresh, auto = _run(hub, "auto, fresh dump (loads it)", env("auto"))
            same, unchanged = _run(hub, "auto again, nothing changed", env("auto"))
            crawl, api = _run(hub, "api, full crawl", env("api"), "--hf-mode", "api")
            killed, resumed, resume = _killed_then_resumed(hub, env("resume"), pages_total)
    finally:
        hub.stop()
    speedup = api["wall"] / auto["wall"]
    missed = [name for name, ok in (("speed", speedup >= 20), ("no-change", not unchanged["data"]),
                                    ("resume", resume["refetched"] <= 1)) if not ok]
    text = (
        f"### HuggingFace Hub: auto vs api on a realistic fake Hub ({args.models:,} models)\n\n"
        f"Fake Hub: {args.latency:g} s per reply, {args.quota} API requests per "
        f"{args.window:g} s window with `RateLimit` headers (429 past it), "
        f"{args.bandwidth * 8 / 1e6:g} Mbit/s; `models.parquet` {_mb(size)}; "
        f"{pages_total:,} listing pages of {PAGE_MAX:,}.\n\n"
        + table(["Run", "Wall time", "Requests", "429s", "Model data downloaded",
                 "Pages fetched twice"], [fresh, same, crawl, killed, resumed])
        + f"\n\n`auto` is **{speedup:,.0f}x** faster than `api` (target >= 20x); a no-change "
        f"`auto` refresh downloads **{_mb(unchanged['data'])}** of model data (target 0); the "
        f"resumed crawl fetches **{resume['refetched']}** page(s) twice (target <= 1). "
        + (f"Result: MISSES the {', '.join(missed)} target(s)." if missed
           else "Result: meets all three targets."))
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
