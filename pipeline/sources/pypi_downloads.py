"""Monthly PyPI downloads of the framework packages, from the ClickHouse SQL playground.

PyPI's download logs (Linehaul, the same data as Google's BigQuery dataset
`bigquery-public-data.pypi.file_downloads`) are aggregated by ClickHouse's ClickPy into the
table `pypi.pypi_downloads_per_month` (month Date, project String, count Int64; a
SummingMergeTree, so a (month, project) may sit on several rows until merged: counts are
summed), served read-only by the public playground https://sql-clickhouse.clickhouse.com (user
`demo`, no password) through ClickHouse's HTTP interface.

One SQL query per refresh, sent as a POST body through the pipeline's HTTP layer, answered as
`CSVWithNames` (a format DuckDB reads directly): one row per month, one column per package
(the packages of `pipeline.rules.pypi_packages()`, i.e. data/reference/framework_packages.csv),
plus `result_rows`, the answer's row count computed by the server (`count(*) OVER ()`). The
playground truncates over-long results silently (`result_overflow_mode = 'break'`): an answer
with fewer rows than its `result_rows` says is refused, never stored as if complete. The wide
shape keeps the answer at one row per month (~130 rows since 2016), far below any row limit.

Incremental: a month stored after it ended is final and never asked again; each refresh asks
for the newest complete month and the current one (the newest days land through the month),
for months stored while still open and for months missing between stored ones; a new package
in the reference file makes the next refresh ask for every month once. Rows are a versioned
table (`pipeline.versioned`): a month asked again with the same counts stores nothing, and an
answer that changes nothing stores no snapshot.

Errors are ClickHouse's: an HTTP status (400 syntax, 403 access, 404 unknown table, 408
TIMEOUT_EXCEEDED, 500 quota / row limits / memory, 503 overload) with a
`X-ClickHouse-Exception-Code` header and a body `Code: NNN. DB::Exception: ... (NAME)`; an
error raised after the answer started comes as HTTP 200 with the exception at the end of the
body. Each becomes one line naming the code and what to do.

Raw payloads: `query.sql` and the answer `pypi_downloads_per_month.csv`; a snapshot that keeps
months answered earlier lists those answers with the snapshot folder that holds them
(`kept_in`). A local folder works as a source: its `pypi_downloads_per_month.csv` and those of
its snapshot sub-folders (e.g. `data/raw/pypi_downloads`, newer answers win), read whole.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from pipeline import rules
from pipeline.monthly import Plan, Stored, missing_months, month_start, plan, record_kept
from pipeline.source import CollectContext, Source
from pipeline.store import utcnow
from pipeline.versioned import Versioned

NAME = "pypi_downloads"
DEFAULT_URL = "https://sql-clickhouse.clickhouse.com"
DEFAULT_TABLE = "pypi.pypi_downloads_per_month"
DEFAULT_USER = "demo"
FIRST_MONTH = date(2016, 1, 1)  # the table's first month
LICENCE = (
    "PyPI download statistics (Linehaul logs published by the Python Software Foundation, "
    "also as BigQuery's public pypi dataset), aggregated by ClickHouse's ClickPy and queried "
    "on the public ClickHouse SQL playground (sql-clickhouse.clickhouse.com, read-only user "
    "demo); aggregate counts, cited with attribution"
)
ANSWER = "pypi_downloads_per_month.csv"
QUERY = "query.sql"
FORMAT = "CSVWithNames"
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$")
SNAPSHOT_FOLDER = re.compile(r"-(\d+)$")
#: ClickHouse's error text: `Code: 201. DB::Exception: <message>. (QUOTA_EXCEEDED) (version ..)`
EXCEPTION = re.compile(rb"Code: (\d+)\. DB::Exception: ([^\n]*)")
EXCEPTION_NAME = re.compile(r"\s*\(([A-Z][A-Z0-9_]+)\)\s*$")
EXCEPTION_VERSION = re.compile(r"\s*\(version [^\n]*$")

TABLES = {
    "raw_pypi__downloads": """
        CREATE TABLE IF NOT EXISTS raw_pypi__downloads (
            snapshot_id BIGINT NOT NULL,      -- the snapshot that first stored this version
            version_id BIGINT,                -- (pipeline.versioned)
            row_hash UBIGINT,
            package VARCHAR NOT NULL,         -- normalised PyPI name
            month DATE NOT NULL,              -- first day of the month
            downloads BIGINT NOT NULL,        -- 0: no download logged that month
            complete BOOLEAN NOT NULL         -- the month had ended when it was asked for
        )""",
}
#: the answers are the raw payload: no changes file is needed
VERSIONED = {"raw_pypi__downloads": Versioned("raw_pypi__snapshot_downloads",
                                              ("package", "month"), keep_changes=False)}

#: ClickHouse error codes -> what to do (the rest: retry later)
HINTS = {
    ("QUOTA_EXCEEDED",): "the endpoint's query quota for this user is used up: re-run after "
                         "the interval it names ends",
    ("TOO_MANY_ROWS", "TOO_MANY_BYTES", "TOO_MANY_ROWS_OR_BYTES", "MEMORY_LIMIT_EXCEEDED",
     "TOO_MANY_PARTS", "QUERY_IS_TOO_LARGE"):
        "the query met one of the endpoint's limits; point ADOPTION_PYPI_DOWNLOADS_URL at a "
        "ClickHouse with fewer limits, or retry later",
    ("TIMEOUT_EXCEEDED", "SOCKET_TIMEOUT", "TOO_SLOW", "CANNOT_SCHEDULE_TASK"):
        "the server was too busy to answer in time; retry later",
    ("UNKNOWN_TABLE", "UNKNOWN_DATABASE", "UNKNOWN_IDENTIFIER", "NO_SUCH_COLUMN_IN_TABLE",
     "THERE_IS_NO_COLUMN"):
        "the table or its columns (month, project, count) are not there: check "
        "[sources.pypi_downloads] table and the URL",
    ("SYNTAX_ERROR", "UNKNOWN_FUNCTION", "UNKNOWN_FORMAT", "ILLEGAL_TYPE_OF_ARGUMENT"):
        "the server does not understand the query: is the URL a ClickHouse HTTP endpoint?",
    ("AUTHENTICATION_FAILED", "REQUIRED_PASSWORD", "UNKNOWN_USER", "WRONG_PASSWORD",
     "ACCESS_DENIED", "READONLY"):
        "check [sources.pypi_downloads] user: the playground's read-only user is demo",
}


def today() -> date:
    """The collection day (UTC); tests move it."""
    return utcnow().date()


def where(plan_: Plan) -> str:
    """The query's month condition for a plan."""
    clause = f"month >= '{plan_.since:%Y-%m-%d}'"
    if plan_.extra:
        listed = ", ".join(f"'{m:%Y-%m-%d}'" for m in plan_.extra)
        clause = f"({clause} OR month IN ({listed}))"
    return clause


