"""Conference papers: Horace He's pytorch-vs-tensorflow data (counts file + per-paper JSON).

`data.csv` holds, per conference meeting, the papers whose full text mentions PyTorch and
TensorFlow and the total; `data/<conf>_<year>.json` lists each paper with its authors and the
tracked words found in it (used for the author-migration analysis).

The per-paper file list is derived, never guessed: from the directory itself when the base is
local, from the GitHub tree of the pinned commit when the base is raw.githubusercontent.com,
or from the server's directory index otherwise. If no listing can be had, the meetings named in
`data.csv` are tried and the snapshot records that files outside it may be missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import unquote

from pipeline.errors import SourceError, Unchanged
from pipeline.http import redact
from pipeline.sources import CollectContext, Source

NAME = "conferences"
DEFAULT_URL = (
    "https://raw.githubusercontent.com/Chillee/pytorch-vs-tensorflow/"
    "3ef0c7dee3002f66277251eda55df970b3cda293/data_analysis"
)
LICENCE = (
    "Horace He, pytorch-vs-tensorflow (github.com/Chillee/pytorch-vs-tensorflow); "
    "no licence file: public research data, cited with attribution"
)
PAPER_FILE = re.compile(r"^([a-z]+)_(\d{4})\.json$")
PINNED_COMMIT = re.compile(r"/([0-9a-f]{40})(?:/|$)")
GITHUB_RAW = re.compile(r"^https://raw\.githubusercontent\.com/([^/]+)/([^/]+)/([^/]+)/?(.*)$")
#: data.csv names conferences as the article does; the per-paper files use these stems
FILE_STEM = {"neurips": "nips"}

TABLES = {
    "raw_conferences__meetings": """
        CREATE TABLE IF NOT EXISTS raw_conferences__meetings (
            snapshot_id BIGINT NOT NULL,
            line INTEGER NOT NULL,
            conference VARCHAR NOT NULL,
            meeting VARCHAR NOT NULL,          -- MM/YY as in data.csv
            year INTEGER NOT NULL,
            month INTEGER NOT NULL,
            pytorch_papers INTEGER NOT NULL,
            tensorflow_papers INTEGER NOT NULL,
            total_papers INTEGER NOT NULL
        )""",
    "raw_conferences__papers": """
        CREATE TABLE IF NOT EXISTS raw_conferences__papers (
            snapshot_id BIGINT NOT NULL,
            file VARCHAR NOT NULL,
            conference VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            paper_id VARCHAR,
            title VARCHAR,
            authors VARCHAR[] NOT NULL,
            words VARCHAR[] NOT NULL,
            code_url VARCHAR
        )""",
}


def parse_counts(text: str, where: str = "data.csv") -> list[dict]:
    """Rows of data.csv: conference, MM/YY, pytorch papers, tensorflow papers, total papers."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 5:
            raise SourceError(NAME, f"{where} line {number}: expected 5 fields "
                              f"(conference, MM/YY, pytorch, tensorflow, total), got {len(fields)}",
                              "the upstream format changed; check the file")
        conference, meeting, *numbers = fields
        match = re.fullmatch(r"(\d{1,2})/(\d{2})", meeting)
        if not match:
            raise SourceError(NAME, f"{where} line {number}: meeting date {meeting!r} is not MM/YY")
        try:
            pt, tf, total = (int(n) for n in numbers)
        except ValueError:
            raise SourceError(NAME, f"{where} line {number}: counts {numbers} are not integers") \
                from None
        if min(pt, tf, total) < 0 or max(pt, tf) > total:
            raise SourceError(NAME, f"{where} line {number}: impossible counts {numbers}")
        rows.append({
            "line": number, "conference": conference, "meeting": meeting,
            "year": 2000 + int(match[2]), "month": int(match[1]),
            "pytorch_papers": pt, "tensorflow_papers": tf, "total_papers": total,
        })
    return rows


def parse_papers(payload: object, file: str) -> list[dict]:
    """Papers of one `<conf>_<year>.json`; unknown fields are ignored, missing ones refused."""
    if not isinstance(payload, list):
        raise SourceError(NAME, f"{file}: expected a list of papers, got {type(payload).__name__}",
                          "the upstream format changed; check the file")
    conference, year = PAPER_FILE.match(file.rsplit("/", 1)[-1]).groups()
    rows = []
    for index, paper in enumerate(payload):
        if not isinstance(paper, dict):
            raise SourceError(NAME, f"{file}: paper #{index} is {type(paper).__name__}, not object")
        authors = paper.get("authors")
        metadata = paper.get("metadata")
        if not isinstance(authors, list):
            raise SourceError(NAME, f"{file}: paper #{index} has no list field 'authors'",
                              "schema drift upstream; check the file")
        if not isinstance(metadata, dict):
            raise SourceError(NAME, f"{file}: paper #{index} has no object field 'metadata'",
                              "schema drift upstream; check the file")
        words = metadata.get("words") or []
        if not isinstance(words, list):
            raise SourceError(NAME, f"{file}: paper #{index} metadata.words is not a list")
        rows.append({
            "file": file,
            "conference": conference,
            "year": int(paper.get("year") or year),
            "paper_id": None if paper.get("id") is None else str(paper["id"]),
            "title": paper.get("name"),
            "authors": [str(a) for a in authors],
            "words": [str(w) for w in words],
            "code_url": metadata.get("code"),
        })
    return rows


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(unquote(v) for k, v in attrs if k == "href" and v)


