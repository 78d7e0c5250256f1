"""Accepted papers of each conference meeting, read from each proceedings site's own listing.

One parser per site, each written against the site's current shape:

* **OpenReview** (ICLR): `GET <api>/notes?content.venueid=ICLR.cc/<year>/Conference&limit=1000
  &offset=N` answers `{"notes": [...], "count": N}`; accepted papers carry their venue id in
  `content.venueid` (rejected ones have `.../Rejected_Submission`). API v2 (api2.openreview.net,
  ICLR 2024 on) wraps every content field as `{"value": ...}`; API v1 (api.openreview.net, ICLR
  2023 and before) holds plain values: both are read. PDF: `<api>/pdf?id=<note id>`; the
  `content.pdf` path (`/pdf/<sha1>.pdf`) names the PDF's version.
* **PMLR** (ICML): the index `proceedings.mlr.press/` lists `<a href="v235"><b>Volume 235</b></a>
  <description>`; a volume page lists `<div class="paper">` with `p.title`, `span.authors`
  (names joined by `,&nbsp;`) and the links `abs` (`<id>.html`) and `Download PDF`. A local
  folder in the mlresearch repositories' layout (`<volume>/_config.yml`, `<volume>/_posts/
  <date>-<id>.md` with YAML front matter, the PDF at `<volume>/<id>/<id>.pdf` or
  `<volume>/assets/<id>/<id>.pdf`) is read as well: every volume it holds, the meeting taken from
  `_config.yml` (`shortname`, `year`).
* **NeurIPS proceedings** (proceedings.neurips.cc/paper_files/paper/<year>): `<li
  class="conference">` items with `<a href=".../hash/<hash>-Abstract-Conference.html">` and
  `<span class="paper-authors">` (older years: `-Abstract.html` and `<i>`); the PDF is
  `.../file/<hash>-Paper-Conference.pdf`. Main track only (the Datasets and Benchmarks track
  has its own suffix and is left out, as in Horace He's counts).
* **CVF open access** (CVPR, ICCV): `/<CONF><year>?day=all` (older years: one page per day,
  linked as `?day=<date>`): `<dt class="ptitle"><a href="/content/<CONF><year>/html/<id>.html">`,
  then a `<dd>` of author forms (`input[name=query_author]`) and a `<dd>` with the `pdf` link.
  Workshop papers (`/content/<CONF><year>W/`) are left out.
* **ECVA** (ECCV): `www.ecva.net/papers.php` lists every year: `<dt class="ptitle">` with
  `papers/eccv_<year>/papers_ECCV/html/<id>.php`, a `<dd>` of authors, a `<dd>` with the PDF.
* **ACL Anthology** (ACL, EMNLP, NAACL and their Findings): the published metadata
  `data/xml/<year>.<venue>.xml` of github.com/acl-org/acl-anthology at a pinned commit:
  `<volume id="long|short|main">` of `<paper>` with `<title>`, `<author>` (`<first>`, `<last>`,
  an `openreview` profile attribute in recent years) and either `<url hash="...">2023.acl-long.1
  </url>` or (newer files) `<pdf hash="..."/>`, the id being `<collection>-<volume>.<paper>`.
  Findings are the volume named after the conference in `<year>.findings.xml`. PDF:
  `https://aclanthology.org/<id>.pdf`.

Every upstream string is data: ids that are not plain file names are never used as one (the
collector hashes them), and PDF links must stay on the site's own hosts.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipeline.rules import PAPER_CONFERENCES

#: the nine conferences of Horace He's series, and the month he dates each meeting by
HEADLINE = PAPER_CONFERENCES
MONTH = {"ICLR": 5, "NeurIPS": 12, "ICML": 6, "CVPR": 6, "ICCV": 11, "ECCV": 9, "ACL": 8,
         "EMNLP": 11, "NAACL": 6}
#: ICML's PMLR volumes (the index is read for newer ones)
ICML_VOLUMES = {2017: 70, 2018: 80, 2019: 97, 2020: 119, 2021: 139, 2022: 162, 2023: 202,
                2024: 235, 2025: 267, 2026: 306}
ACL_VENUES = ("ACL", "EMNLP", "NAACL")
ACL_MAIN_VOLUMES = ("main", "long", "short")
OPENREVIEW_PAGE = 1000


@dataclass
class Paper:
    paper_id: str
    title: str
    authors: list[str]
    pdf_url: str  # where the PDF is published (recorded)
    pdf_get: str  # what the collector fetches: a URL, or a path inside a local copy
    pdf_ref: str = ""  # the listing's name for this version of the PDF (checksum or link)
    author_ids: list[str] = field(default_factory=list)  # OpenReview profile ids where given


@dataclass
class Listing:
    """One meeting (a conference's main track, or its Findings) as its site lists it."""

    site: str
    conference: str
    year: int
    track: str  # "main" or "findings"
    venue: str  # the site's id: ICLR.cc/2024/Conference, v235, CVPR2024, 2024.acl-long, ...
    title: str
    papers: list[Paper]
    month: int | None = None
    excluded: int = 0  # listed but outside the track (workshops, datasets track, ...)

    @property
    def meeting(self) -> str:
        return meeting_id(self.conference, self.year, self.track)


def meeting_id(conference: str, year: int, track: str = "main") -> str:
    """iclr-2024, acl-2024-findings: letters and digits only (it names files)."""
    name = re.sub(r"[^a-z0-9]", "", conference.lower()) or "unnamed"
    return f"{name}-{int(year)}" + ("" if track == "main" else f"-{re.sub(r'[^a-z]', '', track)}")


#: an upstream name that may be used as part of a local path as it is
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class ListingError(Exception):
    """The listing is there but has an unexpected shape (schema drift): one line why."""


#: fetch(rel, params) -> bytes, or None when the page does not exist (HTTP 404 / no file)
Fetch = Callable[[str, dict | None], bytes | None]


def _soup(content: bytes):
    from bs4 import BeautifulSoup

    return BeautifulSoup(content, "html.parser")


def _text(node: Any) -> str:
    return re.sub(r"\s+", " ", node.get_text(" ") if node is not None else "").strip()


def _names(text: str) -> list[str]:
    """Author names from 'A, B,&nbsp;C' (non-breaking spaces, stars for equal contribution)."""
    names = [re.sub(r"\s+", " ", n.replace("\xa0", " ")).strip(" *\u2020") for n in
             html.unescape(text).split(",")]
    return [n for n in names if n]


# -- OpenReview ---------------------------------------------------------------------------------

def _value(content: dict, key: str) -> Any:
    """A content field of an API v2 note ({"value": x}) or an API v1 note (x)."""
    value = content.get(key)
    return value.get("value") if isinstance(value, dict) else value


def parse_openreview(payload: Any, venue: str) -> tuple[list[Paper], int, int]:
    """Accepted papers of one page of `notes`, the notes on the page, and the total count the
    API reports (-1 when it gives none)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("notes"), list):
        raise ListingError("expected an object with a 'notes' list")
    papers = []
    for index, note in enumerate(payload["notes"]):
        if not isinstance(note, dict) or not isinstance(note.get("content"), dict):
            raise ListingError(f"note #{index} has no 'content' object")
        content = note["content"]
        note_id = note.get("id")
        title = _value(content, "title")
        authors = _value(content, "authors")
        if not isinstance(note_id, str) or not isinstance(title, str) \
                or not isinstance(authors, list):
            raise ListingError(f"note #{index} lacks id, content.title or content.authors")
        if _value(content, "venueid") not in (None, venue):
            continue  # the query asks for accepted papers; anything else is not counted
        ids = _value(content, "authorids") or []
        pdf = _value(content, "pdf")
        papers.append(Paper(
            note_id, title.strip(), [str(a).strip() for a in authors],
            pdf_url=f"pdf?id={note_id}", pdf_get=f"pdf?id={note_id}",
            pdf_ref=pdf if isinstance(pdf, str) else "",
            author_ids=[str(i) for i in ids if isinstance(i, str) and i.startswith("~")]))
    count = payload.get("count")
    total = count if isinstance(count, int) and not isinstance(count, bool) else -1
    return papers, len(payload["notes"]), total


def openreview_listing(fetch: Fetch, conference: str, year: int, parse_json) -> Listing | None:
    """All accepted papers of `<conference>.cc/<year>/Conference`, page by page (the API may
    return fewer notes than asked for: the next page starts after the notes received)."""
    venue = f"{conference}.cc/{year}/Conference"
    papers: list[Paper] = []
    offset = 0
    for _ in range(500):
        content = fetch("notes", {"content.venueid": venue, "limit": OPENREVIEW_PAGE,
                                  "offset": offset})
        if content is None:
            return None
        page, received, count = parse_openreview(parse_json(content), venue)
        papers.extend(page)
        offset += received
        if not received or 0 <= count <= offset:
            break
    else:
        raise ListingError(f"{venue}: the notes never end (over 500 pages)")
    if not papers:
        return None
    return Listing("openreview", conference, year, "main", venue, f"{conference} {year}",
                   papers, MONTH.get(conference))


# -- PMLR ---------------------------------------------------------------------------------------

PMLR_INDEX_ITEM = re.compile(r"\bv(\d+)/?$")


def parse_pmlr_index(content: bytes) -> dict[int, str]:
    """Volume number -> the description beside it on the PMLR index page."""
    soup = _soup(content)
    volumes = {}
    for link in soup.find_all("a", href=True):
        match = PMLR_INDEX_ITEM.search(link["href"].rstrip("/") + "/")
        if not match or "volume" not in _text(link).lower():
            continue
        item = link.find_parent("li")
        volumes[int(match[1])] = _text(item) if item is not None else _text(link)
    return volumes


def icml_volumes(index: dict[int, str]) -> dict[int, int]:
    """Year -> PMLR volume of ICML: the known volumes, and those the index names ICML."""
    found = dict(ICML_VOLUMES)
    for volume, text in index.items():
        match = re.search(r"\bICML\s+(20\d\d)\b|International Conference on Machine Learning"
                          r".{0,80}?\b(20\d\d)\b", text)
        year = int(match[1] or match[2]) if match else None
        if year and year not in found and "workshop" not in text.lower():
            found[year] = volume
    return found


def parse_pmlr_volume(content: bytes, base: str) -> list[Paper]:
    """The papers of a PMLR volume page (absolute links resolved against `base`)."""
    papers = []
    for div in _soup(content).select("div.paper"):
        title = _text(div.select_one(".title"))
        authors = div.select_one(".authors")
        abs_link = pdf_link = None
        for link in div.find_all("a", href=True):
            label = _text(link).lower()
            href = link["href"]
            if label == "abs" or href.endswith(".html") and abs_link is None:
                abs_link = href
            if "download pdf" in label or (href.endswith(".pdf") and "supp" not in href
                                           and pdf_link is None):
                pdf_link = href
        if not title or abs_link is None or pdf_link is None:
            raise ListingError(f"a paper entry without title, abs or PDF link ({title[:60]!r})")
        paper_id = abs_link.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
        url = urljoin(base, pdf_link)
        papers.append(Paper(paper_id, title, _names(authors.decode_contents())
                            if authors is not None else [], url, url, pdf_ref=url))
    return papers


def pmlr_listing(fetch: Fetch, year: int, volumes: dict[int, int], base: str) -> Listing | None:
    volume = volumes.get(year)
    if volume is None:
        return None
    content = fetch(f"v{volume}/", None)
    if content is None:
        return None
    papers = parse_pmlr_volume(content, urljoin(base + "/", f"v{volume}/"))
    if not papers:
        raise ListingError(f"PMLR volume {volume} lists no paper")
    return Listing("pmlr", "ICML", year, "main", f"v{volume}", f"PMLR volume {volume}", papers,
                   MONTH["ICML"])


def _front_matter(text: str) -> dict:
    """The YAML between the first two '---' lines of a Jekyll post."""
    import yaml

    parts = text.split("\n---", 1)
    if not text.startswith("---") or len(parts) < 2:
        raise ListingError("no YAML front matter")
    data = yaml.safe_load(parts[0][3:])
    if not isinstance(data, dict):
        raise ListingError("front matter is not a mapping")
    return data


def pmlr_local_volumes(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "_config.yml").is_file()) \
        if root.is_dir() else []


def pmlr_local_listing(root: Path, volume_dir: Path, read: Callable[[str], bytes]) -> Listing:
    """One volume folder in the mlresearch repositories' layout (see the module doc)."""
    import yaml

    name = volume_dir.name
    try:
        config = yaml.safe_load(read(f"{name}/_config.yml"))
    except yaml.YAMLError as exc:
        raise ListingError(f"{name}/_config.yml is not valid YAML ({exc})") from None
    if not isinstance(config, dict):
        raise ListingError(f"{name}/_config.yml is not a mapping")
    try:
        year = int(str(config["year"]))
        conference = str(config.get("shortname") or config["id"]).strip()
    except (KeyError, ValueError):
        raise ListingError(f"{name}/_config.yml has no usable year or shortname") from None
    conference = next((c for c in HEADLINE if c.lower() == conference.lower()), conference)
    start = config.get("start")
    month = MONTH.get(conference) or getattr(start, "month", None)
    papers = []
    for post in sorted((volume_dir / "_posts").glob("*.md")):
        rel = f"{name}/_posts/{post.name}"
        try:
            meta = _front_matter(read(rel).decode("utf-8"))
        except (ListingError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ListingError(f"{rel}: {exc}") from None
        paper_id, pdf = str(meta.get("id") or ""), meta.get("pdf")
        if not paper_id or not isinstance(pdf, str):
            raise ListingError(f"{rel} has no id or pdf field")
        authors = [" ".join(str(a.get(k) or "") for k in ("given", "family")).strip()
                   for a in meta.get("author") or [] if isinstance(a, dict)]
        file_name = urlsplit(pdf).path.rsplit("/", 1)[-1] or f"{paper_id}.pdf"
        plain = all(PLAIN_NAME.match(n) and ".." not in n for n in (paper_id, file_name))
        local = next((f"{name}/{sub}{paper_id}/{file_name}" for sub in ("", "assets/")
                      if plain and (root / name / f"{sub}{paper_id}" / file_name).is_file()),
                     "")
        papers.append(Paper(paper_id, str(meta.get("title") or "").strip(), authors, pdf,
                            local, pdf_ref=pdf))
    if not papers:
        raise ListingError(f"{name}/_posts holds no paper")
    return Listing("pmlr", conference, year, "main", f"v{config.get('volume', name)}",
                   str(config.get("booktitle") or name).strip(), papers, month)


# -- NeurIPS proceedings ------------------------------------------------------------------------

NEURIPS_MAIN = re.compile(r"/hash/([0-9a-f]{16,64})-Abstract(-Conference)?\.html$")
NEURIPS_ANY = re.compile(r"/hash/[0-9a-f]{16,64}-Abstract[-\w]*\.html$")


def parse_neurips(content: bytes, base: str) -> tuple[list[Paper], int]:
    """Main-track papers of a NeurIPS proceedings year page, and how many others it lists."""
    papers, excluded = [], 0
    for item in _soup(content).find_all("li"):
        link = item.find("a", href=NEURIPS_ANY)
        if link is None:
            continue
        match = NEURIPS_MAIN.search(link["href"])
        if not match:
            excluded += 1
            continue
        pdf = urljoin(base, link["href"].replace("/hash/", "/file/")
                      .replace("-Abstract", "-Paper").removesuffix(".html") + ".pdf")
        names = item.find(class_="paper-authors") or item.find("i")
        papers.append(Paper(match[1], _text(link), _names(_text(names)), pdf, pdf,
                            pdf_ref=pdf))
    return papers, excluded


def neurips_listing(fetch: Fetch, year: int, base: str) -> Listing | None:
    content = fetch(f"paper_files/paper/{year}", None)
    if content is None:
        return None
    papers, excluded = parse_neurips(content, base + "/")
    if not papers:
        return None
    return Listing("neurips", "NeurIPS", year, "main", f"paper_files/paper/{year}",
                   f"Advances in Neural Information Processing Systems ({year})", papers,
                   MONTH["NeurIPS"], excluded)


# -- CVF open access and ECVA (same page shape) -------------------------------------------------

def _dt_entries(content: bytes) -> Iterator[tuple[str, str, list[str], str | None]]:
    """(href, title, authors, pdf href) of each `dt.ptitle` entry of a CVF-style page."""
    for dt in _soup(content).select("dt.ptitle"):
        link = dt.find("a", href=True)
        if link is None:
            continue
        dds = []
        for sibling in dt.find_next_siblings():
            if sibling.name == "dt":
                break
            if sibling.name == "dd":
                dds.append(sibling)
        authors: list[str] = []
        pdf = None
        if dds:
            queried = [i.get("value", "") for i in dds[0].select("input[name=query_author]")]
            authors = [a.strip() for a in queried if a.strip()] or _names(_text(dds[0]))
        for dd in dds[1:] or dds:
            for a in dd.find_all("a", href=True):
                href = a["href"].strip()
                if href.lower().endswith(".pdf") and "supp" not in href.lower() and pdf is None:
                    pdf = href
        yield link["href"].strip(), _text(link), authors, pdf


def cvf_listing(fetch: Fetch, conference: str, year: int, base: str) -> Listing | None:
    """A CVF main conference: `?day=all`, or its day pages where that lists nothing."""
    page = f"{conference}{year}"
    content = fetch(page, {"day": "all"})
    if content is None:
        return None
    pages = [content]
    if b'class="ptitle"' not in content:
        days = sorted(set(re.findall(rb"\?day=(\d{4}-\d\d-\d\d)", content)))
        pages = [c for c in (fetch(page, {"day": d.decode()}) for d in days) if c]
    main = re.compile(rf"/content(?:/{conference}{year}|_{conference}_{year})/html/([^/]+)"
                      r"\.html$")
    papers, excluded, seen = [], 0, set()
    for content in pages:
        for href, title, authors, pdf in _dt_entries(content):
            match = main.search(href)
            if not match:
                excluded += 1
                continue
            if match[1] in seen:
                continue
            seen.add(match[1])
            if pdf is None:
                raise ListingError(f"{page}: no pdf link for {title[:60]!r}")
            url = urljoin(base + "/", pdf)
            papers.append(Paper(match[1], title, authors, url, url, pdf_ref=url))
    if not papers:
        return None
    return Listing("cvf", conference, year, "main", page,
                   f"{conference} {year} open access", papers, MONTH.get(conference), excluded)


ECVA_HREF = re.compile(r"papers/eccv_(\d{4})/papers_ECCV/html/([^/]+)\.php$")


def ecva_listings(content: bytes, base: str) -> dict[int, Listing]:
    """Every ECCV year of ecva.net/papers.php."""
    by_year: dict[int, Listing] = {}
    seen: set[tuple[int, str]] = set()
    for href, title, authors, pdf in _dt_entries(content):
        match = ECVA_HREF.search(href)
        if not match:
            continue
        year = int(match[1])
        if pdf is None:
            raise ListingError(f"ECCV {year}: no pdf link for {title[:60]!r}")
        url = urljoin(base + "/", pdf)
        listing = by_year.setdefault(year, Listing(
            "ecva", "ECCV", year, "main", f"eccv_{year}", f"ECCV {year}", [], MONTH["ECCV"]))
        if (year, match[2]) not in seen:
            seen.add((year, match[2]))
            listing.papers.append(Paper(match[2], title, authors, url, url, pdf_ref=url))
    return by_year


# -- ACL Anthology ------------------------------------------------------------------------------

def _xml_text(node: ET.Element | None) -> str:
    return re.sub(r"\s+", " ", "".join(node.itertext())).strip() if node is not None else ""


def parse_anthology(content: bytes, volume_ids: tuple[str, ...]) -> tuple[list[Paper], str,
                                                                          int | None]:
    """Papers of the named volumes of one Anthology XML file, the first volume's booktitle
    and month."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ListingError(f"malformed XML ({exc})") from None
    collection = root.get("id") or ""
    papers, title, month = [], "", None
    months = {m: i for i, m in enumerate(("january", "february", "march", "april", "may",
                                          "june", "july", "august", "september", "october",
                                          "november", "december"), start=1)}
    for volume in root.findall("volume"):
        if volume.get("id") not in volume_ids:
            continue
        meta = volume.find("meta")
        if not title:
            title = _xml_text(meta.find("booktitle")) if meta is not None else ""
            month = months.get(_xml_text(meta.find("month")).lower()) if meta is not None \
                else None
        for paper in volume.findall("paper"):
            url, pdf = paper.find("url"), paper.find("pdf")
            if url is not None and (url.text or "").strip():
                anthology_id, ref = url.text.strip(), url.get("hash", "")
            elif pdf is not None:
                anthology_id = f"{collection}-{volume.get('id')}.{paper.get('id')}"
                ref = pdf.get("hash", "")
            else:
                continue  # no PDF published (e.g. withdrawn)
            authors = [f"{_xml_text(a.find('first'))} {_xml_text(a.find('last'))}".strip()
                       for a in paper.findall("author")]
            ids = [a.get("openreview") for a in paper.findall("author") if a.get("openreview")]
            papers.append(Paper(anthology_id, _xml_text(paper.find("title")), authors,
                                f"{anthology_id}.pdf", f"{anthology_id}.pdf",
                                pdf_ref=ref or anthology_id, author_ids=ids))
    return papers, title, month


def acl_listing(fetch: Fetch, conference: str, year: int, track: str) -> Listing | None:
    """A venue's main volumes (long, short, main) or its Findings volume."""
    if track == "findings":
        rel, volumes = f"data/xml/{year}.findings.xml", (conference.lower(),)
    else:
        rel, volumes = f"data/xml/{year}.{conference.lower()}.xml", ACL_MAIN_VOLUMES
    content = fetch(rel, None)
    if content is None:
        return None
    papers, title, month = parse_anthology(content, volumes)
    if not papers:
        return None
    venue = f"{year}.{'findings-' if track == 'findings' else ''}{conference.lower()}"
    return Listing("acl", conference, year, track, venue, title or venue, papers,
                   MONTH.get(conference) or month)