def build_query(table: str, packages: list[str], where: str) -> str:
    """The one SQL query: a row per month, a column per package, the server's row count."""
    columns = ",\n".join(f"    sum(if(project = '{p}', count, 0)) AS \"{p}\"" for p in packages)
    listed = ", ".join(f"'{p}'" for p in packages)
    return (f"SELECT\n    month,\n{columns},\n    count(*) OVER () AS result_rows\n"
            f"FROM {table}\nWHERE project IN ({listed}) AND {where}\n"
            f"GROUP BY month\nORDER BY month\nFORMAT {FORMAT}\n")


# -- talking to ClickHouse ------------------------------------------------------------------

def clickhouse_error(ctx: CollectContext, text: bytes, status: str) -> Exception | None:
    """One line from ClickHouse's `Code: NNN. DB::Exception: message (NAME)`, or None."""
    matches = list(EXCEPTION.finditer(text))
    if not matches:
        return None
    match = matches[-1]  # a mid-answer exception ends the body
    code = int(match[1])
    message = EXCEPTION_VERSION.sub("", match[2].decode("utf-8", "replace"))
    named = EXCEPTION_NAME.search(message)
    name = named[1] if named else ""
    message = " ".join(message[:named.start()].split() if named else message.split())
    if len(message) > 240:
        message = message[:237] + "..."
    hint = next((h for names, h in HINTS.items() if name in names),
                "retry later; the previous snapshot stays current")
    label = f"code {code} {name}".strip()
    return ctx.fail(f"ClickHouse refused the query ({status}, {label}): {message}", hint)


