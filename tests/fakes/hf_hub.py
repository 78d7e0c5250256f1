"""Fake HuggingFace Hub on 127.0.0.1: `/api/models` as the real Hub serves it, the metadata of
the `cfahlgren1/hub-stats` dataset, and its `models.parquet` file.

The models come from `synthetic_model(i, n)`, a deterministic function of the index: nothing
is stored, so the fake can stream a million models or more. The mix is realistic enough to
exercise every rule: legacy un-namespaced ids, the back-filled `createdAt` of 2022-03-02 on
article-era models, PyTorch / TensorFlow / both / JAX tags, keras and tf-keras, and (later)
safetensors-only models of PyTorch-backed libraries, GGUF and others.

Listing behaviour copied from the Hub: items carry `_id`, `id` (and `modelId` in the default
field set); `expand=` / `expand[]=` restrict the fields to `_id`, `id` and those named; fields
that are null are omitted; `limit` is the page size (at most 1000); `sort=downloads|likes|
createdAt` sorts descending; the next page is given as an opaque `cursor` in a
`Link: <...>; rel="next"` header.

The dataset: `GET /api/datasets/cfahlgren1/hub-stats` answers with its commit `sha`,
`lastModified` and `siblings`; the resolve URL of `models.parquet` redirects (302) to a CDN
path, both with the file's `ETag` (and `X-Linked-Etag`, `X-Repo-Commit`), and answers a
matching `If-None-Match` with 304. `publish_dump()` makes a new commit.

Realistic network, all optional: `latency` (seconds per reply), `bandwidth` (bytes/s per body),
and `quota` (requests per `window` seconds for the Hub's "api" and "resolvers" buckets, one
count per token): every counted reply carries `RateLimit: "api";r=<left>;t=<seconds to reset>`
and `RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window>` (the IETF draft format that
huggingface_hub parses); over the quota the answer is 429 with `Retry-After`.

Faults: everything in `tests.fakes.base` plus `fault_from_request(k, ...)` (arm a fault at the
k-th listing request, e.g. a connection drop mid-crawl) and `mutate` (a function applied to
each model dict, for schema drift).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.parquet as pq

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request

ARTICLE_STAMP = "2022-03-02T23:29:04.000Z"  # back-filled onto every model older than this
FIRST_REAL = datetime(2022, 3, 3, 9, 0, tzinfo=UTC)
LAST_REAL = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
PAGE_MAX = 1000
DEFAULT_FIELDS = ("_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
                  "pipeline_tag", "library_name", "createdAt", "modelId")
DUMP_REPO = "cfahlgren1/hub-stats"
DUMP_META_PATH = f"/api/datasets/{DUMP_REPO}"
HUB_STATS_PATH = f"/datasets/{DUMP_REPO}/resolve/main/models.parquet"
CDN_PATH = "/cdn-lfs/hub-stats/models.parquet"
DUMP_FILES = (".gitattributes", "README.md", "daily_papers.parquet", "datasets.parquet",
              "models.parquet", "posts.parquet", "spaces.parquet")
#: the Hub's documented anonymous limits per 5-minute window
ANONYMOUS_QUOTA = {"api": 500, "resolvers": 3000}
MASK = (1 << 64) - 1
PIPELINES = ("text-classification", "fill-mask", "text-generation", "token-classification",
             "image-classification", "automatic-speech-recognition", "translation", None)


def _mix(x: int) -> int:
    """splitmix64: a fast, well-spread hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def _unit(h: int, k: int) -> float:
    """The k-th uniform [0, 1) number derived from hash h."""
    return (_mix(h + k) >> 11) / float(1 << 53)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def article_count(n: int, article_share: float) -> int:
    return int(n * article_share)


def _frameworks_article(u: float) -> tuple[list[str], str | None]:
    if u < 0.70:
        return ["pytorch"], "transformers"
    if u < 0.74:
        return ["pytorch", "jax"], "transformers"
    if u < 0.80:
        return ["tf"], "transformers"
    if u < 0.86:
        return ["pytorch", "tf"], "transformers"
    if u < 0.89:
        return ["pytorch", "tf", "jax"], "transformers"
    if u < 0.91:
        return ["keras", "tf-keras"], "keras"
    if u < 0.93:
        return ["jax"], "transformers"
    if u < 0.95:
        return ["pytorch"], "sentence-transformers"
    return [], "spacy" if u < 0.97 else None


