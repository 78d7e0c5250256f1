"""HuggingFace charts: framework split (the February 2022 listing, the article era rebuilt from
today's Hub, and today; both methods), the top 30 models and which frameworks each has, and the
framework mix of new models per quarter."""

from __future__ import annotations

import duckdb
import pandas as pd
from matplotlib.lines import Line2D

from pipeline.charts import Chart, Drawn, style

SCOPE_LABELS = {
    ("archive", "tags"): "Hub listing of 15 Feb 2022\ntags method",
    ("archive", "weights"): "Hub listing of 15 Feb 2022\nweight files",
    ("article", "tags"): "Article era (≤ 2 Mar 2022)\nrebuilt from today's Hub, tags",
    ("article", "weights"): "Article era (≤ 2 Mar 2022)\nrebuilt, weights method",
    ("today", "tags"): "Today, all models\ntags method",
    ("today", "weights"): "Today, all models\nweights method",
}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def draw_share(con: duckdb.DuckDBPyConnection) -> Drawn:
    rows = con.execute(
        "SELECT as_of, method, pt_exclusive_pct, both_pct, tf_exclusive_pct, pt_or_tf, total, "
        "jax_pct_of_all, snapshot_id FROM out_hf__framework_share "
        "WHERE tf_rule = 'tf' AND weighting = 'models' ORDER BY as_of DESC, method DESC"
    ).fetchall()
    rows = [r for r in rows if r[5]]  # a scope with no model in PyTorch or TensorFlow
    by_key = {(r[0], r[1]): r for r in rows}
    order = [k for k in SCOPE_LABELS if k in by_key]
    fig, ax = style.figure(height=3.2 + 0.45 * len(order))
    for y, key in enumerate(reversed(order)):
        _, _, pt, both, tf, n_pt_tf, total, jax, _ = by_key[key]
        left = 0.0
        for value, colour, text_colour in ((pt, style.PYTORCH, "white"),
                                           (both, style.BOTH, "white"),
                                           (tf, style.TENSORFLOW, "#1F2933")):
            value = value or 0.0
            ax.barh(y, value, left=left, color=colour, height=0.62)
            if value >= 4:
                ax.text(left + value / 2, y, f"{value:.0f}%", ha="center", va="center",
                        color=text_colour, fontsize=9, fontweight="bold")
            left += value
        ax.text(101, y, f"{n_pt_tf:,} of {total:,} models\nJAX/Flax: {_pct(jax)} of all",
                va="center", fontsize=7.5, color="#52606D")
    ax.set_yticks(range(len(order)), [SCOPE_LABELS[k] for k in reversed(order)], fontsize=8.5)
    ax.set_xlim(0, 125)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("Share of models available in PyTorch or TensorFlow (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(handles=[
        Line2D([], [], color=style.PYTORCH, lw=8, label="PyTorch only"),
        Line2D([], [], color=style.BOTH, lw=8, label="Both"),
        Line2D([], [], color=style.TENSORFLOW, lw=8, label="TensorFlow only"),
    ], ncol=3, loc="lower center", bbox_to_anchor=(0.4, 1.0), fontsize=8.5)
    then = by_key.get(("archive", "tags")) or by_key.get(("article", "tags"))
    when = ("in Feb 2022" if by_key.get(("archive", "tags"))
            else "as of the article")
    now = by_key.get(("today", "tags"))
    if then and now:
        title = (f"PyTorch-only: {then[2]:.0f}% of models {when}, "
                 f"{now[2]:.0f}% today\nTensorFlow-only: {then[4]:.0f}% then, "
                 f"{now[4]:.0f}% today (tags method)")
    elif then:
        title = (f"PyTorch-only: {then[2]:.0f}% of models {when}\nTensorFlow-only: "
                 f"{then[4]:.0f}%, available in TensorFlow: {then[4] + then[3]:.0f}% (tags)")
    else:
        title = "Framework availability of HuggingFace models"
    ax.set_title(title, pad=26)
    bars = "; ".join(
        f"{SCOPE_LABELS[k].replace(chr(10), ', ')}: PyTorch only {_pct(by_key[k][2])}, both "
        f"{_pct(by_key[k][3])}, TensorFlow only {_pct(by_key[k][4])} of {by_key[k][5]:,} "
        f"models" for k in order)
    alt = (f"{title.replace(chr(10), '; ')}. Stacked bars of HuggingFace models available in "
           f"PyTorch or TensorFlow, split into PyTorch only, both and TensorFlow only: "
           f"{bars}.")
    data = pd.DataFrame(rows, columns=["as_of", "method", "pt_exclusive_pct", "both_pct",
                                       "tf_exclusive_pct", "pt_or_tf", "total",
                                       "jax_pct_of_all", "snapshot_id"])
    return Drawn(fig, title.replace("\n", "; "), alt, data, {r[8] for r in rows})


