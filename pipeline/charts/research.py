"""Research charts: PyTorch share at conferences over time, and the 2018 -> 2019 author Sankey."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from pipeline.charts import Chart, Drawn, style
from pipeline.store import table_exists

PWC_CONFERENCE_TABLE = "out_pwc__conference_share"


#: Paul Tol's "muted" qualitative palette: nine colours told apart with colour-blind vision
CONFERENCE_COLOURS = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                      "#CC6677", "#882255", "#AA4499"]
CONFERENCE_MARKERS = ["o", "s", "^", "v", "D", "P", "X", "<", ">"]
POOLED = "All conferences (pooled)"


def pooled_by_year(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pooled share per calendar year with the conferences that make it up."""
    return con.execute("""
        SELECT s.year, s.pt_share_pct, s.pytorch_papers, s.tensorflow_papers, s.snapshot_id,
               count(DISTINCT m.conference) AS conferences,
               string_agg(DISTINCT m.conference, ', ' ORDER BY m.conference) AS which
        FROM out_research__share s
        JOIN core_conferences__meetings m
          ON m.year = s.year AND m.pytorch_papers + m.tensorflow_papers > 0
        WHERE s.conference = 'All conferences' AND s.pt_share_pct IS NOT NULL
        GROUP BY ALL ORDER BY s.year""").df()


def draw_research_share(con: duckdb.DuckDBPyConnection) -> Drawn:
    meetings = con.execute(
        "SELECT conference, year, month, year + (month - 1) / 12.0 AS t, pt_share_pct, "
        "pytorch_papers, tensorflow_papers, snapshot_id FROM core_conferences__meetings "
        "WHERE pt_share_pct IS NOT NULL AND pytorch_papers + tensorflow_papers > 0 "
        "ORDER BY conference, t").df()
    pooled = pooled_by_year(con)
    snapshots = set(meetings["snapshot_id"]) | set(pooled["snapshot_id"])
    fig, ax = style.figure(height=5.2)
    conferences = sorted(set(meetings["conference"]))
    for i, conf in enumerate(conferences):
        part = meetings[meetings["conference"] == conf]
        ax.plot(part["t"], part["pt_share_pct"], lw=1.1, ms=4, alpha=0.85, label=conf,
                color=CONFERENCE_COLOURS[i % len(CONFERENCE_COLOURS)],
                marker=CONFERENCE_MARKERS[i % len(CONFERENCE_MARKERS)])
    pooled["t"] = pooled["year"] + 0.5
    single = pooled["conferences"] < 2
    ax.plot(pooled["t"], pooled["pt_share_pct"], color=style.PYTORCH, lw=3.2, zorder=4,
            label=POOLED)
    ax.scatter(pooled.loc[~single, "t"], pooled.loc[~single, "pt_share_pct"], s=46,
               color=style.PYTORCH, zorder=5)
    ax.scatter(pooled.loc[single, "t"], pooled.loc[single, "pt_share_pct"], s=70, lw=2,
               facecolor="white", edgecolor=style.PYTORCH, zorder=5,
               label="Pooled year with one conference only")
    for _, row in pooled[single].iterrows():
        ax.annotate(f"{row['year']}: {row['which']} only", (row["t"], row["pt_share_pct"]),
                    xytext=(0, 9), textcoords="offset points", ha="right", fontsize=7.5,
                    color=style.PYTORCH)
    data = pd.concat([
        meetings.assign(series=meetings["conference"], conferences=1)[
            ["series", "year", "month", "pt_share_pct", "pytorch_papers", "tensorflow_papers",
             "conferences", "snapshot_id"]],
        pooled.assign(series=POOLED, month=None)[
            ["series", "year", "month", "pt_share_pct", "pytorch_papers", "tensorflow_papers",
             "conferences", "snapshot_id"]],
    ], ignore_index=True)
    if table_exists(con, PWC_CONFERENCE_TABLE):
        pwc = con.execute(
            f"SELECT year, 100.0 * sum(pytorch_repos) / "
            f"nullif(sum(pytorch_repos) + sum(tensorflow_repos), 0) AS pt_share_pct, "
            f"any_value(snapshot_id) AS snapshot_id FROM {PWC_CONFERENCE_TABLE} GROUP BY year "
            f"HAVING sum(pytorch_repos) + sum(tensorflow_repos) > 0 ORDER BY year").df()
        if len(pwc):
            ax.plot(pwc["year"] + 0.5, pwc["pt_share_pct"], color=style.PYTORCH, lw=2,
                    ls="--", marker="s", ms=4,
                    label="All conferences, Papers with Code repos (2nd source)")
            snapshots |= set(pwc["snapshot_id"])
            data = pd.concat([data, pwc.assign(series="Papers with Code repos (pooled)")],
                             ignore_index=True)
    ax.set_ylim(0, 100)
    ax.set_ylabel("PyTorch share of papers using\nPyTorch or TensorFlow (%)")
    ax.set_xlabel("Conference meeting date")
    ax.legend(loc="lower right", ncol=2, fontsize=7.5, framealpha=0.9, frameon=True,
              edgecolor="none")
    multi = pooled[~single & (pooled["pt_share_pct"] > 0)]
    if len(multi) >= 2:
        first, last = multi.iloc[0], multi.iloc[-1]
        title = (f"Pooled PyTorch share of conference papers: "
                 f"{first['pt_share_pct']:.0f}% in {first['year']} → "
                 f"{last['pt_share_pct']:.0f}% in {last['year']}")
    else:
        title = "PyTorch's share of conference papers"
    ax.set_title(title, fontsize=11)
    yearly = "; ".join(
        f"{r['year']}: {r['pt_share_pct']:.0f}%"
        + (f" ({r['which']} only)" if r["conferences"] < 2 else "")
        for _, r in pooled.iterrows())
    alt = (f"{title}. Line chart of PyTorch's share of the papers that mention PyTorch or "
           f"TensorFlow at {len(conferences)} conferences ({', '.join(conferences)}), one line "
           f"per conference plus the pooled yearly share: {yearly}.")
    return Drawn(fig, title, alt, data, snapshots)


