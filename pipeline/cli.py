"""Command line: `python -m pipeline <command>` (refresh, collect, analyze, charts, report,
publish, notebooks, status).

Exit status: 0 when everything ran; 1 when a source (or the store) failed - the other sources
still ran and charts were regenerated from the last good data; 2 on usage and configuration
errors (bad arguments, a malformed `adoption.toml`, an environment variable that does not parse).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb

from pipeline.config import Settings
from pipeline.errors import ConfigError, PipelineError, SourceError
from pipeline.http import redact
from pipeline.store import WriteLock, corrupt_error
from pipeline.untrusted import log_line

log = logging.getLogger("pipeline")
USAGE_ERROR = 2


class _Redact(logging.Filter):
    """Every log line: credentials redacted, control characters escaped (upstream text
    cannot start a new line, e.g. a `::` GitHub Actions workflow command)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = log_line(redact(record.getMessage()))
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


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number (use 1 or more)")
    return value


def _collect_options(parser: argparse.ArgumentParser, units: str) -> None:
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help=f"collect at most N records, recorded as a partial snapshot that "
                             f"never feeds headline figures; N counts {units}")
    parser.add_argument("--hf-mode", choices=("auto", "api", "parquet"),
                        help="hf_models: the daily metadata parquet if fresh, else the API crawl "
                             "(auto, the default); or always one of them")
    parser.add_argument("--restart", action="store_true",
                        help="hf_models: discard the checkpoint of an unfinished API crawl")
    parser.add_argument("--accept-drop", action="store_true",
                        help="promote a snapshot even if it has under half the rows of the last")
    parser.add_argument("--force", action="store_true",
                        help="collect (and re-analyse, re-draw) even when nothing changed")