def _short_id(model_id: str, width: int = 34) -> str:
    return model_id if len(model_id) <= width else model_id[: width - 1] + "…"


def draw_top30(con: duckdb.DuckDBPyConnection) -> Drawn:
    rows = con.execute(
        "SELECT as_of, rank, id, downloads, pytorch_tag, pytorch_weights, tensorflow_tag, "
        "jax_tag, snapshot_id FROM out_hf__top30 WHERE ranking = 'downloads' "
        "ORDER BY as_of, rank"
    ).fetchall()
    has = {r[0] for r in rows}
    panels = [("archive", "As of the article: the Hub's listing of\n15 Feb 2022, downloads of "
               "the time") if "archive" in has else
              ("article", "As of the article (approximation: article-era\nmodels ranked by "
               "today's downloads)"), ("today", "Today (all models)")]
    panels = [p for p in panels if p[0] in has] or panels[:1]
    columns = [("PyTorch\ntag", 4, style.PYTORCH), ("PyTorch\nweights", 5, style.PYTORCH),
               ("Tensor-\nFlow", 6, style.TENSORFLOW), ("JAX /\nFlax", 7, style.JAX)]
    fig, axes = style.figure(height=8.6, width=10.5 if len(panels) == 2 else 6.2,
                             ncols=len(panels), squeeze=False)
    axes = axes[0]
    summary = []
    for ax, (as_of, label) in zip(axes, panels, strict=True):
        data = [r for r in rows if r[0] == as_of]
        for x, (_, index, colour) in enumerate(columns):  # one collection per column
            has = [bool(r[index]) for r in data]
            ax.scatter([x] * len(data), [-r[1] for r in data], s=70, marker="o",
                       facecolors=[colour if h else "white" for h in has],
                       edgecolors=[colour if h else style.NONE for h in has], linewidths=1.2,
                       zorder=3)
        for r in data:
            y = -r[1]
            ax.text(-0.6, y, f"{r[1]:>2}. {_short_id(r[2])}", ha="right", va="center",
                    fontsize=7.3, family="monospace")
            ax.text(len(columns) - 0.4, y, f"{r[3]:,}", ha="left", va="center", fontsize=7,
                    color="#52606D")
        ax.set_xlim(-0.6, len(columns) + 1.4)
        ax.set_ylim(-len(data) - 0.8, 0.2)
        ax.set_xticks(range(len(columns)), [c[0] for c in columns], fontsize=8)
        ax.xaxis.tick_top()
        ax.set_yticks([])
        ax.grid(False)
        for side in ("left", "bottom", "top"):
            ax.spines[side].set_visible(False)
        ax.set_title(label, fontsize=9.5, loc="center", pad=36)
        ax.set_xlabel("● available, ○ not; numbers: downloads, last 30 days", fontsize=8)
        pt = sum(1 for r in data if r[4])
        tf = sum(1 for r in data if r[6])
        summary.append((as_of, len(data), pt, tf))
    parts = {a: (n, pt, tf) for a, n, pt, tf in summary}
    then = "Feb 2022" if "archive" in parts else "article era"
    title = "The most downloaded HuggingFace models and their frameworks"
    if parts.get(panels[0][0]) and parts.get("today"):
        (n0, pt0, tf0), (n1, pt1, tf1) = parts[panels[0][0]], parts["today"]
        title = (f"Top {n1} models by downloads: PyTorch-tagged {pt0}/{n0} ({then}) "
                 f"and {pt1}/{n1} (today);\nTensorFlow {tf0}/{n0} and {tf1}/{n1}")
    elif parts.get(panels[0][0]):
        n0, pt0, tf0 = parts[panels[0][0]]
        title = (f"Top {n0} models by downloads ({then}):\nPyTorch-tagged {pt0}/{n0}, "
                 f"TensorFlow {tf0}/{n0}")
    fig.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=12)
    panels_text = "; ".join(
        f"{ {'archive': 'February 2022 listing', 'article': 'article era'}.get(a, 'today')}: "
        f"{pt} of {n} tagged PyTorch, "
        f"{tf} of {n} tagged TensorFlow" for a, n, pt, tf in summary)
    alt = (f"{title.replace(chr(10), ' ')}. Dot table of the most downloaded models, one row "
           f"per model, with filled dots for each framework it is available in: "
           f"{panels_text}.")
    data = pd.DataFrame(rows, columns=["as_of", "rank", "id", "downloads", "pytorch_tag",
                                       "pytorch_weights", "tensorflow_tag", "jax_tag",
                                       "snapshot_id"])
    return Drawn(fig, title.replace("\n", " "), alt, data, {r[8] for r in rows})


