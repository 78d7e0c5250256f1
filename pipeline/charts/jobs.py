"""Job-posting charts: the HN "Who is hiring?" trend, and the article's per-board bars."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import matplotlib.dates as mdates
import pandas as pd

from pipeline.analysis.jobs import ARTICLE_MONTH, HN_BOARD, LABELS, LAST_MONTHS
from pipeline.charts import Chart, style

TREND_FRAMEWORKS = ("pytorch", "tensorflow", "jax")
SMOOTHING_MONTHS = 6
COLOURS = {"pytorch": style.PYTORCH, "tensorflow": style.TENSORFLOW, "jax": style.JAX,
           "keras": style.OTHER}


def smoothed_shares(con: duckdb.DuckDBPyConnection, months: int = SMOOTHING_MONTHS,
                    frameworks: tuple[str, ...] = TREND_FRAMEWORKS) -> pd.DataFrame:
    """One row per calendar month from the first thread to the last (months without a thread
    are empty), with each framework's share and a centred rolling share over `months`
    calendar months: mentions over postings summed in the window, so busy months weigh more
    and a long gap in the data breaks the line instead of being bridged."""
    cols = ", ".join(f"{fw}, {fw}_pct" for fw in frameworks)
    data = con.execute(f"SELECT month, postings, incomplete, snapshot_id, {cols} "
                       "FROM out_jobs__hn_monthly ORDER BY month").df()
    data["month"] = pd.to_datetime(data["month"])
    if data.empty:
        return data
    full = pd.date_range(data["month"].min(), data["month"].max(), freq="MS")
    data = data.set_index("month").reindex(full).rename_axis("month").reset_index()
    window = {"window": max(1, int(months)), "center": True, "min_periods": 1}
    postings = data["postings"].rolling(**window).sum()
    for fw in frameworks:
        share = 100.0 * data[fw].rolling(**window).sum() / postings.where(postings > 0)
        data[f"{fw}_smooth_pct"] = share.where(data["postings"].rolling(**window).count() > 0)
    return data


def last_months(con: duckdb.DuckDBPyConnection) -> dict:
    """The window of the headline figures: thread months within 12 months of the newest."""
    row = con.execute(f"""
        SELECT min(month), max(month), count(*), sum(postings), sum(pytorch), sum(tensorflow)
        FROM out_jobs__hn_monthly
        WHERE month > (SELECT max(month) FROM out_jobs__hn_monthly)
                      - INTERVAL {LAST_MONTHS} MONTH""").fetchall()[0]
    return dict(zip(("first", "last", "months", "postings", "pytorch", "tensorflow"), row,
                    strict=True))


def draw_hn_trend(con: duckdb.DuckDBPyConnection, path: Path) -> list[Path]:
    data = smoothed_shares(con)
    present = data[data["postings"].notna()]
    months = present["month"]
    fig, ax = style.figure(height=5.0)
    done = ~present["incomplete"].astype(bool)
    for fw in TREND_FRAMEWORKS:
        colour = COLOURS[fw]
        ax.scatter(months[done], present.loc[done, f"{fw}_pct"], s=10, color=colour,
                   alpha=0.35, lw=0)
        ax.scatter(months[~done], present.loc[~done, f"{fw}_pct"], s=24, facecolors="none",
                   edgecolors=colour, lw=1)
        ax.plot(data["month"], data[f"{fw}_smooth_pct"], color=colour, lw=2.2,
                label=f"{LABELS[fw]} ({SMOOTHING_MONTHS}-month smoothed)")
    points = present[[f"{fw}_pct" for fw in TREND_FRAMEWORKS]].stack()
    smooth = data[[f"{fw}_smooth_pct" for fw in TREND_FRAMEWORKS]].max().max()
    top = max(5.0, 1.5 * float(smooth), 1.1 * float(points.quantile(0.95)))
    ax.set_ylim(0, top)
    article = pd.Timestamp(ARTICLE_MONTH)
    ax.axvline(article, color=style.ARTICLE, ls="--", lw=1)
    ax.text(article, top * 0.02, " article (Dec 2021)", rotation=90, fontsize=8,
            va="bottom", ha="right", color=style.ARTICLE)
    first = min(months.min(), pd.Timestamp(date(2021, 1, 1)))
    if months.min() > article:
        ax.text(article + (months.min() - article) / 2, top * 0.5,
                f"no threads collected before {months.min():%b %Y}\n(a live refresh "
                "backfills from April 2011)", ha="center", va="center", fontsize=9,
                color="#52606D")
    ax.set_xlim(first - pd.DateOffset(months=2), months.max() + pd.DateOffset(months=3))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.set_ylabel("Postings mentioning it (% of the month's postings)")
    ax.set_xlabel("Thread month (dots: single months; hollow: the month still open)")
    ax.legend(loc="upper left")
    recent = last_months(con)
    if recent["postings"]:
        pt = 100 * recent["pytorch"] / recent["postings"]
        tf = 100 * recent["tensorflow"] / recent["postings"]
        ax.set_title(f"HN 'Who is hiring?': PyTorch in {pt:.1f}% of postings, TensorFlow in "
                     f"{tf:.1f}%\n(newest {recent['months']} thread months, "
                     f"{recent['first']:%b %Y}–{recent['last']:%b %Y}: "
                     f"{int(recent['postings']):,} postings)", fontsize=11.5)
    else:
        ax.set_title("HN 'Who is hiring?' postings mentioning each framework")
    return style.finish(fig, path, style.provenance(con, set(present["snapshot_id"])))


def draw_job_postings(con: duckdb.DuckDBPyConnection, path: Path) -> list[Path]:
    rows = con.execute(
        "SELECT board, board_order, kind, date, framework, count, regions, has_data, "
        "snapshot_id FROM out_jobs__board_counts WHERE framework IN ('pytorch', 'tensorflow') "
        "ORDER BY board_order, board").df()
    boards = list(dict.fromkeys(rows["board"]))
    history = con.execute(
        "SELECT board, date, framework, count, snapshot_id FROM out_jobs__board_history "
        "WHERE framework IN ('pytorch', 'tensorflow') AND board IN "
        "(SELECT board FROM out_jobs__board_history GROUP BY board "
        " HAVING count(DISTINCT date) > 1) ORDER BY board, date").df()
    has_history = not history.empty
    fig, axes = style.figure(height=5.4 if has_history else 4.2,
                             nrows=2 if has_history else 1, ncols=len(boards), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]} if has_history else None)
    if has_history:
        gs = axes[1, 0].get_gridspec()
        for ax in axes[1]:
            ax.remove()
        hist_ax = fig.add_subplot(gs[1, :])
    snapshots = set(rows["snapshot_id"].dropna()) | set(history.get("snapshot_id", []))
    verdicts = []
    for ax, board in zip(axes[0], boards, strict=True):
        part = rows[rows["board"] == board].set_index("framework")
        name = f"{board}\n(Who is hiring?)" if board == HN_BOARD else board
        ax.set_title(name, fontsize=9.5, loc="center", fontweight="bold")
        ax.grid(axis="x", visible=False)
        if not part["has_data"].any():
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ("left", "bottom"):
                ax.spines[side].set_visible(False)
            ax.text(0.5, 0.5, "no data\nrecorded yet", ha="center", va="center",
                    transform=ax.transAxes, color="#52606D", fontsize=9)
            continue
        values = [int(part.loc[fw, "count"]) if fw in part.index and pd.notna(part.loc[fw, "count"])
                  else 0 for fw in ("tensorflow", "pytorch")]
        bars = ax.bar([0, 1], values, color=[style.TENSORFLOW, style.PYTORCH], width=0.7)
        ax.set_xticks([])
        for bar, value in zip(bars, values, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{value:,}",
                    ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, max(values) * 1.18 or 1)
        when = part["date"].dropna()
        where = part["regions"].dropna()
        label = f"{pd.Timestamp(when.iloc[0]):%Y-%m-%d}" if len(when) else ""
        if board.startswith("Hacker News") and len(where):
            label = where.iloc[0].split(" (")[0]
        ax.set_xlabel(label, fontsize=7.5)
        verdicts.append(values[1] > values[0])
    axes[0][0].set_ylabel("Postings mentioning it (count)")
    if has_history:
        for (board, fw), part in history.groupby(["board", "framework"]):
            hist_ax.plot(pd.to_datetime(part["date"]), part["count"], marker="o", ms=3,
                         color=COLOURS[fw], ls="-" if fw == "pytorch" else "--",
                         label=f"{board} {LABELS[fw]}")
        hist_ax.set_ylabel("Count (searches summed)")
        locator = mdates.AutoDateLocator(maxticks=8)
        hist_ax.xaxis.set_major_locator(locator)
        hist_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        hist_ax.set_xlabel("Date of the count")
        hist_ax.legend(fontsize=7, ncol=2)
        hist_ax.set_title("History of the dated counts", fontsize=9.5)
    empty = [b for b in boards if not rows.loc[rows["board"] == b, "has_data"].any()]
    title = "Job postings mentioning TensorFlow (orange) vs PyTorch (red)"
    if verdicts:
        title = (f"PyTorch (red) beats TensorFlow (orange) on {sum(verdicts)} of "
                 f"{len(verdicts)} boards with counts")
    if empty:
        title += f"\n{', '.join(empty)}: no counts recorded (see data/manual/README.md)"
    fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")

    return style.finish(fig, path, style.provenance(con, snapshots))


MISSING_HN = ("Collect the HN 'Who is hiring?' threads: `python -m pipeline refresh --source "
              "jobs_hn` (offline: ADOPTION_JOBS_HN_URL=../shared/mirror/hn)")
MISSING_BOARDS = ("Run `python -m pipeline refresh` (HN threads and/or counts in "
                  "data/manual/job_board_counts.csv)")
CHARTS = [
    Chart("jobs_hn_trend", "HN 'Who is hiring?' postings mentioning PyTorch vs TensorFlow",
          ("out_jobs__hn_monthly",), draw_hn_trend, MISSING_HN),
    Chart("job_postings", "Job postings mentioning TensorFlow vs PyTorch",
          ("out_jobs__board_counts",), draw_job_postings, MISSING_BOARDS),
]