def _frameworks_today(u: float, t: float) -> tuple[list[str], str | None]:
    """Later models: tags drift from `pytorch` to safetensors-only as t goes 0 -> 1."""
    pt = 0.30 - 0.18 * t  # share with an explicit pytorch tag
    cuts = [
        (pt, ["pytorch", "safetensors"], "transformers"),
        (pt + 0.30 + 0.10 * t, ["safetensors"], "transformers"),
        (pt + 0.36 + 0.10 * t, ["safetensors"], "diffusers"),
        (pt + 0.40 + 0.10 * t, ["safetensors", "pytorch"], "sentence-transformers"),
        (pt + 0.45 + 0.10 * t, ["safetensors"], "peft"),
        (pt + 0.47 + 0.10 * t, ["pytorch", "safetensors"], "timm"),
        (pt + 0.49 + 0.10 * t, ["tf"], "transformers"),
        (pt + 0.51 + 0.10 * t, ["pytorch", "tf", "safetensors"], "transformers"),
        (pt + 0.53 + 0.10 * t, ["keras"], "keras"),
        (pt + 0.54 + 0.10 * t, ["tf-keras"], "tf-keras"),
        (pt + 0.56 + 0.10 * t, ["jax", "safetensors"], "transformers"),
        (pt + 0.57 + 0.10 * t, ["flax", "pytorch"], "transformers"),
        (pt + 0.72 + 0.10 * t, ["gguf"], "gguf"),
        (pt + 0.76 + 0.10 * t, ["onnx"], "onnx"),
        (pt + 0.78 + 0.10 * t, ["safetensors"], None),  # safetensors, no library
    ]
    for cut, tags, library in cuts:
        if u < cut:
            return list(tags), library
    return [], None


def synthetic_model(i: int, n: int, article_share: float = 0.05) -> dict:
    """Model number i of n, as the Hub's JSON would describe it (all fields)."""
    h = _mix(i * 7919 + 17)
    n_article = article_count(n, article_share)
    if i < n_article:
        created = ARTICLE_STAMP
        tags, library = _frameworks_article(_unit(h, 1))
        modified = datetime(2019, 6, 1, tzinfo=UTC) + timedelta(days=int(_unit(h, 2) * 1700))
        legacy = _unit(h, 3) < 0.03
    else:
        t = (i - n_article) / max(1, n - n_article)
        moment = FIRST_REAL + (LAST_REAL - FIRST_REAL) * t + timedelta(seconds=int(h % 3600))
        created = _iso(moment)
        tags, library = _frameworks_today(_unit(h, 1), t)
        modified = moment + timedelta(days=int(_unit(h, 2) * 90))
        legacy = False
    author = None if legacy else f"org{h % 997}"
    model_id = f"model-{i}" if legacy else f"{author}/model-{i}"
    pipeline = PIPELINES[h % len(PIPELINES)]
    extra = ["en"] if h % 3 == 0 else []
    if library and library not in tags:
        extra.append(library)
    downloads = int(10 ** (8.0 * _unit(h, 4) ** 4)) - 1
    return {
        "_id": f"{h & ((1 << 96) - 1):024x}",
        "id": model_id,
        "modelId": model_id,
        "author": author,
        "tags": tags + extra,
        "library_name": library,
        "pipeline_tag": pipeline,
        "downloads": downloads,
        "downloadsAllTime": downloads * (1 + h % 40),
        "likes": int(10 ** (4.0 * _unit(h, 5) ** 5)) - 1,
        "createdAt": created,
        "lastModified": _iso(modified),
        "private": False,
        "trendingScore": int(h % 50),
    }


def iter_models(n: int, article_share: float = 0.05) -> Iterator[dict]:
    for i in range(n):
        yield synthetic_model(i, n, article_share)


def hub_stats_parquet(n: int, article_share: float = 0.05, chunk: int = 50_000,
                      sink: str | io.BytesIO | None = None,
                      drop: tuple[str, ...] = ()) -> bytes | None:
    """models.parquet as the hub-stats dataset publishes it, built chunk by chunk; `drop`
    leaves columns out (schema drift)."""
    schema = pa.schema([
        ("_id", pa.string()), ("id", pa.string()), ("author", pa.string()),
        ("createdAt", pa.timestamp("ms", tz="UTC")), ("lastModified", pa.timestamp("ms", tz="UTC")),
        ("downloads", pa.int64()), ("downloadsAllTime", pa.int64()), ("likes", pa.int64()),
        ("tags", pa.list_(pa.string())), ("library_name", pa.string()),
        ("pipeline_tag", pa.string()), ("private", pa.bool_()), ("trendingScore", pa.int64()),
    ])
    schema = pa.schema([f for f in schema if f.name not in drop])
    out = sink if sink is not None else io.BytesIO()
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            rows = [synthetic_model(i, n, article_share) for i in range(start, stop)]
            cols = {}
            for field in schema:
                values = [r[field.name] for r in rows]
                if pa.types.is_timestamp(field.type):
                    values = [datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
                              for v in values]
                cols[field.name] = pa.array(values, type=field.type)
            writer.write_table(pa.Table.from_pydict(cols, schema=schema))
    return out.getvalue() if isinstance(out, io.BytesIO) and sink is None else None


