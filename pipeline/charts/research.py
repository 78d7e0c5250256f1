"""Research charts: PyTorch share at conferences over time, and the 2018 -> 2019 author Sankey."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from pipeline.charts import Chart, Drawn, style
from pipeline.store import table_exists

PWC_CONFERENCE_TABLE = "out_pwc__conference_share"


#: Paul Tol's "muted" qualitative palette: nine colours told apart with colour-blind vision
CONFERENCE_COLOURS = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                      "#CC6677", "#882255", "#AA4499"]
CONFERENCE_MARKERS = ["o", "s", "^", "v", "D", "P", "X", "<", ">"]
POOLED = "All conferences (pooled)"


HE = "Horace He (conference PDFs)"
OURS = "Proceedings PDFs (papers)"


def pooled_by_year(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pooled share per calendar year with the conferences that make it up: Horace He's years
    from out_research__share, the later (and mixed) years from the continued series; whether
    the year is complete, and which scheduled meetings it still lacks."""
    he = con.execute("""
        SELECT s.year, s.pt_share_pct, NULL::DOUBLE AS jax_share_pct, s.pytorch_papers,
               s.tensorflow_papers, s.snapshot_id, count(DISTINCT m.conference) AS conferences,
               string_agg(DISTINCT m.conference, ', ' ORDER BY m.conference) AS which,
               true AS complete, NULL AS missing, NULL AS partial
        FROM out_research__share s
        JOIN core_conferences__meetings m
          ON m.year = s.year AND m.pytorch_papers + m.tensorflow_papers > 0
        WHERE s.conference = 'All conferences' AND s.pt_share_pct IS NOT NULL
        GROUP BY ALL ORDER BY s.year""").df()
    series = con.execute("""
        SELECT year, pt_share_pct, jax_share_pct, pytorch_papers, tensorflow_papers,
               snapshot_id, conferences, meetings AS which, complete,
               missing_meetings AS missing, partial_meetings AS partial
        FROM out_research__series
        WHERE level = 'year' AND series_source <> ? AND pt_share_pct IS NOT NULL
        ORDER BY year""", [HE]).df() if table_exists(con, "out_research__series") \
        else he.iloc[0:0]
    pooled = pd.concat([he[~he["year"].isin(series["year"])], series], ignore_index=True)
    return pooled.sort_values("year").reset_index(drop=True)


def _incomplete_note(row: pd.Series) -> str:
    parts = []
    if isinstance(row["partial"], str) and row["partial"]:
        parts.append(f"{row['partial']} not finished")
    if isinstance(row["missing"], str) and row["missing"]:
        parts.append(f"{row['missing']} not published yet")
    return "partial: " + "; ".join(parts) if parts else "partial"


