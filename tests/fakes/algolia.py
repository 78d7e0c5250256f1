"""Fake HN Algolia API on 127.0.0.1: `search_by_date` and `items/<id>` in the real shapes.

It serves the real months of the shared mirror (tests.conftest.HN_MIRROR, read in place, never
copied into the repository) as `items/<id>`, plus small hand-written threads whose counts are
worked out by hand (HAND_COUNTS), plus the other stories `whoishiring` posts ("Who wants to
be hired?", "Freelancer?"), which the source must ignore. The `search_by_date` listing is built
from all of them, newest first, paginated like Algolia (page, nbPages, hitsPerPage, nbHits).

    with AlgoliaServer() as server:            # the hand-written threads
    with AlgoliaServer(mirror=HN_MIRROR) as s: # the mirror's real months
        server.base_url                       # -> http://127.0.0.1:PORT/api/v1
        server.add_comment(thread_id, "We use PyTorch")   # the open month grows
        server.add_thread("Ask HN: Who is hiring? (June 2026)", [comment(...)])
"""

from __future__ import annotations

import calendar
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request

PREFIX = "/api/v1"
_MONTH = re.compile(r"\((\w+) (\d{4})\)")
_next_id = [9_000_000]


def _new_id() -> int:
    _next_id[0] += 1
    return _next_id[0]


