"""Papers with Code at the archive's real size: first refresh, then a no-change refresh.

Generates synthetic parquet files in the real column layout at the archive's size (~300k
links, ~576k papers in 4 shards; scale with --scale), serves them from the fake Hub on
127.0.0.1 and runs `python -m pipeline refresh --source papers_with_code` twice in a child
process: the first run downloads, loads, analyses and charts; the second finds every file
unchanged (listing sha256 = kept file) and downloads nothing.

    python -m benchmarks.pwc_scale [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmarks.common import machine, run_measured, table
from pipeline.config import PROJECT_ROOT
from tests.fakes import pwc

LINKS, PAPERS, SHARDS = 300_000, 576_000, 4
FRAMEWORKS = np.array(["pytorch", "tf", "jax", "none", "mxnet", "paddle"])


def synthetic(scale: float, seed: int = 7) -> dict[tuple[str, str], bytes]:
    rng = np.random.default_rng(seed)
    n_papers, n_links = int(PAPERS * scale), int(LINKS * scale)
    days = rng.integers(0, 365 * 9, n_papers)
    dates = (np.datetime64("2016-07-01") + days).astype(str)
    slugs = np.char.add("paper-", np.arange(n_papers).astype(str))
    proceedings = rng.choice(np.array(["neurips-2021-12", "cvpr-2022-1", "iclr-2020-1",
                                       "acl-2019-7", None], dtype=object), n_papers,
                             p=[0.03, 0.03, 0.02, 0.02, 0.90])
    urls = np.char.add("https://paperswithcode.com/paper/", slugs)
    papers = pa.table({
        "paper_url": urls, "arxiv_id": pa.nulls(n_papers, pa.string()), "title": slugs,
        "abstract": np.char.add("An abstract of moderate length about ", slugs),
        "url_abs": pa.nulls(n_papers, pa.string()), "url_pdf": pa.nulls(n_papers, pa.string()),
        "proceeding": pa.array(proceedings, pa.string()),
        "authors": pa.array([["A. Author"]] * n_papers, pa.list_(pa.string())),
        "tasks": pa.array([["Task"]] * n_papers, pa.list_(pa.string())),
        "date": dates,
        "methods": pa.nulls(n_papers, pwc.PAPERS_SCHEMA.field("methods").type),
    }, schema=pwc.PAPERS_SCHEMA)
    linked = rng.integers(0, n_papers, n_links)
    repo_ids = rng.integers(0, int(n_links * 0.8), n_links)  # some repos on several papers
    links = pa.table({
        "paper_url": urls[linked], "paper_title": slugs[linked],
        "paper_arxiv_id": pa.nulls(n_links, pa.string()),
        "paper_url_abs": pa.nulls(n_links, pa.string()),
        "paper_url_pdf": pa.nulls(n_links, pa.string()),
        "repo_url": np.char.add("https://github.com/user/repo", repo_ids.astype(str)),
        "is_official": rng.random(n_links) < 0.5, "mentioned_in_paper": rng.random(n_links) < 0.3,
        "mentioned_in_github": rng.random(n_links) < 0.7,
        "framework": rng.choice(FRAMEWORKS, n_links, p=[0.5, 0.2, 0.03, 0.22, 0.03, 0.02]),
    }, schema=pwc.LINKS_SCHEMA)
    return pwc.fixture_files(links, papers, shards=SHARDS)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    files = synthetic(args.scale)
    size_mb = sum(len(b) for b in files.values()) / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as tmp, pwc.FakeHub(files) as hub:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADOPTION_")}
        env |= {"ADOPTION_DATA_DIR": str(Path(tmp) / "data"),
                "ADOPTION_CONFIG": str(Path(tmp) / "none.toml"),
                "ADOPTION_PAPERS_WITH_CODE_URL": hub.url}
        for label in ("first refresh (download, load, analyse, chart)",
                      "no-change refresh (nothing downloaded)"):
            before = len(hub.requests)
            measured = run_measured(["-m", "pipeline", "refresh", "--source",
                                     "papers_with_code"], env=env, cwd=PROJECT_ROOT)
            asked = hub.requests[before:]
            downloads = sum("/resolve/" in r.path for r in asked)
            rows.append([label, f"{measured['wall_s']:.1f}", f"{measured['peak_rss_mib']:.0f}",
                         len(asked), downloads])
    text = "\n".join([
        "### Papers with Code archive" + (" at full size" if args.scale == 1 else
                                          f" at {args.scale:g}x its size"),
        "",
        f"{int(LINKS * args.scale):,} link rows and {int(PAPERS * args.scale):,} papers in "
        f"{SHARDS} shards ({size_mb:.0f} MB of parquet), synthetic, served by the fake Hub.",
        "",
        table(["run", "wall s", "peak RSS MiB", "HTTP requests", "files downloaded"], rows),
    ])
    print(text)
    return text


if __name__ == "__main__":
    print(machine())
    main()