def draw_research_share(con: duckdb.DuckDBPyConnection) -> Drawn:
    series_table = table_exists(con, "out_research__series")
    meetings = con.execute(
        "SELECT conference, year, month, year + (month - 1) / 12.0 AS t, pt_share_pct, "
        "pytorch_papers, tensorflow_papers, snapshot_id, complete, series_source "
        "FROM out_research__series WHERE level = 'meeting' AND pt_share_pct IS NOT NULL "
        "AND pytorch_papers + tensorflow_papers > 0 ORDER BY conference, t"
        if series_table else
        "SELECT conference, year, month, year + (month - 1) / 12.0 AS t, pt_share_pct, "
        "pytorch_papers, tensorflow_papers, snapshot_id, true AS complete, "
        f"'{HE}' AS series_source FROM core_conferences__meetings "
        "WHERE pt_share_pct IS NOT NULL AND pytorch_papers + tensorflow_papers > 0 "
        "ORDER BY conference, t").df()
    pooled = pooled_by_year(con)
    snapshots = set(meetings["snapshot_id"]) | set(pooled["snapshot_id"])
    fig, ax = style.figure(height=5.4)
    conferences = sorted(set(meetings["conference"]))
    for i, conf in enumerate(conferences):
        part = meetings[meetings["conference"] == conf]
        colour = CONFERENCE_COLOURS[i % len(CONFERENCE_COLOURS)]
        marker = CONFERENCE_MARKERS[i % len(CONFERENCE_MARKERS)]
        ax.plot(part["t"], part["pt_share_pct"], lw=1.1, ms=4, alpha=0.85, label=conf,
                color=colour, marker=marker)
        unfinished = part[~part["complete"].astype(bool)]
        ax.scatter(unfinished["t"], unfinished["pt_share_pct"], s=30, marker=marker,
                   facecolor="white", edgecolor=colour, zorder=3)
    pooled["t"] = pooled["year"] + 0.5
    done = pooled[pooled["complete"].astype(bool)]
    single = done["conferences"] < 2
    ax.plot(done["t"], done["pt_share_pct"], color=style.PYTORCH, lw=3.2, zorder=4,
            label=POOLED)
    ax.scatter(done.loc[~single, "t"], done.loc[~single, "pt_share_pct"], s=46,
               color=style.PYTORCH, zorder=5)
    ax.scatter(done.loc[single, "t"], done.loc[single, "pt_share_pct"], s=70, lw=2,
               facecolor="white", edgecolor=style.PYTORCH, zorder=5,
               label="Pooled year with one conference only")
    for _, row in done[single].iterrows():
        ax.annotate(f"{row['year']}: {row['which']} only", (row["t"], row["pt_share_pct"]),
                    xytext=(0, 9), textcoords="offset points", ha="right", fontsize=7.5,
                    color=style.PYTORCH)
    partial = pooled[~pooled["complete"].astype(bool)]
    if len(partial):
        joined = pd.concat([done.tail(1), partial])
        ax.plot(joined["t"], joined["pt_share_pct"], color=style.PYTORCH, lw=1.6, ls=":",
                zorder=4)
        ax.scatter(partial["t"], partial["pt_share_pct"], s=70, lw=2, marker="D",
                   facecolor="white", edgecolor=style.PYTORCH, zorder=5,
                   label="Pooled year still partial (not a headline figure)")
    jax = pooled[pooled["jax_share_pct"].notna()]
    if len(jax):
        jax_done = jax[jax["complete"].astype(bool)]
        ax.plot(jax_done["t"], jax_done["jax_share_pct"], color=style.JAX, lw=2.4,
                marker="o", ms=5, zorder=4,
                label="JAX: share of papers naming PyTorch, TensorFlow or JAX (pooled)")
        jax_partial = jax[~jax["complete"].astype(bool)]
        ax.scatter(jax_partial["t"], jax_partial["jax_share_pct"], s=50, lw=1.8, marker="D",
                   facecolor="white", edgecolor=style.JAX, zorder=5)
    columns = ["series", "year", "month", "pt_share_pct", "jax_share_pct", "pytorch_papers",
               "tensorflow_papers", "conferences", "complete", "snapshot_id"]
    data = pd.concat([
        meetings.assign(series=meetings["conference"], conferences=1,
                        jax_share_pct=None)[columns],
        pooled.assign(series=POOLED, month=None)[columns],
    ], ignore_index=True)
    if table_exists(con, PWC_CONFERENCE_TABLE):
        pwc = con.execute(
            f"SELECT year, 100.0 * sum(pytorch_repos) / "
            f"nullif(sum(pytorch_repos) + sum(tensorflow_repos), 0) AS pt_share_pct, "
            f"any_value(snapshot_id) AS snapshot_id FROM {PWC_CONFERENCE_TABLE} GROUP BY year "
            f"HAVING sum(pytorch_repos) + sum(tensorflow_repos) > 0 ORDER BY year").df()
        if len(pwc):
            ax.plot(pwc["year"] + 0.5, pwc["pt_share_pct"], color=style.PYTORCH, lw=2,
                    ls="--", marker="s", ms=4,
                    label="All conferences, Papers with Code repos (2nd source)")
            snapshots |= set(pwc["snapshot_id"])
            data = pd.concat([data, pwc.assign(series="Papers with Code repos (pooled)")],
                             ignore_index=True)
    ax.set_ylim(0, 100)
    ax.set_ylabel("PyTorch share of papers using\nPyTorch or TensorFlow (%)")
    ax.set_xlabel("Conference meeting date")
    ax.legend(loc="upper left", ncol=2, fontsize=7, framealpha=0.9, frameon=True,
              edgecolor="none")
    multi = done[~single & (done["pt_share_pct"] > 0)]
    if len(multi) >= 2:
        first, last = multi.iloc[0], multi.iloc[-1]
        title = (f"Pooled PyTorch share of conference papers: "
                 f"{first['pt_share_pct']:.0f}% in {first['year']} → "
                 f"{last['pt_share_pct']:.0f}% in {last['year']}")
    else:
        title = "PyTorch's share of conference papers"
    ax.set_title(title, fontsize=11)
    yearly = "; ".join(
        f"{r['year']}: {r['pt_share_pct']:.0f}%"
        + (f" ({r['which']} only)" if r["complete"] and r["conferences"] < 2 else "")
        + (f" ({_incomplete_note(r)})" if not r["complete"] else "")
        for _, r in pooled.iterrows())
    jax_text = "; ".join(f"{r['year']}: {r['jax_share_pct']:.0f}%" + (
        "" if r["complete"] else " (partial)") for _, r in jax.iterrows())
    alt = (f"{title}. Line chart of PyTorch's share of the papers that mention PyTorch or "
           f"TensorFlow at {len(conferences)} conferences ({', '.join(conferences)}), one line "
           f"per conference plus the pooled yearly share: {yearly}."
           + (f" JAX's share of the papers naming PyTorch, TensorFlow or JAX: {jax_text}."
              if jax_text else ""))
    return Drawn(fig, title, alt, data, snapshots)


