"""Fake proceedings.mlr.press on 127.0.0.1: the index (`/`, a `ul.proceedings-list` of
`<a href="v235"><b>Volume 235</b></a> Proceedings of ICML 2024`), each ICML volume's page
(`/v235/`: `div.paper` with `p.title`, `span.authors` joined by `,&nbsp;`, the `abs` and
`Download PDF` links) and the PDFs (`/v235/<id>/<id>.pdf`; from 2025 on under `assets/`, as
the newer volumes keep them). Volumes follow the real numbers (ICML 2021 = v139, ...)."""

from __future__ import annotations

import html

from pipeline.sources.papers_listings import ICML_VOLUMES
from tests.fakes.base import NOT_FOUND, FakeServer, Reply, Request
from tests.fakes.proceedings import Catalog, FakePaper


class PmlrServer(FakeServer):
    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.volumes: dict[int, tuple[int, list[FakePaper]]] = {
            ICML_VOLUMES[year]: (year, papers) for (conf, year, _), papers in catalog.items()
            if conf == "ICML"}

    def urls(self) -> dict[str, str]:
        return {"ADOPTION_PAPERS_PMLR_URL": self.url}

    @staticmethod
    def pdf_path(volume: int, year: int, pid: str) -> str:
        return f"/v{volume}/{'assets/' if year >= 2025 else ''}{pid}/{pid}.pdf"

    def route(self, request: Request) -> Reply:
        if request.path == "/":
            items = "".join(f'<li><a href="v{v}"><b>Volume {v}</b></a> Proceedings of ICML {y}'
                            f"</li>\n" for v, (y, _) in sorted(self.volumes.items()))
            items += '<li><a href="v999"><b>Volume 999</b></a> Workshop on Things 2026</li>'
            return Reply.text(f'<html><body><h2>Proceedings</h2><ul class="proceedings-list">'
                              f"{items}</ul></body></html>", content_type="text/html")
        for volume, (year, papers) in self.volumes.items():
            if request.path in (f"/v{volume}/", f"/v{volume}"):
                return Reply.text(self.volume_page(volume, year, papers),
                                  content_type="text/html")
            for paper in papers:
                if request.path == self.pdf_path(volume, year, paper.pid):
                    return Reply(200, paper.pdf, {}, "application/pdf")
        return NOT_FOUND

    def volume_page(self, volume: int, year: int, papers: list[FakePaper]) -> str:
        entries = "".join(
            f'<div class="paper"><p class="title">{html.escape(p.title)}</p>'
            f'<p class="details"><span class="authors">'
            f'{",&nbsp;".join(html.escape(a).replace(" ", "&nbsp;") for a in p.authors)}'
            f'</span>; <span class="info">Proceedings of ICML {year}, PMLR {volume}:1-10'
            f'</span></p><p class="links">[<a href="{self.url}/v{volume}/{p.pid}.html">abs</a>]'
            f'[<a href="{self.url}{self.pdf_path(volume, year, p.pid)}" target="_blank">'
            f"Download PDF</a>][<a href=\"{self.url}/v{volume}/{p.pid}/{p.pid}-supp.pdf\">"
            f"Supplementary PDF</a>]</p></div>\n" for p in papers)
        return (f"<html><body><h1>Proceedings of the International Conference on Machine "
                f"Learning {year}</h1>{entries}</body></html>")
