"""Package downloads: each framework's monthly PyPI downloads (log scale) and its share."""

from __future__ import annotations

import duckdb
import matplotlib.dates as mdates
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator

from pipeline.analysis.pypi import ARTICLE_MONTH
from pipeline.charts import Chart, Drawn, style

TABLE = "out_pypi__monthly"
MISSING = ("Collect the monthly PyPI downloads: `python -m pipeline refresh --source "
           "pypi_downloads` (asks the ClickHouse SQL playground: needs internet access)")


def _count(value: float, _position: object = None) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def monthly(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Complete months only (the current month is still filling), one row per framework."""
    data = con.execute(f"""
        SELECT month, framework, framework_label, downloads, share_pct, downloads_core,
               share_core_pct, complete, latest_complete, snapshot_id
        FROM {TABLE} WHERE complete ORDER BY month, framework_label""").df()
    data["month"] = pd.to_datetime(data["month"])
    return data


def draw_pypi_downloads(con: duckdb.DuckDBPyConnection) -> Drawn:
    data = monthly(con)
    labels = list(dict.fromkeys(con.execute(
        f"SELECT framework_label FROM {TABLE} GROUP BY ALL ORDER BY any_value(framework) = "
        "'pytorch' DESC, any_value(framework) = 'tensorflow' DESC, max(downloads) DESC")
        .df()["framework_label"]))
    fig, (top, bottom) = style.figure(height=6.4, nrows=2, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    wide = data.pivot_table(index="month", columns="framework_label", values="downloads")
    shares = data.pivot_table(index="month", columns="framework_label", values="share_pct")
    full = pd.date_range(wide.index.min(), wide.index.max(), freq="MS")
    wide, shares = wide.reindex(full), shares.reindex(full)  # a missing month is a gap
    for label in labels:
        colour = style.FRAMEWORK_COLOURS.get(label, style.OTHER)
        series = wide[label].where(wide[label] > 0)  # nothing to draw before the first download
        top.plot(series.index, series, color=colour, lw=2.2 if label in ("PyTorch",
                 "TensorFlow") else 1.4, label=label)
    top.set_yscale("log")
    top.yaxis.set_major_locator(LogLocator(base=10))
    top.yaxis.set_major_formatter(FuncFormatter(_count))
    top.set_ylabel("Downloads per month\n(log scale)")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    stack = shares[labels].fillna(0)
    bottom.stackplot(stack.index, *[stack[label] for label in labels],
                     colors=[style.FRAMEWORK_COLOURS.get(label, style.OTHER) for label in labels],
                     alpha=0.85, lw=0)
    bottom.set_ylim(0, 100)
    bottom.set_ylabel("Share of the frameworks'\ndownloads (%)")
    article = pd.Timestamp(ARTICLE_MONTH)
    for ax in (top, bottom):
        if full.min() <= article <= full.max():
            ax.axvline(article, color=style.ARTICLE, ls="--", lw=1)
    if full.min() <= article <= full.max():
        bottom.text(article, 97, " article\n (Dec 2021)", fontsize=7.5, va="top",
                    color=style.ARTICLE)
    locator = mdates.AutoDateLocator(maxticks=12)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    bottom.set_xlabel("Month (complete months; headline reading: the packages a user installs "
                      "to get each framework)", fontsize=8.5)
    latest = data[data["latest_complete"]].set_index("framework")
    then = data[data["month"] == article].set_index("framework")
    when = f"{latest['month'].iloc[0]:%b %Y}" if len(latest) else "no complete month"

    def ratio(rows: pd.DataFrame) -> str | None:
        if {"pytorch", "tensorflow"} <= set(rows.index) and rows.loc["tensorflow", "downloads"]:
            return f"{rows.loc['pytorch', 'downloads'] / rows.loc['tensorflow', 'downloads']:.1f}×"
        return None

    if {"pytorch", "tensorflow"} <= set(latest.index):
        title = (f"PyPI downloads in {when}: PyTorch {latest.loc['pytorch', 'share_pct']:.0f}%, "
                 f"TensorFlow {latest.loc['tensorflow', 'share_pct']:.0f}% of the frameworks' "
                 f"downloads; PyTorch/TensorFlow {ratio(latest)}"
                 + (f" (Dec 2021: {ratio(then)})" if ratio(then) else ""))
    else:
        title = f"Monthly PyPI downloads per framework ({when})"
    top.set_title(title.replace(" of the", "\nof the", 1), fontsize=11.5)
    values = "; ".join(f"{row['framework_label']} {int(row['downloads']):,} "
                       f"({row['share_pct']:.1f}%)" for _, row in
                       latest.sort_values("downloads", ascending=False).iterrows())
    alt = (f"{title}. Two panels over {full.min():%b %Y}–{full.max():%b %Y}: monthly PyPI "
           f"downloads of {', '.join(labels)} on a log scale, and each framework's share of "
           f"their total; the article's month (Dec 2021) is marked. {when}: {values}.")
    out = data.drop(columns=["latest_complete"]).assign(month=data["month"].dt.strftime("%Y-%m"))
    return Drawn(fig, title, alt, out, set(data["snapshot_id"].dropna()))


CHARTS = [
    Chart("pypi_downloads", "Monthly PyPI downloads per framework", (TABLE,),
          draw_pypi_downloads, MISSING,
          caption="Monthly downloads from PyPI of each framework's packages (the packages a "
                  "user installs to get it: e.g. tensorflow, tensorflow-cpu, tensorflow-gpu; "
                  "never a dependency another package pulls in, such as jaxlib), on a log "
                  "scale, and each framework's share of their total. Downloads are not users: "
                  "CI runs, mirrors and dependency installs count too "
                  "(docs/methodology/pypi_downloads.md)."),
]
