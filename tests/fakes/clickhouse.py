"""Fake ClickHouse HTTP interface on 127.0.0.1, in the shape of the public SQL playground.

It answers SQL sent as a POST body (or in the `query` URL parameter of a GET, which ClickHouse
runs read-only) for the user `demo`, over the table `pypi.pypi_downloads_per_month` (month
Date, project String, count Int64; like the real SummingMergeTree, a month and project may be
split over several rows). The SQL really runs (on DuckDB, which reads the query this pipeline
sends unchanged once its `FORMAT` clause is taken off), so the answer is whatever the query
asks for, in ClickHouse's `CSVWithNames` shape: quoted names and dates, bare numbers, a
`text/csv` content type and the `X-ClickHouse-*` headers.

Errors come in ClickHouse's real shapes: the HTTP status ClickHouse maps the code to
(src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), an `X-ClickHouse-Exception-Code` header and a
`text/plain` body `Code: NNN. DB::Exception: <message>. (NAME) (version ...)`:

    server.error("QUOTA_EXCEEDED")            # the next query (times=None: every query)
    server.error("MEMORY_LIMIT_EXCEEDED", mid_answer=True)   # HTTP 200, error after the rows
    server.max_result_rows = 50               # the playground's silent cut (overflow 'break')
    server.overflow_mode = "throw"            # ... or TOO_MANY_ROWS_OR_BYTES (code 396)

A syntax error or an unknown table in the query gets the real SYNTAX_ERROR / UNKNOWN_TABLE
answer. `server.queries` lists the SQL received.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa

from tests.fakes.base import FakeServer, Reply, Request

VERSION = "25.10.1.3832 (official build)"
TABLE = "pypi.pypi_downloads_per_month"


@dataclass(frozen=True)
class Error:
    code: int
    status: int
    message: str


#: real codes, their HTTP statuses and message shapes
ERRORS = {
    "QUOTA_EXCEEDED": Error(201, 500, "Quota for user `demo` for 3600s has been exceeded: "
                                      "queries = 1001/1000. Interval will end at 2026-12-02 "
                                      "02:00:00. Name of quota template: `demo`"),
    "TOO_MANY_ROWS": Error(158, 500, "Limit for rows (controlled by 'max_rows_to_read' "
                                     "setting) exceeded, max rows: 10.00 billion, current "
                                     "rows: 12.31 billion"),
    "TOO_MANY_ROWS_OR_BYTES": Error(396, 500, "Limit for result exceeded, max rows: {limit}, "
                                              "current rows: {rows}"),
    "TIMEOUT_EXCEEDED": Error(159, 408, "Timeout exceeded: elapsed 60.000412 seconds, "
                                        "maximum: 60"),
    "MEMORY_LIMIT_EXCEEDED": Error(241, 500, "Memory limit (for query) exceeded: would use "
                                             "9.31 GiB (attempt to allocate chunk of 4194304 "
                                             "bytes), maximum: 9.31 GiB"),
    "SYNTAX_ERROR": Error(62, 400, "Syntax error: failed at position {position}: {near}. "
                                   "Expected one of: SELECT, WITH, EXPLAIN"),
    "UNKNOWN_TABLE": Error(60, 404, "Unknown table expression identifier '{table}' in scope "
                                    "SELECT"),
    "UNKNOWN_FORMAT": Error(73, 404, "Unknown output format {format}"),
    "AUTHENTICATION_FAILED": Error(516, 403, "{user}: Authentication failed: password is "
                                             "incorrect, or there is no user with such name"),
    "READONLY": Error(164, 500, "demo: Cannot execute query in readonly mode"),
}
FORMATS = {"CSVWithNames": "text/csv; charset=UTF-8; header=present"}


def error_body(name: str, **values: object) -> bytes:
    error = ERRORS[name]
    message = error.message.format(**values) if values else error.message
    return f"Code: {error.code}. DB::Exception: {message}. ({name}) (version {VERSION})\n" \
        .encode()


def _csv_value(value: object) -> str:
    if isinstance(value, date | str):
        return '"' + str(value).replace('"', '""') + '"'
    return str(value)


class ClickHouseServer(FakeServer):
    def __init__(self, rows: dict[tuple[str, date], int] | None = None, user: str = "demo",
                 split: bool = True, latency: float = 0.0,
                 bandwidth: float | None = None) -> None:
        super().__init__(latency=latency, bandwidth=bandwidth)
        self.user = user
        self.split = split  # store every other count as two rows, as an unmerged table has
        self.max_result_rows: int | None = None
        self.overflow_mode = "break"
        self.queries: list[str] = []
        self._errors: list[tuple[str, int | None, bool]] = []
        self._db = duckdb.connect()
        self._db_lock = threading.Lock()
        self._db.execute("CREATE SCHEMA pypi; CREATE TABLE pypi.pypi_downloads_per_month "
                         "(month DATE, project VARCHAR, count BIGINT)")
        if rows:
            self.load(rows)

    # -- content ---------------------------------------------------------------------------
    def load(self, rows: dict[tuple[str, date], int]) -> None:
        """Set these (project, month) counts (replacing what the table had for them)."""
        data: dict[str, list] = {"month": [], "project": [], "count": []}
        for i, ((project, month), count) in enumerate(sorted(rows.items())):
            parts = [count // 3, count - count // 3] if self.split and i % 2 and count > 1 \
                else [count]
            for part in parts:
                data["month"].append(month)
                data["project"].append(project)
                data["count"].append(part)
        new = pa.table({"month": pa.array(data["month"], pa.date32()),
                        "project": pa.array(data["project"], pa.string()),
                        "count": pa.array(data["count"], pa.int64())})
        with self._db_lock:
            self._db.register("_new", new)
            self._db.execute("DELETE FROM pypi.pypi_downloads_per_month t WHERE EXISTS ("
                             "SELECT 1 FROM _new n WHERE n.project = t.project "
                             "AND n.month = t.month)")
            self._db.execute("INSERT INTO pypi.pypi_downloads_per_month SELECT * FROM _new")
            self._db.unregister("_new")

    def reset(self, rows: dict[tuple[str, date], int] | None = None) -> None:
        """Back to a table of exactly `rows`, no queued error, no row limit, no query seen."""
        with self._db_lock:
            self._db.execute("DELETE FROM pypi.pypi_downloads_per_month")
        with self._lock:
            self._errors.clear()
            self.faults.clear()
            self.requests.clear()
        self.queries.clear()
        self.max_result_rows, self.overflow_mode = None, "break"
        if rows:
            self.load(rows)

    def drop(self, project: str | None = None, month: date | None = None) -> None:
        """Remove a package's rows, a month's rows, or one package in one month."""
        where = " AND ".join(c for c, v in (("project = $p", project), ("month = $m", month))
                             if v is not None)
        with self._db_lock:
            self._db.execute(f"DELETE FROM pypi.pypi_downloads_per_month WHERE {where}",
                             {k: v for k, v in (("p", project), ("m", month)) if v is not None})

    def total(self, project: str, month: date) -> int:
        with self._db_lock:
            return self._db.execute("SELECT coalesce(sum(count), 0) FROM "
                                    "pypi.pypi_downloads_per_month WHERE project = ? AND "
                                    "month = ?", [project, month]).fetchall()[0][0]

    def error(self, name: str, times: int | None = 1, mid_answer: bool = False) -> None:
        """Answer the next `times` queries (None: all) with ClickHouse's error `name`."""
        self._errors.append((name, times, mid_answer))

    def _take_error(self) -> tuple[str, bool] | None:
        with self._lock:
            if not self._errors:
                return None
            name, times, mid = self._errors[0]
            if times is not None:
                if times <= 1:
                    self._errors.pop(0)
                else:
                    self._errors[0] = (name, times - 1, mid)
            return name, mid

    # -- HTTP ------------------------------------------------------------------------------
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"X-ClickHouse-Server-Display-Name": "fake-playground",
                "X-ClickHouse-Query-Id": str(uuid.uuid4()), "X-ClickHouse-Timezone": "UTC",
                **(extra or {})}

    def _error(self, name: str, **values: object) -> Reply:
        error = ERRORS[name]
        return Reply(error.status, error_body(name, **values),
                     self._headers({"X-ClickHouse-Exception-Code": str(error.code)}),
                     "text/plain; charset=UTF-8")

    def route(self, request: Request) -> Reply:
        if request.path not in ("/", ""):
            return Reply.text("There is no handle " + request.path, 404)
        user = request.arg("user") or request.headers.get("x-clickhouse-user") or "default"
        if user != self.user:
            return self._error("AUTHENTICATION_FAILED", user=user)
        sql = request.arg("query") or ""  # a POST's body follows the parameter's start
        if request.method == "POST":
            sql = (sql + "\n" if sql else "") + request.body.decode("utf-8", "replace")
        if not sql.strip():
            return Reply.text("Ok.\n")
        self.queries.append(sql)
        queued = self._take_error()
        if queued and not queued[1]:
            return self._error(queued[0])
        match = re.search(r"\bFORMAT\s+(\w+)\s*;?\s*$", sql, re.IGNORECASE)
        fmt = match[1] if match else request.arg("default_format") or "TabSeparated"
        if fmt not in FORMATS:
            return self._error("UNKNOWN_FORMAT", format=fmt)
        body_sql = sql[:match.start()] if match else sql
        if not re.match(r"\s*(SELECT|WITH)\b", body_sql, re.IGNORECASE):
            return self._error("READONLY")
        try:
            with self._db_lock:
                cursor = self._db.cursor()
            result = cursor.execute(body_sql)
            names = [d[0] for d in result.description]
            rows = result.fetchall()
            cursor.close()
        except duckdb.CatalogException:
            table = re.search(r"\bFROM\s+([\w.]+)", body_sql, re.IGNORECASE)
            return self._error("UNKNOWN_TABLE", table=table[1] if table else "?")
        except duckdb.Error as exc:
            return self._error("SYNTAX_ERROR", position=1, near=str(exc).splitlines()[0][:60])
        total = len(rows)
        if self.max_result_rows is not None and total > self.max_result_rows:
            if self.overflow_mode == "throw":
                return self._error("TOO_MANY_ROWS_OR_BYTES", limit=self.max_result_rows,
                                   rows=total)
            rows = rows[:self.max_result_rows]  # 'break': a silent cut
        lines = [",".join(_csv_value(n) for n in names)]
        lines += [",".join(_csv_value(v) for v in row) for row in rows]
        body = ("\n".join(lines) + "\n").encode()
        if queued:  # an error raised after the answer had started: HTTP 200, text at the end
            body = body[: len(body) // 2] + b"\n" + error_body(queued[0])
        summary = {"read_rows": str(total), "read_bytes": str(len(body)), "written_rows": "0",
                   "written_bytes": "0", "total_rows_to_read": str(total),
                   "result_rows": str(len(rows)), "result_bytes": str(len(body)),
                   "elapsed_ns": "1200000"}
        return Reply(200, body, self._headers({"X-ClickHouse-Format": fmt,
                                               "X-ClickHouse-Summary": json.dumps(summary)}),
                     FORMATS[fmt])


# -- synthetic download counts ------------------------------------------------------------

def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


#: (first month with downloads, last month, downloads in the first month, monthly growth)
SHAPES = {
    "torch": (date(2017, 1, 1), None, 40_000, 1.065),
    "tensorflow": (date(2016, 1, 1), None, 300_000, 1.035),
    "tensorflow-cpu": (date(2019, 10, 1), None, 80_000, 1.02),
    "tensorflow-gpu": (date(2016, 1, 1), date(2022, 11, 1), 120_000, 1.03),
    "tensorflow-intel": (date(2022, 11, 1), None, 900_000, 1.01),
    "tensorflow-macos": (date(2021, 6, 1), date(2024, 6, 1), 20_000, 1.02),
    "tf-nightly": (date(2016, 6, 1), None, 10_000, 1.01),
    "jax": (date(2018, 12, 1), None, 5_000, 1.07),
    "jaxlib": (date(2018, 12, 1), None, 5_500, 1.07),
    "flax": (date(2020, 3, 1), None, 2_000, 1.06),
    "keras": (date(2016, 1, 1), None, 150_000, 1.035),
    "tf-keras": (date(2023, 11, 1), None, 2_000_000, 1.02),
    "mlx": (date(2023, 12, 1), None, 8_000, 1.05),
    "onnxruntime": (date(2018, 12, 1), None, 20_000, 1.06),
    "onnxruntime-gpu": (date(2019, 6, 1), None, 6_000, 1.05),
}


def synthetic(packages: list[str], first: date, last: date,
              shapes: dict | None = None) -> dict[tuple[str, date], int]:
    """Deterministic monthly counts from `first` to `last` for each package (exponential
    growth from its first month; none before it, a trickle after its last: pinned installs)."""
    shapes = shapes or SHAPES
    rows = {}
    for index, package in enumerate(packages):
        start, end, base, growth = shapes.get(package, (first, None, 1_000 + 97 * index, 1.04))
        month = max(first, start)
        while month <= last:
            age = (month.year - start.year) * 12 + month.month - start.month
            count = int(base * growth ** age) + 7 * index
            if end is not None and month > end:
                count = max(1, count // 50)
            rows[(package, month)] = count
            month = add_months(month, 1)
    return rows
