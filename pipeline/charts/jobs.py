"""Job-posting charts: the HN "Who is hiring?" trend, and the article's per-board bars."""

from __future__ import annotations

import duckdb
import matplotlib.dates as mdates
import pandas as pd

from pipeline.analysis.jobs import ARTICLE_MONTH, HN_BOARD, LABELS
from pipeline.charts import Chart, Drawn, style

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


#: smooth only when there are at least this many months with threads (else plot each month)
MIN_MONTHS_TO_SMOOTH = 2 * SMOOTHING_MONTHS


def last_months(con: duckdb.DuckDBPyConnection) -> dict:
    """The window of the headline figures, as the analysis defines it (`in_last12`): the 12
    thread months ending with the newest complete one (an open thread would understate it)."""
    row = con.execute("""
        SELECT min(month), max(month), count(*), sum(postings), sum(pytorch), sum(tensorflow)
        FROM out_jobs__hn_monthly WHERE in_last12""").fetchall()[0]
    return dict(zip(("first", "last", "months", "postings", "pytorch", "tensorflow"), row,
                    strict=True))


def _month_span(first, last) -> str:
    return f"{first:%b %Y}" if first == last else f"{first:%b %Y}–{last:%b %Y}"


def draw_hn_trend(con: duckdb.DuckDBPyConnection) -> Drawn:
    data = smoothed_shares(con)
    present = data[data["postings"].notna()].copy()
    months = present["month"]
    smooth = len(present) >= MIN_MONTHS_TO_SMOOTH
    open_month = present["incomplete"].fillna(False).astype(bool)
    fig, ax = style.figure(height=5.0)
    for fw in TREND_FRAMEWORKS:
        colour = COLOURS[fw]
        done = present[~open_month]
        if smooth:
            ax.scatter(done["month"], done[f"{fw}_pct"], s=10, color=colour, alpha=0.35, lw=0)
            ax.plot(data["month"], data[f"{fw}_smooth_pct"], color=colour, lw=2.2,
                    label=f"{LABELS[fw]} ({SMOOTHING_MONTHS}-month smoothed)")
        else:
            ax.plot(done["month"], done[f"{fw}_pct"], color=colour, lw=2, marker="o", ms=5,
                    label=LABELS[fw])
            if open_month.any() and len(done):  # dotted link to the open month
                tail = pd.concat([done.tail(1), present[open_month]])
                ax.plot(tail["month"], tail[f"{fw}_pct"], color=colour, lw=1.2, ls=":")
        ax.scatter(months[open_month], present.loc[open_month, f"{fw}_pct"], s=42,
                   facecolors="white", edgecolors=colour, lw=1.6, zorder=4)
    values = present[[f"{fw}_pct" for fw in TREND_FRAMEWORKS]].stack()
    top = max(1.0, 1.25 * float(values.max()))
    ax.set_ylim(0, top)
    for _, row in present[open_month].iterrows():
        ax.annotate(f"{row['month']:%b %Y}: thread\nstill open", (row["month"], top * 0.97),
                    ha="center", va="top", fontsize=7.5, color="#52606D")
    pad = pd.DateOffset(months=1 if len(present) < 24 else 3)
    lo, hi = months.min() - pad, months.max() + pad
    ax.set_xlim(lo, hi)
    article = pd.Timestamp(ARTICLE_MONTH)
    if lo <= article <= hi:
        ax.axvline(article, color=style.ARTICLE, ls="--", lw=1)
        ax.text(article, top * 0.02, " article (Dec 2021)", rotation=90, fontsize=8,
                va="bottom", ha="right", color=style.ARTICLE)
        note = ""
    else:
        note = (f"; the article (Dec 2021) predates the first thread collected "
                f"({months.min():%b %Y})")
    if len(present) < 24:
        ax.xaxis.set_major_locator(mdates.MonthLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    else:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=10))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.set_ylabel("Postings mentioning it\n(% of the month's postings)")
    ax.set_xlabel("Thread month (hollow: the month's thread is still open)" + note,
                  fontsize=8.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    recent = last_months(con)
    if recent["postings"]:
        pt = 100 * recent["pytorch"] / recent["postings"]
        tf = 100 * recent["tensorflow"] / recent["postings"]
        span = _month_span(recent["first"], recent["last"])
        title = (f"HN 'Who is hiring?': PyTorch in {pt:.1f}% of postings, TensorFlow in "
                 f"{tf:.1f}% ({recent['months']} complete month"
                 f"{'s' if recent['months'] != 1 else ''}, {span}: "
                 f"{int(recent['postings']):,} postings)")
        ax.set_title(title.replace(" (", "\n(", 1), fontsize=11.5)
    else:
        title = "HN 'Who is hiring?' postings mentioning each framework"
        ax.set_title(title)
    monthly = "; ".join(
        f"{r['month']:%b %Y}{' (open)' if o else ''}: "
        + ", ".join(f"{LABELS[fw]} {r[f'{fw}_pct']:.1f}%" for fw in TREND_FRAMEWORKS)
        for (_, r), o in zip(present.iterrows(), open_month, strict=True))
    shown = (f"smoothed over {SMOOTHING_MONTHS} months" if smooth else "one point per month")
    alt = (f"{title}. Line chart of the share of HN 'Who is hiring?' postings that mention "
           f"PyTorch, TensorFlow and JAX per month ({shown}). "
           + (monthly if len(present) <= 24 else
              f"{len(present)} months from {months.min():%b %Y} to {months.max():%b %Y}."))
    columns = ["month", "postings", "incomplete", "snapshot_id"] + [
        f"{fw}{suffix}" for fw in TREND_FRAMEWORKS
        for suffix in ("", "_pct") + (("_smooth_pct",) if smooth else ())]
    out = present[columns].assign(month=present["month"].dt.strftime("%Y-%m"))
    return Drawn(fig, title, alt, out, set(present["snapshot_id"].dropna()))


def draw_job_postings(con: duckdb.DuckDBPyConnection) -> Drawn:
    rows = con.execute(
        "SELECT board, board_order, kind, date, framework, count, regions, has_data, "
        "snapshot_id FROM out_jobs__board_counts WHERE framework IN ('pytorch', 'tensorflow') "
        "ORDER BY board_order, board").df()
    boards = list(dict.fromkeys(rows["board"]))
    with_data = [b for b in boards if rows.loc[rows["board"] == b, "has_data"].any()]
    empty = [b for b in boards if b not in with_data]
    history = con.execute(
        "SELECT board, date, framework, count, snapshot_id FROM out_jobs__board_history "
        "WHERE framework IN ('pytorch', 'tensorflow') AND board IN "
        "(SELECT board FROM out_jobs__board_history GROUP BY board "
        " HAVING count(DISTINCT date) > 1) ORDER BY board, date").df()
    has_history = not history.empty
    empty_note = (f"No counts recorded yet for {', '.join(empty)}: add them to "
                  "data/manual/job_board_counts.csv (see data/manual/README.md)") if empty else ""
    if not with_data:
        title = "Job postings mentioning TensorFlow vs PyTorch: no counts yet"
        fig = style.no_data(title, empty_note or "No job-board counts yet.")
        return Drawn(fig, title, f"{title}. {empty_note}", rows, set(), has_data=False)
    panels = len(with_data)
    fig, axes = style.figure(height=5.8 if has_history else 4.6,
                             nrows=2 if has_history else 1, ncols=panels, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]} if has_history else None)
    if has_history:
        gs = axes[1, 0].get_gridspec()
        for ax in axes[1]:
            ax.remove()
        hist_ax = fig.add_subplot(gs[1, :])
    snapshots = set(rows["snapshot_id"].dropna()) | set(history.get("snapshot_id", []))
    verdicts, described = [], []
    frameworks = ("tensorflow", "pytorch")
    for ax, board in zip(axes[0], with_data, strict=True):
        part = rows[rows["board"] == board].set_index("framework")
        values = [int(part.loc[fw, "count"]) if fw in part.index and pd.notna(part.loc[fw, "count"])
                  else 0 for fw in frameworks]
        bars = ax.bar([0, 1], values, color=[COLOURS[fw] for fw in frameworks], width=0.6,
                      label=[LABELS[fw] for fw in frameworks])
        ax.set_xticks([0, 1], [LABELS[fw] for fw in frameworks], fontsize=9)
        ax.set_xlim(-0.6 - 0.5 / panels, 1.6 + 0.5 / panels)
        ax.grid(axis="x", visible=False)
        for bar, value in zip(bars, values, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{value:,}",
                    ha="center", va="bottom", fontsize=9)
        ax.set_ylim(0, max(values) * 1.2 or 1)
        when = part["date"].dropna()
        where = part["regions"].dropna()
        period = f"{pd.Timestamp(when.iloc[0]):%Y-%m-%d}" if len(when) else ""
        if board == HN_BOARD and len(where):
            period = where.iloc[0].split(" (")[0]
        name = f"{board} 'Who is hiring?'" if board == HN_BOARD else board
        ax.set_title(f"{name}\n{period}", fontsize=9.5, loc="center", fontweight="bold")
        verdicts.append(values[1] > values[0])
        described.append((name, period, values[1], values[0]))
    axes[0][0].set_ylabel("Postings mentioning it")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8.5,
                       borderaxespad=0.3)
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
    if panels == 1:
        name, period, pt, tf = described[0]
        leader, other = ("PyTorch", "TensorFlow") if pt > tf else ("TensorFlow", "PyTorch")
        verdict = (f"{leader} is mentioned in more job postings than {other}" if pt != tf
                   else "PyTorch and TensorFlow are mentioned in as many job postings")
        title = f"{verdict}\n{name}, {period}: PyTorch {pt:,}, TensorFlow {tf:,}"
    else:
        title = (f"PyTorch is mentioned in more postings than TensorFlow on {sum(verdicts)} "
                 f"of the {panels} job boards with counts")
    fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    if empty_note:
        fig.text(0.01, 0.045, empty_note, fontsize=7.5, color="#52606D", ha="left",
                 va="bottom")
    alt = (f"{title.replace(chr(10), '. ')}. Bar chart of job postings mentioning TensorFlow "
           f"and PyTorch per board: "
           + "; ".join(f"{n} ({p}): PyTorch {pt:,}, TensorFlow {tf:,}"
                       for n, p, pt, tf in described)
           + "." + (f" {empty_note}." if empty_note else ""))
    title = title.replace("\n", ". ")
    return Drawn(fig, title, alt, rows, snapshots)


