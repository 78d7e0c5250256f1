"""What new HuggingFace Hub models are built for, month by month: the share of each month's new
models in each framework family (library reading), with the unresolved share and the share the
article's pytorch/tf tags see; a second panel weights the same shares by 30-day downloads."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from pipeline.charts import Chart, Drawn, style
from pipeline.charts.hf import MISSING
from pipeline.rules import HUB_FAMILIES

#: family -> (colour, marker): colour is never the only cue
FAMILY_STYLE = {
    "pytorch": (style.PYTORCH, "o"), "tensorflow": (style.TENSORFLOW, "s"),
    "jax": (style.JAX, "^"), "mlx": ("#3E4C59", "D"), "gguf": ("#2F9E44", "v"),
    "onnx": ("#7048E8", "P"), "other": (style.OTHER, "x"),
}
READING = "library"


def _month(label: str) -> date:
    year, month = label.split("-")
    return date(int(year), int(month), 15)


def draw_landscape(con: duckdb.DuckDBPyConnection) -> Drawn:
    rows = con.execute(
        "SELECT month, family, family_label, models, share_pct, downloads_share_pct, "
        "unresolved_pct, tag_coverage_pct, total_models, snapshot_id "
        "FROM out_hf__landscape_monthly WHERE reading = ? ORDER BY month", [READING]).fetchall()
    data = pd.DataFrame(rows, columns=["month", "family", "family_label", "models", "share_pct",
                                       "downloads_share_pct", "unresolved_pct",
                                       "tag_coverage_pct", "total_models", "snapshot_id"])
    pooled = con.execute(
        "SELECT family, share_pct, unresolved_pct, tag_coverage_pct, total_models "
        "FROM out_hf__landscape WHERE scope = 'last_12_months' AND reading = ?",
        [READING]).fetchall()
    months = sorted(set(data.month))
    fig, (top, bottom) = style.figure(height=7.8, width=10.5, nrows=2, sharex=True)
    x = [_month(m) for m in months]
    dense = len(months) > 30
    for family, label in HUB_FAMILIES.items():
        colour, marker = FAMILY_STYLE[family]
        part = data[data.family == family].set_index("month").reindex(months)
        if not (part.models.fillna(0) > 0).any():
            continue
        for ax, column in ((top, "share_pct"), (bottom, "downloads_share_pct")):
            ax.plot(x, part[column], color=colour, lw=1.8, marker=marker,
                    ms=3 if dense else 5, markevery=3 if dense else 1, label=label)
    per_month = data.drop_duplicates("month").set_index("month").reindex(months)
    top.plot(x, per_month.unresolved_pct, color="#616E7C", lw=1.4, ls="--",
             label="unresolved (% of all new models)")
    top.plot(x, per_month.tag_coverage_pct, color=style.ARTICLE, lw=1.4, ls=":",
             label="tagged pytorch or tf: what the\narticle's rule sees (% of all)")
    top.set_ylabel("% of the month's new models\nwith a framework family")
    bottom.set_ylabel("% of their 30-day downloads")
    bottom.set_xlabel("Month the model was created (createdAt; from April 2022, the first whole "
                      "month after the Hub's back-fill)")
    for ax in (top, bottom):
        ax.set_ylim(0, 100)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    top.set_title("Share of the month's new models (library reading)", fontsize=10,
                  fontweight="normal", loc="left")
    bottom.set_title("The same, weighted by downloads (last 30 days, as of the listing)",
                     fontsize=10, fontweight="normal", loc="left")
    shares = {f: s for f, s, *_ in pooled}
    leaders = sorted(((s, f) for f, s in shares.items() if s), reverse=True)[:2]
    if pooled and leaders:
        unresolved, coverage = pooled[0][2], pooled[0][3]
        first, last = months[-min(12, len(months))], months[-1]
        said = " and ".join(f"{HUB_FAMILIES[f]} {s:.0f}%" for s, f in leaders)
        title = (f"What new Hub models are built for: {said} of those created {first} to "
                 f"{last}\n(library reading, {unresolved:.0f}% unresolved); the article's "
                 f"pytorch/tf tags see only {coverage:.0f}% of them")
    else:
        title = "What new Hub models are built for, month by month"
    fig.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=12)
    listed = "; ".join(f"{HUB_FAMILIES[f]} {s:.1f}%" for f, s, *_ in pooled if s is not None)
    alt = (f"{title.replace(chr(10), ' ')}. Two line charts by month of creation from "
           f"{months[0] if months else 'n/a'} to {months[-1] if months else 'n/a'}: the share "
           f"of each month's new models in each framework family (library reading; a model "
           f"can be in several), with the unresolved share and the share tagged pytorch or tf; "
           f"below, the same shares weighted by 30-day downloads. Pooled over the last 12 "
           f"complete months: {listed}.")
    return Drawn(fig, title.replace("\n", " "), alt, data, set(data.snapshot_id.dropna()))


CHARTS = [
    Chart("hf_landscape", "What new Hub models are built for, month by month",
          ("out_hf__landscape_monthly", "out_hf__landscape"), draw_landscape, MISSING,
          caption="Each month's new Hub models (by createdAt) resolved to framework families "
                  "by data/reference/hub_frameworks.csv, library reading: the families of "
                  "its framework tags, else the family of its library. Shares are over the "
                  "models with at least one family (a model may count in several); the dashed "
                  "line is the unresolved share, the dotted one the share the article's "
                  "pytorch/tf tag rule sees. Lower panel: the same, weighted by 30-day "
                  "downloads."),
]
