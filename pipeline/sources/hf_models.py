"""HuggingFace Hub models: id, tags, library, downloads, likes and dates of every public model.

Two ways to get the same table (`raw_hf__models`), chosen with `--hf-mode` or the option
`ADOPTION_HF_MODELS_MODE` / `[sources.hf_models] mode`:

* `api` (default): crawl `/api/models` of the Hub with `huggingface_hub.HfApi.list_models`,
  asking only for the fields we use (`expand=`). This is the live Hub the article looked at.
  Rows are streamed into DuckDB in Arrow batches of `BATCH_ROWS`; the listing is never held
  in memory. Retries, timeouts and Retry-After waits follow the pipeline's HTTP settings (see
  `_PolicyTransport`), not huggingface_hub's own unbounded defaults.
* `parquet`: download the daily metadata dump `cfahlgren1/hub-stats` (`models.parquet`)
  through the same endpoint and read it with DuckDB's built-in parquet reader. Much faster,
  but a third-party snapshot that can be a day old.

The endpoint is `ADOPTION_HF_MODELS_URL`, else `HF_ENDPOINT`, else https://huggingface.co.
A token (`HF_TOKEN`, environment only) is sent when set and never logged or stored.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.config import Settings, env_name, secret
from pipeline.errors import SourceError
from pipeline.http import Origin, redact
from pipeline.sources import CollectContext, Source
from pipeline.store import utcnow

NAME = "hf_models"
DEFAULT_URL = "https://huggingface.co"
LICENCE = (
    "HuggingFace Hub public model metadata (huggingface.co/api/models), used under the Hub's "
    "terms of service; parquet mode: dataset cfahlgren1/hub-stats (public)"
)
MODES = ("api", "parquet")
DEFAULT_MODE = "api"
HUB_STATS_REL = "datasets/cfahlgren1/hub-stats/resolve/main/models.parquet"
API_RAW_REL = "api_models.parquet"
BATCH_ROWS = 20_000
#: fields requested from /api/models (`id` is always returned)
EXPAND = ["author", "tags", "library_name", "pipeline_tag", "downloads", "downloadsAllTime",
          "likes", "createdAt", "lastModified"]
#: fields a model must carry: the analysis cannot classify or rank without them
REQUIRED = ("tags", "createdAt", "downloads", "likes")
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)

TABLES = {
    "raw_hf__models": """
        CREATE TABLE IF NOT EXISTS raw_hf__models (
            snapshot_id BIGINT NOT NULL,        -- the snapshot that first stored this version
            version_id BIGINT,                  -- a model's row version (pipeline.versioned)
            row_hash UBIGINT,                   -- of the tracked fields below
            id VARCHAR NOT NULL,
            author VARCHAR,
            tags VARCHAR[] NOT NULL,
            library_name VARCHAR,
            pipeline_tag VARCHAR,
            downloads BIGINT NOT NULL,          -- the Hub's rolling 30-day count
            downloads_all_time BIGINT,
            likes BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL,      -- UTC
            last_modified TIMESTAMP             -- UTC
        )""",
}

SCHEMA = pa.schema([
    ("id", pa.string()),
    ("author", pa.string()),
    ("tags", pa.list_(pa.string())),
    ("library_name", pa.string()),
    ("pipeline_tag", pa.string()),
    ("downloads", pa.int64()),
    ("downloads_all_time", pa.int64()),
    ("likes", pa.int64()),
    ("created_at", pa.timestamp("us")),
    ("last_modified", pa.timestamp("us")),
])
#: the same columns under the Hub's JSON names (raw api payload and hub-stats parquet)
HUB_NAMES = {"id": "id", "author": "author", "tags": "tags", "library_name": "library_name",
             "pipeline_tag": "pipeline_tag", "downloads": "downloads",
             "downloads_all_time": "downloadsAllTime", "likes": "likes",
             "created_at": "createdAt", "last_modified": "lastModified"}


# -- configuration --------------------------------------------------------------------------

def endpoint_for(ctx: CollectContext) -> str:
    """ADOPTION_HF_MODELS_URL (or config) wins; else HF_ENDPOINT; else the public Hub."""
    configured = ctx.settings.source_option(NAME, "url")
    hf_endpoint = os.environ.get("HF_ENDPOINT", "").strip()
    if not configured and hf_endpoint:
        return hf_endpoint.rstrip("/")
    return ctx.origin.base


def mode_for(ctx: CollectContext) -> str:
    mode = ctx.options.get("hf_mode") or ctx.settings.source_option(NAME, "mode") or DEFAULT_MODE
    if mode not in MODES:
        raise ctx.fail(f"unknown mode {mode!r}", f"use one of {', '.join(MODES)}")
    return mode


# -- HTTP policy for huggingface_hub ----------------------------------------------------------

class HubUnavailable(Exception):
    """Our retries are used up; raised from the transport so huggingface_hub passes it through."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class _PolicyTransport(httpx2.BaseTransport):
    """The pipeline's HTTP policy for huggingface_hub's client.

    huggingface_hub 2.x retries 429/5xx itself (5 times, 1-8 s apart, Retry-After obeyed with
    no upper bound) and its listing calls pass `timeout=None`, so a hung connection would
    block forever. This transport imposes our timeout on every request, reads each body in
    full (a truncated page is an error here, not later), retries `settings.http_retries`
    times with exponential backoff, waits Retry-After up to `settings.retry_after_max`, and
    then raises `HubUnavailable`, which huggingface_hub does not catch or retry.
    """

    def __init__(self, settings: Settings, hint: str) -> None:
        self.settings = settings
        self.hint = hint
        self.inner = httpx2.HTTPTransport()
        self.requests = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        settings = self.settings
        request.extensions["timeout"] = httpx2.Timeout(settings.http_timeout).as_dict()
        url = redact(str(request.url.copy_with(query=None)))
        for attempt in range(settings.http_retries + 1):
            wait: float | None = None
            self.requests += 1
            try:
                response = self.inner.handle_request(request)
                try:
                    response.read()
                finally:
                    response.close()
            except httpx2.TimeoutException:
                problem = f"timed out after {settings.http_timeout:g}s waiting for {url}"
                hint = self.hint
            except httpx2.ConnectError as exc:
                reason = "connection refused" if "refused" in str(exc).lower() else str(exc)
                problem = f"cannot connect to {url}: {reason[:160]}"
                hint = self.hint
            except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.NetworkError) as exc:
                problem = f"truncated response or dropped connection from {url} ({exc})"[:300]
                hint = "the connection closed early; retry later"
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                wait = _retry_after(response)
                problem = f"HTTP {response.status_code} from {url}"
                hint = "the upstream is failing or rate-limiting; retry later"
                if wait is not None and wait > settings.retry_after_max:
                    raise HubUnavailable(
                        f"rate-limited by {url}: Retry-After {wait:g}s is longer than the "
                        f"{settings.retry_after_max:g}s we wait", hint)
            if attempt == settings.http_retries:
                if settings.http_retries:
                    problem = f"gave up after {settings.http_retries} retries: {problem}"
                raise HubUnavailable(problem, hint)
            time.sleep(wait if wait is not None else settings.http_backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.inner.close()


@contextlib.contextmanager
def hub_client(settings: Settings, hint: str) -> Iterator[_PolicyTransport]:
    """Route huggingface_hub's shared client through `_PolicyTransport` for the duration.

    Also switches off huggingface_hub's telemetry: with it on, 2.x builds its User-Agent by
    fetching an "agent harness" registry from huggingface.co itself, whatever the endpoint,
    which is a request to a host we were not asked to contact.
    """
    from huggingface_hub import constants as hf_constants
    from huggingface_hub.utils import _http as hf_http

    transport = _PolicyTransport(settings, hint)
    previous = getattr(hf_http, "_GLOBAL_CLIENT_FACTORY", hf_http.default_client_factory)

    def factory() -> httpx2.Client:
        return httpx2.Client(transport=transport, follow_redirects=True,
                             timeout=settings.http_timeout,
                             event_hooks={"request": [hf_http.hf_request_event_hook]})

    telemetry = hf_constants.HF_HUB_DISABLE_TELEMETRY
    hf_constants.HF_HUB_DISABLE_TELEMETRY = True
    hf_http.set_client_factory(factory)
    try:
        yield transport
    finally:
        hf_http.set_client_factory(previous)
        hf_constants.HF_HUB_DISABLE_TELEMETRY = telemetry


# -- api mode -------------------------------------------------------------------------------

class _Columns:
    """Column buffers for one batch; `table()` empties them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.cols: dict[str, list] = {name: [] for name in SCHEMA.names}
        self.rows = 0

    def table(self) -> pa.Table:
        arrays = []
        for field in SCHEMA:
            values = self.cols[field.name]
            try:
                if pa.types.is_timestamp(field.type):
                    arr = pa.array(values, type=pa.timestamp("us", tz="UTC")).cast(field.type)
                else:
                    arr = pa.array(values, type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
                raise SourceError(
                    NAME, f"unexpected type in field {HUB_NAMES[field.name]!r} of the model "
                    f"listing: {str(exc).splitlines()[0][:160]}",
                    "schema drift upstream; check the /api/models response") from None
            arrays.append(arr)
        self.reset()
        return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _required_missing(model: Any) -> str | None:
    for hub_name, attr in (("tags", "tags"), ("createdAt", "created_at"),
                           ("downloads", "downloads"), ("likes", "likes")):
        if getattr(model, attr, None) is None:
            return hub_name
    return None


def _progress(ctx: CollectContext, total: int | None):
    from tqdm import tqdm

    return tqdm(total=total, unit=" models", unit_scale=True, disable=not ctx.show_progress,
                desc="hf_models", mininterval=1.0)


def collect_api(ctx: CollectContext, endpoint: str) -> Iterator[tuple[str, pa.Table]]:
    """Crawl /api/models page by page (cursor in the Link header), yielding Arrow batches."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    if ctx.origin.local is not None:
        raise ctx.fail(f"api mode needs an http(s) endpoint, not the local path {endpoint}",
                       "use --hf-mode parquet to read a local models.parquet")
    limit = ctx.options.get("limit")
    token = secret("HF_TOKEN")
    api = HfApi(endpoint=endpoint, token=token or False, library_name="framework-adoption",
                library_version=__version__)
    hint = f"check the network or point {env_name(NAME)} at a reachable copy"
    raw_path = ctx.raw_path(API_RAW_REL)
    raw_schema = pa.schema([(HUB_NAMES[f.name], f.type) for f in SCHEMA])
    buffer = _Columns()
    cols = buffer.cols
    seen = 0
    ctx.parameters.update({"expand": EXPAND, "sort": "downloads" if limit else None,
                           "authenticated": bool(token)})
    with hub_client(ctx.settings, hint) as transport, _progress(ctx, limit) as bar, \
            pq.ParquetWriter(raw_path, raw_schema, compression="zstd") as raw:
        models = api.list_models(expand=EXPAND, limit=limit,
                                 sort="downloads" if limit else None)
        try:
            for model in models:
                missing = _required_missing(model)
                if missing:
                    raise ctx.fail(
                        f"model #{seen + 1} ({model.id}) of the listing has no {missing!r} field",
                        "schema drift upstream; check the /api/models response")
                cols = buffer.cols
                cols["id"].append(model.id)
                cols["author"].append(model.author)
                cols["tags"].append(model.tags)
                cols["library_name"].append(model.library_name)
                cols["pipeline_tag"].append(model.pipeline_tag)
                cols["downloads"].append(model.downloads)
                cols["downloads_all_time"].append(model.downloads_all_time)
                cols["likes"].append(model.likes)
                cols["created_at"].append(model.created_at)
                cols["last_modified"].append(model.last_modified)
                buffer.rows += 1
                seen += 1
                if buffer.rows >= BATCH_ROWS:
                    bar.update(buffer.rows)
                    batch = buffer.table()
                    raw.write_table(batch.rename_columns(raw_schema.names))
                    yield "raw_hf__models", batch
        except HubUnavailable as exc:
            raise ctx.fail(f"{exc.message} (after {seen} models)", exc.hint) from None
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            url = (redact(str(exc.response.url.copy_with(query=None)))
                   if exc.response is not None else endpoint)
            raise ctx.fail(f"HTTP {status} from {url} (after {seen} models)",
                           "the Hub refused the listing; check the URL and HF_TOKEN") from None
        except (TypeError, AttributeError) as exc:  # a page that is not a list of objects
            raise ctx.fail(f"unexpected shape of the model listing after {seen} models: "
                           f"{_first(exc)}", "schema drift upstream; check /api/models") from None
        except KeyError as exc:
            raise ctx.fail(f"a model after #{seen} of the listing has no {exc.args[0]!r} field",
                           "schema drift upstream; check the /api/models response") from None
        except ValueError as exc:  # JSON decoding, date parsing
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "bad value"
            kind = "malformed JSON" if "JSON" in type(exc).__name__ or "Expecting" in first \
                else "unparseable value"
            raise ctx.fail(f"{kind} in the model listing after {seen} models: {first}",
                           "the upstream sent a broken page; retry later") from None
        if buffer.rows:
            bar.update(buffer.rows)
            batch = buffer.table()
            raw.write_table(batch.rename_columns(raw_schema.names))
            yield "raw_hf__models", batch
        ctx.parameters["http_requests"] = transport.requests
    ctx.record_file(API_RAW_REL, raw_path, f"{endpoint}/api/models")
    ctx.transient.append(API_RAW_REL)  # kept as the changes against the current snapshot
    if limit:
        ctx.partial = True


# -- parquet mode ---------------------------------------------------------------------------

def _column_expr(name: str, types: dict[str, str], target: str) -> str:
    """SQL turning a hub-stats column into our type; absent optional columns become NULL."""
    if name not in types:
        return f"NULL::{target}"
    col = f'"{name}"'
    if target == "TIMESTAMP":
        # TimeZone is UTC on this cursor, so TIMESTAMPTZ and ISO strings with Z both land in UTC
        return f"CAST({col} AS TIMESTAMP)"
    if target == "VARCHAR[]":
        return f"CAST({col} AS VARCHAR[])"
    return f"CAST({col} AS {target})"


PARQUET_COLUMNS = {  # hub-stats name -> (our name, type, required)
    "id": ("id", "VARCHAR", True),
    "author": ("author", "VARCHAR", False),
    "tags": ("tags", "VARCHAR[]", True),
    "library_name": ("library_name", "VARCHAR", False),
    "pipeline_tag": ("pipeline_tag", "VARCHAR", False),
    "downloads": ("downloads", "BIGINT", True),
    "downloadsAllTime": ("downloads_all_time", "BIGINT", False),
    "likes": ("likes", "BIGINT", True),
    "createdAt": ("created_at", "TIMESTAMP", True),
    "lastModified": ("last_modified", "TIMESTAMP", False),
}


def read_models_parquet(ctx: CollectContext, path: Path) -> Iterator[tuple[str, pa.Table]]:
    """Stream a hub-stats-shaped models.parquet as batches of raw_hf__models rows."""
    import duckdb

    limit = ctx.options.get("limit")
    cur = ctx.con.cursor()  # its own result stream; the loader inserts on ctx.con meanwhile
    try:
        cur.execute("SET TimeZone = 'UTC'")
        try:
            described = cur.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]) \
                .fetchall()
        except duckdb.Error as exc:
            raise ctx.fail(f"malformed parquet {path.name}: "
                           f"{_first(exc).replace(str(path), path.name)}",
                           "the download is broken or truncated; retry later") from None
        types = {row[0]: row[1] for row in described}
        missing = [n for n, (_, _, req) in PARQUET_COLUMNS.items() if req and n not in types]
        if missing:
            raise ctx.fail(f"{path.name} has no column {', '.join(map(repr, missing))}",
                           "schema drift in the hub-stats dataset; check its columns")
        select = ", ".join(f"{_column_expr(src, types, typ)} AS {dst}"
                           for src, (dst, typ, _) in PARQUET_COLUMNS.items())
        sql = (f"SELECT {select} FROM read_parquet(?) "
               + (f"ORDER BY downloads DESC, id LIMIT {int(limit)}" if limit else ""))
        try:
            reader = cur.sql(sql, params=[str(path)]).to_arrow_reader(BATCH_ROWS)
            with _progress(ctx, limit) as bar:
                for batch in reader:
                    table = pa.Table.from_batches([batch]).cast(SCHEMA)
                    _check_required(ctx, table)
                    bar.update(table.num_rows)
                    yield "raw_hf__models", table
        except duckdb.Error as exc:
            raise ctx.fail(f"cannot read {path.name}: {_first(exc)}",
                           "the file is malformed or a column has an unexpected type") from None
    finally:
        cur.close()
    if limit:
        ctx.partial = True