def _band(ax, x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float],
          colour: str) -> None:
    """A filled flow from [y0] at x0 to [y1] at x1 with smooth cubic edges."""
    mid = (x0 + x1) / 2
    verts = [
        (x0, y0[0]), (mid, y0[0]), (mid, y1[0]), (x1, y1[0]),
        (x1, y1[1]), (mid, y1[1]), (mid, y0[1]), (x0, y0[1]), (x0, y0[0]),
    ]
    codes = [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4,
             MplPath.LINETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4, MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=colour, alpha=0.45, lw=0))


def draw_migration_sankey(con: duckdb.DuckDBPyConnection, series: str = HE) -> Drawn:
    flows = con.execute(
        "SELECT from_group, to_group, authors, share_of_from_group_pct, snapshot_id, "
        "from_year, to_year FROM out_research__migration WHERE series_source = ? "
        "ORDER BY from_year DESC", [series]).df()
    if flows.empty or not flows["authors"].sum():
        title = "Author migration between the newest two complete years"
        message = ("No two consecutive complete years of conference papers yet: the "
                   "`papers` backfill continues with each refresh (`make refresh`).")
        return Drawn(style.no_data(title, message), title, f"{title}: {message}",
                     pd.DataFrame({"status": ["no data yet"], "what_to_run": [message]}),
                     has_data=False)
    flows = flows[flows["from_year"] == flows["from_year"].iloc[0]].reset_index(drop=True)
    groups = ["TensorFlow", "Both", "PyTorch"]
    from_year, to_year = int(flows["from_year"].iloc[0]), int(flows["to_year"].iloc[0])

    def authors(src: str, dst: str) -> int:
        hit = flows[(flows["from_group"] == src) & (flows["to_group"] == dst)]["authors"]
        return int(hit.iloc[0]) if len(hit) else 0

    # shares of each 2018 group, rounded so that each group's shares add up to exactly 100%
    shown = {g: dict(zip(groups, style.largest_remainder([authors(g, t) for t in groups]),
                         strict=True)) for g in groups}
    flows["share_rounded_pct"] = [shown[f][t] for f, t in zip(flows["from_group"],
                                                               flows["to_group"], strict=True)]
    out_total = {g: sum(authors(g, t) for t in groups) for g in groups}
    in_total = {g: sum(authors(f, g) for f in groups) for g in groups}
    total = sum(out_total.values())
    gap = 0.05 * total
    fig, ax = style.figure(height=5.6)
    node_w, x_left, x_right = 0.05, 0.16, 0.80

    def stack(sizes: dict[str, int]) -> dict[str, float]:
        tops, y = {}, total + gap * (len(groups) - 1)
        for g in groups:
            tops[g] = y
            y -= sizes[g] + gap
        return tops

    left_top, right_top = stack(out_total), stack(in_total)
    right_cursor = dict(right_top)
    labels: list[tuple[float, str]] = []
    for g in groups:
        cursor = left_top[g]
        for target in groups:
            n = authors(g, target)
            if n == 0:
                continue
            y0 = (cursor, cursor - n)
            y1 = (right_cursor[target], right_cursor[target] - n)
            _band(ax, x_left + node_w, x_right, y0, y1, style.FRAMEWORK_COLOURS[g])
            labels.append((cursor - n / 2, f"{shown[g][target]}% → {target}"))
            cursor -= n
            right_cursor[target] -= n
    # one label per flow beside its start, moved apart where thin flows would overlap
    top_y = total + gap * (len(groups) - 1)
    placed = style.spread([y for y, _ in labels], 0.042 * top_y, 0, top_y)
    for (_, text), y in zip(labels, placed, strict=True):
        ax.text(x_left + node_w + 0.012, y, text, va="center", fontsize=7.8, color="#1F2933",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7})
    for x, tops, sizes, year in ((x_left, left_top, out_total, from_year),
                                 (x_right, right_top, in_total, to_year)):
        for g in groups:
            colour = style.FRAMEWORK_COLOURS[g]
            ax.add_patch(Rectangle((x, tops[g] - sizes[g]), node_w, sizes[g], color=colour))
            label = f"{g if g == 'Both' else g + ' only'}\n{sizes[g]:,} authors"
            left = x == x_left
            ax.text(x - 0.012 if left else x + node_w + 0.012, tops[g] - sizes[g] / 2, label,
                    ha="right" if left else "left", va="center", fontsize=8.5)
        ax.text(x + node_w / 2, total + gap * 2.6, str(year), ha="center", fontweight="bold")
    ax.set_xlim(-0.02, 1.0)
    ax.set_ylim(-gap * 0.5, total + gap * 3.2)
    ax.axis("off")
    tf_moved = out_total["TensorFlow"] - authors("TensorFlow", "TensorFlow")
    tf_pct = 100 * tf_moved / out_total["TensorFlow"] if out_total["TensorFlow"] else np.nan
    pt_stay = out_total["PyTorch"] - authors("PyTorch", "TensorFlow")
    pt_pct = 100 * pt_stay / out_total["PyTorch"] if out_total["PyTorch"] else np.nan
    title = (f"{tf_pct:.0f}% of {from_year}'s TensorFlow-only authors used PyTorch in "
             f"{to_year};\n{pt_pct:.0f}% of its PyTorch-only authors stayed with PyTorch")
    ax.set_title(title, loc="center")
    parts = [f"of {out_total[g]:,} {g if g == 'Both' else g + '-only'} authors"
             f"{' (both frameworks)' if g == 'Both' else ''}: "
             + ", ".join(f"{shown[g][t]}% → {t if t == 'Both' else t + ' only'}"
                         for t in groups) for g in groups]
    alt = (f"{title.replace(chr(10), ' ')}. Flow diagram of the {total:,} authors who used "
           f"PyTorch or TensorFlow in both {from_year} and {to_year}, from their {from_year} "
           f"group (left) to their {to_year} group (right); " + "; ".join(parts) + ".")
    return Drawn(fig, title.replace("\n", " "), alt, flows, set(flows["snapshot_id"]))


