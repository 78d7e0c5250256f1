"""Benchmark: how fast the `papers` source reads PDFs, and how long the real backfill takes.

1. **Extraction throughput**: the worker pool of `pipeline.pdftext` reads the 62 real PMLR
   papers of the shared mirror (UAI; generated PDFs when the mirror is absent) with 1 and 2
   workers: PDFs, pages and MB per second, and per core.
2. **The collector end to end**: `python -m pipeline collect papers` against the fake NeurIPS
   site serving N generated papers (network latency 20 ms per request): papers per second
   with listing, download, extraction, the durable state file and the load.
3. **The planned backfill**: the meetings the default settings list (2023 to 2026, the
   comparison meetings, Findings), with their published numbers of accepted papers (rounded;
   `~` = not yet final or estimated), an average PDF size per site, the CPU time at the
   measured pages per second, the download time at an assumed throughput, and the weekly
   runs needed at the workflow's time budget.

    python -m benchmarks.papers_backfill [--papers 120] [--download-mbps 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import run_measured, table
from pipeline.config import PROJECT_ROOT

#: (meeting, accepted papers, average PDF MB, average pages): public counts, rounded; a
#: leading "~" marks a count that is estimated (meeting not fully published, or no final
#: figure found); sizes and pages are typical of each venue's template and appendices
PLANNED = [
    ("ICLR 2023", "1574", 5.0, 24), ("ICLR 2024", "2260", 5.5, 26),
    ("ICLR 2025", "~3700", 6.0, 28), ("ICLR 2026", "~5300", 6.0, 28),
    ("NeurIPS 2023", "3584", 5.0, 25), ("NeurIPS 2024", "~4040", 5.5, 27),
    ("NeurIPS 2025", "~5290", 6.0, 28), ("ICML 2023", "1827", 4.0, 22),
    ("ICML 2024", "2610", 4.5, 24), ("ICML 2025", "~3260", 5.0, 25),
    ("ICML 2026", "~3300", 5.0, 25), ("CVPR 2023", "2359", 4.0, 11),
    ("CVPR 2024", "2716", 4.5, 11), ("CVPR 2025", "~2880", 4.5, 11),
    ("CVPR 2026", "~3000", 4.5, 11), ("ICCV 2023", "~2160", 4.0, 11),
    ("ICCV 2025", "~2700", 4.5, 11), ("ECCV 2024", "~2390", 6.0, 18),
    ("ECCV 2026", "~2800", 6.0, 18), ("ACL 2023 (long + short)", "~1080", 0.9, 14),
    ("ACL 2024", "~1000", 0.9, 15), ("ACL 2025", "~1700", 1.0, 16),
    ("ACL 2026", "~1800", 1.0, 16), ("EMNLP 2023", "~1050", 0.9, 14),
    ("EMNLP 2024", "~1270", 1.0, 15), ("EMNLP 2025", "~2200", 1.0, 16),
    ("NAACL 2024", "~570", 0.9, 14), ("NAACL 2025", "~700", 1.0, 15),
    ("Findings 2023 (ACL, EMNLP)", "~1900", 0.9, 13),
    ("Findings 2024 (ACL, EMNLP, NAACL)", "~2500", 0.9, 14),
    ("Findings 2025 (ACL, EMNLP, NAACL)", "~3400", 1.0, 15),
    ("Findings 2026 (ACL)", "~1500", 1.0, 15),
    ("Comparison meetings (ICLR 2022 accepted, ICML 2021, NeurIPS 2020, CVPR 2020, "
     "ECCV 2018, ACL 2020)", "~7200", 2.5, 15),
]
BUDGET_MINUTES = 150  # the weekly workflow's ADOPTION_PAPERS_TIME_BUDGET_MINUTES


def _pdfs() -> tuple[list[Path], str]:
    from tests.conftest import SHARED_MIRROR

    mirror = SHARED_MIRROR / "pmlr"
    found = sorted(mirror.glob("v*/**/*.pdf"))
    if found:
        return found, "the 62 real PMLR papers of the shared mirror"
    from tests.fakes.proceedings import BODIES, paper_pdf

    folder = Path(tempfile.mkdtemp(prefix="bench-pdfs-"))
    for i in range(60):
        (folder / f"{i}.pdf").write_bytes(paper_pdf(f"Paper {i}", tuple(BODIES["pt"])))
    return sorted(folder.glob("*.pdf")), "60 generated one-page PDFs (mirror absent)"


def extraction(workers: int, paths: list[Path]) -> dict:
    """Read every PDF once with a pool of `workers` (the pool started and warmed first)."""
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.pdftext import WorkerPool

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    with WorkerPool(workers, timeout=120, memory_mb=1536) as warm:  # imports, caches
        warm.extract(paths[0])
    before = cpu()
    with WorkerPool(workers, timeout=120, memory_mb=1536) as pool, \
            ThreadPoolExecutor(workers) as threads:
        started = time.perf_counter()
        outcomes = list(threads.map(pool.extract, paths))
        wall = time.perf_counter() - started
    used = cpu() - before  # the workers' own CPU time (they are reaped at close)
    pages = sum(o.pages or 0 for o in outcomes)
    size = sum(p.stat().st_size for p in paths)
    return {"workers": workers, "wall": wall, "cpu": used, "pdfs": len(paths), "pages": pages,
            "mb": size / 1e6, "failed": sum(not o.ok for o in outcomes),
            "median_s": statistics.median(o.seconds for o in outcomes)}


def end_to_end(papers: int) -> dict:
    from tests.fakes.neurips import NeuripsServer
    from tests.fakes.proceedings import BODIES, FakePaper

    kinds = list(BODIES)
    catalog = {("NeurIPS", 2025, "main"): [
        FakePaper(f"{i:032x}", f"Paper {i}", [f"Author {i}"], kinds[i % len(kinds)])
        for i in range(papers)]}
    server = NeuripsServer(catalog)
    server.latency = 0.02
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-papers-") as tmp:
            env = os.environ | {
                "ADOPTION_DATA_DIR": str(Path(tmp) / "data"),
                "ADOPTION_CONFIG": str(Path(tmp) / "none.toml"),
                "ADOPTION_PAPERS_SITES": "neurips", "ADOPTION_PAPERS_NEURIPS_URL": server.url,
                "ADOPTION_PAPERS_FIRST_YEAR": "2025", "ADOPTION_PAPERS_LAST_YEAR": "2025",
                "ADOPTION_PAPERS_COMPARE": "false", "ADOPTION_PAPERS_MIN_INTERVAL_SECONDS": "0",
            }
            [paper.pdf for paper in catalog[("NeurIPS", 2025, "main")]]  # generated up front
            measured = run_measured(["-m", "pipeline", "collect", "papers"], env=env,
                                    cwd=PROJECT_ROOT)
            again = run_measured(["-m", "pipeline", "collect", "papers"], env=env,
                                 cwd=PROJECT_ROOT)
        pdf_requests = [r for r in server.requests if r.path.endswith(".pdf")]
    finally:
        server.stop()
    return {"papers": papers, "wall": measured["wall_s"], "rss": measured["peak_rss_mib"],
            "again": again["wall_s"], "pdf_requests": len(pdf_requests)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=120)
    parser.add_argument("--download-mbps", type=float, default=20.0,
                        help="assumed download throughput over all hosts, MB/s")
    args = parser.parse_args(argv)
    paths, which = _pdfs()
    runs = [extraction(w, paths) for w in (1, 2)]
    print("## Papers: PDF extraction and the planned backfill\n")
    print(f"Extraction of {which} ({runs[0]['pdfs']} PDFs, {runs[0]['pages']} pages, "
          f"{runs[0]['mb']:.1f} MB) by the worker pool (pypdfium2 in child processes with a "
          "time and memory limit; words matched there):\n")
    rows = [[r["workers"], f"{r['wall']:.1f} s", f"{r['cpu']:.1f} s",
             f"{r['pdfs'] / r['wall']:.2f}", f"{r['pdfs'] / r['cpu']:.2f}",
             f"{r['pages'] / r['cpu']:.0f}", f"{r['mb'] / r['wall']:.1f}",
             f"{r['median_s'] * 1000:.0f} ms", r["failed"]]
            for r in runs]
    print(table(["Workers", "Wall", "Workers' CPU", "PDFs/s", "PDFs/s per core (per CPU s)",
                 "Pages/s per core", "MB/s", "Median per PDF", "Failed"], rows))
    print(f"\n(Per core = per second of the workers' own CPU time, so that other load on the "
          f"machine does not count; load average when measured: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.)")
    e2e = end_to_end(args.papers)
    print(f"\nCollector end to end (fake NeurIPS site, {e2e['papers']} generated one-page "
          f"papers, 20 ms per request, 2 requests at a time): {e2e['wall']:.1f} s "
          f"({e2e['papers'] / e2e['wall']:.1f} papers/s, peak RSS {e2e['rss']:.0f} MiB); the "
          f"next run fetched no PDF again ({e2e['pdf_requests']} PDF requests in all, "
          f"{e2e['again']:.1f} s).\n")
    pages_per_core = runs[-1]["pages"] / runs[-1]["cpu"]
    cores = 2
    total_papers = sum(int(n.lstrip("~")) for _, n, _, _ in PLANNED)
    total_gb = sum(int(n.lstrip("~")) * mb for _, n, mb, _ in PLANNED) / 1000
    total_pages = sum(int(n.lstrip("~")) * pages for _, n, _, pages in PLANNED)
    cpu_hours = total_pages / (pages_per_core * cores) / 3600
    download_hours = total_gb * 1000 / args.download_mbps / 3600
    hours = max(cpu_hours, download_hours)
    runs_needed = hours * 60 / BUDGET_MINUTES
    print(f"Planned backfill of the default settings (first_year 2023, compare on): "
          f"{len(PLANNED)} groups of meetings, **~{total_papers:,} papers, ~{total_gb:,.0f} GB "
          f"of PDFs, ~{total_pages / 1e6:.1f} M pages**. At the measured "
          f"{pages_per_core:.0f} pages/s per core on {cores} cores, reading takes "
          f"~{cpu_hours:.1f} h of wall time; downloading at an assumed "
          f"{args.download_mbps:g} MB/s over all hosts (2 requests at a time per host) takes "
          f"~{download_hours:.1f} h. The slower of the two, ~{hours:.1f} h, is "
          f"**~{runs_needed:.0f} weekly runs** at the workflow's {BUDGET_MINUTES}-minute budget "
          f"(then each week reads only new meetings).\n")
    print(table(["Meetings", "Accepted papers", "Average PDF (MB)", "Average pages"],
                [[m, n, f"{mb:g}", p] for m, n, mb, p in PLANNED]))


if __name__ == "__main__":
    main()
