"""Fake openaccess.thecvf.com on 127.0.0.1: `/<CONF><year>?day=all` answers the list of
`<dt class="ptitle">` entries, each followed by a `<dd>` of author forms (`<input type="hidden"
name="query_author" value="...">`) and a `<dd>` with the `pdf` and `supp` links; one workshop
paper (`/content/<CONF><year>W/`) is listed too. Before 2021 the page only links the days
(`?day=2020-06-16`), each day page holding its entries. Unknown meetings are 404."""

from __future__ import annotations

import html

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request
from tests.fakes.proceedings import Catalog, FakePaper


class CvfServer(FakeServer):
    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.meetings = {f"{conf}{year}": papers for (conf, year, _), papers in catalog.items()
                         if conf in ("CVPR", "ICCV")}

    def urls(self) -> dict[str, str]:
        return {"ADOPTION_PAPERS_CVF_URL": self.url}

    @staticmethod
    def entries(page: str, papers: list[FakePaper], workshop: bool = True) -> str:
        out = []
        for p in papers:
            forms = "".join(
                f'<form id="form-{i}" action="/{page}" method="post" class="authsearch">'
                f'<input type="hidden" name="query_author" value="{html.escape(a)}">'
                f'<a href="#">{html.escape(a)}</a>,</form>' for i, a in enumerate(p.authors))
            out.append(f'<dt class="ptitle"><br><a href="/content/{page}/html/{p.pid}.html">'
                       f"{html.escape(p.title)}</a></dt>\n<dd>{forms}</dd>\n<dd>"
                       f'[<a href="/content/{page}/papers/{p.pid}.pdf">pdf</a>] '
                       f'[<a href="/content/{page}/supplemental/{p.pid}-supp.pdf">supp</a>]'
                       f'<div class="bibref">@InProceedings{{{p.pid}}}</div></dd>\n')
        if workshop:
            out.append(f'<dt class="ptitle"><br><a href="/content/{page}W/html/W_paper.html">'
                       f'A workshop paper</a></dt><dd>W. Orkshop</dd><dd>[<a href="/content/'
                       f'{page}W/papers/W_paper.pdf">pdf</a>]</dd>\n')
        return "".join(out)

    def route(self, request: Request) -> Reply:
        page = request.path.strip("/")
        if page in self.meetings:
            papers = self.meetings[page]
            day = request.arg("day")
            old = int(page[-4:]) < 2021
            if old and day == "all":
                links = f'<a href="/{page}?day=2020-06-16">Day 1</a> <a href="/{page}?day=' \
                        f'2020-06-17">Day 2</a>'
                return Reply.text(f"<html><body>{links}</body></html>", content_type="text/html")
            if old and day in ("2020-06-16", "2020-06-17"):
                half = papers[: (len(papers) + 1) // 2] if day.endswith("16") \
                    else papers[(len(papers) + 1) // 2:]
                body = self.entries(page, half, workshop=day.endswith("17"))
            elif day == "all":
                body = self.entries(page, papers)
            else:
                return NOT_FOUND
            return Reply.text(f'<html><body><div id="content"><dl>{body}</dl></div></body>'
                              "</html>", content_type="text/html")
        for page, papers in self.meetings.items():
            for paper in papers:
                if request.path == f"/content/{page}/papers/{paper.pid}.pdf":
                    return Reply(200, paper.pdf, {}, "application/pdf")
        return NOT_FOUND
