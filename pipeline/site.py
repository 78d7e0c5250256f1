"""The published report: one self-contained page, `data/site/index.html`, plus its files.

It follows the article's sections (Hub models, research papers, author migration, Papers with
Code, job postings). Each says what the article claims, our value as of the article's date and
today, the scorecard status with the reason for any difference, the charts (with alt text,
caption and a CSV of the plotted data), a short methodology note and the provenance of every
number (source, snapshot id and date, sha256, licence). It opens with the scorecard and ends
with the sources and the executed notebooks.

Self-contained: no script, style, font or image is loaded from anywhere but the page's own
folder (relative links only), so it works from `file://` and from any static host. The folder
is built beside the old one and swapped in, so a reader never sees half a site.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.charts import read_index
from pipeline.config import Settings
from pipeline.store import table_exists, utcnow

SCREENSHOTS = "_screenshots"
ARTICLE = ("PyTorch vs TensorFlow in 2022",
           "https://www.assemblyai.com/blog/pytorch-vs-tensorflow-in-2022/")


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    sources: tuple[str, ...]  # the section needs data from at least one of these
    charts: tuple[str, ...]
    figure_prefixes: tuple[str, ...]  # scorecard figure ids shown in this section
    method: str


SECTIONS = [
    Section("hub", "HuggingFace Hub models", ("hf_models",),
            ("hf_framework_share", "hf_top30", "hf_framework_trend"), ("hf_",),
            "Every model of the Hub is listed with its tags (huggingface_hub's list_models, or "
            "the daily hub-stats parquet dump). Tags method (the article's): PyTorch = tag "
            "pytorch, TensorFlow = tag tf; the weights method also counts safetensors weights "
            "loadable in PyTorch. The denominator is models available in PyTorch or "
            "TensorFlow. 'As of the article' = models created up to 2 March 2022 (the date the "
            "Hub back-filled on every older model); their tags and downloads are today's. "
            "Details: docs/methodology/hf_models.md."),
    Section("research", "Research papers", ("conferences",), ("research_share",),
            ("research_",),
            "PyTorch share = papers mentioning PyTorch / (papers mentioning PyTorch + papers "
            "mentioning TensorFlow), per conference meeting and pooled per calendar year, from "
            "Horace He's counts of the conference PDFs (the data the article used). A year "
            "with a single conference (2022: ICLR only) is marked and not used for the 2021 "
            "figure."),
    Section("migration", "Author migration 2018 → 2019", ("conferences",),
            ("author_migration_sankey",), ("migration_",),
            "An author used a framework in a year if any of their papers that year mentions it "
            "(pytorch / pt / allennlp; tensorflow / tf). Authors are matched on a normalised "
            "name; only the per-paper files whose word lists were filled are read. Flows are "
            "between TensorFlow only, both and PyTorch only, for authors in a group in both "
            "years."),
    Section("pwc", "Papers with Code", ("papers_with_code",), ("pwc_quarterly_share",),
            ("pwc_",),
            "The final Papers with Code archive (paper → code links with the framework). A "
            "repository counts in the quarter of its earliest linked paper (the archive has no "
            "repository creation date); shares are of all the quarter's repositories, "
            "including those with no framework detected. Details: "
            "docs/methodology/papers_with_code.md."),
    Section("jobs", "Job postings", ("jobs_hn", "jobs_boards", "jobs_adzuna"),
            ("jobs_hn_trend", "job_postings"), ("jobs_",),
            "The article counted postings on LinkedIn, ZipRecruiter and Indeed, which have no "
            "open API: counts read off their search pages by hand can be recorded in "
            "data/manual/job_board_counts.csv. Every monthly Hacker News 'Who is hiring?' "
            "thread is collected instead, and each top-level posting is matched for PyTorch, "
            "TensorFlow and JAX by word rules (a bare 'TF' is not TensorFlow). Headline shares "
            "use complete months only. Offline, a copy of the threads may declare months it "
            "lacks: they are gaps, never zeros, and a window says how many of its 12 months it "
            "holds. Details: docs/methodology/jobs.md."),
]

CSS = """
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --bg: #ffffff; --soft: #f5f7fa;
  --ok: #2f7d32; --warn: #b54708; --none: #616e7c; --pt: #ee4c2c; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
  "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
