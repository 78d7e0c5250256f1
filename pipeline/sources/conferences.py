"""Conference papers: Horace He's pytorch-vs-tensorflow data (counts file + per-paper JSON).

`data.csv` holds, per conference meeting, the papers whose full text mentions PyTorch and
TensorFlow and the total; `data/<conf>_<year>.json` lists each paper with its authors and the
tracked words found in it (used for the author-migration analysis).

The data is pinned to one commit, whose file list cannot change: `MANIFEST` names every file
we load with its sha256. A remote base (GitHub raw, or any host serving the same layout) is read
through that manifest and every download is checked against it. A local folder (a mirror, a raw
folder kept by an earlier snapshot, a `file://` URL) is read by globbing `data/*.json`; when its
data.csv is the pinned one, it is a copy of the pinned commit and must be complete and
identical to it, so a missing or damaged file fails the collection instead of moving figures.
`--limit` is refused: a share over some meetings is not a partial version of the same figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import SourceError, Unchanged
from pipeline.http import Fetched, redact
from pipeline.source import CollectContext, Source, file_sha256
from pipeline.store import fetch_one

NAME = "conferences"
DEFAULT_URL = (
    "https://raw.githubusercontent.com/Chillee/pytorch-vs-tensorflow/"
    "3ef0c7dee3002f66277251eda55df970b3cda293/data_analysis"
)  # = PINNED below
LICENCE = (
    "Horace He, pytorch-vs-tensorflow (github.com/Chillee/pytorch-vs-tensorflow); "
    "no licence file: public research data, cited with attribution"
)
PINNED = "3ef0c7dee3002f66277251eda55df970b3cda293"
PAPER_FILE = re.compile(r"^([a-z]+)_(\d{4})\.json$")
#: a raw-file URL in GitHub's layout (https://raw.githubusercontent.com/<owner>/<repo>/<ref>/...,
#: or a host mirroring it): only its third path segment can name a commit
GITHUB_RAW = re.compile(r"^https?://[^/]+/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<ref>[0-9a-f]{40})"
                        r"(?:/|$)")
#: sha256 of every file we load at the pinned commit (data_analysis/), in `sha256sum` format
#: beside this module (`sha256sum -c conferences.sha256` in a copy checks it): the commit's file
#: list cannot change, so this is both the listing and the completeness and checksum check
MANIFEST = {path: sha for sha, path in (
    line.split(maxsplit=1) for line in
    (Path(__file__).with_name("conferences.sha256")).read_text().splitlines() if line.strip())}
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


def _expected_files(ctx: CollectContext) -> tuple[list[str], bool]:
    """The payloads to load, and whether they must be exactly the pinned commit's.

    Remote: the pinned commit's manifest (its file list cannot change). Local folder: data.csv
    plus every `data/<conf>_<year>.json` in it; when its data.csv is the pinned one, the folder
    is a copy of the pinned commit and must hold every file of the manifest."""
    local = ctx.origin.local
    if local is None:
        return list(MANIFEST), True
    names = sorted(p.name for p in (local / "data").glob("*.json") if PAPER_FILE.match(p.name))
    counts = local / "data.csv"
    pinned = counts.is_file() and file_sha256(counts) == MANIFEST["data.csv"]
    return ["data.csv", *(f"data/{n}" for n in names)], pinned


def check_pinned_unchanged(ctx: CollectContext) -> None:
    """A GitHub raw URL pinned to a commit cannot change: once collected, skip re-downloading."""
    github = GITHUB_RAW.match(ctx.origin.base)
    if not github or not ctx.may_skip:
        return
    origin = fetch_one(ctx.con, "SELECT origin_url FROM snapshots WHERE snapshot_id = ?",
                       [ctx.previous_snapshot_id])[0]
    if origin == redact(ctx.origin.base):
        raise Unchanged(f"pinned commit {github['ref'][:7]} is already snapshot "
                        f"{ctx.previous_snapshot_id} (use --force to collect again)")


def collect(ctx: CollectContext) -> Iterator[tuple[str, list[dict]]]:
    check_pinned_unchanged(ctx)
    files, pinned = _expected_files(ctx)
    if pinned:
        missing = [rel for rel in MANIFEST if rel not in files]
        if missing:
            raise ctx.fail(
                f"incomplete copy of the pinned data: {len(missing)} of the {len(MANIFEST)} "
                f"files are missing ({', '.join(missing[:5])}"
                f"{', ...' if len(missing) > 5 else ''}) in {ctx.origin.base}",
                "restore them or point ADOPTION_CONFERENCES_URL at a complete copy; the "
                "previous snapshot stays current")
    payloads: dict[str, bytes] = {}
    for rel in files:
        fetched = ctx.origin.get(rel)
        sha = ctx.save_raw(rel, fetched.content, fetched.url)
        if pinned and rel in MANIFEST and sha != MANIFEST[rel]:
            raise ctx.fail(f"{rel} differs from the pinned commit's file (sha256 {sha[:12]}, "
                           f"expected {MANIFEST[rel][:12]})",
                           "the copy is damaged or from another version; restore it")
        payloads[rel] = fetched.content
    ctx.parameters.update({"pinned_commit": PINNED if pinned else None,
                           "paper_files": len(files) - 1})
    ctx.stop_if_unchanged()
    meetings = parse_counts(payloads.pop("data.csv").decode("utf-8-sig"))
    stems = {p.rsplit("/", 1)[-1] for p in payloads}
    ctx.parameters["meetings_without_paper_file"] = sorted(
        set(derived_from_counts(meetings)) - stems)
    yield "raw_conferences__meetings", meetings
    for rel, content in payloads.items():
        yield "raw_conferences__papers", parse_papers(ctx.origin.parse_json(
            Fetched(rel, content, {})), rel)


def derived_from_counts(meetings: list[dict]) -> list[str]:
    """The per-paper file names the meetings of data.csv would have."""
    stems = {(FILE_STEM.get(m["conference"].lower(), m["conference"].lower()), m["year"])
             for m in meetings}
    return sorted(f"{stem}_{year}.json" for stem, year in stems)


SOURCE = Source(
    name=NAME,
    title="Conference papers mentioning PyTorch / TensorFlow (Horace He)",
    default_url=DEFAULT_URL,
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_conferences__meetings",
    collect=collect,
)
