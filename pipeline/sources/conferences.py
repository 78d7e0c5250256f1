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
#: sha256 of every file we load at the pinned commit (data_analysis/): its file list cannot
#: change, so this is both the listing and the completeness and checksum check
MANIFEST = {
    "data.csv": "015264c2d4755bc1c3290cc60b56d0aedb4b5893387aa0341b5ed41b95d3dfd9",
    "data/acl_2017.json": "7b65968677ee0bdd6373fb241c153975dfd03cf3fddbddd80f394f83159d951a",
    "data/acl_2018.json": "365e59e34a9383655106a40ac613ee678b840d207110c1c4c06af70183820d57",
    "data/acl_2019.json": "33690d0ab50091c0ff6e0988c7c2f97e6239476f1fd818878886643bcf7cceb7",
    "data/acl_2020.json": "f26c4a2d11357298f3f6d115f682e1283d377bcff28e18e8ef7321e39ca262a3",
    "data/aistats_2018.json": "2cc7e8105ac065c20620f699d79feea8f9cba0c3994533df13deaca59c3a6086",
    "data/aistats_2019.json": "dfc6941c64ce32efc4bf2c7bb9eff7413a639b872a06a46fbf9bb56fcd1ec6e1",
    "data/colt_2017.json": "54f398567778df964e3b1396cc77a1377517412f2bb88de3070534c036c7194d",
    "data/colt_2018.json": "f071aa78e8f0126d5a05fdb3f7c5a5fe49da7507a590760f557654f8fc8de571",
    "data/cvpr_2015.json": "1fa65f0ca05a50bee0a3e8a743514a3fc680bc3f79c56b261de0b5d49cc8dafc",
    "data/cvpr_2016.json": "292f0efab49e7a52fc78d86f99bed58b4d50314b87c5527b8718321f232ac73b",
    "data/cvpr_2017.json": "40ae3260c019793223b9aac77c978b391341c91c44581a2a4fc3fb0967db3ab1",
    "data/cvpr_2018.json": "3b0dd023446f162c64edd87f0e851b53f53d071b58e978a41b776e62db714a6c",
    "data/cvpr_2019.json": "8ab3580647d8d57a4b8310304803cd394dad83b0dff5ef3e81ce592b27159695",
    "data/cvpr_2020.json": "8760a61209c2a49541b892af38ed1393de3fdbb53a96c01cd17b2c823977f468",
    "data/eccv_2018.json": "f63bcb6edc08953de27bd7e6d7d1661cd038323b59b4c74582cff9d6654c67cd",
    "data/emnlp_2017.json": "785a1fa04c68f717a0f3750c990614e272fc1d0d4c9e7c2bec38529fa2f86534",
    "data/emnlp_2018.json": "91937d90da652c90d5693fc3eac3f9cdd44a43ea1c8fd2afd5d6723f9e1bf735",
    "data/emnlp_2019.json": "4bc80b0fb103cfe8eb2a386b8f94d89cea05e736710308ad0a252a8be23b2270",
    "data/emnlp_2020.json": "107e12f7ae8770a28063d682ccd6be62226196f8c31e2ee79221db20cd2b4389",
    "data/iccv_2017.json": "c229efb4db2c2dc7d64b830f6fa50216a6c70dc927ccd8c2c0518a268ea2fa69",
    "data/iccv_2019.json": "6e75cfc5c94f8b2ffbc184defcb565bf73a2f645aefff84889136efdd3b35878",
    "data/iclr_2018.json": "ad1149b99889825c0db127ea278bd0c12af3fcce03aab8b2197aa1ac072147dd",
    "data/iclr_2019.json": "25de3add36430c7afde61b873dbaa0d0a80a6f0b5a53ed0d321f32a906e0dd09",
    "data/iclr_2020.json": "91a413e3acd4e04ccf3d3509436bb828175c61b4a3dba149ae6df4a415719073",
    "data/iclr_2021.json": "ae75c31ad9d6b660095bac303e1b2939f9a3b82892b6d37df3ee70bf668dc5e7",
    "data/iclr_2022.json": "b9d8b4cea1e73da3368466f993f10fc749f51b159c84a943b5a39eef9dc8d342",
    "data/icml_2017.json": "0d32610e9ffaa1b6da2e08d3c73a26c0b0992019de95de8e24c0eb460ff063f4",
    "data/icml_2018.json": "04732bf54063b361c33712f0622364c4a55e106dae80994bed56bf579a1df9e4",
    "data/icml_2019.json": "a33f0ae207fbdf109dd19a19793bf541c84d5feca0b7033093368200898c1b7c",
    "data/icml_2020.json": "69801054594f16c96d38ae52e48ec18e53ccc130ec1561a63d8ba409f7f8dc1e",
    "data/icml_2021.json": "d28e62adda7b8eb0fb5bc171a4838edffa1f5074b112beb1594c663e1c8f54e9",
    "data/naacl_2018.json": "41af55a7b8c11f75f34e61a628cad060638578a4aaa5541d8b384770bc006a73",
    "data/naacl_2019.json": "8cc76414e62b98a800b2c82824b92d9e7e487d41bec9583e50edabbbad3a8484",
    "data/nips_2015.json": "b52d2ac183962451b84f53d79106d2825e6b10e0aa845fac2dc025966ae152fb",
    "data/nips_2016.json": "5d1e17e5e8ba6301b31972c9067d97d32f21846de1604a999409b8f98cc14687",
    "data/nips_2017.json": "c09e5e497c7af76cb589617ec78771b3600c16789775f60d49e11e8e00d63ced",
    "data/nips_2018.json": "f4a140c8260d4f97c5ccfb5ad3b5e2632921f8c8ca4ef6134272859c9aba10ab",
    "data/nips_2019.json": "42fc0ad366b7104f48afe24cbe30c05276e37c157e1ca4be8af412ddbdeb0ac8",
    "data/nips_2020.json": "078dc949268fe43f89bfa5505927cbf97cec13d1f2717c8417a3d8c64086e956",
}
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
                "restore them (or point ADOPTION_CONFERENCES_URL at a complete copy); the "
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
