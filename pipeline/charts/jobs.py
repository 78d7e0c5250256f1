"""Job-posting charts: the HN "Who is hiring?" trend, and the article's per-board bars."""

from __future__ import annotations

import json
import re

import duckdb
import matplotlib.dates as mdates
import pandas as pd

from pipeline.analysis.jobs import (
    ARTICLE_MONTH,
    CAPTURED_EARLY_DAYS,
    HN_BOARD,
    LABELS,
    hn_window,
    months_held,
)
from pipeline.charts import Chart, Drawn, style
from pipeline.store import utcnow

TREND_FRAMEWORKS = ("pytorch", "tensorflow", "jax")
SMOOTHING_MONTHS = 6
COLOURS = {"pytorch": style.PYTORCH, "tensorflow": style.TENSORFLOW, "jax": style.JAX,
           "keras": style.OTHER}


def smoothed_shares(con: duckdb.DuckDBPyConnection, months: int = SMOOTHING_MONTHS,
                    frameworks: tuple[str, ...] = TREND_FRAMEWORKS) -> pd.DataFrame:
    """One row per calendar month from the first thread to the last (months without a thread,
    or declared missing by a copy, are empty), with each framework's share and a centred rolling
    share over `months` calendar months: mentions over postings summed in the window, so busy
    months weigh more. The smoothed line exists only at months with data, so a missing month
    breaks it instead of being bridged (or read as zero)."""
    cols = ", ".join(f"{fw}, {fw}_pct" for fw in frameworks)
    data = con.execute(f"SELECT month, postings, incomplete, declared_missing, missing_reason, "
                       f"captured_early, snapshot_id, {cols} "
                       "FROM out_jobs__hn_monthly ORDER BY month").df()
    data["month"] = pd.to_datetime(data["month"])
    if data.empty:
        return data
    full = pd.date_range(data["month"].min(), data["month"].max(), freq="MS")
    data = data.set_index("month").reindex(full).rename_axis("month").reset_index()
    for flag in ("incomplete", "declared_missing", "captured_early"):
        data[flag] = data[flag].astype("boolean").fillna(False).astype(bool)
    window = {"window": max(1, int(months)), "center": True, "min_periods": 1}
    postings = data["postings"].rolling(**window).sum()
    for fw in frameworks:
        share = 100.0 * data[fw].rolling(**window).sum() / postings.where(postings > 0)
        data[f"{fw}_smooth_pct"] = share.where(data["postings"].notna())
    return data


#: smooth only when there are at least this many months with threads (else plot each month)
MIN_MONTHS_TO_SMOOTH = 2 * SMOOTHING_MONTHS


def _month_span(first, last) -> str:
    if first == last:
        return f"{first:%b %Y}"
    return f"{first:%b}–{last:%b %Y}" if first.year == last.year else f"{first:%b %Y}–{last:%b %Y}"


def _runs(months: list) -> list[tuple]:
    """Consecutive calendar months grouped: [(first, last), ...]."""
    runs: list[list] = []
    for month in sorted(pd.Timestamp(m) for m in months):
        if runs and month == runs[-1][1] + pd.DateOffset(months=1):
            runs[-1][1] = month
        else:
            runs.append([month, month])
    return [tuple(r) for r in runs]


def _spans(months: list) -> str:
    return ", ".join(_month_span(a, b) for a, b in _runs(months))


def _month_over(month: pd.Timestamp) -> bool:
    """The calendar month has ended (now, when the chart is drawn)."""
    return month + pd.DateOffset(months=1) <= pd.Timestamp(utcnow())


def copy_caveats(con: duckdb.DuckDBPyConnection, snapshot_ids) -> list[str] | None:
    """A local copy's own caveats (quoted from its SOURCE.md by the source into the snapshot's
    parameters); None when the data came from the Algolia API."""
    ids = sorted({int(i) for i in snapshot_ids if pd.notna(i)})
    if not ids:
        return None
    rows = con.execute("SELECT parameters FROM snapshots WHERE snapshot_id IN (SELECT unnest(?))",
                       [ids]).fetchall()
    copies = [json.loads(p).get("local_copy") for (p,) in rows if p]
    copies = [c for c in copies if isinstance(c, dict)]
    if not copies:
        return None
    return [str(c) for c in copies[-1].get("caveats") or []]


def _short_reason(reason) -> str:
    text = str(reason or "no reason given")
    return text.split(" (")[0]