def _posted(title: str) -> int:
    """A plausible story time (the 1st of the title's month, 16:00 UTC) as epoch seconds."""
    match = _MONTH.search(title)
    month = list(calendar.month_name).index(match[1])
    return int(datetime(int(match[2]), month, 1, 16, tzinfo=UTC).timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def comment(text: str | None, author: str | None = "someone", replies: tuple = (),
            at: int = 1_638_400_000) -> dict:
    """A child in the Algolia items shape; text=None and author=None is a deleted comment."""
    return {"id": _new_id(), "created_at": _iso(at), "created_at_i": at, "type": "comment",
            "author": author, "title": None, "url": None, "text": text, "points": None,
            "parent_id": None, "story_id": None, "options": [], "children": list(replies)}


def story(title: str, children: list[dict], story_id: int | None = None,
          author: str = "whoishiring") -> dict:
    sid = story_id or _new_id()
    at = _posted(title)
    for child in children:
        child["parent_id"] = child["story_id"] = sid
    return {"id": sid, "created_at": _iso(at), "created_at_i": at, "type": "story",
            "author": author, "title": title, "url": None,
            "text": "Please state the location and include REMOTE for remote work...",
            "points": 500, "parent_id": None, "story_id": sid, "options": [],
            "children": children}


def hand_threads() -> list[dict]:
    """Two small threads with tricky postings; their expected counts are HAND_COUNTS."""
    december = story("Ask HN: Who is hiring? (December 2021)", [
        comment("Acme | ML Engineer | Remote<p>We use PyTorch &amp; TensorFlow.js in prod."),
        comment("Beta | Backend | NYC<p>Java 17, JAX-RS, Spring. Infra in Terraform (TF) "
                "on AWS; jax-ws legacy too."),
        comment(None, None),  # deleted: null text and author
        comment("Gamma | Research<p>JAX&#x2F;Flax and <a href=\"https:&#x2F;&#x2F;keras.io\" "
                "rel=\"nofollow\">Keras</a> on TPUs"),
        comment("Delta | Tools<p>We build <i>torch</i>.compile helpers and libtorch bindings"),
        comment("Epsilon | Frontend | React", replies=(
            comment("Do you use PyTorch or TensorFlow? JAX?"),)),  # a reply: not a posting
        comment("Zeta | Mobile ML<p>tf.keras models shipped with TFLite on-device"),
        comment(None, "ghost"),  # dead: text hidden
    ])
    november = story("Ask HN: Who is hiring? (November 2021)", [
        comment("Eta | MLE<p>pytorch-lightning, HuggingFace, Weights &amp; Biases"),
        comment("Theta | Data<p>TENSORFLOW 2 (tensorflow2) serving on GKE"),
        comment("Iota | Analytics<p>We use Keras for tabular models"),
        comment("Kappa | Escaped<p>our stack: &lt;pytorch&gt; &amp; numpy"),
    ])
    return [december, november]


#: postings and mentions per hand-written month (worked out by hand from hand_threads())
HAND_COUNTS = {
    "2021-12": {"postings": 6, "skipped": 2, "pytorch": 1, "tensorflow": 2, "jax": 1,
                "keras": 2},
    "2021-11": {"postings": 4, "skipped": 0, "pytorch": 2, "tensorflow": 1, "jax": 0,
                "keras": 1},
}


def other_stories() -> list[dict]:
    """What else whoishiring posts each month: the source must not fetch these."""
    return [
        story("Ask HN: Who wants to be hired? (May 2026)",
              [comment("SEEKING WORK | PyTorch expert")]),
        story("Ask HN: Freelancer? Seeking freelancer? (May 2026)",
              [comment("SEEKING FREELANCER | TensorFlow")]),
    ]


def _descendants(item: dict) -> int:
    return sum(1 + _descendants(c) for c in item.get("children") or [])


class AlgoliaServer(FakeServer):
    def __init__(self, mirror: Path | None = None, threads: list[dict] | None = None,
                 others: bool = True) -> None:
        super().__init__()
        self.items: dict[int, bytes] = {}
        self.hits: dict[int, dict] = {}
        if mirror is not None:
            for path in sorted(Path(mirror).glob("*.json")):
                content = path.read_bytes()  # served verbatim, as the real API would
                self._register(json.loads(content), content)
        if threads is None:  # the hand-written months alone, unless a mirror is served
            threads = [] if mirror is not None else hand_threads()
        for item in threads:
            self.add_item(item)
        if others:
            for item in other_stories():
                self.add_item(item)

    @property
    def base_url(self) -> str:
        return self.url + PREFIX

    # -- content -----------------------------------------------------------------------
    def _register(self, item: dict, content: bytes) -> None:
        at = item.get("created_at_i") or _posted(item["title"])  # the mirror has null times
        self.items[item["id"]] = content
        self.hits[item["id"]] = {
            "_tags": ["story", f"author_{item['author']}", f"story_{item['id']}"],
            "author": item["author"], "children": [c["id"] for c in item["children"]],
            "created_at": _iso(at), "created_at_i": at, "num_comments": _descendants(item),
            "objectID": str(item["id"]), "points": item.get("points") or 500,
            "story_id": item["id"], "title": item["title"], "updated_at": _iso(at),
            "url": None,
        }

    def add_item(self, item: dict) -> dict:
        self._register(item, json.dumps(item).encode())
        return item

    def add_thread(self, title: str, children: list[dict]) -> dict:
        return self.add_item(story(title, children))

    def item(self, item_id: int) -> dict:
        return json.loads(self.items[item_id])

    def add_comment(self, thread_id: int, text: str) -> None:
        item = self.item(thread_id)
        item["children"].append(comment(text))
        self.add_item(item)

    def thread_id(self, month_title: str) -> int:
        return next(i for i, h in self.hits.items() if month_title in h["title"])

    # -- HTTP --------------------------------------------------------------------------
    def route(self, request: Request) -> Reply:
        if request.path == f"{PREFIX}/search_by_date":
            return self._search(request)
        match = re.fullmatch(rf"{PREFIX}/items/(\d+)", request.path)
        if match and int(match[1]) in self.items:
            return Reply.json(self.items[int(match[1])])
        return NOT_FOUND

    def _search(self, request: Request) -> Reply:
        tags = set((request.arg("tags") or "").split(","))
        if not {"story", "author_whoishiring"} <= tags:
            return Reply.json('{"message": "this fake only serves whoishiring stories"}', 400)
        per_page = min(int(request.arg("hitsPerPage", "20")), 1000)
        page = int(request.arg("page", "0"))
        ordered = sorted(self.hits.values(), key=lambda h: h["created_at_i"], reverse=True)
        hits = ordered[page * per_page:(page + 1) * per_page]
        body = {"hits": hits, "nbHits": len(ordered), "page": page,
                "nbPages": math.ceil(len(ordered) / per_page), "hitsPerPage": per_page,
                "exhaustiveNbHits": True, "query": "", "processingTimeMS": 1,
                "params": f"tags={','.join(sorted(tags))}&hitsPerPage={per_page}&page={page}"}
        return Reply.json(json.dumps(body))
