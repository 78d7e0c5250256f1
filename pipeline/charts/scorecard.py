"""Scorecard chart: the article's value vs ours for every figure, one row each."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipeline.charts import style

STATUS_COLOURS = {"matches": "#2F9E44", "differs": "#E8590C", "no data yet": "#ADB5BD"}


def draw_scorecard(con: duckdb.DuckDBPyConnection, path: Path) -> list[Path]:
    rows = con.execute(
        "SELECT figure_id, article_value, unit, ours_as_of_article, ours_today, status, "
        "snapshots FROM out_scorecard"
    ).fetchall()
    fig, ax = style.figure(height=0.36 * len(rows) + 1.4, width=8.6)
    for y, (_fid, article, unit, ours, today, status, _snaps) in enumerate(reversed(rows)):
        values = [v for v in (article, ours, today) if v is not None]
        scale = max(values + [1e-9]) * 1.15
        colour = STATUS_COLOURS[status]
        if ours is not None:
            ax.plot([article / scale, ours / scale], [y, y], color=colour, lw=2, alpha=0.6)
            ax.scatter([ours / scale], [y], color=colour, s=40, zorder=3)
        if today is not None:
            ax.scatter([today / scale], [y], facecolor="white", edgecolor=colour, s=40,
                       zorder=3, lw=1.5)
        ax.scatter([article / scale], [y], marker="D", color=style.ARTICLE, s=28, zorder=4)
        u = "%" if unit == "%" else ""
        text = f"article {article:g}{u}"
        text += f"  ·  ours {ours:.1f}{u}" if ours is not None else "  ·  no data yet"
        if today is not None:
            text += f"  ·  today {today:.1f}{u}"
        ax.text(1.02, y, text, va="center", fontsize=7.5, color=colour if ours is not None
                else "#6C757D")
    ax.set_yticks(range(len(rows)), [re.sub(r"_pct$", "", r[0]) for r in reversed(rows)],
                  fontsize=8)
    ax.set_xlim(0, 1.75)
    ax.set_xticks([])
    ax.grid(False)
    ax.spines[["bottom", "left"]].set_visible(False)
    matches = sum(r[5] == "matches" for r in rows)
    have = sum(r[5] != "no data yet" for r in rows)
    ax.set_title(f"{matches} of {have} reproduced figures match the article "
                 f"({len(rows) - have} not collected yet)")
    ax.text(0, -1.1, "◆ article   ● ours, as of the article's date   ○ ours, today   "
            "(each row on its own scale)", fontsize=7.5, color="#52606D")
    ids = con.execute(
        "SELECT DISTINCT snapshot_id FROM out_figures WHERE snapshot_id IS NOT NULL"
    ).fetchall()
    return style.finish(fig, path, style.provenance(con, [i[0] for i in ids]))
