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

The dataset `cfahlgren1/hub-stats`, as the Hub serves a dataset repository:

* `GET /api/datasets/cfahlgren1/hub-stats/tree/<rev>` lists its files (`type`, `oid`, `size`,
  `lfs {oid, size, pointerSize}`, `xetHash`, `path`) and, with `expand=true`, each file's
  `lastCommit {id, title, date}` and `securityFileStatus`: the per-file freshness the
  repository's own `lastModified` and `sha` do not give (they move with every file's daily
  update while `models.parquet` may stay stale: `publish_others()`).
* `HEAD|GET /datasets/cfahlgren1/hub-stats/resolve/<rev>/models.parquet` answers 302 to the CDN
  (`self.cdn`, another host: here another port) carrying `X-Repo-Commit`, `X-Linked-Etag` (the
  sha256) and `X-Linked-Size`; the CDN's answer has none of them, only its own storage ETag.
* `GET /api/datasets/cfahlgren1/hub-stats`: the repository's metadata (`sha`, `lastModified`,
  `siblings`).
* `dump_gone = True`: the dataset was taken down; every one of its URLs answers like the Hub
  for a missing repository (401 to an anonymous request, 404 with a token, both with
  `X-Error-Code: RepoNotFound`).

`models.parquet` (`hub_stats_parquet`) has the dump's real columns, the heavy nested ones
included (`siblings`, `config`, `cardData`, `safetensors`, `gguf`, `baseModels`, ...).
`publish_dump()` makes a commit that changes it.

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
import functools
import hashlib
import io
import json
import math
import mmap
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.parquet as pq

from tests.fakes.base import NOT_FOUND, FakeHubWithCdn, Reply, Request

ARTICLE_STAMP = "2022-03-02T23:29:04.000Z"  # back-filled onto every model older than this
FIRST_REAL = datetime(2022, 3, 3, 9, 0, tzinfo=UTC)
LAST_REAL = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
PAGE_MAX = 1000
PREBUILD_MAX = 100_000  # models.parquet of a Hub this small is built when the fake starts
DEFAULT_FIELDS = ("_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
                  "pipeline_tag", "library_name", "createdAt", "modelId")
DUMP_REPO = "cfahlgren1/hub-stats"
DUMP_META_PATH = f"/api/datasets/{DUMP_REPO}"
DUMP_TREE_PATH = f"/api/datasets/{DUMP_REPO}/tree/main"
HUB_STATS_PATH = f"/datasets/{DUMP_REPO}/resolve/main/models.parquet"
RESOLVE = re.compile(rf"^/datasets/{re.escape(DUMP_REPO)}/resolve/([^/]+)/(.+)$")
CDN_PATH = "/repos/7f/3a/hub-stats/models.parquet"  # on the CDN server (`FakeHfHub.cdn`)
#: the fields `/api/models?expand=` accepts (huggingface_hub's ExpandModelProperty_T); the Hub
#: answers 400 to any other
EXPAND_FIELDS = frozenset({
    "author", "baseModels", "cardData", "childrenModelCount", "config", "createdAt", "disabled",
    "downloads", "downloadsAllTime", "evalResults", "gated", "gguf", "inference",
    "inferenceProviderMapping", "lastModified", "library_name", "likes", "mask_token",
    "model-index", "pipeline_tag", "private", "resourceGroup", "safetensors", "sha", "siblings",
    "spaces", "tags", "transformersInfo", "trendingScore", "usedStorage", "widgetData"})
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