KNOWN_FIELDS = frozenset(synthetic_model(0, 1))


def _encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"$gt": index}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    return int(json.loads(base64.urlsafe_b64decode(padded))["$gt"])


class FakeHfHub(FakeServer):
    """The Hub's model listing and the hub-stats dataset over a synthetic model population."""

    def __init__(self, n: int = 2000, article_share: float = 0.05,
                 mutate: Callable[[int, dict], dict | None] | None = None, *,
                 latency: float = 0.0, bandwidth: float | None = None,
                 quota: dict[str, int] | None = None, window: float = 300,
                 dump_age_days: float = 0.5, dump_drop: tuple[str, ...] = (),
                 tls: bool = False) -> None:
        super().__init__(latency=latency, bandwidth=bandwidth, tls=tls)
        self.n = n
        self.article_share = article_share
        self.mutate = mutate
        self.quota = quota or {}
        self.window = window
        self.dump_drop = dump_drop
        self.dump_files = DUMP_FILES
        self.dump_commits = 0
        self.publish_dump(dump_age_days)
        self._sorted: dict[tuple[str, int], list[int]] = {}
        self._parquet: dict[tuple, tuple[bytes, str]] = {}
        self._deferred: list[tuple[int, tuple, dict]] = []
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self.listing_requests = 0

    # -- data ------------------------------------------------------------------------------
    def model(self, i: int) -> dict | None:
        item = synthetic_model(i, self.n, self.article_share)
        return self.mutate(i, item) if self.mutate else item

    def models(self) -> Iterator[dict]:
        """Every model as the listing would give it (mutations applied)."""
        for i in range(self.n):
            item = self.model(i)
            if item is not None:
                yield item

    def parquet_bytes(self) -> bytes:
        return self._dump_file()[0]

    def _dump_file(self) -> tuple[bytes, str]:
        """models.parquet of the current population and its ETag (the sha256 of the bytes)."""
        key = (self.n, self.article_share, self.dump_drop)
        if key not in self._parquet:
            data = hub_stats_parquet(self.n, self.article_share, drop=self.dump_drop)
            self._parquet = {key: (data, f'"{hashlib.sha256(data).hexdigest()}"')}
        return self._parquet[key]

    def publish_dump(self, age_days: float = 0.0) -> None:
        """A new commit of the hub-stats dataset, last modified `age_days` ago; models.parquet
        is rebuilt from the current population (same models: same bytes and ETag)."""
        self.dump_commits += 1
        self.dump_sha = hashlib.sha1(f"hub-stats-{self.dump_commits}".encode()).hexdigest()
        self.dump_modified = datetime.now(UTC) - timedelta(days=age_days)

    def _order(self, sort: str | None) -> list[int] | None:
        if not sort:
            return None
        if (sort, self.n) not in self._sorted:
            key = {"downloads": "downloads", "likes": "likes", "createdAt": "createdAt"}[sort]
            self._sorted[(sort, self.n)] = sorted(
                range(self.n),
                key=lambda i: (synthetic_model(i, self.n, self.article_share)[key], -i),
                reverse=True)
        return self._sorted[(sort, self.n)]

    # -- faults ----------------------------------------------------------------------------
    def fault_from_request(self, k: int, path_regex: str, kind: str, times: int | None = 1,
                           **kwargs: float) -> None:
        """Arm a fault when the k-th request to /api/models arrives (1 = the first)."""
        with self._lock:
            self._deferred.append((k, (path_regex, kind, times), kwargs))

    def _take_fault(self, path: str):
        if path == "/api/models":
            with self._lock:
                self.listing_requests += 1
                due = [d for d in self._deferred if d[0] <= self.listing_requests]
                for d in due:
                    self._deferred.remove(d)
            for _, args, kwargs in due:
                self.fault(*args, **kwargs)
        return super()._take_fault(path)

    # -- rate limits -------------------------------------------------------------------------
    def _rate_limit(self, request: Request) -> tuple[Reply | None, dict[str, str]]:
        """Count the request in its bucket's fixed window: (a 429 or None, RateLimit headers)."""
        bucket = ("api" if request.path.startswith("/api/")
                  else "resolvers" if "/resolve/" in request.path else None)
        if bucket not in self.quota:
            return None, {}
        quota = self.quota[bucket]
        key = (bucket, request.headers.get("authorization", "anonymous"))
        with self._lock:
            now = time.monotonic()
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            allowed = used < quota
            self._windows[key] = (start, used + allowed)
        reset = max(1, math.ceil(start + self.window - now))
        headers = {"RateLimit": f'"{bucket}";r={quota - used - allowed};t={reset}',
                   "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota};'
                                       f"w={math.ceil(self.window)}"}
        if allowed:
            return None, headers
        return Reply.json('{"error": "rate limited"}', 429, **headers,
                          **{"Retry-After": str(reset)}), headers

    # -- routes ----------------------------------------------------------------------------
    def route(self, request: Request) -> Reply:
        limited, headers = self._rate_limit(request)
        if limited is not None:
            return limited
        reply = self._route(request)
        return Reply(reply.status, reply.body, reply.headers | headers, reply.content_type)

    def _route(self, request: Request) -> Reply:
        if request.path == "/api/models":
            return self._listing(request)
        if request.path == DUMP_META_PATH:
            return Reply.json(json.dumps(self.dump_info()))
        if request.path in (HUB_STATS_PATH, CDN_PATH):
            if "models.parquet" not in self.dump_files:
                return Reply.json('{"error": "Entry not found"}', 404,
                                  **{"X-Error-Code": "EntryNotFound"})
            data, etag = self._dump_file()
            headers = {"ETag": etag, "X-Linked-Etag": etag, "X-Linked-Size": str(len(data)),
                       "X-Repo-Commit": self.dump_sha}
            if request.headers.get("if-none-match") == etag:
                return Reply(304, b"", headers)
            if request.path == HUB_STATS_PATH:
                return Reply(302, b"", headers | {"Location": self.url + CDN_PATH}, "text/plain")
            return Reply(200, data, headers, "application/octet-stream")
        return NOT_FOUND

    def dump_info(self) -> dict:
        """`GET /api/datasets/cfahlgren1/hub-stats` as the Hub answers it."""
        return {
            "_id": "66b1c0ffee0ddba11ad0fe11", "id": DUMP_REPO, "author": "cfahlgren1",
            "sha": self.dump_sha, "lastModified": _iso(self.dump_modified), "private": False,
            "gated": False, "disabled": False, "downloads": 5321, "likes": 112,
            "tags": ["size_categories:1M<n<10M", "format:parquet", "library:datasets"],
            "createdAt": "2024-07-22T18:03:11.000Z",
            "cardData": {"license": "apache-2.0", "pretty_name": "Hugging Face Hub Stats"},
            "siblings": [{"rfilename": name} for name in self.dump_files],
        }

    def _listing(self, request: Request) -> Reply:
        expand = request.query.get("expand", []) + request.query.get("expand[]", [])
        try:
            size = min(PAGE_MAX, int(request.arg("limit", str(PAGE_MAX))))
            start = _decode_cursor(request.arg("cursor")) if request.arg("cursor") else 0
        except (ValueError, KeyError):
            return Reply.json('{"error": "bad limit or cursor"}', status=400)
        sort = request.arg("sort")
        if sort and sort not in ("downloads", "likes", "createdAt"):
            return Reply.json('{"error": "bad sort"}', status=400)
        order = self._order(sort)
        fields = ("_id", "id", *expand) if expand else DEFAULT_FIELDS
        items = []
        end = min(self.n, start + size)
        for position in range(start, end):
            item = self.model(order[position] if order else position)
            if item is None:
                continue
            # the requested fields, plus any field the generator does not know (drift tests)
            items.append({k: item[k] for k in fields if item.get(k) is not None}
                         | {k: v for k, v in item.items() if k not in KNOWN_FIELDS})
        headers = {}
        if end < self.n:
            params = [(k, v) for k, vs in request.query.items() if k != "cursor" for v in vs]
            params.append(("cursor", _encode_cursor(end)))
            headers["Link"] = f'<{self.url}/api/models?{urlencode(params)}>; rel="next"'
        return Reply.json(json.dumps(items, separators=(",", ":")), **headers)