def caption_note(data: pd.DataFrame, window: dict | None, caveats: list[str] | None) -> str:
    """What this drawing needs said under it: declared gaps, the open or partial month, months
    captured early, and a local copy's own caveats."""
    notes = []
    missing = data[data["declared_missing"]]
    if len(missing):
        reasons = "; ".join(dict.fromkeys(_short_reason(r) for r in missing["missing_reason"]))
        note = (f"No data for {_spans(list(missing['month']))}: the copy declares "
                f"{'it' if len(missing) == 1 else 'them'} missing ({reasons}), so the line "
                "breaks there; never counted as zero.")
        if window and window["months_missing"]:
            note += (f" The headline window {_month_span(window['first'], window['last'])} "
                     f"holds {months_held(window['months'])}.")
        notes.append(note)
    for _, row in data[data["incomplete"] & data["postings"].notna()].iterrows():
        state = ("was collected while its thread was open (partial)" if _month_over(row["month"])
                 else "is still open")
        notes.append(f"{row['month']:%b %Y} {state}: hollow, left out of the headline.")
    early = data[data["captured_early"]]
    if len(early):
        notes.append(f"Captured early (the newest posting is less than {CAPTURED_EARLY_DAYS} days "
                     f"after the thread opened, so later postings are missing): "
                     f"{', '.join(f'{m:%b %Y}' for m in early['month'])}.")
    if caveats is not None:
        notes.append("Read from a local copy, not the Algolia API, so its counts can differ from "
                     "an Algolia-based count (the shared 2021-2026 mirror holds 1-5% more "
                     "postings in most months; docs/methodology/jobs.md, \"Offline copies\")."
                     + (" Its SOURCE.md says: " + " ".join(
                         c if c.endswith(".") else c + "." for c in caveats)
                        if caveats else ""))
    return " ".join(notes)


def draw_hn_trend(con: duckdb.DuckDBPyConnection) -> Drawn:
    data = smoothed_shares(con)
    present = data[data["postings"].notna()].copy()
    months = present["month"]
    smooth = len(present) >= MIN_MONTHS_TO_SMOOTH
    open_month = present["incomplete"]
    partial = open_month & present["month"].map(_month_over)
    missing = data[data["declared_missing"]]
    fig, ax = style.figure(height=5.0)
    for fw in TREND_FRAMEWORKS:
        colour = COLOURS[fw]
        done = present[~open_month]
        if smooth:
            ax.scatter(done["month"], done[f"{fw}_pct"], s=10, color=colour, alpha=0.35, lw=0)
            ax.plot(data["month"], data[f"{fw}_smooth_pct"], color=colour, lw=2.2,
                    label=f"{LABELS[fw]} ({SMOOTHING_MONTHS}-month smoothed)")
        else:
            ax.plot(data["month"], data[f"{fw}_pct"].where(~data["incomplete"]), color=colour,
                    lw=2, marker="o", ms=5, label=LABELS[fw])
            if open_month.any() and len(done):  # dotted link to the open month
                tail = pd.concat([done.tail(1), present[open_month]])
                ax.plot(tail["month"], tail[f"{fw}_pct"], color=colour, lw=1.2, ls=":")
        ax.scatter(months[open_month], present.loc[open_month, f"{fw}_pct"], s=42,
                   facecolors="white", edgecolors=colour, lw=1.6, zorder=4)
    values = present[[f"{fw}_pct" for fw in TREND_FRAMEWORKS]].stack()
    top = max(1.0, 1.25 * float(values.max()))
    ax.set_ylim(0, top)
    for _, row in present[open_month].iterrows():
        state = ("collected while open\n(partial)" if _month_over(row["month"])
                 else "thread\nstill open")
        ax.annotate(f"{row['month']:%b %Y}: {state}", (row["month"], top * 0.97),
                    ha="right" if smooth else "center", va="top", fontsize=7.5,
                    color="#52606D")
    half = pd.Timedelta(days=15)
    for first, last in _runs(list(missing["month"])):  # a declared gap: shaded, never a zero
        ax.axvspan(first - half, last + half, color=style.NONE, alpha=0.55, lw=0, zorder=0)
        ax.text(first + (last - first) / 2, top * 0.02, f"no copy: {_month_span(first, last)} ",
                rotation=90, ha="center", va="bottom", fontsize=7.5, color="#52606D")
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
        note = (f"\nThe article (Dec 2021) predates the first thread collected "
                f"({months.min():%b %Y})")
    if len(present) < 24:
        ax.xaxis.set_major_locator(mdates.MonthLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    else:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=10))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.set_ylabel("Postings mentioning it\n(% of the month's postings)")
    hollow = ("collected while its thread was open, partial" if partial.any()
              else "the month's thread is still open")
    gap = "; grey: no copy of the month" if len(missing) else ""
    ax.set_xlabel(f"Thread month (hollow: {hollow}{gap})" + note, fontsize=8.5)
    ax.legend(loc="upper left", fontsize=8.5)
    recent = hn_window(con, "in_last12")
    if recent and recent["postings"]:
        pt = 100 * recent["pytorch"] / recent["postings"]
        tf = 100 * recent["tensorflow"] / recent["postings"]
        span = _month_span(recent["first"], recent["last"])
        if recent["months_missing"]:
            span += f" without {_spans(recent['missing'])}"
        title = (f"HN 'Who is hiring?': PyTorch in {pt:.1f}% of postings, TensorFlow in "
                 f"{tf:.1f}% ({months_held(recent['months'])}, {span}: "
                 f"{int(recent['postings']):,} postings)")
        ax.set_title(title.replace(" (", "\n(", 1), fontsize=11)
    else:
        title = "HN 'Who is hiring?' postings mentioning each framework"
        ax.set_title(title)
    monthly = "; ".join(
        f"{r['month']:%b %Y}{' (partial)' if p else ' (open)' if o else ''}: "
        + ", ".join(f"{LABELS[fw]} {r[f'{fw}_pct']:.1f}%" for fw in TREND_FRAMEWORKS)
        for (_, r), o, p in zip(present.iterrows(), open_month, partial, strict=True))
    shown = (f"smoothed over {SMOOTHING_MONTHS} months" if smooth else "one point per month")
    gaps = (f" No data for {_spans(list(missing['month']))} (declared missing by the copy; the "
            "line breaks there)." if len(missing) else "")
    alt = (f"{title}. Line chart of the share of HN 'Who is hiring?' postings that mention "
           f"PyTorch, TensorFlow and JAX per month ({shown}). "
           + (monthly if len(present) <= 24 else
              f"{len(present)} months from {months.min():%b %Y} to {months.max():%b %Y}.")
           + gaps)
    columns = ["month", "postings", "incomplete", "declared_missing", "captured_early",
               "snapshot_id"] + [
        f"{fw}{suffix}" for fw in TREND_FRAMEWORKS
        for suffix in ("", "_pct") + (("_smooth_pct",) if smooth else ())]
    rows = data[data["postings"].notna() | data["declared_missing"]]
    out = rows[columns].assign(month=rows["month"].dt.strftime("%Y-%m"))
    snapshots = set(present["snapshot_id"].dropna())
    return Drawn(fig, title, alt, out, snapshots,
                 caption_note=caption_note(data, recent, copy_caveats(con, snapshots)))


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
        if board == HN_BOARD and len(where):  # "May 2025–Apr 2026 (10 of 12 months)"
            period = re.sub(r", [^()]*\)$", ")", where.iloc[0])
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
        title = (f"{verdict}\n{name}, {period.split(' (')[0]}: PyTorch {pt:,}, "
                 f"TensorFlow {tf:,}")
    else:
        title = (f"PyTorch is mentioned in more postings than TensorFlow on {sum(verdicts)} "
                 f"of the {panels} job boards with counts")
    fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    if empty_note:
        fig.text(0.01, 0.045, empty_note, fontsize=7.5, color="#52606D", ha="left",
                 va="bottom")
    alt = (f"{title.replace(chr(10), '. ')}. Bar chart of job postings mentioning TensorFlow "
           f"and PyTorch per board: "
           + "; ".join(f"{n}, {p}: PyTorch {pt:,}, TensorFlow {tf:,}"
                       for n, p, pt, tf in described)
           + "." + (f" {empty_note}." if empty_note else ""))
    title = title.replace("\n", ". ")
    return Drawn(fig, title, alt, rows, snapshots)