def build_parser() -> argparse.ArgumentParser:
    from pipeline.sources import all_sources

    sources = all_sources()
    names = sorted(sources)
    units = "; ".join(f"{n}: {s.limit_unit}" for n, s in sorted(sources.items()) if s.limit_unit)
    units += " (other sources refuse --limit)"
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Collect, analyse and chart PyTorch vs TensorFlow adoption data.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    refresh = sub.add_parser("refresh", help="collect -> analyze -> charts -> scorecard")
    refresh.add_argument("--source", action="append", choices=names, metavar="NAME",
                         help=f"only these sources (repeatable): {', '.join(names)}")
    _collect_options(refresh, units)

    collect = sub.add_parser("collect", help="collect one source into a new snapshot")
    collect.add_argument("name", choices=names, metavar="NAME", help=", ".join(names))
    _collect_options(collect, units)

    analyze = sub.add_parser("analyze", help="rebuild result tables and data/results/figures.csv")
    analyze.add_argument("--force", action="store_true", help="re-run analyses even if unchanged")
    charts = sub.add_parser("charts", help="draw every chart from the result tables")
    charts.add_argument("--force", action="store_true", help="redraw even if nothing changed")
    sub.add_parser("report", help="write the article-vs-reproduced scorecard")
    publish = sub.add_parser(
        "publish", help="copy the current charts and results into the tracked published/ folder "
                        "and README")
    publish.add_argument("--force", action="store_true",
                         help="also replace a published chart or figure that has data with one "
                              "that has none")
    notebooks = sub.add_parser("notebooks", help="execute the notebooks into data/notebooks/")
    notebooks.add_argument("--force", action="store_true", help="re-run even if unchanged")
    sub.add_parser("site", help="build the published report page data/site/index.html")
    sub.add_parser("status", help="per source: current snapshot, rows, origin, last error")
    prune = sub.add_parser("prune", help="remove old snapshots' rows and raw folders (their "
                                         "figures stay in out_figures_history)")
    prune.add_argument("--keep-last", type=positive_int, required=True, metavar="N",
                       help="keep the newest N snapshots of each source (and the current one)")
    prune.add_argument("--keep-monthly", action="store_true",
                       help="also keep the newest snapshot of every month")
    prune.add_argument("--force", action="store_true",
                       help="also prune snapshots the published figures come from")
    export = sub.add_parser("export", help="write every raw and result table as Hive-partitioned "
                                           "parquet (+ manifest.json)")
    export.add_argument("dest", nargs="?", metavar="DEST",
                        help="a local folder (default: data/export)")
    export.add_argument("--since", type=_day, metavar="YYYY-MM-DD",
                        help="only snapshots finished on or after this day")
    return parser


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def check_limit(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`--limit` only with sources that can honour it; otherwise a usage error (exit 2)."""
    from pipeline.sources import all_sources

    if getattr(args, "limit", None) is None:
        return
    sources = all_sources()
    if args.command == "collect":
        chosen = [args.name]
    else:
        chosen = args.source or [n for n, s in sources.items() if s.default]
    refused = [n for n in chosen if sources[n].limit_unit is None]
    if refused:
        able = ", ".join(n for n, s in sorted(sources.items()) if s.limit_unit)
        parser.error(f"--limit is not supported by {', '.join(refused)}; it applies to {able} "
                     "(name them with --source)")


def collect_sources(con, settings: Settings, names: Iterable[str] | None, options: dict,
                    lock: WriteLock | None = None) -> tuple[bool, bool]:
    """Run each source in turn; one failing never stops the others.

    Returns (all ok, any new snapshot)."""
    from pipeline.collect import run_source
    from pipeline.sources import all_sources
    from pipeline.store import write_status_cache

    sources = all_sources()
    explicit = names is not None
    selected = list(names) if explicit else [n for n, s in sources.items() if s.default]
    ok, changed = True, False
    for name in selected:
        source = sources[name]
        reason = source.skip_reason()
        if reason:
            log.info("%s: skipped: %s", name, reason)
            continue
        if lock is not None:
            lock.note(step=f"collecting {name}", step_started_at=_now())
        try:
            result = run_source(con, source, settings, options)
        except SourceError as exc:
            log.error("error: %s", exc)
            ok = False
            continue
        except PipelineError as exc:
            log.error("error: %s: %s", name, exc)
            ok = False
            continue
        finally:
            write_status_cache(con, settings.db_path)
        if result.get("unchanged"):
            log.info("%s: unchanged: %s", name, result["unchanged"])
            continue
        changed = True
        kind = "partial snapshot" if result["partial"] else "snapshot"
        log.info("%s: ok: %s %d, %d rows", name, kind, result["snapshot_id"], result["rows"])
    return ok, changed


def _now() -> str:
    from pipeline.store import utcnow

    return utcnow().isoformat(timespec="seconds") + "Z"


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


def run_charts(con, settings: Settings, force: bool = False) -> bool:
    from pipeline.charts import draw_all

    written, errors = draw_all(con, settings.charts_dir, force=force)
    for path in written:
        log.debug("chart: %s", path)
    drawn = [p for p in written if p.suffix == ".png"]
    if drawn:
        log.info("charts: %d drawn in %s (%s)", len(drawn), settings.charts_dir,
                 ", ".join(p.stem for p in drawn))
    else:
        log.info("charts: unchanged (no input changed)")
    for error in errors:
        log.error("error: %s", error)
    return not errors


def run_report(con, settings: Settings) -> None:
    from pipeline.report import write_report

    for path in write_report(con, settings):
        log.debug("report: %s", path)
    log.info("report: scorecard and sources table in %s", settings.results_dir)


def _when(value: Any) -> str:
    """A stored time (datetime, or ISO text from the status cache) as 'YYYY-MM-DD HH:MMZ'."""
    if value is None:
        return "an unknown time"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.rstrip("Z"))
        except ValueError:
            return value
    return f"{value:%Y-%m-%d %H:%M}Z"


def print_status(settings: Settings) -> None:
    """Per source: current snapshot and last attempt. Works during a refresh: then it reads
    the copy the writer leaves beside the database instead of opening it."""
    from pipeline.sources import all_sources
    from pipeline.store import connect, read_status_cache, running_command, source_status

    running = running_command(settings.db_path)
    if running is not None:
        print(f"A {running.get('command', 'command')} is running: pid {running.get('pid', '?')}, "
              f"started {_when(running.get('started_at'))}"
              + (f", now {running['step']} (since {_when(running.get('step_started_at'))})"
                 if running.get("step") else ""))
        cache = read_status_cache(settings.db_path)
        if cache is None:
            print("Per-source status is shown once it finishes (the database is in use).")
            return
        print(f"Per-source status as of {_when(cache.get('written_at'))}:")
        rows = {r["source"]: r for r in cache.get("sources", [])}
    else:
        con = connect(settings.db_path, read_only=True)
        try:
            rows = {r["source"]: r for r in source_status(con)}
        finally:
            con.close()
    for name, source in all_sources().items():
        _print_source(name, source, rows.get(name), settings)


def _print_source(name: str, source: Any, row: dict | None, settings: Settings) -> None:
    if row is None or row["snapshot_id"] is None:
        current = "no good snapshot yet"
    else:
        current = (f"snapshot {row['snapshot_id']} at {_when(row['finished_at'])}, "
                   f"{row['row_count']} rows, from {row['origin_url']}, "
                   f"sha256 {row['sha256'][:12]}")
    print(log_line(f"{name}: {current}"))
    status = row and row["last_status"]
    if status == "failed":
        print(log_line(f"  last attempt failed at {_when(row['last_attempt'])}: "
                       f"{row['last_error']}"))
    elif status == "unchanged":
        print(log_line(f"  last checked {_when(row['last_attempt'])}: unchanged "
                       f"({row['last_note']})"))
    elif status == "running":
        print(f"  an attempt started at {_when(row['last_started'])} is running or was "
              "interrupted (recorded as failed on the next refresh)")
    elif status == "ok" and not row["last_promoted"]:
        print("  latest snapshot held back (suspicious drop): re-run with --accept-drop")
    elif status == "ok" and row["last_partial"]:
        print("  latest snapshot is partial (--limit): headline figures use the one above")
    if source.progress is not None:
        line = source.progress(settings)
        if line:
            print(log_line(f"  {line}"))
    if source.skip_reason():
        print(f"  skipped on refresh: {source.skip_reason()}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_limit(parser, args)
    setup_logging(args.verbose)
    try:
        settings = Settings.from_env()
        _check_source_options(settings)
    except ConfigError as exc:
        log.error("error: %s", exc)
        return USAGE_ERROR
    try:
        return _dispatch(args, settings)
    except ConfigError as exc:
        log.error("error: %s", exc)
        return USAGE_ERROR
    except PipelineError as exc:
        log.error("error: %s", exc)
        return 1
    except (duckdb.IOException, duckdb.SerializationException) as exc:
        log.error("error: %s", corrupt_error(settings.db_path, str(exc)))
        return 1
    except BrokenPipeError:
        # `pipeline status | head`: the reader left; stop quietly, as `cat` does.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _check_source_options(settings: Settings) -> None:
    from pipeline.config import HTTP_SOURCE_OPTIONS
    from pipeline.sources import all_sources

    settings.check_sources({n: {"url": str} | HTTP_SOURCE_OPTIONS | s.options
                            for n, s in all_sources().items()})
    for name in all_sources():  # a bound of zero or less is a usage error, found up front
        for key in HTTP_SOURCE_OPTIONS:
            settings.http_bound(name, key)


def _maintain(con, settings: Settings, args: argparse.Namespace) -> int:
    """prune / export: maintenance of the store, under the write lock."""
    if args.command == "prune":
        from pipeline.prune import describe, prune

        for line in describe(prune(con, settings, args.keep_last, args.keep_monthly,
                                   args.force)):
            log.info("%s", line)
        return 0
    from pathlib import Path

    from pipeline.export import export

    dest = Path(args.dest) if args.dest else settings.data_dir / "export"
    manifest = export(con, settings, dest, args.since)
    log.info("export: %d file(s) written to %s (%d tables; manifest.json lists every file)",
             manifest["written"], dest, len(manifest["tables"]))
    return 0


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.store import connect, exclusive_lock, write_status_cache

    if args.command == "status":
        print_status(settings)
        return 0
    if args.command == "notebooks":
        from pipeline.notebooks import execute_all

        return 0 if execute_all(settings, force=args.force) else 1
    if args.command == "publish":
        from pipeline.publish import publish

        with exclusive_lock(settings.db_path, "publish"):
            return 0 if publish(settings, force=args.force) else 1
    options = {k: getattr(args, k, None) for k in ("limit", "hf_mode", "restart", "accept_drop",
                                                   "force")}
    with exclusive_lock(settings.db_path, args.command) as lock:
        con = connect(settings.db_path)
        try:
            if args.command in ("prune", "export"):
                return _maintain(con, settings, args)
            ok = True
            if args.command in ("refresh", "collect"):
                names = [args.name] if args.command == "collect" else args.source
                ok, _ = collect_sources(con, settings, names, options, lock)
                if args.command == "collect":
                    return 0 if ok else 1
            if args.command in ("refresh", "analyze"):
                lock.note(step="analysing", step_started_at=_now())
                ok = run_analyze(con, settings, force=args.force) and ok
            if args.command in ("refresh", "charts"):
                lock.note(step="drawing charts", step_started_at=_now())
                ok = run_charts(con, settings, force=args.force) and ok
            if args.command in ("refresh", "report"):
                run_report(con, settings)
            if args.command in ("refresh", "site"):
                from pipeline.site import build_site

                try:
                    log.info("site: %s", build_site(con, settings))
                except OSError as exc:  # e.g. a read-only or full disk: one line, not a trace
                    log.error("error: site not built: %s", exc)
                    ok = False
            return 0 if ok else 1
        finally:
            write_status_cache(con, settings.db_path)
            con.close()
