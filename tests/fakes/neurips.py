"""Fake proceedings.neurips.cc on 127.0.0.1: `/paper_files/paper/<year>` lists `<li
class="conference">` items (`<a title="paper title" href=".../hash/<hash>-Abstract-Conference
.html">`, `<span class="paper-authors">`) plus one Datasets and Benchmarks track paper (left
out by the collector); 2020 is in the older shape (`-Abstract.html`, authors in `<i>`). PDFs:
`/paper_files/paper/<year>/file/<hash>-Paper[-Conference].pdf`. Years not in the catalog are
404 (not published yet)."""

from __future__ import annotations

import html

from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request
from tests.fakes.proceedings import Catalog, FakePaper


class NeuripsServer(FakeServer):
    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.years = {year: papers for (conf, year, _), papers in catalog.items()
                      if conf == "NeurIPS"}

    def urls(self) -> dict[str, str]:
        return {"ADOPTION_PAPERS_NEURIPS_URL": self.url}

    @staticmethod
    def suffix(year: int) -> str:
        return "-Conference" if year >= 2022 else ""

    def route(self, request: Request) -> Reply:
        for year, papers in self.years.items():
            if request.path == f"/paper_files/paper/{year}":
                return Reply.text(self.page(year, papers), content_type="text/html")
            for paper in papers:
                if request.path == (f"/paper_files/paper/{year}/file/{paper.pid}-Paper"
                                    f"{self.suffix(year)}.pdf"):
                    return Reply(200, paper.pdf, {}, "application/pdf")
        return NOT_FOUND

    def page(self, year: int, papers: list[FakePaper]) -> str:
        suffix = self.suffix(year)
        if year >= 2022:
            items = [f'<li class="conference" data-track="conference"><div class="paper-content">'
                     f'<a title="paper title" href="/paper_files/paper/{year}/hash/{p.pid}'
                     f'-Abstract{suffix}.html">{html.escape(p.title)}</a><span class="'
                     f'paper-authors">{html.escape(", ".join(p.authors))}</span></div><span '
                     f'class="paper-track-badge">Main Conference Track</span></li>'
                     for p in papers]
            items.append(f'<li class="datasets_and_benchmarks" data-track="datasets_and_'
                         f'benchmarks"><div class="paper-content"><a title="paper title" '
                         f'href="/paper_files/paper/{year}/hash/{"f" * 32}-Abstract-Datasets_'
                         f'and_Benchmarks_Track.html">A dataset</a><span class="paper-authors">'
                         f'D. Ata</span></div></li>')
        else:
            items = [f'<li><a href="/paper_files/paper/{year}/hash/{p.pid}-Abstract.html">'
                     f'{html.escape(p.title)}</a> <i>{html.escape(", ".join(p.authors))}</i>'
                     f"</li>" for p in papers]
        return (f"<html><body><h4>Advances in Neural Information Processing Systems {year}"
                f'</h4><ul class="paper-list">{"".join(items)}</ul></body></html>')
