"""Benchmark: what a second `refresh` right after a first one asks of each upstream.

Starts every source's fake upstream on 127.0.0.1 (conference mirror at a pinned-commit URL,
a synthetic Hub, the Papers with Code archive files, the HN mirror threads, the six
proceedings sites of the `papers` source with their generated catalog), runs
`python -m pipeline refresh` twice in child processes, and counts requests and bytes each
upstream served during each run. Target for the second run: only listing/metadata requests.

    python -m benchmarks.no_change_refresh [--hub-models 50000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.common import run_measured, table
from pipeline.config import PROJECT_ROOT

COMMIT = "3ef0c7dee3002f66277251eda55df970b3cda293"


def _usage(server, since: dict) -> tuple[int, int, list[str]]:
    """Requests, bytes and paths served since `since`: a Hub's and its CDN's (another host)."""
    requests = server.requests[since.get("hub", 0):]
    if getattr(server, "cdn", None) is not None:
        requests = requests + server.cdn.requests[since.get("cdn", 0):]
    paths = sorted({r.path for r in requests})
    return len(requests), sum(r.bytes_sent for r in requests), paths


def _mark(server) -> dict:
    cdn = getattr(server, "cdn", None)
    return {"hub": len(server.requests), "cdn": len(cdn.requests) if cdn is not None else 0}


def main(argv: list[str] | None = None) -> str:
    from benchmarks.pwc_scale import synthetic
    from pipeline import rules
    from tests.conftest import CONFERENCE_MIRROR, HN_MIRROR
    from tests.fakes import clickhouse, npm
    from tests.fakes.algolia import AlgoliaServer
    from tests.fakes.hf_hub import FakeHfHub
    from tests.fakes.pwc import FakeHub
    from tests.fakes.raw_files import RawFileServer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hub-models", type=int, default=50_000)
    parser.add_argument("--pwc-scale", type=float, default=0.05)
    args = parser.parse_args(argv)
    from tests.fakes.acl_anthology import AclServer
    from tests.fakes.cvf import CvfServer
    from tests.fakes.ecva import EcvaServer
    from tests.fakes.neurips import NeuripsServer
    from tests.fakes.openreview import OpenReviewServer
    from tests.fakes.pmlr import PmlrServer
    from tests.fakes.proceedings import default_catalog

    catalog = default_catalog()
    proceedings = {f"papers ({site.__name__.removesuffix('Server')})": site(catalog)
                   for site in (OpenReviewServer, PmlrServer, NeuripsServer, CvfServer,
                                EcvaServer, AclServer)}
    servers = {
        "conferences": RawFileServer(CONFERENCE_MIRROR, prefix=f"Chillee/pvt/{COMMIT}/data"),
        "hf_models": FakeHfHub(n=args.hub_models),
        "papers_with_code": FakeHub(files=synthetic(args.pwc_scale)),
        "jobs_hn": AlgoliaServer(mirror=HN_MIRROR),
        "pypi_downloads": clickhouse.ClickHouseServer(clickhouse.synthetic(
            rules.pypi_packages(), date(2016, 1, 1), datetime.now(UTC).date().replace(day=1))),
        "npm_downloads": npm.NpmServer({name: npm.daily(first, datetime.now(UTC).date(), 500)
                                        for name, first in rules.npm_packages().items()}),
    } | proceedings
    for server in servers.values():
        server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-nochange-") as tmp:
            env = os.environ | {
                "ADOPTION_DATA_DIR": str(Path(tmp) / "data"),
                "ADOPTION_CONFIG": str(Path(tmp) / "none.toml"),
                "ADOPTION_CONFERENCES_URL": servers["conferences"].base_url,
                "ADOPTION_HF_MODELS_URL": servers["hf_models"].url,
                "ADOPTION_PAPERS_WITH_CODE_URL": servers["papers_with_code"].url,
                "ADOPTION_JOBS_HN_URL": servers["jobs_hn"].base_url,
                "ADOPTION_PAPERS_FIRST_YEAR": "2024", "ADOPTION_PAPERS_LAST_YEAR": "2026",
                "ADOPTION_PAPERS_MIN_INTERVAL_SECONDS": "0",
                "ADOPTION_PYPI_DOWNLOADS_URL": servers["pypi_downloads"].url,
                "ADOPTION_NPM_DOWNLOADS_URL": servers["npm_downloads"].url,
            }
            for server in proceedings.values():
                env |= server.urls()
            rows = []
            marks: dict[str, dict] = {name: {} for name in servers}
            runs = []
            for label in ("first refresh", "second refresh (no change)"):
                run = run_measured(["-m", "pipeline", "refresh"], env=env, cwd=PROJECT_ROOT)
                runs.append(run)
                for name, server in servers.items():
                    count, sent, paths = _usage(server, marks[name])
                    marks[name] = _mark(server)
                    shown = ", ".join(paths[:3]) + (f" … (+{len(paths) - 3})"
                                                    if len(paths) > 3 else "")
                    rows.append([label, name, f"{count:,}", f"{sent / 2**20:,.2f} MiB",
                                 f"`{shown}`" if count else "—"])
    finally:
        for server in servers.values():
            server.stop()
    text = (f"### No-change refresh (Hub of {args.hub_models:,} models; wall time "
            f"{runs[0]['wall_s']:.1f} s then {runs[1]['wall_s']:.1f} s)\n\n"
            + table(["Run", "Source", "Requests", "Downloaded", "Paths asked for"], rows))
    print(text)
    return text


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
