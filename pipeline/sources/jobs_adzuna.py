"""Adzuna job-search API (optional): US result counts for "pytorch", "tensorflow" and "jax".

Runs only when ADZUNA_APP_ID and ADZUNA_APP_KEY are set (free keys from
developer.adzuna.com); otherwise skipped with a message. One request per framework
(`GET /jobs/us/search/1?what=<name>&results_per_page=1`), keeping only the `count` field:
Adzuna's terms allow displaying search results with attribution, and we store counts, not ads.
Each refresh is a dated snapshot and every snapshot is kept, so the counts gain a history.

The keys go only into the query string of those requests: never into logs, the snapshots
table, raw payloads or their sidecar (pipeline.http.redact blanks app_id/app_key in URLs).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from pipeline.config import secret
from pipeline.http import redact
from pipeline.sources import CollectContext, Source
from pipeline.store import utcnow

NAME = "jobs_adzuna"
DEFAULT_URL = "https://api.adzuna.com/v1/api"
LICENCE = ("Adzuna API (developer.adzuna.com), result counts only; "
           "'Jobs by Adzuna' attribution required when displayed")
COUNTRY = "us"
QUERIES = {"pytorch": "pytorch", "tensorflow": "tensorflow", "jax": "jax"}

TABLES = {
    "raw_jobs_adzuna__counts": """
        CREATE TABLE IF NOT EXISTS raw_jobs_adzuna__counts (
            snapshot_id BIGINT NOT NULL,
            date DATE NOT NULL,              -- UTC day of the request
            fetched_at TIMESTAMP NOT NULL,
            country VARCHAR NOT NULL,
            query VARCHAR NOT NULL,          -- the `what` keywords sent
            framework VARCHAR NOT NULL,
            count BIGINT NOT NULL,
            url VARCHAR NOT NULL             -- with app_id/app_key blanked
        )""",
}


def skip_reason() -> str | None:
    missing = [n for n in ("ADZUNA_APP_ID", "ADZUNA_APP_KEY") if not secret(n)]
    if missing:
        return (f"{' and '.join(missing)} not set: the optional Adzuna job counts need a free "
                "API key (https://developer.adzuna.com/); export both to collect them")
    return None


def collect(ctx: CollectContext) -> Iterator[tuple[str, list[dict]]]:
    app_id, app_key = secret("ADZUNA_APP_ID"), secret("ADZUNA_APP_KEY")
    if not (app_id and app_key):
        raise ctx.fail("ADZUNA_APP_ID / ADZUNA_APP_KEY are not set",
                       "export both (free keys at developer.adzuna.com) or skip this source")
    if not ctx.origin.may_send_secret("ADZUNA_APP_KEY"):
        raise ctx.fail(f"the Adzuna keys go only over HTTPS, and {redact(ctx.origin.base)} is "
                       "not an https URL", "set ADOPTION_JOBS_ADZUNA_URL to an https:// URL")
    rows = []
    for framework, what in QUERIES.items():
        rel = f"jobs/{COUNTRY}/search/1"
        params = {"app_id": app_id, "app_key": app_key, "what": what, "results_per_page": 1,
                  "content-type": "application/json"}
        payload, fetched = ctx.origin.get_json(rel, params)
        if not isinstance(payload, dict):
            raise ctx.fail(f"{redact(fetched.url)}: expected a JSON object, got "
                           f"{type(payload).__name__}", "the Adzuna API changed; check it")
        count = payload.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ctx.fail(f"{redact(fetched.url)}: no non-negative integer 'count' "
                           f"(got {count!r})", "the Adzuna API changed; check the response")
        url = redact(fetched.url)
        # keep only the count, not the job ad that came with it
        kept = {"what": what, "country": COUNTRY, "count": count, "mean": payload.get("mean")}
        ctx.save_raw(f"{COUNTRY}_{framework}.json", json.dumps(kept, indent=1).encode(), url)
        now = utcnow()
        rows.append({"date": now.date(), "fetched_at": now, "country": COUNTRY, "query": what,
                     "framework": framework, "count": count, "url": url})
    ctx.parameters.update({"country": COUNTRY, "queries": list(QUERIES.values())})
    yield "raw_jobs_adzuna__counts", rows


SOURCE = Source(
    name=NAME,
    title="Adzuna US job counts for PyTorch / TensorFlow / JAX (optional, needs a key)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_jobs_adzuna__counts",
    collect=collect,
    skip_reason=skip_reason,
)
