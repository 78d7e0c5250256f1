"""Conference papers from the proceedings themselves: every accepted paper's PDF, scanned for
framework words the way Horace He's 2015-2022 series was, continued to the newest meeting.

What it does, per run:

1. **Lists** the meetings of the nine conferences (ICLR, NeurIPS, ICML, CVPR, ICCV, ECCV, ACL,
   EMNLP, NAACL; the Findings of ACL, EMNLP and NAACL as meetings of their own) from
   `first_year` to this year, plus one meeting per site that Horace He also counted
   (`compare`), each from its own proceedings site (`papers_listings`). A meeting whose listing
   does not exist yet is not published: it is asked for again next time. A local PMLR folder
   is read whole, whatever its volumes.
2. **Scans** each listed paper's PDF once: downloaded through the pipeline's HTTP layer (at
   most `host_concurrency` requests at a time per host, `min_interval_seconds` apart; 429 and
   Retry-After honoured by the HTTP layer), its text read in worker processes with a time and
   memory limit (`pipeline.pdftext`), the tracked words matched by `pipeline.rules`. The PDF's
   sha256, size and page count are kept; the PDF itself only with `keep_pdfs`.
3. **Keeps the backfill state** outside the database, in `state_dir` (default
   `<raw_dir>/papers/.backfill/`): `results.jsonl`, one line per processed paper, written and
   flushed to disk before the line "saved <meeting>/<paper>" is logged (a killed refresh loses
   only the papers in flight), and `listings/<meeting>.json`. A paper whose id and PDF version
   (the listing's checksum or link) have a result is never fetched again; a failed download is
   retried on later runs, `max_attempts` times in all; a PDF that cannot be read is a final
   failure with its reason. A meeting whose every paper has a final result is complete and is
   never listed again. The weekly workflow keeps this folder between runs, so a fresh
   database continues the backfill instead of restarting it.
4. Stops starting new papers once `time_budget_minutes` have passed; the snapshot holds every
   meeting known so far, each with papers listed / processed / failed / pending and
   `complete`. Analyses count a meeting in headline figures only when it is complete.

Tables: `raw_papers__meetings` (one row per meeting and snapshot) and `raw_papers__papers`
(versioned: a paper's row is stored once per change; `raw_papers__papers_at(s)` gives snapshot
s). A snapshot's raw folder keeps the listing payloads fetched in that run and the changed rows
(`raw_papers__papers.changes.parquet`). One site failing (unreachable, refusing, drifted) does
not stop the others: their progress is stored, and the run then fails naming the site.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from pipeline.config import Settings, env_name
from pipeline.errors import SourceError, Unreachable
from pipeline.http import Origin, redact
from pipeline.http import budget as http_budget
from pipeline.pdftext import WorkerPool, extractor_name
from pipeline.rules import PAPER_FRAMEWORKS, PAPER_WORDS, paper_frameworks, scheduled_conferences
from pipeline.source import CollectContext, Source, file_sha256
from pipeline.sources import papers_listings as pl
from pipeline.store import utcnow
from pipeline.versioned import Versioned

NAME = "papers"
LICENCE = (
    "Accepted-paper listings and PDFs of each proceedings site (OpenReview, PMLR, NeurIPS "
    "proceedings, CVF open access, ECVA, ACL Anthology); papers are copyright their authors "
    "(PMLR, ACL Anthology, CVF: CC BY or open access), used here only to count framework words, "
    "PDFs not redistributed"
)
ACL_COMMIT = "00ed4808d32df377ed06a1e458b4af13206504d9"
#: site -> its default base URL; each is overridable as ADOPTION_PAPERS_<SITE>_URL or
#: [sources.papers] <site>_url (a local folder works for pmlr and acl)
SITES = {
    "openreview": "https://api2.openreview.net",
    "pmlr": "https://proceedings.mlr.press",
    "neurips": "https://proceedings.neurips.cc",
    "cvf": "https://openaccess.thecvf.com",
    "ecva": "https://www.ecva.net",
    "acl": f"https://raw.githubusercontent.com/acl-org/acl-anthology/{ACL_COMMIT}",
}
#: further bases: OpenReview's API v1 (ICLR 2023 and before), the ACL Anthology's PDFs
EXTRA_URLS = {"openreview_v1": "https://api.openreview.net",
              "acl_pdf": "https://aclanthology.org"}
#: hosts a site's PDF links may point to besides its own (PMLR's newer volumes link GitHub)
PDF_HOSTS = {"pmlr": ("raw.githubusercontent.com",)}
SITE_OF = {"ICLR": "openreview", "ICML": "pmlr", "NeurIPS": "neurips", "CVPR": "cvf",
           "ICCV": "cvf", "ECCV": "ecva", "ACL": "acl", "EMNLP": "acl", "NAACL": "acl"}
#: meetings Horace He also counted, one per site at least, listed for the comparison table
COMPARE = (("ICLR", 2022), ("ICML", 2021), ("NeurIPS", 2020), ("CVPR", 2020), ("ECCV", 2018),
           ("ACL", 2020))
DEFAULTS: dict[str, Any] = {
    "first_year": 2023, "last_year": 0, "compare": True, "sites": ",".join(SITES),
    "time_budget_minutes": 30.0, "workers": 0, "pdf_timeout_seconds": 60.0,
    "pdf_memory_mb": 1536, "host_concurrency": 2, "min_interval_seconds": 0.2,
    "max_attempts": 3, "keep_pdfs": False, "retry_failed": False, "state_dir": "",
}
OPTIONS: dict[str, type] = ({f"{s}_url": str for s in [*SITES, *EXTRA_URLS]}
                            | {k: type(v) for k, v in DEFAULTS.items()})
#: a paper id that may be used as a file name as it is (others are hashed)
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
PROGRESS_EVERY = 60.0  # seconds between progress lines
#: no new PDF is started this close to the collection's byte or time bound (pipeline.http):
#: the backfill stops and the next refresh continues, instead of failing at the bound
BYTES_MARGIN = 64 << 20
BUDGET_MARGIN_SECONDS = 300.0
MEMO_PAYLOADS = 4  # listing payloads kept in memory for reuse within a run

TABLES = {
    "raw_papers__meetings": """
        CREATE TABLE IF NOT EXISTS raw_papers__meetings (
            snapshot_id BIGINT NOT NULL,
            meeting VARCHAR NOT NULL,          -- iclr-2024, acl-2024-findings, uai-2020
            site VARCHAR NOT NULL,             -- openreview | pmlr | neurips | cvf | ecva | acl
            conference VARCHAR NOT NULL,       -- ICLR, NeurIPS, ... (as in Horace He's data)
            year INTEGER NOT NULL,
            month INTEGER,
            track VARCHAR NOT NULL,            -- main | findings
            venue VARCHAR NOT NULL,            -- the site's id of the proceedings
            title VARCHAR,
            listed INTEGER NOT NULL,           -- papers the listing holds
            processed INTEGER NOT NULL,        -- PDFs read
            failed INTEGER NOT NULL,           -- final failures (unreadable, not found)
            pending INTEGER NOT NULL,          -- not done yet (or to be retried)
            complete BOOLEAN NOT NULL,         -- every paper has a final result
            excluded INTEGER NOT NULL,         -- listed on the page but outside the track
            listed_at TIMESTAMP NOT NULL,      -- UTC, when the listing was read
            completed_at TIMESTAMP,
            listing_sha256 VARCHAR NOT NULL    -- of the sorted (paper id, PDF version) pairs
        )""",
    "raw_papers__papers": """
        CREATE TABLE IF NOT EXISTS raw_papers__papers (
            snapshot_id BIGINT NOT NULL,       -- the snapshot that first stored this version
            version_id BIGINT,                 -- (pipeline.versioned)
            row_hash UBIGINT,
            meeting VARCHAR NOT NULL,
            paper_id VARCHAR NOT NULL,         -- as the site names it (2023.acl-long.1, ou20a)
            site VARCHAR NOT NULL,
            conference VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            track VARCHAR NOT NULL,
            title VARCHAR,
            authors VARCHAR[] NOT NULL,
            author_ids VARCHAR[] NOT NULL,     -- OpenReview profile ids where the site gives them
            pdf_url VARCHAR NOT NULL,
            pdf_ref VARCHAR NOT NULL,          -- the listing's name of this PDF version
            status VARCHAR NOT NULL,           -- ok | failed | pending
            reason VARCHAR,                    -- why it failed (or is still pending)
            attempts INTEGER NOT NULL,
            pdf_sha256 VARCHAR,
            pdf_bytes BIGINT,
            pages INTEGER,
            words VARCHAR[],                   -- the tracked words found
            word_counts JSON,                  -- {"pytorch": 3, ...}
            pytorch BOOLEAN, tensorflow BOOLEAN, jax BOOLEAN, flax BOOLEAN, mlx BOOLEAN,
            processed_at TIMESTAMP,            -- UTC
            extractor VARCHAR                  -- library and PDFium build that read the text
        )""",
}
VERSIONED = {"raw_papers__papers": Versioned("raw_papers__snapshot_papers",
                                             ("meeting", "paper_id"))}


def option(settings: Settings, key: str) -> Any:
    return settings.source_option(NAME, key, DEFAULTS[key], type(DEFAULTS[key]))


def state_dir(settings: Settings) -> Path:
    configured = option(settings, "state_dir")
    return Path(configured) if configured else settings.raw_dir / NAME / ".backfill"


def site_base(settings: Settings, site: str) -> str:
    """A site's base: its own `<site>_url`, else `<url>/<site>` when the source's `url` is set
    (one mirror holding every site), else the site's real address."""
    own = settings.source_option(NAME, f"{site}_url")
    if own:
        return own.rstrip("/")
    shared = settings.source_option(NAME, "url")
    if shared:
        return f"{shared.rstrip('/')}/{site}"
    return (SITES | EXTRA_URLS)[site]


def file_name(paper_id: str) -> str:
    """A paper id as a file name: itself when it is a plain name, else a hash of it."""
    if SAFE_NAME.match(paper_id) and ".." not in paper_id:
        return paper_id
    return "h" + hashlib.sha256(paper_id.encode()).hexdigest()[:32]


# -- the backfill state ---------------------------------------------------------------------

@dataclass
class Result:
    """What is known about one paper's PDF (a line of results.jsonl)."""

    meeting: str
    paper_id: str
    pdf_ref: str
    status: str  # ok | failed | retry
    reason: str | None = None
    attempts: int = 1
    pdf_sha256: str | None = None
    pdf_bytes: int | None = None
    pages: int | None = None
    words: dict[str, int] = field(default_factory=dict)
    processed_at: str | None = None
    extractor: str | None = None

    @property
    def final(self) -> bool:
        return self.status in ("ok", "failed")


class State:
    """The backfill's memory between runs (see the module doc): parsed listings and results."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.results: dict[tuple[str, str], Result] = {}
        self.listings: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._log = None
        self.skipped_lines = 0

    def load(self) -> State:
        (self.folder / "listings").mkdir(parents=True, exist_ok=True)
        path = self.folder / "results.jsonl"
        if path.is_file():
            with path.open(encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        raw = json.loads(line)
                        result = Result(**{k: raw[k] for k in raw if k in Result.__annotations__})
                        assert isinstance(result.meeting, str) and isinstance(result.paper_id,
                                                                              str)
                    except (ValueError, TypeError, AssertionError, KeyError):
                        self.skipped_lines += 1  # a line cut short by a kill, or damaged
                        continue
                    self.results[(result.meeting, result.paper_id)] = result
        for file in sorted((self.folder / "listings").glob("*.json")):
            try:
                listing = json.loads(file.read_text(encoding="utf-8"))
                listing["papers"] = [pl.Paper(**p) for p in listing["papers"]]
                self.listings[listing["meeting"]] = listing
            except (ValueError, TypeError, KeyError):
                self.skipped_lines += 1
        return self

    def save_listing(self, listing: dict) -> None:
        data = dict(listing, papers=[asdict(p) for p in listing["papers"]])
        path = self.folder / "listings" / f"{listing['meeting']}.json"
        _write_atomic(path, json.dumps(data, ensure_ascii=False))
        self.listings[listing["meeting"]] = listing

    def append(self, result: Result) -> None:
        """Record a result durably (written and fsync'ed) before it is reported."""
        line = json.dumps(asdict(result), ensure_ascii=False) + "\n"
        with self._lock:
            if self._log is None:
                self._log = (self.folder / "results.jsonl").open("a", encoding="utf-8")
            self._log.write(line)
            self._log.flush()
            os.fsync(self._log.fileno())
            self.results[(result.meeting, result.paper_id)] = result

    def compact(self) -> None:
        """Rewrite results.jsonl with one line per paper (the newest), atomically."""
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None
            text = "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n"
                           for _, r in sorted(self.results.items()))
            _write_atomic(self.folder / "results.jsonl", text)

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def backfill_status(settings: Settings) -> str | None:
    """One line for `status`, read from the state folder alone (never the database)."""
    try:
        summary = json.loads((state_dir(settings) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    done, listed = summary.get("processed", 0), summary.get("listed", 0)
    return (f"backfill: {done:,} of {listed:,} listed papers done in "
            f"{summary.get('complete', 0)} complete and {summary.get('partial', 0)} partial "
            f"meetings (as of {summary.get('at', '?')})"
            + ("; the next refresh continues" if done < listed else ""))


# -- polite access to each host -----------------------------------------------------------------

class HostGate:
    """At most `per_host` requests at a time to one host, starting `interval` s apart."""

    def __init__(self, per_host: int, interval: float) -> None:
        self.per_host = max(1, per_host)
        self.interval = max(0.0, interval)
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with semaphore:
            with self._lock:
                start = max(time.monotonic(), self._next[host])
                self._next[host] = start + self.interval
            time.sleep(max(0.0, start - time.monotonic()))
            yield


class SiteOrigin(Origin):
    """An Origin whose failures name the site's own setting (ADOPTION_PAPERS_<SITE>_URL)."""

    def __init__(self, setting: str, base: str, settings: Settings) -> None:
        super().__init__(NAME, base, settings)
        self.setting = setting

    def _hint(self) -> str:
        return f"check the network or point {env_name(NAME, self.setting)} at a reachable copy"


def _host(origin: Origin) -> str:
    return "local" if origin.local is not None else urlsplit(origin.base).netloc.lower()


def _not_found(exc: SourceError) -> bool:
    return "HTTP 404" in exc.message or "HTTP 410" in exc.message \
        or exc.message.startswith("file not found")


# -- one run ------------------------------------------------------------------------------------

@dataclass
class Work:
    meeting: str
    paper: pl.Paper
    previous: Result | None
    rank: tuple


class Run:
    """One collection: list, scan within the time budget, then yield the rows."""

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.started = time.monotonic()
        self.budget = http_budget(NAME, ctx.settings)  # the collection's bytes and time
        self.deadline = min(self.started + 60 * option(ctx.settings, "time_budget_minutes"),
                            self.budget.ends_at - BUDGET_MARGIN_SECONDS)
        self.state = State(state_dir(ctx.settings)).load()
        if self.state.skipped_lines:
            ctx.log.warning("%s: %d damaged line(s) of the backfill state skipped (cut short by "
                            "a kill, or edited); their papers are read again", NAME,
                            self.state.skipped_lines)
        self.gate = HostGate(option(ctx.settings, "host_concurrency"),
                             option(ctx.settings, "min_interval_seconds"))
        self.origins: dict[str, SiteOrigin] = {}
        self.fetched: dict[tuple[str, str, str], bytes | None] = {}  # listings of this run
        self.failed_sites: dict[str, str] = {}
        self.down_hosts: dict[str, str] = {}
        self.not_published: list[str] = []
        self.counts = defaultdict(int)
        self.bytes = 0
        self.extract_seconds = 0.0
        self._lock = threading.Lock()
        self.extractor = extractor_name()

    # -- sites and their origins --------------------------------------------------------------
    def origin(self, setting: str) -> SiteOrigin:
        if setting not in self.origins:
            self.origins[setting] = SiteOrigin(setting + "_url", site_base(self.settings,
                                                                           setting),
                                               self.settings)
        return self.origins[setting]

    def fetcher(self, label: str, origin: Origin) -> pl.Fetch:
        """fetch(rel, params) for listings: polite, 404 = None, every payload kept as raw
        under listings/<label>/."""
        def fetch(rel: str, params: dict | None) -> bytes | None:
            key = (origin.base, rel, urlencode(params or {}))
            if key in self.fetched:  # e.g. one Findings file holds three meetings
                return self.fetched[key]
            try:
                with self.gate.slot(_host(origin)):
                    fetched = origin.get(rel, params)
            except SourceError as exc:
                if _not_found(exc):
                    self.fetched[key] = None
                    return None
                raise
            name = re.sub(r"[^A-Za-z0-9._-]+", "_",
                          rel + ("_" + urlencode(params) if params else ""))[:150].strip("._")
            self.ctx.save_raw(f"listings/{label}/{name or 'index'}", fetched.content,
                              fetched.url)
            self.fetched[key] = fetched.content
            kept = [k for k, v in self.fetched.items() if v is not None]
            for old in kept[:-MEMO_PAYLOADS]:  # a few payloads in memory, not every listing
                del self.fetched[old]
            return fetched.content
        return fetch

    def pdf_source(self, site: str, paper: pl.Paper) -> tuple[Origin, str, str]:
        """The origin, the path or URL to fetch a paper's PDF from, and its host. Refuses a
        link that leaves the site's own hosts, or the local copy."""
        base = self.origin("acl_pdf" if site == "acl" else site)
        target = paper.pdf_get
        if base.local is not None:
            if not target or "://" in target or target.startswith("/") \
                    or ".." in target.split("/"):
                raise SourceError(NAME, "PDF not found in the local copy")
            return base, target, "local"
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceError(NAME, f"unusable PDF link {target[:100]!r}")
        allowed = {_host(self.origin(s)) for s in
                   {"openreview": ("openreview", "openreview_v1"),
                    "acl": ("acl", "acl_pdf")}.get(site, (site,))} | set(PDF_HOSTS.get(site, ()))
        host = parts.netloc.lower()
        if host not in allowed:
            raise SourceError(NAME, f"PDF link to an unexpected host ({host[:60]})")
        if host != _host(base):  # e.g. PMLR's newer volumes keep their PDFs on GitHub
            key = f"{parts.scheme}://{host}"
            with self._lock:
                if key not in self.origins:
                    setting = "openreview_v1" if site == "openreview" else site
                    self.origins[key] = SiteOrigin(f"{setting}_url", key, self.settings)
            return self.origins[key], target, host
        return base, target, host

    # -- 1. listings ------------------------------------------------------------------------
    def candidates(self) -> dict[str, list[tuple[str, int, str]]]:
        """site -> (conference, year, track) to list this run."""
        first = option(self.settings, "first_year")
        last = option(self.settings, "last_year") or utcnow().year
        sites = [s.strip() for s in option(self.settings, "sites").split(",") if s.strip()]
        unknown = [s for s in sites if s not in SITES]
        if unknown:
            raise self.ctx.fail(f"unknown site(s) {', '.join(unknown)} in sites",
                                f"use some of {', '.join(SITES)}")
        wanted: dict[str, list[tuple[str, int, str]]] = {s: [] for s in sites}
        years = range(first, last + 1)
        for conference, site in SITE_OF.items():
            if site not in wanted:
                continue
            for year in years:
                if conference == "ICCV" and year % 2 == 0 or conference == "ECCV" \
                        and year % 2 == 1:
                    continue
                wanted[site].append((conference, year, "main"))
                if site == "acl":
                    wanted[site].append((conference, year, "findings"))
        if option(self.settings, "compare"):
            for conference, year in COMPARE:
                site = SITE_OF[conference]
                if site in wanted and (conference, year, "main") not in wanted[site]:
                    wanted[site].append((conference, year, "main"))
        # a year's meetings together: the Anthology's Findings file serves three of them
        return {site: sorted(w, key=lambda c: (c[1], c[2], c[0])) for site, w in wanted.items()}

    def list_all(self) -> None:
        for site, wanted in self.candidates().items():
            try:
                self.list_site(site, wanted)
            except SourceError as exc:  # reported once, with the others, at the end
                self.failed_sites[site] = exc.message + (f" ({exc.hint})" if exc.hint else "")
                self.ctx.log.debug("%s: %s: listing failed: %s", NAME, site, exc.message)
            except pl.ListingError as exc:
                self.failed_sites[site] = f"unexpected listing shape ({exc})"
                self.ctx.log.debug("%s: %s: unexpected listing shape (%s)", NAME, site, exc)

    def list_site(self, site: str, wanted: list[tuple[str, int, str]]) -> None:
        origin = self.origin(site)
        if origin.local is not None and site == "pmlr":
            return self.list_pmlr_local(origin)
        if origin.local is not None and site != "acl":
            raise self.ctx.fail(f"{site}: a local copy is read for pmlr and acl only",
                                f"point ADOPTION_PAPERS_{site.upper()}_URL at an http(s) URL")
        todo = [w for w in wanted if not self.is_complete(pl.meeting_id(*w))]
        if not todo:
            return
        fetch = self.fetcher(site, origin)
        parse_json = lambda content: json.loads(content)  # noqa: E731
        ecva: dict[int, pl.Listing] | None = None
        volumes: dict[int, int] | None = None
        for conference, year, track in todo:
            listing = None
            if site == "openreview":
                try:
                    listing = pl.openreview_listing(fetch, conference, year, parse_json)
                    if listing is None:
                        v1 = self.origin("openreview_v1")
                        listing = pl.openreview_listing(self.fetcher("openreview-v1", v1),
                                                        conference, year, parse_json)
                        if listing is not None:
                            self._absolute(listing, v1)
                    else:
                        self._absolute(listing, origin)
                except ValueError as exc:
                    raise pl.ListingError(f"malformed JSON from OpenReview ({exc})") from None
            elif site == "pmlr":
                if volumes is None:
                    index = fetch("", None)
                    volumes = pl.icml_volumes(pl.parse_pmlr_index(index) if index else {})
                listing = pl.pmlr_listing(fetch, year, volumes, origin.base)
            elif site == "neurips":
                listing = pl.neurips_listing(fetch, year, origin.base)
            elif site == "cvf":
                listing = pl.cvf_listing(fetch, conference, year, origin.base)
            elif site == "ecva":
                if ecva is None:
                    page = fetch("papers.php", None)
                    ecva = pl.ecva_listings(page, origin.base) if page else {}
                listing = ecva.get(year)
            elif site == "acl":
                listing = pl.acl_listing(fetch, conference, year, track)
                if listing is not None:
                    self._absolute(listing, self.origin("acl_pdf"))
            if listing is None:
                self.not_published.append(pl.meeting_id(conference, year, track))
                continue
            self.keep_listing(listing)

    def list_pmlr_local(self, origin: Origin) -> None:
        root = origin.local
        volumes = pl.pmlr_local_volumes(root)
        if not volumes:
            raise self.ctx.fail(f"pmlr: no volume folder (with _config.yml) in {root}",
                                "point ADOPTION_PAPERS_PMLR_URL at a folder of PMLR volumes")
        for volume in volumes:
            def read(rel: str) -> bytes:
                fetched = origin.get(rel)
                if SAFE_NAME.match(rel.replace("/", "_")):
                    self.ctx.save_raw(f"listings/pmlr/{rel}", fetched.content, fetched.url)
                return fetched.content
            listing = pl.pmlr_local_listing(root, volume, read)
            if not self.is_complete(listing.meeting):
                self.keep_listing(listing)

    @staticmethod
    def _absolute(listing: pl.Listing, origin: Origin) -> None:
        if origin.local is not None:
            return
        for paper in listing.papers:
            paper.pdf_get = origin.url(paper.pdf_get)
            paper.pdf_url = paper.pdf_get

    def is_complete(self, meeting: str) -> bool:
        stored = self.state.listings.get(meeting)
        return bool(stored and stored.get("complete")) and not option(self.settings,
                                                                      "retry_failed")

    def keep_listing(self, listing: pl.Listing) -> None:
        listed = {
            "meeting": listing.meeting, "site": listing.site, "conference": listing.conference,
            "year": listing.year, "month": listing.month, "track": listing.track,
            "venue": listing.venue, "title": listing.title, "excluded": listing.excluded,
            "listed_at": utcnow().isoformat(timespec="seconds"), "complete": False,
            "completed_at": None, "papers": _unique(listing.papers),
        }
        self.state.save_listing(listed)
        self.ctx.log.info("%s: %s: %s lists %d papers", NAME, listing.site, listing.meeting,
                          len(listed["papers"]))

    # -- 2. the PDFs -------------------------------------------------------------------------
    def due(self) -> list[Work]:
        """Papers without a final result for their current PDF version, in the order the
        backfill takes them (see `rank`)."""
        retry = option(self.settings, "retry_failed")
        work = []
        for meeting, listing in self.state.listings.items():
            if listing["site"] in self.failed_sites:
                continue  # its PDFs wait for the next run, when its listing answers again
            for paper in listing["papers"]:
                done = self.state.results.get((meeting, paper.paper_id))
                if done and done.pdf_ref == paper.pdf_ref and (
                        done.status == "ok" or done.final and not retry):
                    continue
                if done and done.pdf_ref != paper.pdf_ref:
                    done = None  # a new version of the PDF: a new paper as far as we know
                work.append(Work(meeting, paper, done, self.rank(listing)))
        return sorted(work, key=lambda w: w.rank)

    def rank(self, listing: dict) -> tuple:
        """Local copies first, then the years whose every scheduled meeting is listed (newest
        first: they make a complete year soonest), then the other years, newest first; the
        comparison meetings last."""
        year = listing["year"]
        local = self.origin(listing["site"]).local is not None
        compare = year < option(self.settings, "first_year")
        listed_year = {(m["conference"], m["track"]) for m in self.state.listings.values()
                       if m["year"] == year}
        whole = all((c, "main") in listed_year for c in scheduled_conferences(year))
        return (not local, compare, not whole, -year, listing["meeting"])

    def scan(self, work: list[Work]) -> str:
        """Download and read the due PDFs, host by host in parallel, until the time budget is
        spent; returns why it stopped."""
        by_host: dict[str, list[Work]] = defaultdict(list)
        for item in work:
            try:
                by_host[self.pdf_source(self.state.listings[item.meeting]["site"],
                                        item.paper)[2]].append(item)
            except SourceError as exc:
                self.record(item, "failed", reason=exc.message)
        if not by_host:
            return "nothing left to do" if not work else "no PDF could be fetched"
        workers = option(self.settings, "workers") or os.cpu_count() or 2
        per_host = option(self.settings, "host_concurrency")
        queues = {host: iter(items) for host, items in by_host.items()}
        locks = {host: threading.Lock() for host in by_host}
        self.total_due = len(work)
        self.last_progress = time.monotonic()
        stop = {"reason": "every due paper was processed"}

        def take(host: str) -> Work | None:
            if time.monotonic() > self.deadline:
                stop["reason"] = "time budget spent"
                return None
            margin = min(BYTES_MARGIN, self.budget.max_bytes // 10)
            if self.budget.received + margin > self.budget.max_bytes:
                stop["reason"] = (f"byte budget spent ({self.budget.max_bytes:,} bytes: "
                                  f"{env_name(NAME, 'max_bytes')})")
                return None
            if host in self.down_hosts:
                return None
            with locks[host]:
                return next(queues[host], None)

        def serve(host: str) -> None:
            while (item := take(host)) is not None:
                self.process(item, pool)
                self.progress()

        with WorkerPool(workers, option(self.settings, "pdf_timeout_seconds"),
                        option(self.settings, "pdf_memory_mb")) as pool, \
                ThreadPoolExecutor(max_workers=per_host * len(by_host),
                                   thread_name_prefix="papers") as threads:
            futures = [threads.submit(serve, host) for host in by_host for _ in range(per_host)]
            for future in futures:
                future.result()
        if self.down_hosts and stop["reason"].startswith("every"):
            stop["reason"] = "a host stopped answering"
        return stop["reason"]

    def process(self, item: Work, pool: WorkerPool) -> None:
        site = self.state.listings[item.meeting]["site"]
        origin, target, host = self.pdf_source(site, item.paper)
        rel = f"pdfs/{item.meeting}/{file_name(item.paper.paper_id)}.pdf"
        dest = self.ctx.raw_path(rel)
        try:
            with self.gate.slot(host):
                fetched = origin.download(target, dest)
        except Unreachable as exc:
            with self._lock:
                self.down_hosts.setdefault(host, exc.message)
            return
        except SourceError as exc:
            dest.unlink(missing_ok=True)
            if "rate-limited" in exc.message or "bytes in this collection" in exc.message:
                with self._lock:
                    self.down_hosts.setdefault(host, exc.message + f" ({exc.hint})")
                return
            attempts = (item.previous.attempts + 1) if item.previous else 1
            final = attempts >= option(self.settings, "max_attempts")
            self.record(item, "failed" if final else "retry", reason=exc.message,
                        attempts=attempts)
            return
        size = dest.stat().st_size
        sha = file_sha256(dest)
        outcome = pool.extract(dest)
        with self._lock:
            self.bytes += size
            self.extract_seconds += outcome.seconds
        if option(self.settings, "keep_pdfs"):
            self.ctx.record_file(rel, dest, fetched.url)
        else:
            dest.unlink(missing_ok=True)
        self.record(item, "ok" if outcome.ok else "failed", reason=outcome.reason,
                    attempts=(item.previous.attempts + 1) if item.previous else 1,
                    pdf_sha256=sha, pdf_bytes=size, pages=outcome.pages, words=outcome.words,
                    extractor=self.extractor)

    def record(self, item: Work, status: str, **fields: Any) -> None:
        result = Result(item.meeting, item.paper.paper_id, item.paper.pdf_ref, status,
                        processed_at=utcnow().isoformat(timespec="seconds"), **fields)
        self.state.append(result)
        with self._lock:
            self.counts[status] += 1
        found = ", ".join(sorted(result.words)) or "no tracked word"
        self.ctx.log.debug("%s: saved %s/%s: %s (%s)", NAME, item.meeting, item.paper.paper_id,
                           status, result.reason or found)

    def progress(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self.last_progress < PROGRESS_EVERY:
                return
            self.last_progress = now
            done = sum(self.counts.values())
        left = max(0.0, self.deadline - now) / 60
        self.ctx.log.info("%s: %d of %d due PDFs processed this run (%.1f/s); %.0f min of the "
                          "time budget left", NAME, done, self.total_due,
                          done / max(1e-9, now - self.started), left)

    # -- 3. rows --------------------------------------------------------------------------------
    def rows(self) -> tuple[list[dict], list[dict]]:
        meetings, papers = [], []
        now = utcnow().isoformat(timespec="seconds")
        for meeting, listing in sorted(self.state.listings.items()):
            counts = defaultdict(int)
            for paper in listing["papers"]:
                result = self.state.results.get((meeting, paper.paper_id))
                if result and result.pdf_ref != paper.pdf_ref:
                    result = None
                status = result.status if result and result.final else "pending"
                counts[status] += 1
                papers.append(_paper_row(listing, paper, result, status))
            complete = counts["pending"] == 0
            if complete != bool(listing.get("complete")):  # done now, or a result was lost
                listing.update(complete=complete, completed_at=now if complete else None)
                self.state.save_listing(listing)
            meetings.append({
                "meeting": meeting, "site": listing["site"],
                "conference": listing["conference"], "year": listing["year"],
                "month": listing.get("month"), "track": listing["track"],
                "venue": listing["venue"], "title": listing.get("title"),
                "listed": len(listing["papers"]), "processed": counts["ok"],
                "failed": counts["failed"], "pending": counts["pending"],
                "complete": complete, "excluded": int(listing.get("excluded") or 0),
                "listed_at": listing["listed_at"], "completed_at": listing.get("completed_at"),
                "listing_sha256": hashlib.sha256("\n".join(
                    sorted(f"{p.paper_id} {p.pdf_ref}" for p in listing["papers"]))
                    .encode()).hexdigest()})
        return meetings, papers

    def summary(self, meetings: list[dict]) -> dict:
        return {"at": utcnow().isoformat(timespec="seconds") + "Z",
                "listed": sum(m["listed"] for m in meetings),
                "processed": sum(m["processed"] + m["failed"] for m in meetings),
                "complete": sum(m["complete"] for m in meetings),
                "partial": sum(not m["complete"] for m in meetings)}


def _unique(papers: list[pl.Paper]) -> list[pl.Paper]:
    seen, out = set(), []
    for paper in papers:
        if paper.paper_id not in seen:
            seen.add(paper.paper_id)
            out.append(paper)
    return out


def _paper_row(listing: dict, paper: pl.Paper, result: Result | None, status: str) -> dict:
    found = result.words if result and status == "ok" else {}
    flags = paper_frameworks(found) if status == "ok" else dict.fromkeys(PAPER_FRAMEWORKS)
    return {
        "meeting": listing["meeting"], "paper_id": paper.paper_id, "site": listing["site"],
        "conference": listing["conference"], "year": listing["year"],
        "track": listing["track"], "title": paper.title, "authors": list(paper.authors),
        "author_ids": list(paper.author_ids), "pdf_url": redact(paper.pdf_url),
        "pdf_ref": paper.pdf_ref, "status": status,
        "reason": result.reason if result and status != "ok" else None,
        "attempts": result.attempts if result else 0,
        "pdf_sha256": result.pdf_sha256 if result else None,
        "pdf_bytes": result.pdf_bytes if result else None,
        "pages": result.pages if result else None,
        "words": sorted(found) if status == "ok" else None,
        "word_counts": json.dumps(dict(sorted(found.items()))) if status == "ok" else None,
        **flags,
        "processed_at": result.processed_at if result else None,
        "extractor": result.extractor if result else None,
    }


def collect(ctx: CollectContext) -> Iterator[tuple[str, Any]]:
    run = Run(ctx)
    bases = {s: site_base(ctx.settings, s) for s in [*SITES, *EXTRA_URLS]}
    ctx.origin = Origin(NAME, " ; ".join(f"{s}={redact(b)}" for s, b in bases.items()),
                        ctx.settings)
    try:
        run.list_all()
        if not run.state.listings:
            problems = "; ".join(f"{s}: {m}" for s, m in run.failed_sites.items())
            raise ctx.fail("no meeting could be listed" + (f" ({problems})" if problems else ""),
                           "check the network or the ADOPTION_PAPERS_*_URL settings")
        due = run.due()
        ctx.log.info("%s: %d papers listed in %d meetings; %d PDFs due (%d papers already "
                     "done)", NAME, sum(len(m["papers"]) for m in run.state.listings.values()),
                     len(run.state.listings), len(due), len(run.state.results))
        stopped = run.scan(due) if due else "nothing left to do"
        meetings, papers = run.rows()
        run.state.compact()
        if not option(ctx.settings, "keep_pdfs"):  # each PDF was removed once read
            shutil.rmtree(ctx.staging_dir / "pdfs", ignore_errors=True)
        _write_atomic(run.state.folder / "summary.json", json.dumps(run.summary(meetings)))
    finally:
        run.state.close()
    left = sum(m["pending"] for m in meetings)
    ctx.log.info("%s: %s: %d PDFs read, %d failed this run; %d papers still to do%s", NAME,
                 stopped, run.counts["ok"], run.counts["failed"] + run.counts["retry"], left,
                 "; the next refresh continues" if left else "")
    ctx.parameters.update({
        "sites": bases, "state_dir": str(run.state.folder), "stopped": stopped,
        "processed_this_run": dict(run.counts), "bytes_downloaded": run.bytes,
        "extract_seconds": round(run.extract_seconds, 1),
        "seconds": round(time.monotonic() - run.started, 1), "extractor": run.extractor,
        "rules": "pipeline.rules.paper_words", "words": PAPER_WORDS,
        "not_published": sorted(run.not_published), "failed_sites": run.failed_sites,
        "hosts_stopped": run.down_hosts, "state_lines_skipped": run.state.skipped_lines,
        "meetings": len(meetings), "complete_meetings": sum(m["complete"] for m in meetings),
        "papers_pending": left})
    ctx.problems.extend(f"{site}: {message}" for site, message in run.failed_sites.items())
    ctx.problems.extend(f"stopped fetching from {host}: {message}"
                        for host, message in run.down_hosts.items())
    yield "raw_papers__meetings", meetings
    yield "raw_papers__papers", papers


SOURCE = Source(
    name=NAME,
    title="Conference papers 2023 on, scanned for framework words (proceedings PDFs)",
    default_url="",
    licence=LICENCE,
    tables=TABLES,
    primary_table="raw_papers__papers",
    collect=collect,
    versioned=VERSIONED,
    options=OPTIONS,
    progress=backfill_status,
)