def _band(ax, x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float],
          colour: str) -> None:
    """A filled flow from [y0] at x0 to [y1] at x1 with smooth cubic edges."""
    mid = (x0 + x1) / 2
    verts = [
        (x0, y0[0]), (mid, y0[0]), (mid, y1[0]), (x1, y1[0]),
        (x1, y1[1]), (mid, y1[1]), (mid, y0[1]), (x0, y0[1]), (x0, y0[0]),
    ]
    codes = [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4,
             MplPath.LINETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4, MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=colour, alpha=0.45, lw=0))


def draw_migration_sankey(con: duckdb.DuckDBPyConnection) -> Drawn:
    flows = con.execute(
        "SELECT from_group, to_group, authors, share_of_from_group_pct, snapshot_id, "
        "from_year, to_year FROM out_research__migration").df()
    groups = ["TensorFlow", "Both", "PyTorch"]
    from_year, to_year = int(flows["from_year"].iloc[0]), int(flows["to_year"].iloc[0])

    def authors(src: str, dst: str) -> int:
        hit = flows[(flows["from_group"] == src) & (flows["to_group"] == dst)]["authors"]
        return int(hit.iloc[0]) if len(hit) else 0

    # shares of each 2018 group, rounded so that each group's shares add up to exactly 100%
    shown = {g: dict(zip(groups, style.largest_remainder([authors(g, t) for t in groups]),
                         strict=True)) for g in groups}
    flows["share_rounded_pct"] = [shown[f][t] for f, t in zip(flows["from_group"],
                                                               flows["to_group"], strict=True)]
    out_total = {g: sum(authors(g, t) for t in groups) for g in groups}
    in_total = {g: sum(authors(f, g) for f in groups) for g in groups}
    total = sum(out_total.values())
    gap = 0.05 * total
    fig, ax = style.figure(height=5.6)
    node_w, x_left, x_right = 0.05, 0.16, 0.80

    def stack(sizes: dict[str, int]) -> dict[str, float]:
        tops, y = {}, total + gap * (len(groups) - 1)
        for g in groups:
            tops[g] = y
            y -= sizes[g] + gap
        return tops

    left_top, right_top = stack(out_total), stack(in_total)
    right_cursor = dict(right_top)
    labels: list[tuple[float, str]] = []
    for g in groups:
        cursor = left_top[g]
        for target in groups:
            n = authors(g, target)
            if n == 0:
                continue
            y0 = (cursor, cursor - n)
            y1 = (right_cursor[target], right_cursor[target] - n)
            _band(ax, x_left + node_w, x_right, y0, y1, style.FRAMEWORK_COLOURS[g])
            labels.append((cursor - n / 2, f"{shown[g][target]}% → {target}"))
            cursor -= n
            right_cursor[target] -= n
    # one label per flow beside its start, moved apart where thin flows would overlap
    top_y = total + gap * (len(groups) - 1)
    placed = style.spread([y for y, _ in labels], 0.042 * top_y, 0, top_y)
    for (_, text), y in zip(labels, placed, strict=True):
        ax.text(x_left + node_w + 0.012, y, text, va="center", fontsize=7.8, color="#1F2933",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7})
    for x, tops, sizes, year in ((x_left, left_top, out_total, from_year),
                                 (x_right, right_top, in_total, to_year)):
        for g in groups:
            colour = style.FRAMEWORK_COLOURS[g]
            ax.add_patch(Rectangle((x, tops[g] - sizes[g]), node_w, sizes[g], color=colour))
            label = f"{g if g == 'Both' else g + ' only'}\n{sizes[g]:,} authors"
            left = x == x_left
            ax.text(x - 0.012 if left else x + node_w + 0.012, tops[g] - sizes[g] / 2, label,
                    ha="right" if left else "left", va="center", fontsize=8.5)
        ax.text(x + node_w / 2, total + gap * 2.6, str(year), ha="center", fontweight="bold")
    ax.set_xlim(-0.02, 1.0)
    ax.set_ylim(-gap * 0.5, total + gap * 3.2)
    ax.axis("off")
    tf_moved = out_total["TensorFlow"] - authors("TensorFlow", "TensorFlow")
    tf_pct = 100 * tf_moved / out_total["TensorFlow"] if out_total["TensorFlow"] else np.nan
    pt_stay = out_total["PyTorch"] - authors("PyTorch", "TensorFlow")
    pt_pct = 100 * pt_stay / out_total["PyTorch"] if out_total["PyTorch"] else np.nan
    title = (f"{tf_pct:.0f}% of {from_year}'s TensorFlow-only authors used PyTorch in "
             f"{to_year};\n{pt_pct:.0f}% of its PyTorch-only authors stayed with PyTorch")
    ax.set_title(title, loc="center")
    parts = [f"of {out_total[g]:,} {g if g == 'Both' else g + '-only'} authors"
             f"{' (both frameworks)' if g == 'Both' else ''}: "
             + ", ".join(f"{shown[g][t]}% → {t if t == 'Both' else t + ' only'}"
                         for t in groups) for g in groups]
    alt = (f"{title.replace(chr(10), ' ')}. Flow diagram of the {total:,} authors who used "
           f"PyTorch or TensorFlow in both {from_year} and {to_year}, from their {from_year} "
           f"group (left) to their {to_year} group (right); " + "; ".join(parts) + ".")
    return Drawn(fig, title.replace("\n", " "), alt, flows, set(flows["snapshot_id"]))


MISSING = ("Collect the conference papers: "
           "ADOPTION_CONFERENCES_URL=../shared/mirror/pytorch-vs-tensorflow make refresh")
CHARTS = [
    Chart("research_share", "PyTorch share of conference papers",
          ("core_conferences__meetings", "out_research__share"), draw_research_share, MISSING,
          caption="PyTorch's share of the papers that mention PyTorch or TensorFlow, per "
                  "conference meeting (thin lines) and pooled per calendar year (thick red "
                  "line; hollow where a year has one conference only). Counts from Horace "
                  "He's scan of the conference PDFs.",
          optional_tables=(PWC_CONFERENCE_TABLE,)),
    Chart("author_migration_sankey", "Author migration 2018 → 2019",
          ("out_research__migration",), draw_migration_sankey, MISSING,
          caption="Authors who published in both years, grouped by the frameworks their "
                  "papers mention (TensorFlow only, both, PyTorch only), and where each "
                  "2018 group went in 2019. Shares are of the 2018 group and add up to 100% "
                  "per group."),
]