MISSING = ("Collect the conference papers: "
           "ADOPTION_CONFERENCES_URL=../shared/mirror/pytorch-vs-tensorflow make refresh")
MISSING_TODAY = ("Collect the proceedings' papers: make refresh (the `papers` source; a backfill "
                 "that continues with each refresh)")


def draw_migration_sankey_today(con: duckdb.DuckDBPyConnection) -> Drawn:
    return draw_migration_sankey(con, OURS)
CHARTS = [
    Chart("research_share", "PyTorch share of conference papers",
          ("core_conferences__meetings", "out_research__share"), draw_research_share, MISSING,
          caption="PyTorch's share of the papers that mention PyTorch or TensorFlow, per "
                  "conference meeting (thin lines; hollow markers: meetings not fully read "
                  "yet) and pooled per calendar year (thick red line; hollow where a year has "
                  "one conference only, dotted with hollow diamonds where a year is still "
                  "partial). Counts to 2022 from Horace He's scan of the conference PDFs, "
                  "later meetings from the proceedings' PDFs scanned the same way (the "
                  "`papers` source); the blue line is JAX's share of the papers naming "
                  "PyTorch, TensorFlow or JAX.",
          optional_tables=(PWC_CONFERENCE_TABLE, "out_research__series")),
    Chart("author_migration_sankey", "Author migration 2018 → 2019",
          ("out_research__migration",), draw_migration_sankey, MISSING,
          caption="Authors who published in both years, grouped by the frameworks their "
                  "papers mention (TensorFlow only, both, PyTorch only), and where each "
                  "2018 group went in 2019. Shares are of the 2018 group and add up to 100% "
                  "per group."),
    Chart("author_migration_sankey_today", "Author migration, newest two complete years",
          ("out_research__migration",), draw_migration_sankey_today, MISSING_TODAY,
          caption="The same flows for the newest two consecutive complete years of the "
                  "proceedings' papers (the `papers` source): authors of the complete "
                  "main-track meetings of the nine conferences in both years, matched by "
                  "name."),
]