def list_paper_files(ctx: CollectContext) -> tuple[list[str], str]:
    """Names of the per-paper files upstream, and how the list was obtained."""
    origin = ctx.origin
    if origin.local is not None:
        names = [p.name for p in (origin.local / "data").glob("*.json")]
        return sorted(n for n in names if PAPER_FILE.match(n)), "local directory"
    listing_url = ctx.settings.source_option(NAME, "listing_url")
    github = GITHUB_RAW.match(origin.base)
    if listing_url or github:
        if not listing_url:
            owner, repo, ref, _ = github.groups()
            listing_url = f"https://api.github.com/repos/{owner}/{repo}/git/trees/{ref}?recursive=1"
        prefix = (github.group(4).strip("/") + "/data/") if github else "data/"
        tree, _ = origin.get_json(listing_url)
        if not isinstance(tree, dict) or not isinstance(tree.get("tree"), list):
            raise ctx.fail(f"GitHub tree listing from {listing_url} has no 'tree' list")
        names = [e.get("path", "")[len(prefix):] for e in tree["tree"]
                 if str(e.get("path", "")).startswith(prefix)]
        return sorted(n for n in names if PAPER_FILE.match(n)), "GitHub tree API"
    index = origin.get("data/")
    parser = _Links()
    parser.feed(index.content.decode("utf-8", "replace"))
    names = {h.rstrip("/").rsplit("/", 1)[-1] for h in parser.hrefs}
    return sorted(n for n in names if PAPER_FILE.match(n)), "directory index"


def derived_from_counts(meetings: list[dict]) -> list[str]:
    stems = {(FILE_STEM.get(m["conference"].lower(), m["conference"].lower()), m["year"])
             for m in meetings}
    return sorted(f"{stem}_{year}.json" for stem, year in stems)


def check_pinned_unchanged(ctx: CollectContext) -> None:
    """A base pinned to a commit cannot change: once collected from it, skip re-downloading."""
    pinned = PINNED_COMMIT.search(ctx.origin.base)
    if not pinned or ctx.previous_snapshot_id is None or ctx.options.get("force"):
        return
    origin = ctx.con.execute("SELECT origin_url FROM snapshots WHERE snapshot_id = ?",
                             [ctx.previous_snapshot_id]).fetchone()[0]
    if origin == redact(ctx.origin.base):
        raise Unchanged(f"pinned commit {pinned[1][:7]} is already snapshot "
                        f"{ctx.previous_snapshot_id} (use --force to collect again)")


def collect(ctx: CollectContext) -> Iterator[tuple[str, list[dict]]]:
    check_pinned_unchanged(ctx)
    counts = ctx.origin.get("data.csv")
    ctx.save_raw("data.csv", counts.content, counts.url)
    meetings = parse_counts(counts.content.decode("utf-8-sig"))
    yield "raw_conferences__meetings", meetings

    try:
        files, how = list_paper_files(ctx)
    except SourceError as exc:
        ctx.log.warning("%s; trying the meetings named in data.csv instead", exc)
        files, how = derived_from_counts(meetings), f"derived from data.csv ({exc.message})"
    if not files:
        raise ctx.fail("no per-paper files data/<conf>_<year>.json found upstream",
                       "check the configured URL points at the data_analysis folder")
    expected = set(derived_from_counts(meetings))
    ctx.parameters.update({
        "paper_files_listing": how,
        "paper_files": len(files),
        "meetings_without_paper_file": sorted(expected - set(files)),
    })
    missing = []
    for name in files:
        rel = f"data/{name}"
        try:
            fetched = ctx.origin.get(rel)
        except SourceError as exc:
            if how.startswith("derived") and "404" in exc.message:
                missing.append(name)  # a guess from data.csv that upstream does not have
                continue
            raise
        ctx.save_raw(rel, fetched.content, fetched.url)
        yield "raw_conferences__papers", parse_papers(ctx.origin.parse_json(fetched), rel)
    if missing:
        ctx.parameters["meetings_without_paper_file"] = missing


SOURCE = Source(
    name=NAME,
    title="Conference papers mentioning PyTorch / TensorFlow (Horace He)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_conferences__meetings",
    collect=collect,
)
