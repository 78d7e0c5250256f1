"""Fake HuggingFace Hub for the Papers with Code archive, plus the parquet fixtures it serves.

Serves, like huggingface.co:

- `GET /api/datasets/<owner>/<name>/tree/<rev>/data`: JSON list of
  `{type, oid, size, path, lfs: {oid, size, pointerSize}}` (the shape `HfApi.list_repo_tree`
  parses), paginated with a `Link: <...>; rel="next"` header when `page_size` is set;
- `HEAD|GET /datasets/<owner>/<name>/resolve/<rev>/<path>`: for an LFS file, a 302 to the CDN
  (`self.cdn`, another host) carrying `X-Repo-Commit`, `X-Linked-Etag` (the sha256) and
  `X-Linked-Size`; the CDN's answer has none of them, only its storage ETag. A small non-LFS file
  is served directly, with `X-Repo-Commit` and its git blob id as `ETag`.

The parquet files are written by the tests with pyarrow in the real column layout. `FIXTURE`
holds hand-made rows with the awkward cases (the same repository linked to several papers,
URL variants, unknown framework values, missing and future dates, proceedings spelled as
slugs or as names); `tests/test_papers_with_code.py` states the expected shares by hand.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.fakes.base import NOT_FOUND, FakeHubWithCdn, Reply, Request

LINKS_REPO = "pwc-archive/links-between-paper-and-code"
PAPERS_REPO = "pwc-archive/papers-with-abstracts"
LINKS_FILE = "data/train-00000-of-00001.parquet"
COMMIT = "9f4ad37" + "0" * 33

LINKS_SCHEMA = pa.schema([
    ("paper_url", pa.string()), ("paper_title", pa.string()), ("paper_arxiv_id", pa.string()),
    ("paper_url_abs", pa.string()), ("paper_url_pdf", pa.string()), ("repo_url", pa.string()),
    ("is_official", pa.bool_()), ("mentioned_in_paper", pa.bool_()),
    ("mentioned_in_github", pa.bool_()), ("framework", pa.string()),
])
PAPERS_SCHEMA = pa.schema([
    ("paper_url", pa.string()), ("arxiv_id", pa.string()), ("title", pa.string()),
    ("abstract", pa.string()), ("url_abs", pa.string()), ("url_pdf", pa.string()),
    ("proceeding", pa.string()), ("authors", pa.list_(pa.string())),
    ("tasks", pa.list_(pa.string())), ("date", pa.string()),
    ("methods", pa.list_(pa.struct([("name", pa.string()), ("full_name", pa.string())]))),
])


def paper_url(slug: str) -> str:
    return f"https://paperswithcode.com/paper/{slug}"


# (slug, arxiv_id, date, proceeding)
PAPERS = [
    ("p0-tf-summer", "2107.00100", "2021-07-15", None),
    ("p1-neurips", "2110.00101", "2021-10-05", "neurips-2021-12"),
    ("p2-named-proceeding", "2111.00102", "2021-11-20", "NeurIPS 2021"),
    ("p3-emnlp", "2112.00103", "2021-12-31", "emnlp-2021-11"),
    ("p4-october", None, "2021-10-01", None),
    ("p5-iccv", "2108.00105", "2021-08-01", "iccv-2021-1"),
    ("p6-findings", "2202.00106", "2022-02-01", "findings-acl-2022-5"),
    ("p7-iclr", "2203.00107", "2022-03-31", "iclr-2022-4"),
    ("p8-cvpr", "2205.00108", "2022-05-05", "cvpr-2022-1"),
    ("p9-last", "2207.00109", "2022-07-10", None),
    ("p-nodate-arxiv", "2110.09999", None, None),       # no date: month from the arXiv id
    ("p-nodate", None, "", None),                        # no date, no arXiv id: undated
    ("p-future", None, "2031-01-01", None),              # impossible date: undated
    ("p-unlinked", "1906.00001", "2019-06-01", "icml-2019-6"),  # no code link at all
]

# (paper slug, repo_url, framework, is_official); p-missing is absent from the papers dataset
LINKS = [
    ("p0-tf-summer", "https://github.com/z/zero", "tf", True),
    ("p1-neurips", "https://github.com/a/one", "pytorch", True),
    ("p6-findings", "https://github.com/A/One.git", "pytorch", False),
    ("p2-named-proceeding", "https://github.com/b/two/", "tf", False),
    ("p7-iclr", "https://github.com/b/two", "none", False),
    ("p3-emnlp", "http://www.github.com/c/three", "pytorch", True),
    ("p5-iccv", "https://github.com/c/three", "pytorch", False),
    ("p4-october", "https://github.com/d/four", "none", False),
    ("p4-october", "https://github.com/e/five", "mindspore", True),
    ("p-nodate-arxiv", "https://github.com/f/six", "pytorch", False),
    ("p2-named-proceeding", "https://github.com/g/seven", "jax", False),
    ("p1-neurips", "https://github.com/h/eight", "pytorch", False),
    ("p1-neurips", "https://github.com/h/eight", "pytorch", False),  # exact duplicate row
    ("p6-findings", "https://github.com/i/nine", "tf", False),
    ("p7-iclr", "https://github.com/j/ten", "pytorch", True),
    ("p7-iclr", "HTTPS://GitHub.com/J/Ten/", "pytorch", True),
    ("p8-cvpr", "https://github.com/k/eleven", "pytorch", True),
    ("p-missing", "https://github.com/l/twelve", "tf", False),
    ("p8-cvpr", "https://github.com/m/thirteen", "paddle", False),
    ("p8-cvpr", "https://github.com/n/fourteen", None, False),
    ("p9-last", "https://github.com/o/fifteen", "pytorch", True),
    ("p-nodate", "https://github.com/p/sixteen", "pytorch", False),
    ("p-future", "https://github.com/q/seventeen", "tf", False),
]
#: arXiv id of a linked paper the papers dataset does not have (date from the id: May 2022)
MISSING_PAPER_ARXIV = {"p-missing": "2205.01234"}


def links_table(links: list[tuple] = LINKS) -> pa.Table:
    arxiv = {slug: a for slug, a, _, _ in PAPERS} | MISSING_PAPER_ARXIV
    rows = []
    for slug, repo, framework, official in links:
        a = arxiv.get(slug)
        rows.append({
            "paper_url": paper_url(slug), "paper_title": slug.replace("-", " ").title(),
            "paper_arxiv_id": a,
            "paper_url_abs": f"https://arxiv.org/abs/{a}v1" if a else None,
            "paper_url_pdf": f"https://arxiv.org/pdf/{a}v1.pdf" if a else None,
            "repo_url": repo, "is_official": official, "mentioned_in_paper": official,
            "mentioned_in_github": not official, "framework": framework,
        })
    return pa.Table.from_pylist(rows, schema=LINKS_SCHEMA)


def papers_table(papers: list[tuple] = PAPERS) -> pa.Table:
    rows = [{
        "paper_url": paper_url(slug), "arxiv_id": a, "title": slug.replace("-", " ").title(),
        "abstract": f"We study {slug}.", "url_abs": f"https://arxiv.org/abs/{a}v1" if a else None,
        "url_pdf": None, "proceeding": proceeding, "authors": ["Ada Lovelace", "Alan Turing"],
        "tasks": ["Image Classification"], "date": date,
        "methods": [{"name": "ReLU", "full_name": "Rectified Linear Units"}],
    } for slug, a, date, proceeding in papers]
    return pa.Table.from_pylist(rows, schema=PAPERS_SCHEMA)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def fixture_files(links: pa.Table | None = None, papers: pa.Table | None = None,
                  shards: int = 2) -> dict[tuple[str, str], bytes]:
    """{(dataset repo, path): parquet bytes}: one links file, the papers split in shards."""
    links = links_table() if links is None else links
    papers = papers_table() if papers is None else papers
    files = {(LINKS_REPO, LINKS_FILE): parquet_bytes(links)}
    per = -(-papers.num_rows // shards)
    for i in range(shards):
        part = papers.slice(i * per, per)
        files[(PAPERS_REPO, f"data/train-{i:05d}-of-{shards:05d}.parquet")] = \
            parquet_bytes(part)
    return files


def write_local(root: Path, files: dict[tuple[str, str], bytes]) -> Path:
    """Lay the files out as a local-directory source: <root>/<owner>/<dataset>/<path>."""
    for (repo, path), content in files.items():
        target = root / repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(f"blob {len(content)}\0".encode() + content).hexdigest()  # git blob id


class FakeHub(FakeHubWithCdn):
    """Serves `files` ({(repo, path): bytes}) the way the Hub serves dataset files."""

    TREE = re.compile(r"^/api/datasets/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?$")
    RESOLVE = re.compile(r"^/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")

    def __init__(self, files: dict[tuple[str, str], bytes] | None = None,
                 page_size: int | None = None) -> None:
        super().__init__()
        self.files = dict(fixture_files() if files is None else files)
        self.page_size = page_size
        #: files listed with a git blob id only (no LFS info), like small non-LFS files
        self.non_lfs: set[tuple[str, str]] = set()

    def set_files(self, files: dict[tuple[str, str], bytes]) -> None:
        self.files = dict(files)

    def entry(self, repo: str, path: str) -> dict:
        content = self.files[(repo, path)]
        entry = {"type": "file", "oid": git_blob_sha1(content), "size": len(content),
                 "path": path}
        if (repo, path) not in self.non_lfs:
            entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content),
                            "pointerSize": 134}
            entry["xetHash"] = hashlib.sha256(b"xet" + content).hexdigest()
        return entry

    def route(self, request: Request) -> Reply:
        match = self.TREE.match(request.path)
        if match:
            repo, _, folder = match.groups()
            folder = (folder or "").strip("/")
            entries = [self.entry(r, p) for (r, p) in sorted(self.files)
                       if r == repo and p.rsplit("/", 1)[0] == folder]
            if not entries and not any(r == repo for r, _ in self.files):
                return Reply.json('{"error": "Repository not found"}', status=404)
            headers: dict[str, str] = {}
            if self.page_size:
                start = int(request.arg("cursor", "0"))
                page = entries[start:start + self.page_size]
                if start + self.page_size < len(entries):
                    nxt = f"{self.url}{request.path}?cursor={start + self.page_size}"
                    headers["Link"] = f'<{nxt}>; rel="next"'
                entries = page
            return Reply.json(json.dumps(entries), **headers)
        match = self.RESOLVE.match(request.path)
        if match:
            repo, _, path = match.groups()
            content = self.files.get((repo, path))
            if content is None:
                return Reply.json('{"error": "Entry not found"}', status=404)
            if (repo, path) in self.non_lfs:
                return Reply(200, content, {"ETag": f'"{git_blob_sha1(content)}"',
                                            "X-Repo-Commit": COMMIT}, "application/octet-stream")
            sha = hashlib.sha256(content).hexdigest()
            location = self.cdn.put(f"/repos/{sha[:2]}/{sha[2:4]}/{sha}", content)
            return Reply(302, b"", {"ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
                                    "X-Linked-Size": str(len(content)), "X-Repo-Commit": COMMIT,
                                    "Location": location}, "text/plain")
        return NOT_FOUND


class FakeGitHub:
    """A GitHub GraphQL endpoint (`POST /graphql`) answering `repository { createdAt }` queries.

    `created` maps owner/name (lower case) to an ISO timestamp; unknown repositories come back
    as null with a NOT_FOUND error, as on GitHub. `remaining` is the rate-limit budget (one point
    per query); at zero the server answers 403 like GitHub's secondary limits. `status` forces
    an HTTP status for every request (e.g. 401 for a bad token, 502 for an outage).
    """

    QUERY_REPO = re.compile(r'(r\d+): repository\(owner: "([^"]+)", name: "([^"]+)"\)')

    def __init__(self, created: dict[str, str], remaining: int = 5000, tls: bool = True) -> None:
        self.tls = tls  # GITHUB_TOKEN goes only over HTTPS
        self.created = dict(created)
        self.remaining = remaining
        self.status: int | None = None
        self.queries: list[list[str]] = []
        self.auth: list[str] = []
        self._httpd = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def answer(self, body: bytes, auth: str) -> tuple[int, dict]:
        self.auth.append(auth)
        if self.status is not None:
            return self.status, {"message": "injected"}
        if self.remaining <= 0:
            return 403, {"message": "API rate limit exceeded"}
        query = json.loads(body)["query"]
        asked = self.QUERY_REPO.findall(query)
        self.queries.append([f"{o}/{n}" for _, o, n in asked])
        self.remaining -= 1
        data: dict = {"rateLimit": {"remaining": self.remaining, "resetAt": "2026-01-01T00:00:00Z"}}
        errors = []
        for alias, owner, name in asked:
            when = self.created.get(f"{owner}/{name}")
            data[alias] = {"createdAt": when} if when else None
            if not when:
                errors.append({"type": "NOT_FOUND", "path": [alias],
                               "message": f"Could not resolve to a Repository {owner}/{name}"})
        return 200, {"data": data} | ({"errors": errors} if errors else {})

    def __enter__(self) -> FakeGitHub:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/graphql":
                    status, payload = 404, {"message": "Not Found"}
                else:
                    status, payload = server.answer(body, self.headers.get("Authorization", ""))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls:
            from tests.fakes.base import server_context

            self._httpd.socket = server_context().wrap_socket(self._httpd.socket,
                                                               server_side=True)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


#: creation dates of the fixture's repositories (owner/name -> createdAt); j/ten, m/thirteen
#: and the rest have none (deleted or renamed on GitHub)
CREATED = {
    "a/one": "2021-09-20T10:00:00Z",      # 2021-Q3 (its paper: 2021-Q4)
    "b/two": "2021-11-01T08:00:00Z",      # 2021-Q4, as its paper
    "c/three": "2021-06-30T23:30:00Z",    # 2021-Q2 (paper 2021-Q3)
    "d/four": "2021-10-02T00:00:00Z",     # 2021-Q4
    "e/five": "2022-01-15T00:00:00Z",     # 2022-Q1: code released after the paper
    "f/six": "2021-12-01T00:00:00Z",      # 2021-Q4
    "g/seven": "2021-11-05T00:00:00Z",    # 2021-Q4
    "h/eight": "2021-10-10T00:00:00Z",    # 2021-Q4
    "z/zero": "2021-07-01T00:00:00Z",     # 2021-Q3
}