MISSING_HN = ("Collect the HN 'Who is hiring?' threads: `python -m pipeline refresh --source "
              "jobs_hn` (offline: ADOPTION_JOBS_HN_URL=../shared/mirror/hn-2021-2026)")
MISSING_BOARDS = ("Run `python -m pipeline refresh` (HN threads and/or counts in "
                  "data/manual/job_board_counts.csv)")
CHARTS = [
    Chart("jobs_hn_trend", "HN 'Who is hiring?' postings mentioning PyTorch vs TensorFlow",
          ("out_jobs__hn_monthly",), draw_hn_trend, MISSING_HN,
          caption="Share of the top-level postings in each monthly Hacker News 'Who is "
                  "hiring?' thread that mention PyTorch, TensorFlow or JAX (matching rules: "
                  "docs/methodology/jobs.md). Hollow points: the newest thread, collected while "
                  "open, so its month is incomplete (partial) and left out of the headline "
                  "shares. A month a copy declares missing is a gap (grey), never a zero, and a "
                  "12-month window says how many months it holds."),
    Chart("job_postings", "Job postings mentioning TensorFlow vs PyTorch",
          ("out_jobs__board_counts",), draw_job_postings, MISSING_BOARDS,
          caption="Postings mentioning TensorFlow and PyTorch per job board, each on its own "
                  "scale: the article's boards (LinkedIn, ZipRecruiter, Indeed) from counts "
                  "recorded by hand, Hacker News from the collected threads."),
]
