"""Scorecard chart: every article figure on one common axis, the difference between our value
and the article's in units of that figure's tolerance, so that the shaded band from -1 to +1
is "matches" for every row.

Drawn by `report` (after `out_scorecard` is rebuilt), not by `charts`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pipeline.charts import Chart, Drawn, draw_all, style
from pipeline.config import REFERENCE_DIR
from pipeline.errors import PipelineError

STATUS_COLOURS = {"matches": "#2F9E44", "differs": "#E8590C", "no data yet": "#868E96"}
BAND = "#D3F9D8"
LIMIT = 4.0  # differences beyond ±4 tolerances are drawn at the edge with an arrow


def reference_rules(path: Path = REFERENCE_DIR / "article_figures.csv") -> dict[str, dict]:
    """figure_id -> {comparison, tolerance} from the reference file."""
    if not path.is_file():
        return {}
    with path.open() as fh:
        return {r["figure_id"]: r for r in csv.DictReader(fh)}


def tolerance_unit(article: float, tolerance: str) -> float:
    """One tolerance in the figure's own unit; an exact figure (± 0) gets half a unit, so that
    only an equal count lands inside the band."""
    text = (tolerance or "0").strip()
    value = float(text.rstrip("%") or 0)
    unit = value / 100 * abs(article) if text.endswith("%") else value
    return unit if unit > 0 else 0.5


def placed(rows: pd.DataFrame, rules: dict[str, dict]) -> pd.DataFrame:
    """Each row's position on the common axis (NaN where nothing can be placed)."""
    out = rows.copy()
    comparison, unit = [], []
    for fid, article in zip(out["figure_id"], out["article_value"], strict=True):
        rule = rules.get(fid, {})
        comparison.append(rule.get("comparison", "approx"))
        unit.append(tolerance_unit(article, rule.get("tolerance", "0"))
                    if pd.notna(article) else np.nan)
    out["comparison"] = comparison
    out["tolerance_unit"] = unit
    numeric = out["comparison"].isin(["approx", "lt", "gt", "ge"])
    for col, name in (("ours_as_of_article", "x_as_of_article"), ("ours_today", "x_today")):
        values = pd.to_numeric(out[col], errors="coerce")
        article = pd.to_numeric(out["article_value"], errors="coerce")
        out[name] = ((values - article) / out["tolerance_unit"]).where(numeric)
    return out


