"""Command line: `python -m pipeline {refresh,collect,analyze,charts,report,notebooks,status}`.

Exit status: 0 when everything ran, 1 when a source (or the store) failed - the other sources
still ran and charts were regenerated from the last good data - and 2 on usage errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable

import duckdb

from pipeline.config import Settings
from pipeline.errors import PipelineError, SourceError
from pipeline.http import redact
from pipeline.store import corrupt_error

log = logging.getLogger("pipeline")


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_Redact())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("matplotlib", "httpx", "httpcore", "huggingface_hub", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # retries are reported by our errors


def _collect_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, metavar="N",
                        help="collect at most N records (recorded as a partial snapshot)")
    parser.add_argument("--hf-mode", choices=("auto", "api", "parquet"),
                        help="hf_models: the daily metadata parquet if fresh, else the API crawl "
                             "(auto, the default); or always one of them")
    parser.add_argument("--restart", action="store_true",
                        help="hf_models: discard the checkpoint of an unfinished API crawl")
    parser.add_argument("--accept-drop", action="store_true",
                        help="promote a snapshot even if it has under half the rows of the last")
    parser.add_argument("--force", action="store_true",
                        help="collect (and re-analyse) even when the upstream is unchanged")


def build_parser() -> argparse.ArgumentParser:
    from pipeline.sources import all_sources

    names = sorted(all_sources())
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Collect, analyse and chart PyTorch vs TensorFlow adoption data.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    refresh = sub.add_parser("refresh", help="collect -> analyze -> charts -> scorecard")
    refresh.add_argument("--source", action="append", choices=names, metavar="NAME",
                         help=f"only these sources (repeatable): {', '.join(names)}")
    _collect_options(refresh)

    collect = sub.add_parser("collect", help="collect one source into a new snapshot")
    collect.add_argument("name", choices=names, metavar="NAME", help=", ".join(names))
    _collect_options(collect)

    analyze = sub.add_parser("analyze", help="rebuild result tables and data/results/figures.csv")
    analyze.add_argument("--force", action="store_true", help="re-run analyses even if unchanged")
    sub.add_parser("charts", help="draw every chart from the result tables")
    sub.add_parser("report", help="write the article-vs-reproduced scorecard")
    sub.add_parser("notebooks", help="execute the notebooks into data/notebooks/")
    sub.add_parser("status", help="per source: current snapshot, rows, origin, last error")
    return parser


def collect_sources(con, settings: Settings, names: Iterable[str] | None, options: dict) -> bool:
    """Run each source in turn; one failing never stops the others. Returns True if all ok."""
    from pipeline.collect import run_source
    from pipeline.sources import all_sources

    sources = all_sources()
    explicit = names is not None
    selected = list(names) if explicit else [n for n, s in sources.items() if s.default]
    ok = True
    for name in selected:
        source = sources[name]
        reason = source.skip_reason()
        if reason:
            log.info("%s: skipped: %s", name, reason)
            continue
        try:
            result = run_source(con, source, settings, options)
        except SourceError as exc:
            log.error("error: %s", exc)
            ok = False
            continue
        if result.get("unchanged"):
            log.info("%s: unchanged: %s", name, result["unchanged"])
            continue
        kind = "partial snapshot" if result["partial"] else "snapshot"
        log.info("%s: ok: %s %d, %d rows", name, kind, result["snapshot_id"], result["rows"])
    return ok


def run_analyze(con, settings: Settings, force: bool = False) -> bool:
    from pipeline.analysis import analyze

    ok = True
    for name, outcome in analyze(con, settings.results_dir, force=force).items():
        if outcome.startswith("failed"):
            log.error("error: analysis %s %s", name, outcome)
            ok = False
        else:
            log.info("analysis %s: %s", name, outcome)
    return ok


def run_charts(con, settings: Settings) -> bool:
    from pipeline.charts import draw_all

    written, errors = draw_all(con, settings.charts_dir)
    for path in written:
        log.debug("chart: %s", path)
    log.info("charts: %d files in %s", len(written), settings.charts_dir)
    for error in errors:
        log.error("error: %s", error)
    return not errors


def run_report(con, settings: Settings) -> None:
    from pipeline.report import write_report

    for path in write_report(con, settings):
        log.info("report: %s", path)


def print_status(con) -> None:
    from pipeline.sources import all_sources
    from pipeline.sources.hf_models import crawl_status
    from pipeline.store import source_status

    rows = {r["source"]: r for r in source_status(con)}
    for name, source in all_sources().items():
        row = rows.get(name)
        if row is None or row["snapshot_id"] is None:
            current = "no good snapshot yet"
        else:
            current = (f"snapshot {row['snapshot_id']} at {row['finished_at']:%Y-%m-%d %H:%M}Z, "
                       f"{row['row_count']} rows, from {row['origin_url']}, "
                       f"sha256 {row['sha256'][:12]}")
        print(f"{name}: {current}")
        if row and row["last_status"] == "failed":
            print(f"  last attempt failed at {row['last_attempt']:%Y-%m-%d %H:%M}Z: "
                  f"{row['last_error']}")
        elif row and row["last_status"] == "running":
            print(f"  an attempt started at {row['last_attempt'] or 'an unknown time'} is running "
                  "or was interrupted (recorded as failed on the next refresh)")
        elif row and row["last_status"] == "ok" and not row["last_promoted"]:
            print("  latest snapshot held back (suspicious drop): re-run with --accept-drop")
        elif row and row["last_partial"]:
            print("  latest snapshot is partial (--limit): headline figures use the one above")
        if source.skip_reason():
            print(f"  skipped on refresh: {source.skip_reason()}")
        if name == "hf_models" and (crawl := crawl_status(Settings.from_env())):
            print(f"  {crawl}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    settings = Settings.from_env()
    try:
        return _dispatch(args, settings)
    except PipelineError as exc:
        log.error("error: %s", exc)
        return 1
    except (duckdb.IOException, duckdb.SerializationException) as exc:
        log.error("error: %s", corrupt_error(settings.db_path, str(exc)))
        return 1


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.store import connect, exclusive_lock

    if args.command == "status":
        con = connect(settings.db_path, read_only=True)
        print_status(con)
        return 0
    if args.command == "notebooks":
        from pipeline.notebooks import execute_all

        return 0 if execute_all(settings) else 1
    options = {k: getattr(args, k, None)
               for k in ("limit", "hf_mode", "accept_drop", "force", "restart")}
    with exclusive_lock(settings.db_path):
        con = connect(settings.db_path)
        try:
            ok = True
            if args.command in ("refresh", "collect"):
                names = [args.name] if args.command == "collect" else args.source
                ok = collect_sources(con, settings, names, options)
                if args.command == "collect":
                    return 0 if ok else 1
            if args.command in ("refresh", "analyze"):
                ok = run_analyze(con, settings, force=args.force) and ok
            if args.command in ("refresh", "charts"):
                ok = run_charts(con, settings) and ok
            if args.command in ("refresh", "report"):
                run_report(con, settings)
            return 0 if ok else 1
        finally:
            con.close()
