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
from pipeline.mirrors import shown_origin
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
    #: sources that carry the section on to today: while another source has data, their
    #: absence is a quiet note (what collecting them adds), not a "no data" warning
    continuations: tuple[str, ...] = ()
    #: a measure the article does not have ("beyond the article"): an introduction instead
    #: of the article's claims, and our figures as (label, figure id stem): the values of
    #: <stem>_dec2021 and <stem>_today from data/results/figures.csv
    beyond: str = ""
    figures: tuple[tuple[str, str], ...] = ()
    results: tuple[str, ...] = ()  # result CSVs of data/results/ offered for download


SECTIONS = [
    Section("hub", "HuggingFace Hub models", ("hf_models", "hf_archive"),
            ("hf_framework_share", "hf_top30", "hf_framework_trend"), ("hf_",),
            "Every model of the Hub is listed with its tags (huggingface_hub's list_models, or "
            "the daily hub-stats parquet dump). Tags method (the article's): PyTorch = tag "
            "pytorch, TensorFlow = tag tf; the weights method also counts safetensors weights "
            "loadable in PyTorch. The denominator is models available in PyTorch or "
            "TensorFlow. 'As of the article' = the Hub's own listing of 15 February 2022 (a "
            "third-party archive pinned by commit and checksum: the tags and downloads of that "
            "time; its weights method reads the weight files of each repository); without "
            "it, the models created up to 2 March 2022 (the date the Hub back-filled on every "
            "older model) with today's tags and downloads, which is always given as the "
            "alternative. Details: docs/methodology/hf_models.md.",
            continuations=("hf_models",)),
    Section("landscape", "What new Hub models are built for", ("hf_models",),
            ("hf_landscape",), (),
            "Each model is resolved to framework families (PyTorch, TensorFlow/Keras, "
            "JAX/Flax, MLX, GGUF, ONNX incl. transformers.js, other) by the table "
            "data/reference/hub_frameworks.csv, in two readings: tags (every family whose tags "
            "it carries) and library (the same, and for a model with no framework tag, the "
            "family of its library_name, e.g. transformers, diffusers, timm: PyTorch; keras: "
            "TensorFlow/Keras; mlx: MLX). A model may be in several families; shares are over "
            "the models with at least one, and the unresolved share is given beside them. "
            "Cohorts by month of createdAt, from April 2022 (after the Hub's back-fill) to the "
            "latest complete month; the headline figures pool the last 12 complete months. "
            "Details: docs/methodology/hf_models.md.",
            beyond="The article compared PyTorch and TensorFlow only, by the Hub's framework "
                   "tags. Most new models now carry neither tag (safetensors weights, GGUF, "
                   "MLX or ONNX conversions), so this section measures what each month's new "
                   "models are built for, and how much of them the article's rule still sees.",
            results=("hf_landscape_monthly.csv",)),
    Section("research", "Research papers", ("conferences", "papers"), ("research_share",),
            ("research_",),
            "PyTorch share = papers mentioning PyTorch / (papers mentioning PyTorch + papers "
            "mentioning TensorFlow), per conference meeting and pooled per calendar year. To "
            "2022: Horace He's counts of the conference PDFs (the data the article used); a "
            "year with a single conference (2022: ICLR only) is marked and not used for the "
            "2021 figure. From 2023: every accepted paper's PDF of the nine conferences, read "
            "from each proceedings site (OpenReview, PMLR, NeurIPS, CVF, ECVA, ACL Anthology) "
            "and scanned with his synonyms; a year counts in 'today' only when every meeting "
            "of it is complete. Details: docs/methodology/research.md.", ("papers",)),
    Section("migration", "Author migration 2018 → 2019, and today", ("conferences", "papers"),
            ("author_migration_sankey", "author_migration_sankey_today"), ("migration_",),
            "An author used a framework in a year if any of their papers that year mentions it "
            "(pytorch / pt / allennlp; tensorflow / tf; today: the synonyms of the papers "
            "scan). Authors are matched on a normalised name; only the per-paper files whose "
            "word lists were filled are read, and today only complete meetings. Flows are "
            "between TensorFlow only, both and PyTorch only, for authors in a group in both "
            "years: 2018 → 2019, and the newest two consecutive complete years.",
            ("papers",)),
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
    Section("rounds", "The other two rounds, measured", ("pypi_downloads", "npm_downloads"),
            ("rounds_deployment", "rounds_ecosystem"), ("deploy_", "ecosystem_"),
            "The article argues its rounds 2 (deployment) and 3 (ecosystems) in words; here each "
            "is measured by how often its tools are installed. Tools and packages: "
            "data/reference/rounds_packages.csv (PyPI and npm; renamed packages are one tool, "
            "each counted from its first release). Side share = the TensorFlow (PyTorch) "
            "side's downloads over both sides' downloads in the month; neutral tools (ONNX "
            "Runtime, OpenVINO, Core ML Tools, Transformers.js) are shown but never counted in "
            "a share. A claim holds when the TensorFlow side has more than 50%, in December "
            "2021 and in the latest complete month. Downloads are not deployments: a runtime is "
            "installed once per environment, a library per job; CI inflates both, and installs "
            "served from a cache or a company mirror never reach the registries' counts. New "
            "Hub models per deployment format (ONNX, TFLite, Core ML, OpenVINO, GGUF, "
            "ExecuTorch) are in "
            "data/results/hf_formats_monthly.csv. Details: docs/methodology/rounds.md.",
            results=("rounds_monthly.csv", "hf_formats_monthly.csv")),
    Section("pypi", "Package downloads (PyPI)", ("pypi_downloads",), ("pypi_downloads",),
            ("pypi_",),
            "Monthly downloads of each framework's packages from PyPI's download logs "
            "(Linehaul; ClickHouse's pypi.pypi_downloads_per_month, one SQL query to the "
            "public ClickHouse SQL playground per refresh, only the newest months asked "
            "again). Headline reading: a framework's downloads are those of the packages a "
            "user installs to get it (core package, CPU/GPU/platform builds, nightlies: "
            "torch; tensorflow, tensorflow-cpu, tensorflow-gpu, tensorflow-macos, tf-nightly; "
            "...), never a package another one pulls in (jaxlib, tensorflow-intel), a library "
            "(flax) or a shim (tf-keras); the alternative counts the core package only. "
            "Downloads are not users: CI runs, mirrors, caches and dependency installs count "
            "(installing transformers pulls torch), and PyTorch's own wheel index and conda "
            "are not in PyPI's logs. Package list: data/reference/framework_packages.csv; "
            "details: docs/methodology/pypi_downloads.md.",
            beyond="The article reads adoption from models, papers and jobs. Package "
                   "downloads are the signal most often quoted today, and the only one with "
                   "a complete monthly record for every framework from 2016 to last month: "
                   "PyTorch, TensorFlow, JAX, Keras, MLX and ONNX Runtime on one axis.",
            figures=(("PyTorch share of the frameworks' downloads", "pypi_pytorch_share_pct"),
                     ("TensorFlow share", "pypi_tensorflow_share_pct"),
                     ("JAX share", "pypi_jax_share_pct"),
                     ("Keras share", "pypi_keras_share_pct"),
                     ("PyTorch downloads / TensorFlow downloads", "pypi_pt_to_tf_ratio"),
                     ("Same, core packages only (alternative reading)",
                      "pypi_pt_to_tf_core_ratio")),
            results=("pypi_monthly.csv",)),
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


def our_figures(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Every figure we computed (out_figures), by id."""
    if not table_exists(con, "out_figures"):
        return {}
    cursor = con.execute("SELECT figure_id, value, unit, as_of, snapshot_id FROM out_figures")
    return {r[0]: {"value": r[1], "unit": r[2], "as_of": r[3], "snapshot_id": r[4]}
            for r in cursor.fetchall()}


#: the landscape section's table: each family's share of the last 12 complete months' new
#: models in both readings and by downloads, beside the February 2022 listing's
LANDSCAPE_TABLE = """
    SELECT * EXCLUDE (o) FROM (
        SELECT family_label AS "Family",
               max(share_pct) FILTER (WHERE scope = 'last_12_months' AND reading = 'library')
                   AS "Library reading, % (headline)",
               max(share_pct) FILTER (WHERE scope = 'last_12_months' AND reading = 'tags')
                   AS "Tags reading, %",
               max(downloads_share_pct) FILTER (WHERE scope = 'last_12_months'
                   AND reading = 'library') AS "Library reading, % of downloads",
               max(share_pct) FILTER (WHERE scope = 'archive' AND reading = 'library')
                   AS "Hub listing of Feb 2022, library reading, %",
               min(family_order) AS o
        FROM out_hf__landscape GROUP BY family_label
        UNION ALL
        SELECT label, max(v) FILTER (WHERE reading = 'library' AND scope = 'last_12_months'),
               max(v) FILTER (WHERE reading = 'tags' AND scope = 'last_12_months'), NULL,
               max(v) FILTER (WHERE reading = 'library' AND scope = 'archive'), o
        FROM out_hf__landscape, LATERAL (VALUES
            ('unresolved (% of all models)', unresolved_pct, 100),
            ('tagged pytorch or tf, what the article''s rule sees (% of all)',
             tag_coverage_pct, 101)) x(label, v, o)
        WHERE family = 'pytorch' GROUP BY label, o)
    ORDER BY o"""


def landscape_table(con: duckdb.DuckDBPyConnection) -> str:
    """The landscape section's summary table (HTML), once the analysis has run."""
    if not table_exists(con, "out_hf__landscape"):
        return ""
    cursor = con.execute(LANDSCAPE_TABLE)
    rows = cursor.fetchall()
    if not any(any(v is not None for v in row[1:]) for row in rows):
        return ""
    columns = [d[0] for d in cursor.description]
    cells = [("", [esc(row[0])] + [esc(fmt_value(v, "%")) for v in row[1:]]) for row in rows]
    return ("<h3>Our figures: the models created in the last 12 complete months</h3>"
            + table(columns, cells, numeric=set(range(1, len(columns))),
                    label="New Hub models of the last 12 complete months, by framework family"))


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
    taken = (f"data as of {row['data_as_of']:%Y-%m-%d %H:%M} UTC, collected "
             if row.get("data_as_of") else "")
    return (f"<li><strong>{esc(source.title)}</strong> (<code>{esc(name)}</code>): snapshot "
            f"#{row['snapshot_id']} of {taken}{row['finished_at']:%Y-%m-%d %H:%M} UTC, "
            f"{row['row_count']:,} rows, from <code>"
            f"{esc(shown_origin(row['origin_url'], row.get('public_origin')))}</code>, sha256 "
            f"<code>{esc(row['sha256'])}</code>. Licence / terms: {esc(source.licence)}</li>")


def _no_data_notes(section: Section, sources: dict, status: dict) -> str:
    """A plain note per source of the section that has no data yet, with the command that
    collects it; an optional source that is not configured gets a quieter line."""
    notes = []
    has_data = [n for n in section.sources if (status.get(n) or {}).get("snapshot_id")
                is not None]
    for name in section.sources:
        if name not in sources or name in has_data:
            continue
        source, skip = sources[name], sources[name].skip_reason()
        command = f"<code>python -m pipeline refresh --source {esc(name)}</code>"
        if name in section.continuations and has_data:
            notes.append(f'<p class="optional">Today\'s values come from <code>{esc(name)}'
                         f"</code> ({esc(source.title)}), not collected yet: {command}."
                         "</p>")
        elif skip:
            notes.append(f'<p class="optional">Optional source <code>{esc(name)}</code> '
                         f"({esc(source.title)}) is not configured: {esc(skip)}; then "
                         f"{command}.</p>")
        else:
            notes.append(f'<p class="nodata">No data yet from <code>{esc(name)}</code> '
                         f"({esc(source.title)}). Collect it with {command}.</p>")
    return "".join(notes)


def _our_figures(section: Section, figures: dict[str, dict]) -> str:
    """A beyond-the-article section's figures, as of December 2021 and today."""
    rows = []
    for label, stem in section.figures:
        then, now = figures.get(f"{stem}_dec2021"), figures.get(f"{stem}_today")
        if then is None and now is None:
            continue
        cells = [esc(label)] + [
            esc(fmt_value(f["value"], f["unit"])) + (f" {esc(f['unit'])}" if f["unit"] not in
                                                     ("%", "downloads") else "")
            if f else "—" for f in (then, now)] + [_identifier(f"{stem}_today")]
        rows.append(("", cells))
    if not rows:
        return ""
    return ("<h3>Our values</h3>" + table(
        ["What", "December 2021 (the article's month)", "Today (latest complete month)",
         "Figure"], rows, numeric={1, 2}, label=f"{section.title}: our values"))


def _section(section: Section, rows: list[dict], reference: dict, charts: dict,
             charts_dir: Path, sources: dict, status: dict,
             figures: dict[str, dict] | None = None,
             extras: dict[str, str] | None = None) -> str:
    mine = [r for r in rows if section_of(r["figure_id"]) == section.key]
    title = f"Beyond the article: {section.title}" if section.beyond else section.title
    parts = [f'<section id="{section.key}" class="topic"><h2>{esc(title)}</h2>',
             _no_data_notes(section, sources, status)]
    if section.beyond:
        parts.append(f"<p>{esc(section.beyond)}</p>")
        parts.append(_our_figures(section, figures or {}))
    links = [f'<a href="data/{esc(name)}" download>{esc(name)}</a>' for name in section.results]
    if links:
        parts.append(f"<p>The monthly tables behind it (CSV): {' · '.join(links)}.</p>")
    if not (section.beyond and not mine):  # a measure beyond the article has no claim
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
    parts.append((extras or {}).get(section.key, ""))
    parts.append(f"<h3>Method</h3><p>{esc(section.method)}</p>")
    parts.append('<h3>Provenance</h3><ul class="provenance">')
    parts += [_source_line(n, sources[n], status.get(n)) for n in section.sources
              if n in sources]
    parts.append("</ul></section>")
    return "".join(parts)


def _snapshot_day(row: dict) -> str:
    """A snapshot's day: when its data was taken if the source knows (an archived listing),
    else when it was collected."""
    if row.get("data_as_of"):
        return f"data of {row['data_as_of']:%Y-%m-%d} (collected {row['finished_at']:%Y-%m-%d})"
    return f"{row['finished_at']:%Y-%m-%d}"


def _rows_of(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list:
    return con.execute(sql, params or []).fetchall()


def research_tables(con: duckdb.DuckDBPyConnection) -> str:
    """The research section's tables from the proceedings' papers: the years since Horace
    He's data (complete or still partial), today's meetings per conference, the meetings
    both counted, and the Findings volumes (kept out of the series)."""
    if not table_exists(con, "out_research__series") or not _rows_of(
            con, "SELECT 1 FROM core_papers__meetings LIMIT 1"):
        return ""
    pct = lambda v: esc(fmt_value(v, "%"))  # noqa: E731
    num = lambda v: esc(fmt_value(v))  # noqa: E731
    years = _rows_of(con, """
        SELECT year, pt_share_pct, jax_share_pct, processed, total_papers, complete, meetings,
               partial_meetings, missing_meetings
        FROM out_research__series WHERE level = 'year' AND series_source <> ?
        ORDER BY year DESC""", ["Horace He (conference PDFs)"])
    parts = ["<h3>Today: the proceedings' papers, year by year</h3>",
             "<p>Pooled over the main-track meetings of each year. A year enters the "
             "headline figures only when every meeting of it is complete; the others are "
             "still being read (each refresh continues the backfill).</p>",
             table(["Year", "PyTorch share", "JAX share", "Papers read / listed", "Complete",
                    "Meetings", "Not finished or not published yet"],
                   [("", [esc(y), pct(pt), pct(jax), f"{num(done)} / {num(listed)}",
                          "yes" if ok else "no", esc(meetings),
                          esc("; ".join(x for x in (partial, missing) if x) or "—")])
                    for y, pt, jax, done, listed, ok, meetings, partial, missing in years],
                   numeric={0, 1, 2, 3}, label="Conference papers today, year by year")]
    meetings = _rows_of(con, """
        SELECT conference, year, pt_share_pct, jax_share_pct, processed, failed, total_papers,
               complete
        FROM out_research__series WHERE level = 'meeting' AND series_source = ?
        ORDER BY conference, year""", ["Proceedings PDFs (papers)"])
    parts += ["<h3>Per conference</h3>",
              table(["Conference", "Year", "PyTorch share", "JAX share", "Read", "Failed",
                     "Listed", "Complete"],
                    [("", [esc(c), esc(y), pct(pt), pct(jax), num(r), num(f), num(n),
                           "yes" if ok else "no"])
                     for c, y, pt, jax, r, f, n, ok in meetings], numeric={1, 2, 3, 4, 5, 6},
                    label="Conference papers today, per conference")]
    compared = _rows_of(con, """
        SELECT conference, year, he_pt_share_pct, our_pt_share_pct, share_difference_pts,
               he_total_papers, our_total_papers, our_complete
        FROM out_research__comparison ORDER BY conference, year""")
    if compared:
        parts += ["<h3>The same meetings, counted by Horace He and by this pipeline</h3>",
                  "<p>Why they differ: docs/methodology/research.md (whole words only, so "
                  "\u201cGPyTorch\u201d does not count; PDFium instead of pdftotext; today's "
                  "listings).</p>",
                  table(["Meeting", "Horace He", "Ours", "Difference (points)",
                         "Papers (his / ours)", "Ours complete"],
                        [("", [esc(f"{c} {y}"), pct(he), pct(ours), num(diff),
                               f"{num(a)} / {num(b)}", "yes" if ok else "no"])
                         for c, y, he, ours, diff, a, b, ok in compared],
                        numeric={1, 2, 3, 4},
                        label="The same meetings, counted by Horace He and by this pipeline")]
    findings = _rows_of(con, """
        SELECT conference, year, pt_share_pct, jax_share_pct, processed, listed, complete
        FROM core_papers__meetings WHERE track = 'findings' ORDER BY conference, year""")
    if findings:
        parts += ["<h3>Findings volumes (not in the series)</h3>",
                  table(["Findings of", "Year", "PyTorch share", "JAX share",
                         "Papers read / listed", "Complete"],
                        [("", [esc(c), esc(y), pct(pt), pct(jax), f"{num(r)} / {num(n)}",
                               "yes" if ok else "no"])
                         for c, y, pt, jax, r, n, ok in findings], numeric={1, 2, 3, 4},
                        label="Findings volumes")]
    return "".join(parts)


def _sources_table(sources: dict, status: dict) -> str:
    lines = []
    for name, source in sources.items():
        row = status.get(name) or {}
        if row.get("snapshot_id") is not None:
            current = (f"#{row['snapshot_id']}, {_snapshot_day(row)}, "
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
           status: dict, notebooks: list[str], built: str,
           figures: dict[str, dict] | None = None,
           extras: dict[str, str] | None = None) -> str:
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
    body += [_section(s, rows, reference, charts, charts_dir, sources, status, figures, extras)
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
    results = [name for section in SECTIONS for name in section.results]
    for name in ("scorecard.csv", "figures.csv", "figures_history.csv", *results):
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
            built=f"{utcnow():%Y-%m-%d %H:%M}", figures=our_figures(con),
            extras={"research": research_tables(con), "landscape": landscape_table(con)})
        (build / "index.html").write_text(page)
        _swap_in(build, site_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return site_dir / "index.html"