def _check_required(ctx: CollectContext, table: pa.Table) -> None:
    for src, (dst, _, required) in PARQUET_COLUMNS.items():
        if required and table.column(dst).null_count:
            raise ctx.fail(f"models.parquet has {table.column(dst).null_count} rows without "
                           f"{src!r} in a batch", "schema drift in the hub-stats dataset")


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def collect_parquet(ctx: CollectContext, endpoint: str) -> Iterator[tuple[str, pa.Table]]:
    """Download models.parquet (hub-stats) into the raw folder and read it with DuckDB."""
    origin = ctx.origin if endpoint == ctx.origin.base else Origin(NAME, endpoint, ctx.settings)
    rel = HUB_STATS_REL
    if origin.local is not None and not (origin.local / rel).is_file() \
            and (origin.local / API_RAW_REL).is_file():
        rel = API_RAW_REL  # a raw folder kept by an api-mode run: reload it offline
    dest = ctx.raw_path(rel)
    fetched = origin.download(rel, dest)
    ctx.record_file(rel, dest, fetched.url)
    ctx.transient.append(rel)  # the dump is re-downloadable by commit; its changes are kept
    ctx.parameters["parquet_file"] = rel
    yield from read_models_parquet(ctx, dest)


def collect(ctx: CollectContext) -> Iterator[tuple[str, Any]]:
    mode = mode_for(ctx)
    endpoint = endpoint_for(ctx)
    if endpoint != ctx.origin.base:
        ctx.origin = Origin(NAME, endpoint, ctx.settings)  # HF_ENDPOINT: provenance follows it
    ctx.parameters.update({"mode": mode, "endpoint": redact(endpoint),
                           "collected_at": utcnow().isoformat(timespec="seconds") + "Z"})
    if mode == "api":
        yield from collect_api(ctx, endpoint)
    else:
        yield from collect_parquet(ctx, endpoint)


SOURCE = Source(
    name=NAME,
    title="HuggingFace Hub models (framework tags, downloads, likes)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_hf__models",
    versioned={"raw_hf__models": ("raw_hf__snapshot_models", ("id",))},
    collect=collect,
    limit_unit="models (the most downloaded)",
    options={"mode": str},
)