TREND_SERIES = [
    ("PyTorch (tag)", style.PYTORCH, "-"),
    ("PyTorch-loadable (weights)", style.PYTORCH, "--"),
    ("TensorFlow (tag)", style.TENSORFLOW, "-"),
    ("TensorFlow or Keras", style.TENSORFLOW, ":"),
    ("JAX / Flax (tag)", style.JAX, "-"),
    ("safetensors only, no framework tag", style.OTHER, "-"),
]


def draw_trend(con: duckdb.DuckDBPyConnection) -> Drawn:
    rows = con.execute(
        "SELECT quarter, series, pct, complete, models, snapshot_id FROM out_hf__trend "
        "ORDER BY quarter"
    ).fetchall()
    fig, ax = style.figure(height=5.0)
    for series, colour, dash in TREND_SERIES:
        pts = [(r[0], r[2]) for r in rows if r[1] == series]
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colour, ls=dash, lw=2,
                marker="o", ms=3, label=series)
    partial = sorted({r[0] for r in rows if not r[3]})
    for quarter in partial:
        ax.axvspan(quarter, quarter, color="#52606D", alpha=0.4)
    if partial:
        ax.annotate("latest quarter\nincomplete", (partial[-1], 88), fontsize=7,
                    color="#52606D", ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("Share of models created in the quarter (%)")
    ax.set_xlabel("Quarter of createdAt (models created after the 2 Mar 2022 back-fill)")
    ax.legend(ncol=2, loc="upper left", fontsize=8)
    pt = [(r[0], r[2]) for r in rows if r[1] == "PyTorch (tag)" and r[3]]
    st = [(r[0], r[2]) for r in rows if r[1] == "safetensors only, no framework tag" and r[3]]
    if len(pt) >= 2 and st:
        (q0, v0), (q1, v1) = pt[0], pt[-1]
        title = (f"New models tagged pytorch: {v0:.0f}% in {_q(q0)} → {v1:.0f}% in {_q(q1)};"
                 f"\nsafetensors-only models (no framework tag): {st[-1][1]:.0f}%")
    else:
        title = "Framework tags of new HuggingFace models per quarter"
    ax.set_title(title)
    latest = [(series, [r for r in rows if r[1] == series and r[3]]) for series, _, _ in
              TREND_SERIES]
    described = "; ".join(f"{series}: {pts[-1][2]:.0f}% in {_q(pts[-1][0])}"
                          for series, pts in latest if pts)
    alt = (f"{title.replace(chr(10), ' ')}. Line chart of the share of models created each "
           f"quarter per framework series; latest complete quarter: {described}.")
    data = pd.DataFrame(rows, columns=["quarter", "series", "pct", "complete", "models",
                                       "snapshot_id"])
    return Drawn(fig, title.replace("\n", " "), alt, data, {r[5] for r in rows})


def _q(day) -> str:
    return f"{day.year} Q{(day.month - 1) // 3 + 1}"


MISSING = "Collect the Hub models: python -m pipeline refresh --source hf_models"
CHARTS = [
    Chart("hf_framework_share", "Framework availability of HuggingFace models",
          ("out_hf__framework_share",), draw_share, MISSING,
          caption="HuggingFace Hub models available in PyTorch or TensorFlow, split into "
                  "PyTorch only, both and TensorFlow only: in the Hub's listing of 15 Feb 2022 "
                  "(tags, and weight files at the repository root), in the article era rebuilt "
                  "from today's Hub (models created up to 2 Mar 2022, today's tags) and today, "
                  "by the article's tags method and by the weights method (safetensors "
                  "loadable in PyTorch)."),
    Chart("hf_top30", "The 30 most downloaded HuggingFace models",
          ("out_hf__top30",), draw_top30, MISSING,
          caption="The 30 most downloaded models (last 30 days) as of the article (the Hub's "
                  "listing of 15 Feb 2022 when collected, else article-era models ranked by "
                  "today's downloads) and of today, with a filled dot for each framework a "
                  "model is available in."),
    Chart("hf_framework_trend", "Framework tags of new HuggingFace models per quarter",
          ("out_hf__trend",), draw_trend, MISSING,
          caption="Share of the models created in each quarter that carry each framework "
                  "tag; the latest quarter is incomplete and marked."),
]
