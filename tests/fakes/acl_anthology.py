"""Fake ACL Anthology on 127.0.0.1: the published metadata `/acl-org/acl-anthology/<commit>/
data/xml/<year>.<venue>.xml` (ACL, EMNLP, NAACL; Findings in `<year>.findings.xml`, one
volume per conference) and the PDFs `/pdf/<anthology id>.pdf`. Files up to 2024 use the older
`<url hash="...">2024.acl-long.1</url>` form; 2025 on, the newer `<pdf hash="..."/>` with
`openreview` attributes on authors. A front matter entry and a paper without a PDF are in
every volume, as in the real files."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request
from tests.fakes.proceedings import Catalog

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class AclServer(FakeServer):
    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.volumes: dict[str, dict[str, list]] = {}  # file -> volume id -> papers
        for (conf, year, track), papers in catalog.items():
            if conf not in ("ACL", "EMNLP", "NAACL"):
                continue
            if track == "findings":
                self.volumes.setdefault(f"{year}.findings", {})[conf.lower()] = papers
            elif year == 2020 or conf == "EMNLP":
                self.volumes.setdefault(f"{year}.{conf.lower()}", {})["main"] = papers
            else:  # long and short papers, as ACL and NAACL publish them
                half = (len(papers) + 1) // 2
                self.volumes.setdefault(f"{year}.{conf.lower()}", {}).update(
                    long=papers[:half], short=papers[half:])
        self.pdfs = {}

    def urls(self) -> dict[str, str]:
        return {"ADOPTION_PAPERS_ACL_URL": f"{self.url}/acl-org/acl-anthology/{COMMIT}",
                "ADOPTION_PAPERS_ACL_PDF_URL": f"{self.url}/pdf"}

    def xml(self, collection: str, volumes: dict[str, list]) -> str:
        year = int(collection.split(".")[0])
        out = [f"<?xml version='1.0' encoding='UTF-8'?>\n<collection id=\"{collection}\">"]
        for volume, papers in volumes.items():
            prefix = f"{collection}-{volume}" if "findings" not in collection \
                else f"{year}.findings-{volume}"
            out.append(f'<volume id="{volume}" ingest-date="{year}-07-01"><meta><booktitle>'
                       f"Proceedings of {escape(collection)} ({volume})</booktitle><month>"
                       f"July</month><year>{year}</year></meta>")
            out.append(f'<frontmatter><url hash="00000000">{prefix}.0</url></frontmatter>'
                       if year < 2025 else '<frontmatter><pdf hash="00000000"/></frontmatter>')
            for number, paper in enumerate(papers, 1):
                anthology_id = f"{prefix}.{number}"
                self.pdfs[anthology_id] = paper
                pdf_hash = hashlib.sha256(paper.pdf).hexdigest()[:8]
                authors = "".join(
                    f'<author{f" openreview={chr(34)}{i}{chr(34)}" if year >= 2025 else ""}>'
                    f"<first>{escape(a.split(' ', 1)[0])}</first><last>"
                    f"{escape(a.split(' ', 1)[-1])}</last></author>"
                    for a, i in zip(paper.authors, paper.author_ids, strict=False))
                link = f'<url hash="{pdf_hash}">{anthology_id}</url>' if year < 2025 \
                    else f'<pdf hash="{pdf_hash}"/>'
                out.append(f'<paper id="{number}"><title>{escape(paper.title)}</title>{authors}'
                           f"<pages>1-9</pages>{link}<bibkey>b{number}</bibkey></paper>")
            out.append(f'<paper id="{len(papers) + 1}"><title>Withdrawn</title>'
                       f"<author><first>W.</first><last>D.</last></author></paper>")
            out.append("</volume>")
        out.append("</collection>\n")
        return "".join(out)

    def route(self, request: Request) -> Reply:
        prefix = f"/acl-org/acl-anthology/{COMMIT}/data/xml/"
        if request.path.startswith(prefix) and request.path.endswith(".xml"):
            collection = request.path[len(prefix):-4]
            if collection in self.volumes:
                return Reply(200, self.xml(collection, self.volumes[collection]).encode(), {},
                             "application/xml")
            return NOT_FOUND
        if request.path.startswith("/pdf/") and request.path.endswith(".pdf"):
            if not self.pdfs:  # the ids come from the XML files
                for collection, volumes in self.volumes.items():
                    self.xml(collection, volumes)
            paper = self.pdfs.get(request.path[5:-4])
            if paper is not None:
                return Reply(200, paper.pdf, {}, "application/pdf")
        return NOT_FOUND
