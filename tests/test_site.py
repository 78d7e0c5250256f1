"""The published page (`python -m pipeline site`), built from real refreshes and opened in a real
headless Chromium (Debian's `chromium`, installed by `.ci/run`; Playwright drives it, it is never
downloaded). Screenshots land in data/site/_screenshots/ (git-ignored) for a person to look at.

axe-core checks the page's accessibility at desktop and phone width (zero violations). It is a
test-only tool from the npm registry, pinned with its sha512 in tests/browser/package-lock.json
and installed by `make test` (`npm ci`) into the ignored tests/browser/node_modules/; it is
injected into the page under test, never shipped with it.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from pipeline.charts import read_index
from pipeline.config import PROJECT_ROOT
from pipeline.notebooks import NOTEBOOKS_DIR, execute_all
from pipeline.report import REFERENCE_FILE
from pipeline.site import self_contained
from tests.fakes.hf_hub import FakeHfHub

SCREENSHOTS = PROJECT_ROOT / "data" / "site" / "_screenshots"
AXE = PROJECT_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def axe_path() -> Path:
    """axe-core's script, or a skip naming how to install it (never a silent pass)."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed, so the page's accessibility cannot be checked: "
                    "run `make test` (it runs `npm ci --prefix tests/browser`)")
    return AXE


