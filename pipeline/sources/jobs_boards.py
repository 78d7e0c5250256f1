"""Job-board counts recorded by hand: `data/manual/job_board_counts.csv`.

LinkedIn, ZipRecruiter and Indeed (the article's boards) have no open API and their terms
forbid scraping, so their result counts are read off the search page by a person and written
down, one row per search, with the page's URL (see data/manual/README.md). Every row is
validated when loaded; one bad row stops the whole file (an error naming the file, line and
field), so a half-corrected file never leaks into the results. The file keeps every dated
row, so its history is the file itself; each load is one snapshot.

A file with only the header means "nothing recorded yet": the source is skipped with that
message rather than failing. ADOPTION_JOBS_BOARDS_URL may name another folder, a file, a
file:// URL or an http(s) folder holding job_board_counts.csv.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, timedelta

from pipeline.config import PROJECT_ROOT, Settings
from pipeline.errors import SourceError
from pipeline.http import local_path
from pipeline.sources import CollectContext, Source
from pipeline.store import utcnow

NAME = "jobs_boards"
FILE_NAME = "job_board_counts.csv"
DEFAULT_URL = str(PROJECT_ROOT / "data" / "manual")
LICENCE = ("Result counts read by hand from each board's public search page (facts, no "
           "content copied); the URL of each search is recorded in the file")
COLUMNS = ("date", "board", "region", "query", "framework", "count", "url", "note")
FRAMEWORK_NAMES = {"pytorch": "pytorch", "tensorflow": "tensorflow", "jax": "jax",
                   "keras": "keras"}
COUNT = re.compile(r"\d+|\d{1,3}(?:,\d{3})+")

TABLES = {
    "raw_jobs_boards__counts": """
        CREATE TABLE IF NOT EXISTS raw_jobs_boards__counts (
            snapshot_id BIGINT NOT NULL,
            line INTEGER NOT NULL,           -- line in the CSV file (header = line 1)
            date DATE NOT NULL,              -- the day the count was read off the page
            board VARCHAR NOT NULL,
            region VARCHAR NOT NULL,
            query VARCHAR NOT NULL,
            framework VARCHAR NOT NULL,      -- pytorch | tensorflow | jax | keras
            count BIGINT NOT NULL,
            url VARCHAR NOT NULL,
            note VARCHAR
        )""",
}


def _where(settings: Settings) -> tuple[str, bool]:
    """(the file or folder configured, whether it is local)."""
    base = settings.source_url(NAME, DEFAULT_URL)
    return base, local_path(base) is not None


def _local_file(base: str):
    path = local_path(base)
    return path if path.suffix == ".csv" else path / FILE_NAME


def display_path(path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def parse_counts(text: str, where: str, today: date | None = None) -> list[dict]:
    """Validated rows of the counts file; any bad row raises one SourceError naming the line."""
    today = today or utcnow().date()

    def bad(line: int, field: str, problem: str) -> SourceError:
        return SourceError(NAME, f"{where} line {line}, field {field}: {problem}",
                           "fix that row (see data/manual/README.md); nothing from the file "
                           "is loaded until then")

    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(NAME, f"{where} is empty: expected the header "
                          f"{','.join(COLUMNS)}", "restore the header line") from None
    if tuple(h.strip().lower() for h in header) != COLUMNS:
        raise SourceError(NAME, f"{where} line 1: header is {','.join(header)!r}, expected "
                          f"{','.join(COLUMNS)}", "restore the header (columns in that order)")
    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields) or fields[0].lstrip().startswith("#"):
            continue
        if len(fields) != len(COLUMNS):
            raise bad(line, "(row)", f"expected {len(COLUMNS)} fields, got {len(fields)} "
                      "(quote values that contain commas)")
        value = dict(zip(COLUMNS, (f.strip() for f in fields), strict=True))
        try:
            day = date.fromisoformat(value["date"])
        except ValueError:
            raise bad(line, "date", f"{value['date']!r} is not a date YYYY-MM-DD") from None
        if day > today + timedelta(days=1) or day.year < 2015:
            raise bad(line, "date", f"{day} is outside 2015..today")
        for field in ("board", "region", "query"):
            if not value[field]:
                raise bad(line, field, "is empty")
            if len(value[field]) > 200:
                raise bad(line, field, "is longer than 200 characters")
        framework = FRAMEWORK_NAMES.get(value["framework"].lower())
        if framework is None:
            raise bad(line, "framework", f"{value['framework']!r} is not one of "
                      f"{', '.join(FRAMEWORK_NAMES)}")
        if not COUNT.fullmatch(value["count"]):
            raise bad(line, "count", f"{value['count']!r} is not a whole number "
                      "(write 12345 or \"12,345\")")
        if not re.fullmatch(r"https?://\S+", value["url"]):
            raise bad(line, "url", f"{value['url']!r} is not an http(s) URL of the search page")
        key = (day, value["board"].lower(), value["region"].lower(), value["query"].lower(),
               framework)
        if key in seen:
            raise bad(line, "(row)", f"repeats line {seen[key]} (same date, board, region, "
                      "query and framework)")
        seen[key] = line
        rows.append({
            "line": line, "date": day, "board": value["board"], "region": value["region"],
            "query": value["query"], "framework": framework,
            "count": int(value["count"].replace(",", "")), "url": value["url"],
            "note": value["note"] or None,
        })
    return rows


def skip_reason() -> str | None:
    """Skip (not fail) while the file holds only its header: no counts recorded yet."""
    base, is_local = _where(Settings.from_env())
    if not is_local:
        return None
    path = _local_file(base)
    if not path.is_file():
        return None  # collect reports the missing file as an error
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8-sig").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) <= 1:
        return f"no counts recorded yet in {display_path(path)} (see data/manual/README.md)"
    return None


def collect(ctx: CollectContext) -> Iterator[tuple[str, list[dict]]]:
    base, is_local = _where(ctx.settings)
    if is_local:
        path = _local_file(base)
        if not path.is_file():
            raise ctx.fail(f"{display_path(path)} not found",
                           "restore it from the repository or fix ADOPTION_JOBS_BOARDS_URL")
        fetched = ctx.origin.get("" if ctx.origin.local.suffix == ".csv" else FILE_NAME)
        where = display_path(path)
    else:
        fetched = ctx.origin.get(base if base.endswith(".csv") else FILE_NAME)
        where = fetched.url
    try:
        text = fetched.content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ctx.fail(f"{where} is not UTF-8 text", "save the file as UTF-8 CSV") from None
    rows = parse_counts(text, where)
    ctx.save_raw(FILE_NAME, fetched.content, fetched.url)
    ctx.parameters.update({"file": where, "dates": sorted({str(r["date"]) for r in rows}),
                           "boards": sorted({r["board"] for r in rows})})
    yield "raw_jobs_boards__counts", rows


SOURCE = Source(
    name=NAME,
    title="Job-board result counts recorded by hand (LinkedIn, ZipRecruiter, Indeed, ...)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_jobs_boards__counts",
    collect=collect,
    skip_reason=skip_reason,
)