#: models.parquet of hub-stats: the listing's fields as huggingface_hub's ModelInfo carries them
#: (`list_models(full=True, ...)`), nested ones included. Sources for the shape: public code
#: reading the dump (e.g. `safetensors.total`, `baseModels.relation`, `baseModels.models[].id`,
#: `gated`, `trendingScore`), a public analysis of it (downloads / downloadsAllTime,
#: baseModels, safetensors.parameters), and its reported heavy columns: siblings, config,
#: cardData, safetensors, gguf. They make the file ~1.1-1.4 GB for ~3M models (2026).
_CONFIG_NUMBERS = ("hidden_size", "intermediate_size", "num_hidden_layers",
                   "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                   "vocab_size", "bos_token_id", "eos_token_id")
_TOKENIZER = pa.struct([("bos_token", pa.string()), ("eos_token", pa.string()),
                        ("pad_token", pa.string()), ("chat_template", pa.string())])
HUB_STATS_SCHEMA = pa.schema([
    ("_id", pa.string()), ("id", pa.string()), ("author", pa.string()), ("sha", pa.string()),
    ("createdAt", pa.timestamp("ms", tz="UTC")), ("lastModified", pa.timestamp("ms", tz="UTC")),
    ("private", pa.bool_()), ("gated", pa.string()), ("disabled", pa.bool_()),
    ("downloads", pa.int64()), ("downloadsAllTime", pa.int64()), ("likes", pa.int64()),
    ("trendingScore", pa.float64()), ("tags", pa.list_(pa.string())),
    ("pipeline_tag", pa.string()), ("library_name", pa.string()),
    ("siblings", pa.list_(pa.struct([("rfilename", pa.string())]))),
    ("spaces", pa.list_(pa.string())),
    ("config", pa.struct([("architectures", pa.list_(pa.string())), ("model_type", pa.string()),
                          *[(key, pa.int64()) for key in _CONFIG_NUMBERS],
                          ("rms_norm_eps", pa.float64()), ("rope_theta", pa.float64()),
                          ("torch_dtype", pa.string()), ("transformers_version", pa.string()),
                          ("tokenizer_config", _TOKENIZER)])),
    ("cardData", pa.struct([("license", pa.string()), ("language", pa.list_(pa.string())),
                            ("base_model", pa.list_(pa.string())),
                            ("datasets", pa.list_(pa.string())), ("tags", pa.list_(pa.string())),
                            ("pipeline_tag", pa.string()), ("library_name", pa.string()),
                            ("eval_results", pa.list_(pa.struct([
                                ("dataset", pa.string()), ("metric", pa.string()),
                                ("value", pa.float64())])))])),
    ("transformersInfo", pa.struct([("auto_model", pa.string()), ("pipeline_tag", pa.string()),
                                    ("processor", pa.string())])),
    ("safetensors", pa.struct([("parameters", pa.struct([("BF16", pa.int64()),
                                                         ("F16", pa.int64()),
                                                         ("F32", pa.int64())])),
                               ("total", pa.int64())])),
    ("gguf", pa.struct([("total", pa.int64()), ("architecture", pa.string()),
                        ("context_length", pa.int64()), ("chat_template", pa.string()),
                        ("bos_token", pa.string()), ("eos_token", pa.string())])),
    ("baseModels", pa.struct([("models", pa.list_(pa.struct([("_id", pa.string()),
                                                             ("id", pa.string())]))),
                              ("relation", pa.string())])),
    ("usedStorage", pa.int64()), ("childrenModelCount", pa.int64()),
])
#: the heavy nested columns (what a reader must not load: projection pushdown)
HEAVY_COLUMNS = ("siblings", "spaces", "config", "cardData", "transformersInfo", "safetensors",
                 "gguf", "baseModels")
_ARCHS = ("LlamaForCausalLM", "Qwen2ForCausalLM", "BertForMaskedLM", "MistralForCausalLM",
          "GPT2LMHeadModel", "T5ForConditionalGeneration", "WhisperForConditionalGeneration",
          "Gemma2ForCausalLM", "ViTForImageClassification", "XLMRobertaModel")
_RELATIONS = ("finetune", "adapter", "quantized", "merge")


def _template(h: int, name: str) -> str:
    """A chat template of 1-4 KB: one of a few hundred families, each copy edited a little (a
    system prompt naming the model), as the real ones are copied from model to model."""
    family = h % 397
    turns = "".join(f"{{% if message['role'] == 'r{family}_{k}' %}}<|r{family}_{k}|>"
                    "{{ message['content'] }}<|end|>{% endif %}" for k in range(6 + h % 18))
    return (f"{{# template {family} #}}{{% set system = 'You are {name}, revision "
            f"{h % 10**9:09d}. Answer in {('English', 'French', 'Chinese')[h % 3]}.' %}}"
            f"{{% for message in messages %}}{turns}{{% endfor %}}")


def _heavy(i: int, model: dict) -> dict:
    """The dump's other columns of model i, nested ones included, derived from its index: sizes
    and variety like the real dump's (many files per repository, chat templates, configs)."""
    h = _mix(i * 104_729 + 11)
    name = model["id"].rsplit("/", 1)[-1]
    tags, library = model["tags"], model["library_name"]
    llm = model["pipeline_tag"] == "text-generation" or "gguf" in tags
    files = [".gitattributes", "README.md", "config.json"]
    if "gguf" in tags:
        files += [f"{name}.{q}.gguf" for q in ("Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K",
                                                "Q8_0", "f16")[: 2 + h % 6]]
    shards = 1 + h % 8
    if "safetensors" in tags:
        files += [f"model-{k:05d}-of-{shards:05d}.safetensors" for k in range(1, shards + 1)]
    if "pytorch" in tags:
        files.append("pytorch_model.bin")
    if "tf" in tags:
        files.append("tf_model.h5")
    if llm:
        files += ["tokenizer.json", "tokenizer_config.json", "generation_config.json",
                  "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt"]
    if library == "diffusers":
        files += [f"{part}/diffusion_pytorch_model.safetensors" for part in ("unet", "vae")]
        files += [f"images/{name}-sample-{k}.png" for k in range(h % 5)]
    if "onnx" in tags:
        files += ["onnx/model.onnx", "onnx/model_quantized.onnx", "onnx/model_fp16.onnx"]
    files += [f"checkpoint-{500 * (k + 1) + h % 97}/{part}" for k in range((h >> 9) % 6)
              for part in ("optimizer.pt", "scheduler.pt", "trainer_state.json", "rng_state.pth",
                           "training_args.bin", "model.safetensors", "config.json")]
    if (h >> 27) % 2:  # a fine-tune's trainer outputs
        files += ["training_args.bin", "all_results.json", "train_results.json",
                  "eval_results.json", f"{name}_loss_curve.png"]
    files += [f"runs/{(h >> 20) % 12 + 1:02d}-{(h >> 24) % 28 + 1:02d}_{h % 10**6:06x}/events."
              f"out.tfevents.{1_700_000_000 + h % 10**8}.{name}.{k}" for k in range((h >> 13) % 4)]
    template = _template(h, name) if llm else None
    parameters = int(10 ** (7 + (h % 40) / 10))
    base = [f"org{(h >> 5) % 997}/base-{(h >> 7) % 5000}"] if (h >> 3) % 3 == 0 else []
    arch = _ARCHS[h % len(_ARCHS)]
    return {
        "sha": f"{_mix(h + 1):016x}{_mix(h + 2):016x}{_mix(h + 3):016x}"[:40],
        "gated": ("auto", "manual")[h % 2] if h % 53 == 0 else "False",
        "disabled": False,
        "siblings": [{"rfilename": f} for f in files],
        "spaces": [f"org{(h >> k) % 997}/space-{(h >> (k + 3)) % 3000}"
                   for k in range((h >> 30) % 3)],
        "config": {"architectures": [arch], "model_type": arch.split("For")[0].lower(),
                   **{key: (h >> k) % (1 << (4 + k % 14)) for k, key in enumerate(_CONFIG_NUMBERS)},
                   "rms_norm_eps": 10 ** -(5 + h % 3), "rope_theta": 10_000.0 * (1 + h % 50),
                   "torch_dtype": ("bfloat16", "float32", "float16")[h % 3],
                   "transformers_version": f"4.{30 + h % 27}.{h % 3}",
                   "tokenizer_config": {"bos_token": "<s>", "eos_token": "</s>",
                                        "pad_token": None, "chat_template": template}}
        if library in ("transformers", "sentence-transformers", "peft") else None,
        "cardData": {"license": ("apache-2.0", "mit", "llama3", "other")[h % 4],
                     "language": ["en"] + (["fr", "de"] if h % 5 == 0 else []),
                     "base_model": base, "datasets": [f"data-{(h >> 11) % 20_000}"] * (h % 2),
                     "tags": [t for t in tags if t not in ("pytorch", "tf", "safetensors")],
                     "pipeline_tag": model["pipeline_tag"], "library_name": library,
                     "eval_results": [{"dataset": f"bench-{(h >> k) % 300}", "metric": "accuracy",
                                       "value": _unit(h, k)} for k in range((h >> 17) % 5)]},
        "transformersInfo": {"auto_model": "AutoModelForCausalLM" if llm else "AutoModel",
                             "pipeline_tag": model["pipeline_tag"], "processor": "AutoTokenizer"}
        if library == "transformers" else None,
        "safetensors": {"parameters": {"BF16": parameters, "F16": None, "F32": h % 4096},
                        "total": parameters + h % 4096} if "safetensors" in tags else None,
        "gguf": {"total": parameters, "architecture": arch.split("For")[0].lower(),
                 "context_length": 4096 << h % 5, "chat_template": template, "bos_token": "<s>",
                 "eos_token": "</s>"} if "gguf" in tags else None,
        "baseModels": {"models": [{"_id": f"{_mix(h + 9):024x}"[:24], "id": b} for b in base],
                       "relation": _RELATIONS[h % 4]} if base else None,
        "usedStorage": parameters * 2 + h % 10**6,
        "childrenModelCount": h % 7,
    }


LIGHT_COLUMNS = ("_id", "id", "author", "createdAt", "lastModified", "private", "downloads",
                 "downloadsAllTime", "likes", "trendingScore", "tags", "pipeline_tag",
                 "library_name")


def hub_stats_parquet(n: int, article_share: float = 0.05, chunk: int = 50_000,
                      sink: str | io.BytesIO | None = None,
                      drop: tuple[str, ...] = ()) -> bytes | None:
    """models.parquet as the hub-stats dataset publishes it (HUB_STATS_SCHEMA), written chunk by
    chunk; `drop` leaves columns out (schema drift). The listing's columns are model i's own;
    the other columns (HEAVY_COLUMNS and the like, never read by the pipeline) are model i's own
    up to `chunk` models; beyond, they are built once for `chunk` models spread over the whole
    population and reused by every chunk, so a ~1 GB benchmark file takes minutes, not an hour,
    and still has the real file's size (each row group is compressed on its own)."""
    schema = pa.schema([f for f in HUB_STATS_SCHEMA if f.name not in drop])
    out = sink if sink is not None else io.BytesIO()
    heavy: pa.Table | None = None
    with pq.ParquetWriter(out, schema, compression="snappy") as writer:  # pandas' default
        for start in range(0, n, chunk):
            models = [synthetic_model(i, n, article_share)
                      for i in range(start, min(n, start + chunk))]
            if heavy is None:  # from models spread over the whole population (n > chunk)
                others = [f for f in schema if f.name not in LIGHT_COLUMNS]
                sample = range(start, start + len(models)) if n <= chunk else \
                    [k * n // chunk for k in range(chunk)]
                rows = [_heavy(i, synthetic_model(i, n, article_share)) for i in sample]
                heavy = pa.Table.from_pydict({f.name: pa.array([r[f.name] for r in rows], f.type)
                                              for f in others}, schema=pa.schema(others))
            cols = {}
            for field in schema:
                if field.name not in LIGHT_COLUMNS:
                    cols[field.name] = heavy.column(field.name).slice(0, len(models))
                elif pa.types.is_timestamp(field.type):  # ISO strings with Z: parsed by Arrow
                    cols[field.name] = pa.array([m[field.name] for m in models]).cast(
                        pa.timestamp("ms", tz="UTC"))
                else:
                    cols[field.name] = pa.array([m[field.name] for m in models], field.type)
            writer.write_table(pa.Table.from_pydict(cols, schema=schema))
    return out.getvalue() if isinstance(out, io.BytesIO) and sink is None else None


KNOWN_FIELDS = frozenset(synthetic_model(0, 1))


@functools.lru_cache(maxsize=4)
def _cached_parquet(n: int, article_share: float, drop: tuple[str, ...]) -> bytes:
    """hub_stats_parquet, built once per population (the tests build many fake Hubs)."""
    return hub_stats_parquet(n, article_share, drop=drop)


def _encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"$gt": index}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    return int(json.loads(base64.urlsafe_b64decode(padded))["$gt"])


class FakeHfHub(FakeHubWithCdn):
    """The Hub's model listing and the hub-stats dataset over a synthetic model population."""

    def __init__(self, n: int = 2000, article_share: float = 0.05,
                 mutate: Callable[[int, dict], dict | None] | None = None, *,
                 latency: float = 0.0, bandwidth: float | None = None,
                 quota: dict[str, int] | None = None, window: float = 300,
                 dump_age_days: float = 0.5, dump_drop: tuple[str, ...] = (),
                 dump_path: Path | None = None, tls: bool = False) -> None:
        super().__init__(latency=latency, bandwidth=bandwidth, tls=tls)
        self.n = n
        self.article_share = article_share
        self.mutate = mutate
        self.quota = quota or {}
        self.window = window
        self._parquet: dict[tuple, tuple[bytes, str]] | None = None
        self.dump_path = dump_path
        self.dump_drop = dump_drop  # serve this file (mmap) as models.parquet: benchmarks
        self.dump_files = DUMP_FILES
        self.dump_gone = False
        #: sizes the tree listing and the redirect's X-Linked-Size state instead of the real
        #: ones (a hostile or broken listing)
        self.listed_sizes: dict[str, int] = {}
        self.dump_commits = 0
        #: per file of the dataset: (commit id, date) of the last commit that changed it
        self.file_commits: dict[str, tuple[str, datetime]] = {}
        self.publish_dump(dump_age_days)
        self._sorted: dict[tuple[str, int], list[int]] = {}
        self._parquet = {}
        self._deferred: list[tuple[int, tuple, dict]] = []
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self.listing_requests = 0

    def start(self) -> FakeHfHub:
        if self.n <= PREBUILD_MAX:  # a test's dump is built before serving (a slow first
            self._dump_file()      # request could time a client out); a benchmark's on demand
        super().start()
        return self

    @property
    def dump_drop(self) -> tuple[str, ...]:
        return self._dump_drop

    @dump_drop.setter
    def dump_drop(self, columns: tuple[str, ...]) -> None:
        """Columns left out of models.parquet (schema drift); the file is rebuilt at once."""
        self._dump_drop = columns
        if getattr(self, "_parquet", None) is not None:
            self._dump_file()

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
        return bytes(self._dump_file()[0])

    def dump_sha256(self) -> str:
        """models.parquet's sha256 (hashing a large dump_path once, before it is served)."""
        return self._dump_file()[1]

    def _dump_file(self) -> tuple[bytes, str]:
        """models.parquet of the current population and its sha256 (hex)."""
        key = (self.n, self.article_share, self.dump_drop, self.dump_path)
        if key not in (self._parquet or {}):
            if self.dump_path is not None:
                with self.dump_path.open("rb") as fh:
                    data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            else:
                data = _cached_parquet(self.n, self.article_share, self.dump_drop)
            self._parquet = {key: (data, hashlib.sha256(data).hexdigest())}
        return self._parquet[key]

    def _commit(self, files: tuple[str, ...], age_days: float) -> None:
        self.dump_commits += 1
        self.dump_sha = hashlib.sha1(f"hub-stats-{self.dump_commits}".encode()).hexdigest()
        self.dump_modified = datetime.now(UTC) - timedelta(days=age_days)
        for name in files:
            self.file_commits[name] = (self.dump_sha, self.dump_modified)

    def publish_dump(self, age_days: float = 0.0) -> None:
        """A commit of the hub-stats dataset, `age_days` ago, updating every file, models.parquet
        included (rebuilt from the current population: same models, same bytes)."""
        self._commit(self.dump_files, age_days)

    def publish_others(self, age_days: float = 0.0) -> None:
        """A commit updating every file but models.parquet (its daily export failed): the
        repository's `sha` and `lastModified` move on, models.parquet stays as it was."""
        self._commit(tuple(f for f in self.dump_files if f != "models.parquet"), age_days)

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
        if request.path.startswith((DUMP_META_PATH, f"/datasets/{DUMP_REPO}/")) \
                and self.dump_gone:  # taken down: answered like any missing repository
            return Reply.json('{"error": "Repository not found"}',
                              404 if request.headers.get("authorization") else 401,
                              **{"X-Error-Code": "RepoNotFound",
                                 "X-Error-Message": "Repository not found"})
        if request.path == DUMP_META_PATH:
            return Reply.json(json.dumps(self.dump_info()))
        tree = re.fullmatch(rf"{re.escape(DUMP_META_PATH)}/tree/([^/]+)/?", request.path)
        if tree:
            return self._tree(tree.group(1), request.arg("expand", "false").lower() == "true")
        resolve = RESOLVE.match(request.path)
        if resolve:
            return self._resolve(*resolve.groups())
        return NOT_FOUND

    def _file(self, name: str) -> tuple[bytes, str]:
        """The bytes of a dataset file and their sha256."""
        if name == "models.parquet":
            return self._dump_file()
        data = f"{name} at {self.file_commits.get(name, (self.dump_sha,))[0]}\n".encode()
        return data, hashlib.sha256(data).hexdigest()

    def _revision(self, revision: str) -> str | None:
        """The commit a revision names: `main` or a commit of ours, else None."""
        if revision == "main":
            return self.dump_sha
        known = {sha for sha, _ in self.file_commits.values()} | {self.dump_sha}
        return revision if revision in known else None

    def _tree(self, revision: str, expand: bool) -> Reply:
        """`/api/datasets/<repo>/tree/<rev>`: the files, with their last commit if expanded."""
        if self._revision(revision) is None:
            return Reply.json('{"error": "Invalid rev id"}', 404,
                              **{"X-Error-Code": "RevisionNotFound"})
        entries = []
        for name in self.dump_files:
            data, sha = self._file(name)
            lfs = name.endswith(".parquet")
            pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\n"
                       f"size {len(data)}\n")
            blob = pointer.encode() if lfs else data
            size = self.listed_sizes.get(name, len(data))
            entry = {"type": "file", "size": size, "path": name,
                     "oid": hashlib.sha1(f"blob {len(blob)}\0".encode() + blob).hexdigest()}
            if lfs:
                entry["lfs"] = {"oid": sha, "size": size, "pointerSize": len(pointer)}
                entry["xetHash"] = hashlib.sha256(b"xet:" + sha.encode()).hexdigest()
            if expand:
                commit, when = self.file_commits.get(name, (self.dump_sha, self.dump_modified))
                entry["lastCommit"] = {"id": commit, "title": f"Upload {name} with huggingface_hub",
                                       "date": _iso(when)}
                entry["securityFileStatus"] = {"status": "safe", "avScan": {"virusFound": False,
                                               "virusNames": None}, "pickleImportScan": None}
            entries.append(entry)
        return Reply.json(json.dumps(entries))

    def _resolve(self, revision: str, name: str) -> Reply:
        """`/datasets/<repo>/resolve/<rev>/<file>`: an LFS file answers 302 to the CDN with the
        file's metadata on the redirect; the CDN's answer (another host) has none of it."""
        commit = self._revision(revision)
        if commit is None:
            return Reply.json('{"error": "Invalid rev id"}', 404,
                              **{"X-Error-Code": "RevisionNotFound"})
        if name not in self.dump_files:
            return Reply.json('{"error": "Entry not found"}', 404,
                              **{"X-Error-Code": "EntryNotFound"})
        data, sha = self._file(name)
        headers = {"X-Repo-Commit": commit, "ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
                   "X-Linked-Size": str(self.listed_sizes.get(name, len(data)))}
        if name != "models.parquet":
            return Reply(200, data, headers, "text/plain")
        return Reply(302, b"", headers | {"Location": self.cdn.put(CDN_PATH, data)}, "text/plain")

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
        unknown = sorted(set(expand) - EXPAND_FIELDS)
        if unknown:  # the Hub refuses a field it does not know instead of ignoring it
            return Reply.json(json.dumps({"error": f'"expand" must be one of the model fields; '
                                                   f"got {unknown}"}), status=400)
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