MISSING_HN = ("Collect the HN 'Who is hiring?' threads: `python -m pipeline refresh --source "
              "jobs_hn` (offline: ADOPTION_JOBS_HN_URL=../shared/mirror/hn)")
MISSING_BOARDS = ("Run `python -m pipeline refresh` (HN threads and/or counts in "
                  "data/manual/job_board_counts.csv)")
CHARTS = [
    Chart("jobs_hn_trend", "HN 'Who is hiring?' postings mentioning PyTorch vs TensorFlow",
          ("out_jobs__hn_monthly",), draw_hn_trend, MISSING_HN,
          caption="Share of the top-level postings in each monthly Hacker News 'Who is "
                  "hiring?' thread that mention PyTorch, TensorFlow or JAX (matching rules: "
                  "docs/methodology/jobs.md). Hollow points: the newest thread is still open, "
                  "so its month is incomplete and left out of the headline shares."),
    Chart("job_postings", "Job postings mentioning TensorFlow vs PyTorch",
          ("out_jobs__board_counts",), draw_job_postings, MISSING_BOARDS,
          caption="Postings mentioning TensorFlow and PyTorch per job board, each on its own "
                  "scale: the article's boards (LinkedIn, ZipRecruiter, Indeed) from counts "
                  "recorded by hand, Hacker News from the collected threads."),
]
