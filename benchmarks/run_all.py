"""`make bench`: run every benchmark, print the tables, and write published/benchmarks.md (one
part per benchmark under published/benchmarks/) and README's benchmarks block.

    python -m benchmarks.run_all            # full sizes (1M / 2.5M models: minutes)
    python -m benchmarks.run_all --quick    # small sizes, to check the scripts work
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import re
import sys
from datetime import UTC, datetime

from benchmarks.common import machine
from pipeline.config import PUBLISHED_DIR

#: module, arguments at full size, arguments for --quick
BENCHMARKS = [
    ("benchmarks.hf_ingest", [], ["--models", "20000", "--parquet-rows", "50000"]),
    ("benchmarks.hf_modes", [], ["--models", "20000", "--latency", "0.05"]),
    ("benchmarks.pwc_scale", [], ["--scale", "0.05"]),
    ("benchmarks.analysis_scale", [], ["--scale", "0.02"]),
    ("benchmarks.no_change_refresh", [], []),
    ("benchmarks.hn_series", [], []),
    ("benchmarks.growth", [], ["--sizes", "10000,40000,100000"]),
    ("benchmarks.history_storage", [], ["--models", "20000", "--weeks", "8",
                                        "--target-models", "50000", "--postings", "50"]),
    ("benchmarks.reliability", [], []),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", action="append", help="run only these modules (repeatable)")
    args = parser.parse_args(argv)
    parts_dir = PUBLISHED_DIR / "benchmarks"
    parts_dir.mkdir(parents=True, exist_ok=True)
    stamp = (f"_Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}"
             + (" (--quick sizes)" if args.quick else "") + "._")
    failed = False
    for module_name, full, quick in BENCHMARKS:
        name = module_name.rsplit(".", 1)[-1]
        if args.only and name not in args.only:
            continue
        print(f"== {module_name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(module_name)
            captured = io.StringIO()
            with contextlib.redirect_stdout(captured):
                module.main(quick if args.quick else full)
            text = re.sub(r"(?m)^## ", "### ", captured.getvalue().strip())
        except Exception as exc:  # report and go on: one benchmark never hides the others
            failed = True
            text = f"### {module_name}\n\nfailed: {type(exc).__name__}: {exc}"
            print(f"error: {module_name}: {exc}", file=sys.stderr)
        print(text, flush=True)
        (parts_dir / f"{name}.md").write_text(f"{text}\n\n{stamp}\n")
    # benchmarks.md = every part, in order; parts not re-run this time keep their last figures
    parts = [parts_dir / f"{m.rsplit('.', 1)[-1]}.md" for m, _, _ in BENCHMARKS]
    out = PUBLISHED_DIR / "benchmarks.md"
    out.write_text("\n".join(p.read_text() for p in parts if p.is_file()))
    from pipeline.publish import update_readme

    update_readme({"benchmarks": out.read_text()})
    print(f"wrote {out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