def _fmt(value, unit: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return text + ("%" if unit == "%" else "×" if unit == "×" else "")


#: how the article's value reads when it is a bound or a threshold, not a value to match
BOUND_SIGNS = {"lt": "< ", "gt": "> ", "ge": "≥ "}


def article_text(value, unit: str, comparison: str) -> str:
    """The article's figure as it states it: "85%", "< 20", "≥ 1.5×"."""
    return BOUND_SIGNS.get(comparison, "") + _fmt(value, unit)


def _label(fid: str) -> str:
    return re.sub(r"_pct$", "", fid)


def draw_scorecard(con: duckdb.DuckDBPyConnection, path: Path) -> list[Path]:
    """Draw the scorecard chart into `path` (.png, .svg, .csv) and its charts.json entry."""
    written, errors = draw_all(con, path.parent, charts=[SCORECARD])
    if errors:
        raise PipelineError(errors[0])
    return written


def _draw(con: duckdb.DuckDBPyConnection) -> Drawn:
    rows = con.execute(
        "SELECT figure_id, article_value, unit, ours_as_of_article, ours_today, status, "
        "tolerance, snapshots FROM out_scorecard").df()
    data = placed(rows, reference_rules())
    n = len(data)
    fig, ax = style.figure(height=0.34 * n + 1.9, width=8.8)
    ys = list(range(n))[::-1]
    drew_today = False
    for y, (_, r) in zip(ys, data.iterrows(), strict=True):
        colour = STATUS_COLOURS.get(r["status"], "#868E96")
        if r[["x_as_of_article", "x_today"]].isna().all():
            pass  # nothing to place: the text on the right says why
        elif r["comparison"] == "lt":
            ax.fill_between([-LIMIT - 0.5, 0], y - 0.4, y + 0.4, color=BAND, lw=0)
        elif r["comparison"] in ("gt", "ge"):
            ax.fill_between([0, LIMIT + 0.5], y - 0.4, y + 0.4, color=BAND, lw=0)
        elif pd.notna(r["tolerance_unit"]):
            ax.fill_between([-1, 1], y - 0.4, y + 0.4, color=BAND, lw=0)
        for col, hollow in (("x_as_of_article", False), ("x_today", True)):
            x = r[col]
            if pd.isna(x):
                continue
            drew_today |= hollow
            clipped = float(np.clip(x, -LIMIT, LIMIT))
            marker = "o" if clipped == x else (">" if x > 0 else "<")
            ax.scatter([clipped], [y + (0.18 if hollow else 0)], s=46, marker=marker, zorder=3,
                       facecolor="white" if hollow else colour, edgecolor=colour, lw=1.5)
        unit = r["unit"]
        text = f"article {article_text(r['article_value'], unit, r['comparison'])}"
        if pd.notna(r["ours_as_of_article"]):
            text += f" · ours {_fmt(r['ours_as_of_article'], unit)}"
        if pd.notna(r["ours_today"]):
            text += f" · today {_fmt(r['ours_today'], unit)}"
        text += f" · {r['status']}"
        ax.text(LIMIT + 0.9, y, text, va="center", fontsize=7.5, color=colour)
    ax.axvline(0, color=style.ARTICLE, lw=1)
    ax.set_yticks(ys, [_label(f) for f in data["figure_id"]], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlim(-LIMIT - 0.5, LIMIT + 0.5)
    ax.set_xticks(range(-int(LIMIT), int(LIMIT) + 1))
    ax.grid(axis="y", visible=False)
    ax.spines[["left"]].set_visible(False)
    ax.set_xlabel("Our value minus the article's, in units of the figure's tolerance "
                  "(shaded: counts as a match)", fontsize=8.5)
    matches = int((data["status"] == "matches").sum())
    missing = int((data["status"] == "no data yet").sum())
    have = n - missing
    title = f"{matches} of {have} reproduced figures match the article"
    if missing:
        title += f" ({missing} not collected yet)"
    ax.set_title(title, pad=24)
    drawn = data[data["x_as_of_article"].notna()]
    handles = [Patch(color=BAND, label="within tolerance")] if len(drawn) else []
    handles += [Line2D([], [], ls="none", marker="o", color=STATUS_COLOURS[status],
                       label=f"ours, as of the article ({status})")
                for status in ("matches", "differs") if (drawn["status"] == status).any()]
    if drew_today:
        handles.append(Line2D([], [], ls="none", marker="o", mfc="white", color="#495057",
                              label="ours, today"))
    if (data[["x_as_of_article", "x_today"]].abs() > LIMIT).any().any():
        handles.append(Line2D([], [], ls="none", marker=">", color="#495057",
                              label=f"beyond ±{LIMIT:g}"))
    if handles:
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0,
                  ncol=len(handles), fontsize=7.5, handletextpad=0.3, columnspacing=1.0)
    lines = [f"{r['figure_id']}: article "
             f"{article_text(r['article_value'], r['unit'], r['comparison'])}, ours "
             f"{_fmt(r['ours_as_of_article'], r['unit'])} ({r['status']})"
             for _, r in data.iterrows()]
    alt = (f"{title}. Chart of every figure the article states, placed by how far our value "
           f"is from the article's in units of its tolerance: " + "; ".join(lines) + ".")
    ids = con.execute(
        "SELECT DISTINCT snapshot_id FROM out_figures WHERE snapshot_id IS NOT NULL"
    ).fetchall()
    keep = ["figure_id", "article_value", "unit", "comparison", "tolerance", "tolerance_unit",
            "ours_as_of_article", "x_as_of_article", "ours_today", "x_today", "status",
            "snapshots"]
    return Drawn(fig, title, alt, data[keep], {i[0] for i in ids})


SCORECARD = Chart(
    "scorecard", "Scorecard: the article's figures vs ours", ("out_scorecard",), _draw,
    "Run `python -m pipeline report` (after a refresh).",
    caption="Every figure the article states, on one axis: how far our value (as of the "
            "article's date; hollow: today) is from the article's, in units of that figure's "
            "tolerance. Inside the shaded band counts as a match; a figure the article gives "
            "as an upper bound is shaded on its side of zero.",
    optional_tables=("out_figures",), after_report=True)
CHARTS = [SCORECARD]
