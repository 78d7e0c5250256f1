"""Research charts: PyTorch share at conferences over time, and the 2018 -> 2019 author Sankey."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from pipeline.charts import Chart, style
from pipeline.store import table_exists

PWC_CONFERENCE_TABLE = "out_pwc__conference_share"


def draw_research_share(con: duckdb.DuckDBPyConnection, path: Path) -> list[Path]:
    rows = con.execute(
        "SELECT m.conference, m.year + (m.month - 1) / 12.0 AS t, m.pt_share_pct, m.snapshot_id "
        "FROM core_conferences__meetings m WHERE m.pt_share_pct IS NOT NULL "
        "AND m.pytorch_papers + m.tensorflow_papers > 0 ORDER BY m.conference, t"
    ).fetchall()
    pooled = con.execute(
        "SELECT year + 0.5, pt_share_pct FROM out_research__share "
        "WHERE conference = 'All conferences' AND pt_share_pct IS NOT NULL ORDER BY year"
    ).fetchall()
    snapshots = {r[3] for r in rows}
    fig, ax = style.figure(height=5.0)
    conferences = sorted({r[0] for r in rows})
    palette = [
        "#4C6A92", "#7A9E7E", "#B07AA1", "#D4A373", "#6C757D",
        "#3D8D9E", "#A3785F", "#8C6BB1", "#5E8C61",
    ]
    for colour, conf in zip(palette * 2, conferences, strict=False):
        pts = [(t, v) for c, t, v, _ in rows if c == conf]
        ax.plot(*zip(*pts, strict=True), marker="o", ms=3, lw=1.1, alpha=0.75, color=colour,
                label=conf)
    if pooled:
        ax.plot(*zip(*pooled, strict=True), color=style.PYTORCH, lw=3, marker="o",
                label="All conferences (pooled)")
    if table_exists(con, PWC_CONFERENCE_TABLE):
        pwc = con.execute(
            f"SELECT year + 0.5, 100.0 * sum(pytorch_repos) / "
            f"nullif(sum(pytorch_repos) + sum(tensorflow_repos), 0), any_value(snapshot_id) "
            f"FROM {PWC_CONFERENCE_TABLE} GROUP BY year HAVING "
            f"sum(pytorch_repos) + sum(tensorflow_repos) > 0 ORDER BY year"
        ).fetchall()
        if pwc:
            ax.plot([r[0] for r in pwc], [r[1] for r in pwc], color=style.PYTORCH, lw=2,
                    ls="--", marker="s", ms=4,
                    label="All conferences, Papers with Code repos (2nd source)")
            snapshots |= {r[2] for r in pwc}
    ax.set_ylim(0, 100)
    ax.set_ylabel("PyTorch share of papers using PyTorch or TensorFlow (%)")
    ax.set_xlabel("Conference meeting date")
    started = [(t, v) for t, v in pooled if v > 0]
    if started:
        (t0, v0), (t1, v1) = started[0], started[-1]
        ax.set_title(f"PyTorch's share of conference papers rose from {v0:.0f}% ({int(t0)}) "
                     f"to {v1:.0f}% ({int(t1)})")
    else:
        ax.set_title("PyTorch's share of conference papers")
    ax.legend(ncol=3, loc="upper left", fontsize=7.5)
    return style.finish(fig, path, style.provenance(con, snapshots))


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


def draw_migration_sankey(con: duckdb.DuckDBPyConnection, path: Path) -> list[Path]:
    flows = con.execute(
        "SELECT from_group, to_group, authors, share_of_from_group_pct, snapshot_id, "
        "from_year, to_year FROM out_research__migration"
    ).fetchall()
    groups = ["TensorFlow", "Both", "PyTorch"]
    from_year, to_year = flows[0][5], flows[0][6]
    out_total = {g: sum(f[2] for f in flows if f[0] == g) for g in groups}
    in_total = {g: sum(f[2] for f in flows if f[1] == g) for g in groups}
    total = sum(out_total.values())
    gap = 0.04 * total
    fig, ax = style.figure(height=5.2)
    node_w, x_left, x_right = 0.06, 0.12, 0.82

    def stack(sizes: dict[str, int]) -> dict[str, float]:
        tops, y = {}, total + gap * (len(groups) - 1)
        for g in groups:
            tops[g] = y
            y -= sizes[g] + gap
        return tops

    left_top, right_top = stack(out_total), stack(in_total)
    right_cursor = dict(right_top)
    for g in groups:
        cursor = left_top[g]
        for target in groups:
            n, share = next(((f[2], f[3]) for f in flows if f[0] == g and f[1] == target),
                            (0, 0.0))
            if n == 0:
                continue
            y0 = (cursor, cursor - n)
            y1 = (right_cursor[target], right_cursor[target] - n)
            _band(ax, x_left + node_w, x_right, y0, y1, style.FRAMEWORK_COLOURS[g])
            if n / total > 0.012:
                ax.text(x_left + node_w + 0.01, cursor - n / 2, f"{share:.0f}% → {target}",
                        va="center", fontsize=7.5, color="#1F2933")
            cursor -= n
            right_cursor[target] -= n
    for x, tops, sizes, year in ((x_left, left_top, out_total, from_year),
                                 (x_right, right_top, in_total, to_year)):
        for g in groups:
            colour = style.FRAMEWORK_COLOURS[g]
            ax.add_patch(Rectangle((x, tops[g] - sizes[g]), node_w, sizes[g], color=colour))
            label = f"{g}\n{sizes[g]:,} authors"
            if x == x_left:
                ax.text(x - 0.01, tops[g] - sizes[g] / 2, label, ha="right", va="center",
                        fontsize=8.5)
            else:
                ax.text(x + node_w + 0.01, tops[g] - sizes[g] / 2, label, ha="left",
                        va="center", fontsize=8.5)
        ax.text(x + node_w / 2, total + gap * 3, str(year), ha="center", fontweight="bold")
    ax.set_xlim(-0.05, 1.08)
    ax.set_ylim(-gap, total + gap * 3.8)
    ax.axis("off")
    tf_moved = sum(f[2] for f in flows if f[0] == "TensorFlow" and f[1] != "TensorFlow")
    tf_pct = 100 * tf_moved / out_total["TensorFlow"] if out_total["TensorFlow"] else np.nan
    pt_stay = sum(f[2] for f in flows if f[0] == "PyTorch" and f[1] != "TensorFlow")
    pt_pct = 100 * pt_stay / out_total["PyTorch"] if out_total["PyTorch"] else np.nan
    ax.set_title(f"{tf_pct:.0f}% of {from_year}'s TensorFlow-only authors used PyTorch in "
                 f"{to_year};\n{pt_pct:.0f}% of its PyTorch-only authors stayed with PyTorch",
                 loc="center")
    return style.finish(fig, path, style.provenance(con, {f[4] for f in flows}))


MISSING = ("Collect the conference papers: "
           "ADOPTION_CONFERENCES_URL=../shared/mirror/pytorch-vs-tensorflow make refresh")
CHARTS = [
    Chart("research_share", "PyTorch share of conference papers",
          ("core_conferences__meetings", "out_research__share"), draw_research_share, MISSING),
    Chart("author_migration_sankey", "Author migration 2018 → 2019",
          ("out_research__migration",), draw_migration_sankey, MISSING),
]
