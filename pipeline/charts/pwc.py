"""Papers with Code chart: framework share of new paper repositories per quarter."""

from __future__ import annotations

import csv

import duckdb
import pandas as pd

from pipeline.charts import Chart, Drawn, style
from pipeline.config import REFERENCE_DIR

TABLE = "out_pwc__quarterly_share"
START = (2017, 4)  # late 2017, where the article's chart starts
ARTICLE_QUARTER = "2021-Q4"
SERIES = [  # (column, label, colour), stacked bottom -> top
    ("pytorch_pct", "PyTorch", style.PYTORCH),
    ("tensorflow_pct", "TensorFlow", style.TENSORFLOW),
    ("jax_pct", "JAX", style.JAX),
    ("other_pct", "Other framework", style.OTHER),
    ("none_pct", "No framework detected", style.NONE),
]


def article_values() -> dict[str, float]:
    """The article's Q4 2021 numbers, from the reference file (only drawn for comparison)."""
    path = REFERENCE_DIR / "article_figures.csv"
    if not path.is_file():
        return {}
    with path.open() as fh:
        return {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)
                if r["figure_id"].startswith("pwc_")}


def draw_quarterly_share(con: duckdb.DuckDBPyConnection, variant: str = "all") -> Drawn:
    columns = ", ".join(c for c, _, _ in SERIES)
    rows = con.execute(
        f"SELECT quarter, year, q, repos, complete, snapshot_id, {columns} FROM {TABLE} "
        "WHERE variant = ? AND (year, q) >= (?, ?) ORDER BY quarter_start",
        [variant, *START]).fetchall()
    shown = [r for r in rows if r[4]]
    partial = [r[0] for r in rows if not r[4]]
    fig, axes = style.figure(height=5.4, nrows=2, ncols=2,
                             gridspec_kw={"height_ratios": [4, 1.1], "width_ratios": [5, 1.45]})
    (ax, side), (strip, corner) = axes
    strip.sharex(ax)
    ax.tick_params(labelbottom=False)
    for blank in (side, corner):
        blank.axis("off")
    if not shown:
        ax.text(0.5, 0.5, "No complete quarter since late 2017 in the archive", ha="center",
                transform=ax.transAxes)
        title = "Framework share of new paper repositories (Papers with Code)"
        ax.set_title(title)
        return Drawn(fig, title, f"{title}: no complete quarter since late 2017 in the archive.",
                     _frame(rows), {r[5] for r in rows})
    # one slot per calendar quarter, so quarters without repositories stay visible as gaps
    first_index = shown[0][1] * 4 + shown[0][2] - 1
    x_of = {r[0]: r[1] * 4 + r[2] - 1 - first_index for r in shown}
    xs = [x_of[r[0]] for r in shown]
    bottom = [0.0] * len(shown)
    for offset, (_, label, colour) in enumerate(SERIES):
        values = [r[6 + offset] for r in shown]
        ax.bar(xs, values, bottom=bottom, width=0.86, color=colour, label=label, lw=0)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    counts = [r[3] for r in shown]
    strip.bar(xs, counts, width=0.86, color="#7B8794", lw=0)
    strip.set_ylabel("Repos per\nquarter", fontsize=8)
    strip.set_ylim(0, max(counts) * 1.35)
    strip.grid(axis="x", visible=False)
    strip.tick_params(axis="y", labelsize=7.5)

    by_quarter = {r[0]: r for r in shown}
    article = by_quarter.get(ARTICLE_QUARTER)
    box = []
    if article is not None:
        x = x_of[ARTICLE_QUARTER]
        pt, tf = article[6], article[7]
        ax.bar([x], [100], width=0.98, fill=False, edgecolor=style.ARTICLE, lw=1.4)
        ax.text(x, 101, "Q4 2021", ha="center", va="bottom", fontsize=7.5, clip_on=False)
        strip.bar([x], [article[3]], width=0.98, fill=False, edgecolor=style.ARTICLE, lw=1.2)
        ref = article_values()
        box.append("Q4 2021, the article's quarter")
        box.append(f"ours: {pt:.0f}% PyTorch, {tf:.0f}% TF\nof {article[3]:,} repos")
        if "pwc_pt_share_q4_2021_pct" in ref:
            apt = ref["pwc_pt_share_q4_2021_pct"]
            atf = ref.get("pwc_tf_share_q4_2021_pct", 0.0)
            ax.plot([x, x], [apt, apt + atf], ls="none", marker="D", ms=5, mec="white",
                    mew=0.8, color=style.ARTICLE, label="Article (Q4 2021)")
            repos = ref.get("pwc_repos_q4_2021")
            box.append(f"article ◆: {apt:.0f}% PyTorch, {atf:.0f}% TF"
                       + (f"\nof ~{repos:,.0f} repos" if repos else ""))
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.7, xs[-1] + 0.7)
    ax.set_ylabel("Share of the quarter's new repositories (%)")
    if xs[-1] < 12:  # a short series: label every quarter
        strip.set_xticks(xs, [r[0] for r in shown], fontsize=7.5)
    else:  # one label per year, at its first quarter
        years = sorted({r[1] for r in shown})
        ticks = [(y * 4 - first_index, str(y)) for y in years if y * 4 - first_index >= 0]
        strip.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
    strip.set_xlabel("Quarter the repository was created on GitHub" if variant == "created"
                     else "Quarter of the repository's earliest linked paper")
    ax.grid(axis="x", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    side.legend(handles[::-1], labels[::-1], loc="upper left", fontsize=8, handlelength=1.2,
                borderaxespad=0)
    first, last = shown[0], shown[-1]
    title = (f"PyTorch: {first[6]:.0f}% → {last[6]:.0f}% of new paper repositories "
             f"({first[0]} → {last[0]});\nTensorFlow: {first[7]:.0f}% → {last[7]:.0f}%")
    ax.set_title(title, pad=14)
    notes = ["Share of ALL repositories first", "linked to a paper in the quarter",
             "(\"no framework\" included)."]
    if variant == "official":
        notes.insert(0, "Official implementations only.")
    elif variant == "created":
        notes = ["Share of ALL repositories created", "on GitHub in the quarter (only",
                 "those with a known creation", "date; \"no framework\" included)."]
    if partial:
        notes.append(f"Incomplete {', '.join(partial)} omitted.")
    side.text(0, 0.36, "\n".join(box + [""] + notes if box else notes), transform=side.transAxes,
              fontsize=7.3, va="top", ha="left", linespacing=1.35)
    at_article = (f" In {ARTICLE_QUARTER}: PyTorch {article[6]:.0f}%, TensorFlow "
                  f"{article[7]:.0f}% of {article[3]:,} repositories." if article else "")
    alt = (f"{title.replace(chr(10), ' ')}. Stacked bars per quarter of the framework share of "
           f"new paper repositories on Papers with Code ({len(shown)} complete quarters, "
           f"{shown[0][0]} to {shown[-1][0]}), with the number of repositories per quarter "
           f"below.{at_article}")
    return Drawn(fig, title.replace("\n", " "), alt, _frame(rows), {r[5] for r in rows})


def _frame(rows: list) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["quarter", "year", "q", "repos", "complete",
                                       "snapshot_id", *(c for c, _, _ in SERIES)])


MISSING = ("Collect the Papers with Code archive: "
           "python -m pipeline refresh --source papers_with_code")
CHARTS = [
    Chart("pwc_quarterly_share", "Framework share of new paper repositories (Papers with Code)",
          (TABLE,), draw_quarterly_share, MISSING,
          caption="Framework of the repositories first linked to a paper in each quarter "
                  "(Papers with Code archive), as a share of all of the quarter's "
                  "repositories including those with no framework detected; the article's "
                  "Q4 2021 values are marked ◆, repositories per quarter below."),
]
