"""The other two rounds: monthly downloads per tool grouped by side, and the side share."""

from __future__ import annotations

import duckdb
import matplotlib.dates as mdates
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator

from pipeline.analysis.rounds import ARTICLE_MONTH
from pipeline.charts import Chart, Drawn, style
from pipeline.charts.pypi import _count

TABLE = "out_rounds__monthly"
MISSING = ("Collect the package downloads: `python -m pipeline refresh --source pypi_downloads "
           "--source npm_downloads` (needs internet access)")
#: shades per side, biggest tool first; neutral tools are grey and dashed
SHADES = {"tensorflow": ["#FF9F0A", "#B86E00", "#FFC46B", "#7A4A00", "#E0B070"],
          "pytorch": ["#EE4C2C", "#A8321C", "#F78C75", "#6E1F10", "#C9715E"],
          "neutral": ["#7B8794", "#3E4C59", "#9AA5B1", "#52606D", "#CBD2D9"]}
SIDE_LABELS = {"tensorflow": "TensorFlow side", "pytorch": "PyTorch side", "neutral": "neutral"}
TITLES = {"deployment": "Round 2, deployment", "ecosystem": "Round 3, ecosystem"}


def draw_round(con: duckdb.DuckDBPyConnection, round_: str) -> Drawn:
    data = con.execute(f"""
        SELECT month, side, tool, sum(downloads) AS downloads,
               any_value(side_share_pct) FILTER (WHERE side = 'tensorflow') AS tf_share,
               bool_and(complete) AS complete, bool_or(latest_complete) AS latest,
               max(snapshot_id) AS snapshot_id
        FROM {TABLE} WHERE round = ? GROUP BY month, side, tool ORDER BY month""",
                       [round_]).df()
    data["month"] = pd.to_datetime(data["month"])
    registries = dict(con.execute(f"""
        SELECT tool, string_agg(DISTINCT replace(registry, 'pypi', 'PyPI'), ' + '
                                ORDER BY replace(registry, 'pypi', 'PyPI'))
        FROM {TABLE} WHERE round = ? GROUP BY tool""", [round_]).fetchall())
    done = data[data["complete"] | ~data["month"].eq(data["month"].max())]
    fig, (top, bottom) = style.figure(height=6.6, nrows=2, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    totals = done.groupby(["side", "tool"])["downloads"].sum().sort_values(ascending=False)
    described = []
    for side in ("tensorflow", "pytorch", "neutral"):
        tools = [t for s, t in totals.index if s == side]
        for i, tool in enumerate(tools):
            part = done[(done["side"] == side) & (done["tool"] == tool)].set_index("month")
            series = part["downloads"].where(part["downloads"] > 0)
            top.plot(series.index, series, color=SHADES[side][i % 5],
                     ls="--" if side == "neutral" else "-", lw=1.3 if side == "neutral" else 1.9,
                     label=f"{tool} ({registries[tool]})")
            described.append((side, tool))
    top.set_yscale("log")
    top.yaxis.set_major_locator(LogLocator(base=10))
    top.yaxis.set_major_formatter(FuncFormatter(_count))
    top.set_ylabel("Downloads per month\n(log scale)")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=7.5)
    share = done.dropna(subset=["tf_share"]).groupby("month")["tf_share"].first()
    months = pd.date_range(done["month"].min(), done["month"].max(), freq="MS")
    share = share.reindex(months)
    bottom.fill_between(share.index, 0, share, color=style.TENSORFLOW, alpha=0.85, lw=0,
                        label="TensorFlow side")
    bottom.fill_between(share.index, share, 100, where=share.notna(), color=style.PYTORCH,
                        alpha=0.85, lw=0, label="PyTorch side")
    bottom.axhline(50, color=style.ARTICLE, lw=0.8, ls=":")
    bottom.set_ylim(0, 100)
    bottom.set_ylabel("Side share of the\nside-attributed downloads (%)")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8)
    article = pd.Timestamp(ARTICLE_MONTH)
    for ax in (top, bottom):
        if months.min() <= article <= months.max():
            ax.axvline(article, color=style.ARTICLE, ls="--", lw=1)
    if months.min() <= article <= months.max():
        bottom.text(article, 4, " article (Dec 2021)", fontsize=7.5, color=style.ARTICLE)
    locator = mdates.AutoDateLocator(maxticks=12)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    bottom.set_xlabel("Month (complete months; neutral tools, dashed, are not in the share)",
                      fontsize=8.5)
    latest = data[data["latest"]]
    then = data[data["month"] == article]
    now_share = latest["tf_share"].dropna()
    then_share = then["tf_share"].dropna()
    when = f"{latest['month'].iloc[0]:%b %Y}" if len(latest) else "no complete month"
    if len(now_share):
        lead = "leads" if now_share.iloc[0] > 50 else "trails"
        title = (f"{TITLES[round_]}: the TensorFlow side {lead} with {now_share.iloc[0]:.0f}% of "
                 f"the side-attributed downloads in {when}"
                 + (f" (Dec 2021: {then_share.iloc[0]:.0f}%)" if len(then_share) else ""))
    else:
        title = f"{TITLES[round_]}: monthly downloads per tool ({when})"
    top.set_title(title.replace(" with ", "\nwith ", 1), fontsize=11.5)
    biggest = "; ".join(
        f"{SIDE_LABELS[side]}: " + ", ".join(
            f"{t} {int(latest.loc[latest['tool'] == t, 'downloads'].sum()):,}"
            for s, t in described if s == side)
        for side in ("tensorflow", "pytorch", "neutral") if any(s == side for s, _ in described))
    alt = (f"{title}. Two panels over {months.min():%b %Y}–{months.max():%b %Y}: monthly "
           f"downloads (PyPI and npm, log scale) of each tool of the round, grouped by side, and "
           f"the TensorFlow side's share of the side-attributed downloads (neutral tools left "
           f"out); the article's month is marked. {when}: {biggest}.")
    out = data.drop(columns=["latest"]).assign(month=data["month"].dt.strftime("%Y-%m"))
    return Drawn(fig, title, alt, out, set(data["snapshot_id"].dropna()))


CAPTION = ("Monthly downloads of the round's tools from PyPI and npm (renamed packages joined "
           "into one tool, each counted from its first release; log scale), and the TensorFlow "
           "side's share of the downloads attributed to a side (neutral tools, dashed, are "
           "left out). Downloads are not deployments: docs/methodology/rounds.md.")
CHARTS = [
    Chart("rounds_deployment", "Round 2, deployment: downloads per tool", (TABLE,),
          lambda con: draw_round(con, "deployment"), MISSING,
          caption="TensorFlow Serving, TensorFlow Lite/LiteRT and TensorFlow.js against "
                  "TorchServe, ExecuTorch and PyTorch Live; ONNX Runtime, OpenVINO, Core ML "
                  "Tools and Transformers.js are neutral. " + CAPTION),
    Chart("rounds_ecosystem", "Round 3, ecosystem: downloads per library", (TABLE,),
          lambda con: draw_round(con, "ecosystem"), MISSING,
          caption="TF Hub, TFX, TensorFlow Datasets, KerasHub and MediaPipe against "
                  "torchvision, torchaudio, Lightning, TorchMetrics and timm. " + CAPTION),
]
