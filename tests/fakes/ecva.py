"""Fake www.ecva.net on 127.0.0.1: `/papers.php` lists every ECCV year of the catalog (newest
first, each under its accordion button), entries as on CVF pages: `<dt class="ptitle">` with
`papers/eccv_<year>/papers_ECCV/html/<id>_ECCV_<year>_paper.php`, a `<dd>` of authors
("A*, B"), a `<dd>` with the PDF `papers/eccv_<year>/papers_ECCV/papers/<id>.pdf`."""

from __future__ import annotations

import html

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request
from tests.fakes.proceedings import Catalog, FakePaper


class EcvaServer(FakeServer):
    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.years = {year: papers for (conf, year, _), papers in catalog.items()
                      if conf == "ECCV"}

    def urls(self) -> dict[str, str]:
        return {"ADOPTION_PAPERS_ECVA_URL": self.url}

    @staticmethod
    def section(year: int, papers: list[FakePaper]) -> str:
        rows = "".join(
            f'<dt class="ptitle"><br><a href=papers/eccv_{year}/papers_ECCV/html/{p.pid}_ECCV_'
            f'{year}_paper.php>{html.escape(p.title)}</a></dt>\n<dd>\n'
            f'{html.escape(p.authors[0])}*, {html.escape(", ".join(p.authors[1:]))}\n</dd>\n'
            f"<dd>\n[<a href='papers/eccv_{year}/papers_ECCV/papers/{p.pid}.pdf'>pdf</a>]\n"
            f"[<a href='https://link.springer.com/chapter/{p.pid}'>DOI</a>]\n</dd>\n"
            for p in papers)
        return (f'<button class="accordion">ECCV {year} Papers</button>\n'
                f'<div class="panel"><div id="content"><dl>\n{rows}</dl></div></div>\n')

    def route(self, request: Request) -> Reply:
        if request.path == "/papers.php":
            body = "".join(self.section(y, p) for y, p in sorted(self.years.items(),
                                                                 reverse=True))
            return Reply.text(f"<html><body>{body}</body></html>", content_type="text/html")
        for year, papers in self.years.items():
            for paper in papers:
                if request.path == f"/papers/eccv_{year}/papers_ECCV/papers/{paper.pid}.pdf":
                    return Reply(200, paper.pdf, {}, "application/pdf")
        return NOT_FOUND