def run_query(ctx: CollectContext, sql: str) -> tuple[bytes, str]:
    """POST the query; the answer's bytes and URL, or one clear line naming what went wrong."""
    user = ctx.settings.source_option(NAME, "user", DEFAULT_USER, str)
    fetched = ctx.origin.post("", data=sql.encode(), headers={
        "Content-Type": "text/plain; charset=utf-8"},
        params={"user": user, "default_format": FORMAT})
    if fetched.status >= 400:  # ClickHouse's error: status, code header, `Code: NNN` body
        error = clickhouse_error(ctx, fetched.content, f"HTTP {fetched.status}")
        code = {k.lower(): v for k, v in fetched.headers.items()}.get(
            "x-clickhouse-exception-code", "")
        if error is None and code.isdigit():
            error = ctx.fail(f"ClickHouse refused the query (HTTP {fetched.status}, code {code})",
                             "retry later; the previous snapshot stays current")
        raise error or ctx.fail(f"HTTP {fetched.status} from {fetched.url}",
                                "the upstream refused the request; check the URL or retry later")
    if b"DB::Exception" in fetched.content:  # raised after the answer had started (HTTP 200)
        error = clickhouse_error(ctx, fetched.content, "HTTP 200, error inside the answer")
        raise error or ctx.fail(f"the answer from {fetched.url} holds an exception text",
                                "retry later; the previous snapshot stays current")
    return fetched.content, fetched.url