main, header.page, footer.page { max-width: 62rem; margin: 0 auto; padding: 0 1rem; }
header.page { padding-top: 1.5rem; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: 0 0 .5rem; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 .6rem; padding-top: .6rem;
  border-top: 3px solid var(--pt); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p, li { overflow-wrap: anywhere; }
a { color: #0b5cad; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem 1rem; }
.lede { color: var(--muted); }
.table-scroll { overflow-x: auto; max-width: 100%; margin: .5rem 0 1rem;
  border: 1px solid var(--line); border-radius: 6px; }
.table-scroll:focus-visible { outline: 3px solid #0b5cad; outline-offset: 2px; }
.claim { font-weight: 600; }
.figure-id { display: block; color: var(--muted); font-size: .85em; }
td:first-child { min-width: 9rem; }
td:last-child { overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .55rem;
  border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: .85em; overflow-wrap: anywhere; }
.status { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-weight: 600;
  font-size: .8rem; white-space: nowrap; border: 1px solid currentColor; }
.status.matches { color: var(--ok); } .status.differs { color: var(--warn); }
.status.no-data { color: var(--none); }
.nodata { background: #fff8e6; border-left: 4px solid #f0b429; padding: .6rem .9rem;
  margin: .8rem 0; }
.optional { color: var(--muted); font-size: .9rem; }
blockquote { margin: .4rem 0; padding: .3rem .9rem; border-left: 4px solid var(--line);
  color: var(--muted); font-style: italic; }
figure.chart { margin: 1.2rem 0; }
figure.chart img { display: block; max-width: 100%; height: auto;
  border: 1px solid var(--line); border-radius: 4px; }
figcaption { font-size: .88rem; color: var(--muted); margin-top: .4rem; }
figcaption strong { color: var(--ink); }
.provenance li { font-size: .88rem; }
footer.page { color: var(--muted); font-size: .85rem; padding-bottom: 2rem;
  border-top: 1px solid var(--line); margin-top: 2rem; }
@media (max-width: 640px) {
  body { font-size: 15px; } h1 { font-size: 1.35rem; } h2 { font-size: 1.15rem; }
  /* tables become one card per row, each cell labelled by its column */
  .table-scroll { border: none; }
  table.cards, table.cards tbody { display: block; width: 100%; }
  table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden;
    clip: rect(0 0 0 0); }
  table.cards tr { display: block; border: 1px solid var(--line); border-radius: 6px;
    margin-bottom: .6rem; padding: .3rem 0; }
  table.cards td { display: flex; gap: .6rem; border: none; padding: .15rem .6rem;
    text-align: left; white-space: normal; overflow-wrap: anywhere; }
  table.cards td > * { min-width: 0; }
  table.cards td::before { content: attr(data-label); flex: 0 0 7.5rem; font-weight: 600;
    color: var(--muted); }
}
"""

STATUS_CLASS = {"matches": "matches", "differs": "differs"}
_EXTERNAL_TAG = re.compile(
    r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>|"
    r"<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def fmt_value(value, unit: str | None = None) -> str:
    """A number as a reader wants it: no trailing .0, thousands separators, % where a share."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, int | float):
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        return text + ("%" if unit == "%" else "")
    return str(value)


def png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG header (so the page does not jump while images load)."""
    try:
        head = path.read_bytes()[:24]
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def scorecard_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The scorecard as report wrote it (`out_scorecard`), built first if it is missing."""
    if not table_exists(con, "out_scorecard"):
        from pipeline.report import build_scorecard

        build_scorecard(con)
    cursor = con.execute("SELECT * FROM out_scorecard")
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def reference_rows() -> dict[str, dict]:
    from pipeline.report import REFERENCE_FILE

    with REFERENCE_FILE.open() as fh:
        return {r["figure_id"]: r for r in csv.DictReader(fh)}


def section_of(figure_id: str) -> str | None:
    matches = [s.key for s in SECTIONS if figure_id.startswith(s.figure_prefixes)]
    return matches[0] if matches else None


def _status(status: str | None) -> str:
    text = status or "no data yet"
    return f'<span class="status {STATUS_CLASS.get(text, "no-data")}">{esc(text)}</span>'


def _identifier(name: str) -> str:
    """An identifier in <code> that may wrap after its underscores (not mid-word)."""
    return "<code>" + "_<wbr>".join(esc(part) for part in name.split("_")) + "</code>"


def table(head: list[str], rows: list[tuple[str, list[str]]], numeric: set[int],
          label: str) -> str:
    """A table that scrolls on its own on a narrow screen, or turns into one card per row
    (each cell labelled with its column; its content in one box beside the label) on a phone.
    `rows` are (tr attributes, cells). The scrolling box is a named region a keyboard can focus
    and scroll (`label`: unique on the page)."""
    body = "".join(
        f"<tr{attrs}>" + "".join(
            f'<td data-label="{esc(head[i])}"{" class=num" if i in numeric else ""}>'
            f"<div>{cell}</div></td>"
            for i, cell in enumerate(cells)) + "</tr>"
        for attrs, cells in rows)
    return (f'<div class="table-scroll" role="region" aria-label="{esc(label)}" tabindex="0">'
            '<table class="cards"><thead><tr>'
            + "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table></div>")


def _why(row: dict) -> str:
    """The computed reason (e.g. the migration figure's alternative reading), in bold as in the
    README's scorecard, then the reference file's note on the definition."""
    reason = row.get("reason")
    note = esc(row.get("note"))
    return f"<strong>{esc(reason)}.</strong> {note}" if reason else note


def _figure_rows(rows: list[dict], with_section: bool, label: str) -> str:
    """Scorecard rows; each leads with the article's claim in words, the figure id second."""
    titles = {s.key: s.title for s in SECTIONS}
    out = []
    for r in rows:
        unit = r.get("unit")
        cells = [f'<span class="claim">{esc(r.get("claim") or r["figure_id"])}</span>'
                 f'<span class="figure-id">{_identifier(r["figure_id"])}</span>']
        if with_section:
            key = section_of(r["figure_id"])
            cells.append(f'<a href="#{key}">{esc(titles[key])}</a>' if key
                         else esc(r.get("section")))
        # a symbol stays on its number's line; a word ("repositories") may wrap below it
        unit_text = "" if unit in (None, "", "%") else \
            ("\u00a0" if len(unit) <= 2 else " ") + unit
        cells += [esc(fmt_value(r.get("article_value"), unit)) + esc(unit_text),
                  esc(fmt_value(r.get("ours_as_of_article"), unit)),
                  esc(fmt_value(r.get("ours_today"), unit)),
                  _status(r.get("status")), esc(r.get("tolerance")), _why(r)]
        out.append((f' data-figure-id="{esc(r["figure_id"])}"', cells))
    head = ["Claim (figure)"] + (["Section"] if with_section else []) + [
        "Article", "Ours, as of the article", "Ours, today", "Status", "Tolerance",
        "Why it may differ"]
    first_number = 2 if with_section else 1
    return table(head, out, numeric={first_number, first_number + 1, first_number + 2},
                 label=label)


def _chart(entry: dict | None, name: str, charts_dir: Path) -> str:
    if entry is None or not (charts_dir / f"{name}.png").is_file():
        return (f'<p class="nodata">Chart <code>{esc(name)}</code> not drawn yet: run '
                f"<code>python -m pipeline charts</code>.</p>")
    size = png_size(charts_dir / f"{name}.png")
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    files = entry.get("files", {})
    links = [f'<a href="charts/{esc(files["csv"])}" download>Download the data (CSV)</a>'
             if files.get("csv") else "",
             f'<a href="charts/{esc(files["svg"])}">full size (SVG)</a>'
             if files.get("svg") else ""]
    snapshots = ", ".join(f"#{i}" for i in entry.get("snapshot_ids", []))
    return (f'<figure class="chart" id="chart-{esc(name)}">'
            f'<a href="charts/{esc(files.get("svg", name + ".png"))}">'
            f'<img src="charts/{esc(name)}.png" alt="{esc(entry.get("alt"))}"{dims}></a>'
            f"<figcaption><strong>{esc(entry.get('title'))}.</strong> "
            f"{esc(entry.get('caption'))}"
            + (f" Snapshot(s) {esc(snapshots)}." if snapshots else "")
            + " " + " · ".join(x for x in links if x) + "</figcaption></figure>")


def _source_line(name: str, source, row: dict | None) -> str:
    if not row or row.get("snapshot_id") is None:
        return (f"<li><strong>{esc(source.title)}</strong> (<code>{esc(name)}</code>): no data "
                f"yet. Licence / terms: {esc(source.licence)}</li>")
    return (f"<li><strong>{esc(source.title)}</strong> (<code>{esc(name)}</code>): snapshot "
            f"#{row['snapshot_id']} of {row['finished_at']:%Y-%m-%d %H:%M} UTC, "
            f"{row['row_count']:,} rows, from <code>{esc(row['origin_url'])}</code>, sha256 "
            f"<code>{esc(row['sha256'])}</code>. Licence / terms: {esc(source.licence)}</li>")


def _no_data_notes(section: Section, sources: dict, status: dict) -> str:
    """A plain note per source of the section that has no data yet, with the command that
    collects it; an optional source that is not configured gets a quieter line."""
    notes = []
    for name in section.sources:
        if name not in sources or (status.get(name) or {}).get("snapshot_id") is not None:
            continue
        source, skip = sources[name], sources[name].skip_reason()
        command = f"<code>python -m pipeline refresh --source {esc(name)}</code>"
        if skip:
            notes.append(f'<p class="optional">Optional source <code>{esc(name)}</code> '
                         f"({esc(source.title)}) is not configured: {esc(skip)}; then "
                         f"{command}.</p>")
        else:
            notes.append(f'<p class="nodata">No data yet from <code>{esc(name)}</code> '
                         f"({esc(source.title)}). Collect it with {command}.</p>")
    return "".join(notes)


def _section(section: Section, rows: list[dict], reference: dict, charts: dict,
             charts_dir: Path, sources: dict, status: dict) -> str:
    mine = [r for r in rows if section_of(r["figure_id"]) == section.key]
    parts = [f'<section id="{section.key}" class="topic"><h2>{esc(section.title)}</h2>',
             _no_data_notes(section, sources, status)]
    parts.append("<h3>What the article says</h3>")
    quotes = [reference.get(r["figure_id"], {}).get("quote") for r in mine]
    quotes = list(dict.fromkeys(q for q in quotes if q))
    if quotes:
        parts += [f"<blockquote>{esc(q)}</blockquote>" for q in quotes]
    else:
        parts.append("<p>The article states no figure for this section.</p>")
    if mine:
        parts.append("<h3>Our values and the scorecard</h3>")
        parts.append(_figure_rows(mine, with_section=False,
                                  label=f"{section.title}: our values and the scorecard"))
    parts.append("<h3>Charts</h3>")
    parts += [_chart(charts.get(name), name, charts_dir) for name in section.charts]
    parts.append(f"<h3>Method</h3><p>{esc(section.method)}</p>")
    parts.append('<h3>Provenance</h3><ul class="provenance">')
    parts += [_source_line(n, sources[n], status.get(n)) for n in section.sources
              if n in sources]
    parts.append("</ul></section>")
    return "".join(parts)


def _sources_table(sources: dict, status: dict) -> str:
    lines = []
    for name, source in sources.items():
        row = status.get(name) or {}
        if row.get("snapshot_id") is not None:
            current = (f"#{row['snapshot_id']}, {row['finished_at']:%Y-%m-%d}, "
                       f"{row['row_count']:,} rows, sha256 <code>{esc(row['sha256'])}</code>")
        else:
            current = (f"no data yet: <code>python -m pipeline refresh --source "
                       f"{esc(name)}</code>")
        last = row.get("last_status") or "never run"
        if last == "failed":
            last = f"failed: {(row.get('last_error') or '')[:160]}"
        lines.append(("", [_identifier(name), esc(source.title), esc(source.licence), current,
                           esc(last)]))
    return table(["Source", "What", "Licence / terms", "Current snapshot", "Last attempt"],
                 lines, numeric=set(), label="Sources")


def _notebooks(names: list[str]) -> str:
    if not names:
        return ("<p class=\"nodata\">The notebooks have not been executed yet: run "
                "<code>make notebooks</code> (or <code>python -m pipeline notebooks</code>), "
                "then <code>python -m pipeline site</code>.</p>")
    return "<ul>" + "".join(f'<li><a href="notebooks/{esc(n)}">{esc(n)}</a></li>'
                            for n in names) + "</ul>"


def render(rows: list[dict], reference: dict, charts: dict, charts_dir: Path, sources: dict,
           status: dict, notebooks: list[str], built: str) -> str:
    """The page as a string (pure: every input is passed in)."""
    matches = sum(r.get("status") == "matches" for r in rows)
    missing = sum(r.get("status") in (None, "no data yet") for r in rows)
    summary = (f"{matches} of {len(rows) - missing} reproduced figures match the article"
               + (f"; {missing} not collected yet" if missing else "") + ".")
    nav = "".join(f'<li><a href="#{s.key}">{esc(s.title)}</a></li>' for s in SECTIONS)
    body = [
        '<header class="page"><h1>PyTorch vs TensorFlow: the article\'s figures, '
        "reproduced</h1>",
        f'<p class="lede">Every figure of AssemblyAI\'s article <a href="{ARTICLE[1]}">'
        f"\u201c{ARTICLE[0]}\u201d</a> (December 2021), recomputed from collected data as of "
        "the article's date and as of today, each traceable to the snapshot it came from. "
        f"Built {esc(built)} UTC.</p>",
        '<nav aria-label="Sections"><ul><li><a href="#scorecard">Scorecard</a></li>'
        f'{nav}<li><a href="#history">Over time</a></li><li><a href="#sources">Sources</a></li>'
        '<li><a href="#notebooks">Notebooks</a></li></ul></nav></header><main>',
        '<section id="scorecard"><h2>Scorecard</h2>',
        f"<p><strong>{esc(summary)}</strong> Each figure the article states, next to our "
        "value; the tolerance says how far off still counts as a match. "
        '<a href="data/scorecard.csv" download>Download the scorecard (CSV)</a> · '
        '<a href="data/figures.csv" download>all our figures (CSV)</a>.</p>',
        _figure_rows(rows, with_section=True, label="Scorecard"),
        _chart(charts.get("scorecard"), "scorecard", charts_dir),
        "</section>",
    ]
    body += [_section(s, rows, reference, charts, charts_dir, sources, status)
             for s in SECTIONS]
    body += ['<section id="history"><h2>Figures over time</h2>',
             "<p>The article is one moment; every refresh that changes a figure adds a point "
             "here, and every point stays traceable to the snapshot it was computed from. "
             '<a href="data/figures_history.csv" download>Every figure of every refresh '
             "(CSV)</a>.</p>",
             _chart(charts.get("figures_over_time"), "figures_over_time", charts_dir),
             "</section>"]
    body += ['<section id="sources"><h2>Sources</h2>',
             "<p>Where every number comes from, with the licence or terms each source "
             "requires. A snapshot is immutable once written; its sha256 is the digest of "
             "the raw payloads kept for it.</p>",
             _sources_table(sources, status), "</section>",
             '<section id="notebooks"><h2>Notebooks</h2>',
             "<p>The executed analysis notebooks, with the tables behind every chart.</p>",
             _notebooks(notebooks), "</section></main>",
             '<footer class="page"><p>Generated by <code>python -m pipeline site</code> from '
             "the pipeline's result tables. The article's figures are used for comparison "
             "only, never to compute ours.</p></footer>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>PyTorch vs TensorFlow: the article's figures, reproduced</title>"
            f"<style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n")


def self_contained(text: str) -> str:
    """Drop any <script src> / <link href> that points off the page's own folder."""
    return _EXTERNAL_TAG.sub("", text)


def _copy_files(settings: Settings, charts: dict, build: Path) -> list[str]:
    (build / "charts").mkdir(parents=True)
    for entry in charts.values():
        for name in entry.get("files", {}).values():
            if (settings.charts_dir / name).is_file():
                shutil.copy2(settings.charts_dir / name, build / "charts" / name)
    (build / "data").mkdir()
    for name in ("scorecard.csv", "figures.csv", "figures_history.csv"):
        if (settings.results_dir / name).is_file():
            shutil.copy2(settings.results_dir / name, build / "data" / name)
    copied = []
    notebooks = sorted(settings.notebooks_out_dir.glob("*.html"))
    if notebooks:
        (build / "notebooks").mkdir()
    for path in notebooks:
        (build / "notebooks" / path.name).write_text(self_contained(path.read_text()))
        copied.append(path.name)
    return copied


def _swap_in(build: Path, site_dir: Path) -> None:
    """Replace site_dir by build; screenshots of the old site stay where they were."""
    old = site_dir.with_name(f".{site_dir.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if site_dir.exists():
        if (site_dir / SCREENSHOTS).is_dir():
            shutil.move(site_dir / SCREENSHOTS, build / SCREENSHOTS)
        site_dir.rename(old)
    build.rename(site_dir)
    shutil.rmtree(old, ignore_errors=True)


def build_site(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Write data/site/ (index.html, charts/, data/, notebooks/) and return index.html."""
    from pipeline.sources import all_sources
    from pipeline.store import source_status

    site_dir = settings.data_dir / "site"
    build = site_dir.with_name(f".{site_dir.name}-build")
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    try:
        charts = read_index(settings.charts_dir)
        notebooks = _copy_files(settings, charts, build)
        page = render(
            rows=scorecard_rows(con), reference=reference_rows(), charts=charts,
            charts_dir=build / "charts", sources=all_sources(),
            status={r["source"]: r for r in source_status(con)}, notebooks=notebooks,
            built=f"{utcnow():%Y-%m-%d %H:%M}")
        (build / "index.html").write_text(page)
        _swap_in(build, site_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return site_dir / "index.html"
