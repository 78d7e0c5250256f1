"""Fake OpenReview API on 127.0.0.1: `GET /v2/notes` (API v2: content fields wrapped as
{"value": ...}) and `GET /v1/notes` (API v1: plain values), both filtered by
`content.venueid` with `limit`/`offset` paging and answering `{"notes": [...], "count": N}`;
`GET /v<n>/pdf?id=<note id>` serves the PDF. Like the real service, API v2 holds the venues
of 2024 on and answers an older venue with no notes; API v1 holds 2023 and before. Rejected
papers are there too (venue id `.../Rejected_Submission`): only the query keeps them out.
`page_cap` is the most notes one answer holds (the real API's limit is 1000; a smaller cap
exercises paging)."""

from __future__ import annotations

import json

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request
from tests.fakes.proceedings import Catalog, FakePaper


class OpenReviewServer(FakeServer):
    def __init__(self, catalog: Catalog, page_cap: int = 2) -> None:
        super().__init__()
        self.page_cap = page_cap
        self.venues: dict[str, list[FakePaper]] = {}
        self.papers: dict[str, FakePaper] = {}
        for (conference, year, _), papers in catalog.items():
            if conference == "ICLR":
                self.venues[f"ICLR.cc/{year}/Conference"] = papers
                rejected = FakePaper(f"rej{year}", f"A rejected paper of {year}", ["Nobody"],
                                     "pt")
                self.venues[f"ICLR.cc/{year}/Rejected_Submission"] = [rejected]
                self.papers.update({p.pid: p for p in [*papers, rejected]})

    def urls(self) -> dict[str, str]:
        return {"ADOPTION_PAPERS_OPENREVIEW_URL": f"{self.url}/v2",
                "ADOPTION_PAPERS_OPENREVIEW_V1_URL": f"{self.url}/v1"}

    @staticmethod
    def note(paper: FakePaper, venue: str, api: int) -> dict:
        content = {"title": paper.title, "authors": paper.authors,
                   "authorids": [*paper.author_ids, "someone@example.org"],
                   "venue": venue.split("/")[0].split(".")[0] + " poster", "venueid": venue,
                   "pdf": f"/pdf/{paper.pid}.pdf", "abstract": "An abstract."}
        if api == 2:
            content = {k: {"value": v} for k, v in content.items()}
            return {"id": paper.pid, "forum": paper.pid, "content": content,
                    "invitations": [f"{venue.rsplit('/', 1)[0]}/-/Submission"], "cdate": 1}
        return {"id": paper.pid, "forum": paper.pid, "content": content,
                "invitation": f"{venue.rsplit('/', 1)[0]}/-/Blind_Submission", "cdate": 1}

    def route(self, request: Request) -> Reply:
        api = 2 if request.path.startswith("/v2/") else 1 if request.path.startswith("/v1/") \
            else 0
        if not api:
            return NOT_FOUND
        path = request.path[3:]
        if path == "/notes":
            venue = request.arg("content.venueid", "")
            year = int(venue.split("/")[1]) if venue.count("/") >= 2 and \
                venue.split("/")[1].isdigit() else 0
            held = (year >= 2024) == (api == 2)
            notes = [self.note(p, venue, api) for p in self.venues.get(venue, [])] if held \
                else []
            offset = int(request.arg("offset", "0"))
            limit = min(int(request.arg("limit", "1000")), self.page_cap)
            return Reply.json(json.dumps({"notes": notes[offset:offset + limit],
                                          "count": len(notes)}))
        if path == "/pdf":
            paper = self.papers.get(request.arg("id", ""))
            if paper is None:
                return NOT_FOUND
            return Reply(200, paper.pdf, {}, "application/pdf")
        return NOT_FOUND