def read_answer(ctx: CollectContext, path: Path, where: str,
                packages: list[str] | None = None) -> tuple[list[str], list[tuple]]:
    """The packages (columns) and rows (month, {package: downloads}) of one CSVWithNames answer,
    checked: the header names `month`, normalised package names (exactly `packages` when given)
    and `result_rows`; every month is a first of month, every count a whole number >= 0; and
    as many rows as the server counted (`result_rows`)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(io.StringIO(fh.readline())), [])
    except UnicodeDecodeError:
        raise ctx.fail(f"malformed answer ({where}): not UTF-8 text",
                       "the endpoint sent something else than CSV; retry later") from None
    names = header[1:-1]
    if header[:1] != ["month"] or header[-1:] != ["result_rows"] or not names:
        raise ctx.fail(f"malformed answer ({where}): header {','.join(header)[:120]!r} is not "
                       "month, <packages>, result_rows", "the endpoint did not answer our "
                       "query in CSVWithNames; check the URL")
    bad = [n for n in names if not rules.is_pypi_name(n)]
    if bad or len(set(names)) != len(names):
        raise ctx.fail(f"malformed answer ({where}): column {(bad or names)[0]!r} is not a "
                       "package name we asked for", "check the URL")
    if packages is not None and names != packages:
        raise ctx.fail(f"malformed answer ({where}): the columns are not the packages asked "
                       f"for ({len(names)} of {len(packages)})", "check the URL")
    columns = {"month": "DATE", **dict.fromkeys(names, "BIGINT"), "result_rows": "BIGINT"}
    con = duckdb.connect()
    try:
        data = con.execute(
            "SELECT * FROM read_csv(?, header = true, columns = ?, auto_detect = false, "
            "delim = ',', quote = '\"', escape = '\"', strict_mode = true)",
            [str(path), columns]).fetchall()
    except duckdb.Error as exc:
        first = "; ".join(str(exc).strip().splitlines()[:3])[:240]
        raise ctx.fail(f"malformed answer ({where}): {first}",
                       "the endpoint sent a broken or truncated answer; retry later") from None
    finally:
        con.close()
    rows, seen = [], set()
    for month, *counts, result_rows in data:
        if month is None or month.day != 1 or month in seen or month > month_start(today()):
            raise ctx.fail(f"malformed answer ({where}): month {month} is not a past first of "
                           "month seen once", "check the URL")
        if any(c is None or c < 0 for c in counts):
            raise ctx.fail(f"malformed answer ({where}): a count of {month:%Y-%m} is missing "
                           "or negative", "check the URL")
        if result_rows != len(data):
            raise ctx.fail(
                f"incomplete answer ({where}): {len(data)} rows where the server counted "
                f"{result_rows} (its result row limit cut the answer)",
                "the endpoint's row limit is lower than the months asked for; point "
                "ADOPTION_PYPI_DOWNLOADS_URL at a ClickHouse with a higher limit")
        seen.add(month)
        rows.append((month, dict(zip(names, counts, strict=True))))
    return names, rows


def local_answers(ctx: CollectContext, local: Path) -> list[Path]:
    """Answer files of a local folder: its own, after those of its snapshot sub-folders (older
    snapshots first, so newer answers win)."""
    def order(path: Path) -> int:
        match = SNAPSHOT_FOLDER.search(path.parent.name)
        return int(match[1]) if match else 0

    kept = sorted(local.glob(f"*/{ANSWER}"), key=order)
    files = kept + ([local / ANSWER] if (local / ANSWER).is_file() else [])
    if not files:
        raise ctx.fail(f"no {ANSWER} in {local} or its snapshot folders",
                       "point ADOPTION_PYPI_DOWNLOADS_URL at the ClickHouse endpoint or a copy "
                       "of data/raw/pypi_downloads")
    return files


def _stored(ctx: CollectContext) -> Stored:
    if ctx.previous_snapshot_id is None:
        return {}
    rows = ctx.con.execute(
        "SELECT package, month, downloads, complete, stored_by_snapshot "
        "FROM raw_pypi__downloads_at(?)", [ctx.previous_snapshot_id]).fetchall()
    return {(p, m): (d, c, s) for p, m, d, c, s in rows}


def collect(ctx: CollectContext) -> Iterator[tuple[str, Any]]:
    try:
        packages = rules.pypi_packages()
    except ValueError as exc:
        raise ctx.fail(str(exc), "fix the reference file") from None
    table = ctx.settings.source_option(NAME, "table", DEFAULT_TABLE, str)
    if not TABLE_NAME.fullmatch(table):
        raise ctx.fail(f"[sources.{NAME}] table {table!r} is not a table name "
                       "(database.table)", "fix the setting")
    now = today()
    this_month = month_start(now)
    stored = _stored(ctx)
    local = ctx.origin.local
    if local is not None:  # a copy: read whole, every answer it holds
        the_plan = Plan(FIRST_MONTH, full=True, why="local copy")
        answers: dict[date, dict[str, int]] = {}
        for path in local_answers(ctx, local):
            _, rows = read_answer(ctx, path, str(path))
            ctx.save_raw(path.relative_to(local).as_posix(), path.read_bytes(), path.as_uri())
            for month, counts in rows:
                answers.setdefault(month, {}).update(counts)
        absent = [p for p in packages if not any(p in c for c in answers.values())]
        if absent:
            raise ctx.fail(f"the local copy has no counts for {', '.join(absent)}",
                           "collect from the ClickHouse endpoint once")
        answered = {m: c for m, c in answers.items() if all(p in c for p in packages)}
    else:
        the_plan = plan(stored, packages, now, FIRST_MONTH)
        sql = build_query(table, packages, where(the_plan))
        content, url = run_query(ctx, sql)
        path = ctx.raw_path(ANSWER)
        path.write_bytes(content)
        ctx.record_file(ANSWER, path, url)
        ctx.save_raw(QUERY, sql.encode(), url)
        _, rows = read_answer(ctx, path, f"answer to {the_plan.describe()}", packages)
        answered = dict(rows)
        outside = [m for m in answered if not the_plan.asks(m)]
        if outside:
            raise ctx.fail(f"malformed answer: month {outside[0]:%Y-%m} was not asked for",
                           "check the URL")
    missing = missing_months(the_plan, now, set(answered), stored)
    if missing:
        ctx.log.warning("%s: the answer has no row for %s: left out (a gap, not zero "
                        "downloads; stored months are kept) and asked again next time", NAME,
                        ", ".join(f"{m:%Y-%m}" for m in missing[:6]))
        ctx.parameters["months_missing"] = [f"{m:%Y-%m}" for m in missing]
    rows_out, kept_from = [], set()
    for month, counts in sorted(answered.items()):
        complete = month < this_month
        for package in packages:
            downloads = int(counts[package])
            before = stored.get((package, month))
            if before is not None and before[:2] == (downloads, complete):
                kept_from.add(before[2])  # the same version stays: its answer holds it
            rows_out.append({"package": package, "month": month, "downloads": downloads,
                             "complete": complete})
    for (package, month), (downloads, complete, snapshot) in sorted(stored.items()):
        if month not in answered and package in packages:
            kept_from.add(snapshot)
            rows_out.append({"package": package, "month": month, "downloads": downloads,
                             "complete": complete})
    record_kept(ctx, kept_from)
    ctx.parameters.update({
        "asked": the_plan.describe(), "packages": packages, "table": table,
        "months_answered": len(answered),
        "newest_month": f"{max(answered):%Y-%m}" if answered else None,
        "rules": "pipeline.rules.framework_packages"})
    if not rows_out:
        raise ctx.fail(f"the answer holds no month for {the_plan.describe()}",
                       "the table may be empty for these packages; check the URL")
    yield "raw_pypi__downloads", rows_out


SOURCE = Source(
    name=NAME,
    title="Monthly PyPI downloads of the framework packages (ClickHouse SQL playground)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_pypi__downloads",
    collect=collect,
    versioned=VERSIONED,
    options={"user": str, "table": str},
)
