"""Figures over time: the "today" figures of each section across refreshes.

Reads `out_figures_history` (one point per figure and input snapshot; a figure re-computed from
the same snapshot keeps its latest value). One panel per section, the article's value marked
where the article states the same figure. With a single refresh there is no trend to draw: the
chart says so and lists the values.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.charts import Chart, Drawn, style
from pipeline.config import REFERENCE_DIR

TABLE = "out_figures_history"
#: (panel, figure id, label, colour, reference figure id for the article's value)
SERIES = [
    ("HuggingFace Hub models (tags)", "hf_pt_exclusive_pct_today", "PyTorch-exclusive",
     style.PYTORCH, "hf_pt_exclusive_pct"),
    ("HuggingFace Hub models (tags)", "hf_tf_available_pct_today", "available in TensorFlow",
     style.TENSORFLOW, "hf_tf_available_pct"),
    ("Papers with Code (latest complete quarter)", "pwc_pt_share_latest_pct", "PyTorch",
     style.PYTORCH, None),
    ("Papers with Code (latest complete quarter)", "pwc_tf_share_latest_pct", "TensorFlow",
     style.TENSORFLOW, None),
    ("HN 'Who is hiring?' (complete months of the last 12)", "jobs_hn_pt_share_last12_pct_today",
     "PyTorch", style.PYTORCH, None),
    ("HN 'Who is hiring?' (complete months of the last 12)", "jobs_hn_tf_share_last12_pct_today",
     "TensorFlow", style.TENSORFLOW, None),
]
SHORT = {"HuggingFace Hub models (tags)": "Hub models:",
         "Papers with Code (latest complete quarter)": "Papers with Code repositories:",
         "HN 'Who is hiring?' (complete months of the last 12)": "HN postings:"}
POINTS = f"""
SELECT figure_id, data_date, arg_max(value, computed_at) AS value, snapshot_id
FROM {TABLE}
WHERE list_contains($ids, figure_id) AND data_date IS NOT NULL
GROUP BY figure_id, snapshot_id, data_date
ORDER BY figure_id, data_date, snapshot_id
"""


def _article(reference_id: str | None) -> float | None:
    import csv

    path = REFERENCE_DIR / "article_figures.csv"
    if reference_id is None or not path.is_file():
        return None
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if row["figure_id"] == reference_id:
                return float(row["value"])
    return None


def draw_figures_over_time(con: duckdb.DuckDBPyConnection) -> Drawn:
    data = con.execute(POINTS, {"ids": [s[1] for s in SERIES]}).df()
    labels = {fid: (panel, label) for panel, fid, label, _, _ in SERIES}
    snapshots = set(data["snapshot_id"].dropna().astype(int))
    counts = data.groupby("figure_id").size() if len(data) else pd.Series(dtype=int)
    panels = [p for p in dict.fromkeys(s[0] for s in SERIES)
              if any(fid in counts.index for q, fid, *_ in SERIES if q == p)]
    if not len(data) or counts.max() < 2:
        return _single_refresh(data, labels, snapshots)
    fig, axes = style.figure(height=1.9 + 1.7 * len(panels), nrows=len(panels), sharex=True,
                             squeeze=False)
    # one slot per refresh (same-day refreshes stay apart), labelled with the collection day
    order = (data[["snapshot_id", "data_date"]].drop_duplicates()
             .sort_values(["data_date", "snapshot_id"]).reset_index(drop=True))
    slot = {sid: i for i, sid in enumerate(order["snapshot_id"])}
    data = data.assign(x=[slot[s] for s in data["snapshot_id"]])
    changes = []
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        for _, fid, label, colour, ref in (s for s in SERIES if s[0] == panel):
            points = data[data["figure_id"] == fid]
            if points.empty:
                continue
            ax.plot(points["x"], points["value"], marker="o", ms=3.5, color=colour,
                    label=label)
            first, last = points.iloc[0], points.iloc[-1]
            ax.annotate(f"{last['value']:.1f}%", (last["x"], last["value"]),
                        xytext=(4, 0), textcoords="offset points", fontsize=8, va="center",
                        color=colour)
            changes.append((SHORT[panel], f"{label} {first['value']:.1f}% → "
                                          f"{last['value']:.1f}%"))
            article = _article(ref)
            if article is not None:
                ax.axhline(article, color=style.ARTICLE, lw=1, ls="--")
                ax.text(1.0, article, f" article: {article:.0f}%", fontsize=7.5, va="center",
                        ha="left", color=style.ARTICLE, transform=ax.get_yaxis_transform())
        ax.set_title(panel, fontsize=10, loc="left")
        ax.set_ylabel("%")
        ax.legend(loc="upper left", fontsize=8)
    step = max(1, len(order) // 8)
    ticks = list(range(0, len(order), step))
    axes[-1, 0].set_xticks(ticks, [f"{order['data_date'][i]:%Y-%m-%d}\n#{order['snapshot_id'][i]}"
                                   for i in ticks], fontsize=7.5)
    axes[-1, 0].set_xlim(-0.4, len(order) - 0.4 + 0.6)
    axes[-1, 0].set_xlabel("Refresh (day the data was collected, snapshot)")
    refreshes = len(order)
    by_panel: dict[str, list[str]] = {}
    for short, change in changes:
        by_panel.setdefault(short, []).append(change)
    summary = [f"{short} {', '.join(items)}" for short, items in by_panel.items()]
    title = f"Across {refreshes} refreshes: " + ";\n".join(summary[:2])
    fig.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=11)
    alt = (f"How the headline figures moved: {len(data)} points from {refreshes} snapshots "
           f"between {data['data_date'].min():%Y-%m-%d} and {data['data_date'].max():%Y-%m-%d}. "
           + "; ".join(summary) + ".")
    return Drawn(fig, title.replace("\n", " "), alt, _frame(data, labels), snapshots)


def _single_refresh(data: pd.DataFrame, labels: dict, snapshots: set) -> Drawn:
    """One point per figure is no trend: say so, and give the values."""
    fig, ax = style.figure(height=2.8)
    ax.axis("off")
    if data.empty:
        title = "Figures over time: no tracked figure computed yet"
        ax.set_title(title)
        message = ("The tracked figures come from hf_models, papers_with_code and jobs_hn: "
                   "collect them with python -m pipeline refresh.")
        ax.text(0.0, 0.8, message, transform=ax.transAxes, va="top", fontsize=9, wrap=True)
        return Drawn(fig, title, f"{title}. {message}", _frame(data, labels), snapshots,
                     has_data=False)
    title = "Figures over time: only one refresh so far"
    ax.set_title(title)
    lines = [f"{labels[r.figure_id][0]}: {labels[r.figure_id][1]} {r.value:.1f}% "
             f"({r.data_date:%Y-%m-%d})" for r in data.itertuples()]
    message = ("A trend needs two refreshes with different data; each later refresh that "
               "changes a figure adds a point.")
    ax.text(0.0, 0.9, "\n".join([message, "", *lines]), transform=ax.transAxes, va="top",
            fontsize=9)
    alt = f"{title}. {message} " + "; ".join(lines)
    return Drawn(fig, title, alt, _frame(data, labels), snapshots)


def _frame(data: pd.DataFrame, labels: dict) -> pd.DataFrame:
    out = data.copy()
    out["section"] = [labels[f][0] for f in out["figure_id"]]
    out["series"] = [labels[f][1] for f in out["figure_id"]]
    return out[["section", "series", "figure_id", "data_date", "value", "snapshot_id"]]


CHARTS = [
    Chart("figures_over_time", "Figures over time", (TABLE,), draw_figures_over_time,
          "Run a refresh (make refresh); each refresh that changes a figure adds a point.",
          caption="The today figures of each section, one point per refresh whose data "
                  "changed (x: the day the data was collected); dashed lines mark the "
                  "article's value where it states the same figure."),
]