#: axe-core's WCAG 2.x A/AA rules and its best practices; the page must have no violation
AXE_RUN = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
    v => ({id: v.id, impact: v.impact, help: v.help,
           nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"""


def accessibility_violations(page) -> list[dict]:
    page.add_script_tag(path=str(axe_path()))
    return page.evaluate(AXE_RUN)


def reference_claims() -> dict[str, str]:
    with REFERENCE_FILE.open() as fh:
        return {r["figure_id"]: r["claim"] for r in csv.DictReader(fh)}


def reference_ids() -> list[str]:
    with REFERENCE_FILE.open() as fh:
        return [r["figure_id"] for r in csv.DictReader(fh)]


def chromium_path() -> str:
    """The browser to drive, or a skip naming what to install (never a silent pass)."""
    pytest.importorskip("playwright.sync_api",
                        reason="playwright is a dev dependency: pip install -e '.[dev]'")
    found = os.environ.get("ADOPTION_CHROMIUM") or next(
        (shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if not found:
        pytest.skip("Chromium is not installed, so the page cannot be checked in a browser: "
                    "install Debian's `chromium` (apt-get install chromium; .ci/run does) "
                    "or set ADOPTION_CHROMIUM to a Chromium/Chrome executable")
    return found


class PageReport:
    """What a page did in the browser: console errors, requests, chart sizes."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []


def open_page(browser, url: str, width: int, report: PageReport):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("console", lambda m: report.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: report.errors.append(str(e)))
    page.on("requestfailed", lambda r: report.errors.append(f"failed: {r.url}"))
    page.on("request", lambda r: report.requests.append(r.url))
    page.goto(url, wait_until="load")
    return page


CHART_STATE = """() => Array.from(document.querySelectorAll('figure.chart img, svg')).map(e => {
    const box = e.getBoundingClientRect();
    return {src: e.getAttribute('src') || e.tagName, alt: e.getAttribute('alt')
              || e.getAttribute('aria-label') || '', width: box.width, height: box.height,
            natural: e.tagName === 'IMG' ? e.naturalWidth : 1,
            complete: e.tagName === 'IMG' ? e.complete : true};
})"""


def check_in_browser(site: Path, charts_dir: Path, name: str) -> dict:
    """Open the page at desktop and phone width and assert what the issue lists."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    index = site / "index.html"
    report = PageReport()
    axe_path()  # skip before opening a browser when axe-core is missing
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = open_page(browser, index.as_uri(), 1280, report)
            charts = page.evaluate(CHART_STATE)
            rows = page.eval_on_selector_all(
                "#scorecard table tbody tr", "rows => rows.map(r => r.dataset.figureId)")
            first_cells = page.eval_on_selector_all(
                "table tbody tr[data-figure-id]",
                "rows => rows.map(r => [r.dataset.figureId, r.cells[0].innerText])")
            nodata = page.eval_on_selector_all(
                "section.topic", "s => s.map(x => [x.id, x.querySelector('.nodata') ? "
                "x.querySelector('.nodata').textContent : ''])")
            optional = page.eval_on_selector_all(
                "section.topic", "s => s.map(x => [x.id, Array.from(x.querySelectorAll("
                "'.optional')).map(n => n.textContent).join(' ')])")
            page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
            violations = {"desktop (1280 px)": accessibility_violations(page)}
            page.set_viewport_size({"width": 400, "height": 860})
            overflow = page.evaluate("document.documentElement.scrollWidth")
            phone_charts = page.evaluate(CHART_STATE)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
            violations["phone (400 px)"] = page.evaluate(AXE_RUN)
            page.close()
            notebooks = sorted((site / "notebooks").glob("*.html"))
            notebook_images = []
            for notebook in notebooks:
                nb_page = open_page(browser, notebook.as_uri(), 1280, report)
                notebook_images += nb_page.eval_on_selector_all(
                    "img", "imgs => imgs.map(i => [i.getAttribute('alt') || '', i.naturalWidth])")
                nb_page.close()
        finally:
            browser.close()
    assert report.errors == [], report.errors
    assert violations == {"desktop (1280 px)": [], "phone (400 px)": []}, violations
    leaving = [u for u in report.requests if not u.startswith(("file://", "data:"))]
    assert leaving == [], f"requests leave file://: {leaving}"
    entries = read_index(charts_dir)
    drawn = [c for c in charts if c["src"] != "svg"]
    assert {c["src"] for c in drawn} == {f"charts/{n}.png" for n in entries}
    for chart in drawn + [c for c in phone_charts if c["src"] != "svg"]:
        assert chart["complete"] and chart["natural"] > 0, chart
        assert chart["width"] > 0 and chart["height"] > 0, chart
        assert chart["width"] <= 400 or chart in drawn, chart  # scaled down on a phone
        name_ = chart["src"].split("/")[-1][:-4]
        assert chart["alt"] == entries[name_]["alt"] and len(chart["alt"]) > 40, chart
    assert sorted(rows) == sorted(reference_ids()) and len(set(rows)) == len(rows)
    claims = reference_claims()
    for figure_id, text in first_cells:  # readers first: the claim in words, then the id
        claim, _, rest = text.partition("\n")
        assert claim == claims[figure_id] and rest.replace("\u200b", "") == figure_id, text
    assert overflow <= 400, f"page is {overflow}px wide at a 400px viewport"
    for alt, width in notebook_images:
        assert width > 0 and alt and "No description" not in alt, alt
    return {"sections": dict(nodata), "optional": dict(optional),
            "notebooks": [n.name for n in notebooks]}


def test_site_after_the_offline_refresh_in_a_browser(cli, env, conference_server, mirror_server,
                                                     hub_archive_run):
    """The "Done when" scenario: the conference, HN and February 2022 Hub mirrors (the Hub
    listing collected once a session, its database copied in); today's Hub and Papers with
    Code have no data, and their sections say so with the command that collects them."""
    env.db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(hub_archive_run.settings.db_path, env.db_path)
    result = cli("refresh", "--source", "conferences", "--source", "jobs_hn")
    assert result.rc == 0, result.err
    assert execute_all(env)
    assert cli("site").rc == 0
    site = env.data_dir / "site"
    entries = read_index(env.charts_dir)
    for name in ("scorecard", "research_share", "author_migration_sankey", "jobs_hn_trend"):
        assert entries[name]["has_data"], name
    assert entries["hf_framework_share"]["has_data"]  # the February 2022 listing
    assert not entries["hf_landscape"]["has_data"]  # today's Hub only
    seen = check_in_browser(site, env.charts_dir, "offline-refresh")
    # the article's Hub figures come from the listing: today's Hub is a quiet note, no warning
    assert seen["sections"]["hub"] == ""
    assert "refresh --source hf_models" in seen["optional"]["hub"]
    assert "refresh --source hf_models" in seen["sections"]["landscape"]
    with (env.results_dir / "scorecard.csv").open() as fh:
        hub = [r for r in csv.DictReader(fh) if r["figure_id"].startswith("hf_")]
    assert len(hub) == 7 and all(r["ours_as_of_article"] for r in hub)
    assert "refresh --source papers_with_code" in seen["sections"]["pwc"]
    assert seen["sections"]["research"] == "" and seen["sections"]["migration"] == ""
    assert len(seen["notebooks"]) == len(list(NOTEBOOKS_DIR.glob("*.ipynb")))
    page = (site / "index.html").read_text()
    with (env.results_dir / "scorecard.csv").open() as fh:
        reasons = {r["figure_id"]: r["reason"] for r in csv.DictReader(fh) if r["reason"]}
    assert "migration_tf_to_pt_pct" in reasons  # the alternative reading of the definition
    for figure_id, reason in reasons.items():
        row = re.search(rf'<tr data-figure-id="{figure_id}">.*?</tr>', page, re.S)
        assert row and html.escape(reason) in row.group(0), figure_id
    for notebook in (site / "notebooks").glob("*.html"):
        assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", notebook.read_text())


def test_site_with_every_source_in_a_browser(cli, env, conference_server, mirror_server,
                                             monkeypatch):
    """Every chart drawn from data (Hub and its February 2022 listing, Papers with Code, PyPI
    and npm downloads from fakes)."""
    from pipeline import rules
    from pipeline.store import utcnow
    from tests.fakes import clickhouse, hf_archive, npm, pwc

    today = utcnow().date()
    downloads = clickhouse.synthetic(rules.pypi_packages(), date(2016, 1, 1),
                                     today.replace(day=1))
    daily = {name: npm.daily(first, today, 500) for name, first in rules.npm_packages().items()}
    files = hf_archive.listing(60)
    with FakeHfHub(n=300, article_share=0.2) as hub, pwc.FakeHub() as archive, \
            clickhouse.ClickHouseServer(downloads) as sql, npm.NpmServer(daily) as registry, \
            hf_archive.FakeGitHub(files) as github:
        monkeypatch.setenv("ADOPTION_HF_MODELS_URL", hub.url)
        monkeypatch.setenv("ADOPTION_PAPERS_WITH_CODE_URL", archive.url)
        monkeypatch.setenv("ADOPTION_PYPI_DOWNLOADS_URL", sql.url)
        monkeypatch.setenv("ADOPTION_NPM_DOWNLOADS_URL", registry.url)
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_URL", github.url)
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_COMMIT", github.commit)
        monkeypatch.setenv("ADOPTION_HF_ARCHIVE_CONTENT_SHA256", hf_archive.content_digest(files))
        result = cli("refresh", "--source", "conferences", "--source", "jobs_hn",
                     "--source", "hf_models", "--source", "papers_with_code",
                     "--source", "pypi_downloads", "--source", "npm_downloads",
                     "--source", "hf_archive")
    assert result.rc == 0, result.err
    assert not (env.data_dir / "site").exists()  # built once, by `make refresh`, after notebooks
    assert cli("site").rc == 0
    entries = read_index(env.charts_dir)
    # job postings need hand-recorded counts; today's migration, the papers backfill
    assert all(e["has_data"] for n, e in entries.items()
               if n not in ("job_postings", "author_migration_sankey_today")), entries
    seen = check_in_browser(env.data_dir / "site", env.charts_dir, "every-source")
    assert all(text == "" for key, text in seen["sections"].items() if key != "jobs"), seen


def test_site_before_any_data_explains_every_section(cli, env):
    assert cli("charts").rc == 0
    assert cli("site").rc == 0
    page = (env.data_dir / "site" / "index.html").read_text()
    for source in ("hf_models", "conferences", "papers_with_code", "jobs_hn"):
        assert f"python -m pipeline refresh --source {source}" in page, source
    assert page.count("data-figure-id=") >= len(reference_ids())
    assert "make notebooks" in page  # notebooks not executed yet
    # only relative links for anything the page loads
    loaded = re.findall(r"<(?:img|script|link|iframe)\b[^>]*(?:src|href)=\"([^\"]+)\"", page)
    assert loaded and all(not re.match(r"[a-z]+:|//", u) for u in loaded), loaded


def test_rebuild_keeps_screenshots_and_never_shows_half_a_site(cli, env):
    assert cli("site").rc == 0
    shots = env.data_dir / "site" / "_screenshots"
    shots.mkdir()
    (shots / "a.png").write_bytes(b"x")
    assert cli("site").rc == 0
    assert (shots / "a.png").is_file()
    assert sorted(p.name for p in env.data_dir.iterdir() if "site" in p.name) == ["site"]


def test_notebook_copies_drop_scripts_from_elsewhere():
    page = ('<head><script src="https://cdnjs.cloudflare.com/require.min.js"></script>'
            '<script src="//cdn.example/x.js"></script><link rel="stylesheet" '
            'href="https://fonts.example/css"><script>var ok = 1;</script></head>')
    cleaned = self_contained(page)
    assert "cdnjs" not in cleaned and "cdn.example" not in cleaned and "fonts" not in cleaned
    assert "var ok = 1" in cleaned


def test_a_failed_build_keeps_the_previous_site(cli, env, monkeypatch):
    assert cli("site").rc == 0
    index = env.data_dir / "site" / "index.html"
    before = index.read_text()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pipeline.site._copy_files", disk_full)
    result = cli("site")
    assert result.rc == 1
    assert "error: site not built" in result.err and "Traceback" not in result.err
    assert index.read_text() == before
    assert sorted(p.name for p in env.data_dir.iterdir() if "site" in p.name) == ["site"]
