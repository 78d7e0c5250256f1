"""Fake raw-file host (like raw.githubusercontent.com) serving a local directory read-only.

`GET /<path>` returns the file's bytes; `GET /<dir>/` returns an HTML index of the folder, the
way a plain static file server does. Used for the conference data (Horace He's mirror) and
for any source whose upstream is a set of static files.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote, unquote

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request


class RawFileServer(FakeServer):
    def __init__(self, root: Path, prefix: str = "") -> None:
        super().__init__()
        self.root = Path(root).resolve()
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    @property
    def base_url(self) -> str:
        return self.url + self.prefix

    def route(self, request: Request) -> Reply:
        if not request.path.startswith(self.prefix + "/"):
            return NOT_FOUND
        rel = unquote(request.path[len(self.prefix) + 1:])
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            return NOT_FOUND
        if path.is_dir():
            links = "".join(
                f'<li><a href="{quote(p.name)}{"/" if p.is_dir() else ""}">{html.escape(p.name)}'
                f"</a></li>" for p in sorted(path.iterdir())
            )
            return Reply.text(f"<html><body><ul>{links}</ul></body></html>",
                              content_type="text/html")
        if not path.is_file():
            return NOT_FOUND
        kind = "application/json" if path.suffix == ".json" else "text/plain"
        return Reply(200, path.read_bytes(), {}, kind)
