"""Fake Adzuna API on 127.0.0.1: `GET /v1/api/jobs/<country>/search/<page>` -> {"count", ...}.

Served over HTTPS (the keys go only over HTTPS; `tls=False` for the test that checks they are
not sent over http). Requests without the expected app_id/app_key get 401, like the real API.
`counts` maps the `what` keywords to the count returned; each response also carries one fake
job ad in `results` (the source must not keep it).
"""

from __future__ import annotations

import json
import re

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request

PREFIX = "/v1/api"


class AdzunaServer(FakeServer):
    def __init__(self, app_id: str, app_key: str, counts: dict[str, int] | None = None,
                 tls: bool = True) -> None:
        super().__init__(tls=tls)
        self.app_id, self.app_key = app_id, app_key
        self.counts = dict(counts or {"pytorch": 4321, "tensorflow": 2345, "jax": 210})

    @property
    def base_url(self) -> str:
        return self.url + PREFIX

    def route(self, request: Request) -> Reply:
        if not re.fullmatch(rf"{PREFIX}/jobs/[a-z]{{2}}/search/\d+", request.path):
            return NOT_FOUND
        if request.arg("app_id") != self.app_id or request.arg("app_key") != self.app_key:
            return Reply.json('{"exception": "AUTH_FAIL", "display": "Authorisation failed"}',
                              401)
        what = request.arg("what", "")
        body = {"__CLASS__": "Adzuna::API::Response::JobSearchResults",
                "count": self.counts.get(what, 0), "mean": 150000.5,
                "results": [{"title": f"Senior {what} engineer", "id": "1234",
                             "description": "A job ad we must not store",
                             "redirect_url": "https://www.adzuna.com/details/1234"}]}
        return Reply.json(json.dumps(body))
