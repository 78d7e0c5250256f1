"""Charts: what they say (titles and alt text computed from the data), charts.json and the
CSVs beside them, redrawing only when an input changed, and the readability rules of issue 13
(rounding that adds up, smoothing only with enough months, one common scorecard axis)."""

from __future__ import annotations

import csv
from datetime import date

import duckdb
import pandas as pd
import pytest

from pipeline.charts import all_charts, read_index, style
from pipeline.charts.jobs import draw_hn_trend, draw_job_postings
from pipeline.charts.scorecard import placed, tolerance_unit
from pipeline.store import connect, utcnow

FIELDS = {"name", "title", "alt", "caption", "has_data", "snapshot_ids", "files", "key",
          "sha256"}


def rows_of(path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_largest_remainder_adds_up_exactly():
    assert sum(style.largest_remainder([136, 146, 718])) == 100
    assert style.largest_remainder([1, 1, 1]) == [34, 33, 33]
    assert style.largest_remainder([0, 0]) == [0, 0]
    # plain rounding of these gives 101%
    assert [round(x) for x in (14.5, 15.5, 71.0)] != [14, 15, 71]
    assert sum(style.largest_remainder([14.5, 15.5, 71.0])) == 100


def test_spread_keeps_labels_apart_and_in_order():
    placed_ = style.spread([10.0, 9.9, 9.8, 2.0], min_gap=1.0, low=0.0, high=12.0)
    assert all(a - b >= 1.0 - 1e-9 for a, b in zip(placed_, placed_[1:], strict=False))
    assert placed_[-1] == 2.0 and placed_[0] == 10.0


def test_charts_json_csv_and_alt_text_after_a_refresh(cli, env, conference_server):
    assert cli("refresh", "--source", "conferences").rc == 0
    index = read_index(env.charts_dir)
    assert set(index) == {c.name for c in all_charts()}
    for name, entry in index.items():
        assert set(entry) >= FIELDS, name
        for kind, file in entry["files"].items():
            assert (env.charts_dir / file).is_file() and file == f"{name}.{kind}"
        assert entry["alt"] and entry["caption"] and entry["title"], name
    for name in ("research_share", "author_migration_sankey", "scorecard"):
        assert index[name]["has_data"] and index[name]["snapshot_ids"] == [1], name
    assert not index["hf_top30"]["has_data"] and "refresh --source hf_models" in \
        index["hf_top30"]["alt"]
    # the alt text states the finding with the numbers the CSV holds
    pooled = {int(r["year"]): float(r["pt_share_pct"]) for r in
              rows_of(env.charts_dir / "research_share.csv")
              if r["series"] == "All conferences (pooled)"}
    share = index["research_share"]
    assert f"{pooled[2017]:.0f}% in 2017" in share["title"]
    assert f"{pooled[2021]:.0f}% in 2021" in share["title"]
    assert "2022: 84% (ICLR only)" in share["alt"]
    # the SVG twin carries the same title and the provenance footer
    svg = (env.charts_dir / "research_share.svg").read_text()
    assert "Pooled PyTorch share" in svg and "conferences snapshot #1" in svg


def test_sankey_shares_add_up_to_100_per_group(cli, env, conference_server):
    assert cli("refresh", "--source", "conferences").rc == 0
    flows = rows_of(env.charts_dir / "author_migration_sankey.csv")
    for group in ("TensorFlow", "Both", "PyTorch"):
        shown = [int(r["share_rounded_pct"]) for r in flows if r["from_group"] == group]
        assert sum(shown) == 100, (group, shown)
    alt = read_index(env.charts_dir)["author_migration_sankey"]["alt"]
    tf = [r for r in flows if r["from_group"] == "TensorFlow"]
    assert all(f"{r['share_rounded_pct']}% →" in alt for r in tf)


def test_charts_are_redrawn_only_when_an_input_changed(cli, env, conference_server):
    assert cli("refresh", "--source", "conferences").rc == 0
    png = env.charts_dir / "research_share.png"
    sankey = env.charts_dir / "author_migration_sankey.png"
    first = png.stat().st_mtime_ns, sankey.stat().st_mtime_ns
    assert cli("charts").rc == 0
    assert (png.stat().st_mtime_ns, sankey.stat().st_mtime_ns) == first
    # a changed result table redraws the charts that read it, and only those
    con = connect(env.db_path)
    con.execute("UPDATE out_research__share SET pt_share_pct = 50 WHERE year = 2016")
    con.close()
    assert cli("charts").rc == 0
    assert png.stat().st_mtime_ns != first[0] and sankey.stat().st_mtime_ns == first[1]
    # a replaced file is noticed, and --force redraws everything
    sankey.write_bytes(b"not the chart")
    assert cli("charts").rc == 0
    assert sankey.read_bytes()[:4] == b"\x89PNG"
    before = png.stat().st_mtime_ns
    assert cli("charts", "--force").rc == 0
    assert png.stat().st_mtime_ns != before


@pytest.fixture
def hn_db(env):
    """A store holding only out_jobs__hn_monthly (months given by the test; `missing` months
    are declared missing by the copy: a row without counts, as the analysis writes it)."""
    con = connect(env.db_path)

    def fill(months: list[date], open_last: bool = True,
             missing: tuple[date, ...] = ()) -> duckdb.DuckDBPyConnection:
        n = len(months)
        held = [m not in missing for m in months]
        frame = pd.DataFrame({
            "month": months, "postings": [400 + 10 * i for i in range(n)],
            "pytorch": [8 + i % 5 for i in range(n)],
            "tensorflow": [12 - i % 4 for i in range(n)],
            "jax": [1 + i % 2 for i in range(n)],
            "incomplete": [open_last and i == n - 1 for i in range(n)],
            "declared_missing": [not h for h in held],
            "missing_reason": [None if h else "no public copy (test)" for h in held],
            "captured_early": False, "snapshot_id": 1})
        for column in ("postings", "pytorch", "tensorflow", "jax"):
            frame[column] = frame[column].astype("Int64").where(held)
        complete = [m for m, open_ in zip(months, frame["incomplete"], strict=True) if not open_]
        last = pd.Timestamp(complete[-1])
        frame["in_last12_span"] = [last - pd.DateOffset(months=12) < pd.Timestamp(m) <= last
                                   for m in pd.to_datetime(months)] if complete else False
        frame["in_last12"] = frame["in_last12_span"] & ~frame["incomplete"] & pd.Series(held)
        for fw in ("pytorch", "tensorflow", "jax"):
            frame[f"{fw}_pct"] = 100.0 * frame[fw] / frame["postings"]
        con.execute("CREATE OR REPLACE TABLE out_jobs__hn_monthly AS SELECT * FROM frame")
        return con

    yield fill
    con.close()


def months_from(start: date, n: int) -> list[date]:
    return [d.date() for d in pd.date_range(start, periods=n, freq="MS")]


def test_hn_trend_with_few_months_fits_the_axis_and_does_not_smooth(hn_db):
    con = hn_db(months_from(date(2026, 1, 1), 5))
    drawn = draw_hn_trend(con)
    ax = drawn.fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["PyTorch", "TensorFlow", "JAX"]  # no "6-month smoothed"
    low, high = ax.get_xlim()
    span_days = high - low
    assert span_days < 250  # Dec 2025 .. Jun 2026, not 2021..2026
    # drawn after May 2026 ended: its thread was collected while open, not "still open"
    assert "one point per month" in drawn.alt and "May 2026 (partial)" in drawn.alt
    assert "4 of 12 months" in drawn.title  # the open month is not in the headline
    assert "predates the first thread" in ax.get_xlabel()
    assert "pytorch_smooth_pct" not in drawn.data.columns
    assert any(t.get_text() == "May 2026: collected while open\n(partial)" for t in ax.texts)
    assert "still open" not in ax.get_xlabel() + drawn.caption_note
    assert "May 2026 was collected while its thread was open (partial)" in drawn.caption_note


def test_hn_trend_calls_the_current_month_still_open(hn_db):
    """A thread of the month the chart is drawn in is still open; once the month is over it
    reads "collected while open (partial)" (the test above)."""
    now = pd.Timestamp(utcnow()).to_period("M").to_timestamp()
    drawn = draw_hn_trend(hn_db(months_from(now - pd.DateOffset(months=4), 5)))
    ax = drawn.fig.axes[0]
    assert any(f"{now:%b %Y}: thread\nstill open" == t.get_text() for t in ax.texts)
    assert "still open" in ax.get_xlabel() and "partial" not in ax.get_xlabel()
    assert f"{now:%b %Y} (open)" in drawn.alt


def test_hn_trend_draws_a_declared_gap_as_a_gap(hn_db):
    """Nov and Dec 2025 declared missing: no point, no line across them, a shaded band, the
    window "10 of 12 months" in the title, and a caption note naming them and the reason."""
    months = months_from(date(2024, 1, 1), 29)  # Jan 2024 .. May 2026, May open
    gap = (date(2025, 11, 1), date(2025, 12, 1))
    drawn = draw_hn_trend(hn_db(months, missing=gap))
    ax = drawn.fig.axes[0]
    assert "10 of 12 months, May 2025–Apr 2026 without Nov–Dec 2025" in drawn.title
    for line in ax.get_lines():
        if line.get_label().startswith("PyTorch"):
            xs, ys = line.get_xdata(), line.get_ydata()
            at = {pd.Timestamp(x).date(): y for x, y in zip(xs, ys, strict=True)}
            assert all(pd.isna(at[m]) for m in gap)  # the line breaks: nothing bridges it
            assert not pd.isna(at[date(2025, 10, 1)]) and not pd.isna(at[date(2026, 1, 1)])
    assert any("no copy: Nov–Dec 2025" in t.get_text() for t in ax.texts)
    assert len(ax.patches) == 1  # the grey band over the gap
    assert "grey: no copy of the month" in ax.get_xlabel()
    assert "No data for Nov–Dec 2025: the copy declares them missing (no public copy" \
        in drawn.caption_note and "never counted as zero" in drawn.caption_note
    assert "holds 10 of 12 months" in drawn.caption_note
    assert "No data for Nov–Dec 2025" in drawn.alt
    # the plotted data keeps the gap as empty rows, never as zeros
    rows = drawn.data.set_index("month").loc[["2025-11", "2025-12"]]
    assert rows["declared_missing"].all() and rows["postings"].isna().all()


def test_hn_trend_with_many_months_smooths_and_marks_the_article(hn_db):
    con = hn_db(months_from(date(2019, 1, 1), 48), open_last=False)
    drawn = draw_hn_trend(con)
    ax = drawn.fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "PyTorch (6-month smoothed)"
    assert any("article (Dec 2021)" in t.get_text() for t in ax.texts)
    assert "12 complete months" in drawn.title
    assert "pytorch_smooth_pct" in drawn.data.columns
    assert drawn.caption_note == ""  # nothing missing, open or read from a copy


def test_job_postings_names_frameworks_and_reads_naturally(env):
    con = connect(env.db_path)
    con.execute("""
        CREATE TABLE out_jobs__board_counts AS SELECT * FROM (VALUES
          ('LinkedIn', 0, 'manual', NULL::DATE, 'tensorflow', NULL::BIGINT, NULL, false, NULL),
          ('LinkedIn', 0, 'manual', NULL, 'pytorch', NULL, NULL, false, NULL),
          ('Hacker News', 30, 'hn', DATE '2026-04-01', 'tensorflow', 16,
           'Jan 2026–Apr 2026 (4 of 12 months, 1366 postings)', true, 1),
          ('Hacker News', 30, 'hn', DATE '2026-04-01', 'pytorch', 39,
           'Jan 2026–Apr 2026 (4 of 12 months, 1366 postings)', true, 1))
          t(board, board_order, kind, date, framework, count, regions, has_data, snapshot_id)""")
    con.execute("CREATE TABLE out_jobs__board_history (board VARCHAR, date DATE, "
                "framework VARCHAR, count BIGINT, snapshot_id BIGINT)")
    drawn = draw_job_postings(con)
    con.close()
    ax = drawn.fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["TensorFlow", "PyTorch"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["TensorFlow", "PyTorch"]
    assert drawn.title.startswith("PyTorch is mentioned in more job postings than TensorFlow")
    assert "1 of 1" not in drawn.title
    assert "No counts recorded yet for LinkedIn" in drawn.alt
    # how many of the window's 12 months hold data: in the HN panel and the alt text
    assert ax.get_title() == "Hacker News 'Who is hiring?'\nJan 2026–Apr 2026 (4 of 12 months)"
    assert "'Who is hiring?', Jan 2026–Apr 2026 (4 of 12 months): PyTorch 39" in drawn.alt


def test_scorecard_axis_is_the_difference_in_tolerances():
    assert tolerance_unit(4500, "15%") == pytest.approx(675)
    assert tolerance_unit(30, "0") == 0.5  # exact counts: only equal lands in the band
    rows = pd.DataFrame({
        "figure_id": ["a_pct", "b_count", "c_count", "d"],
        "article_value": [80.0, 30.0, 20.0, 4500.0],
        "ours_as_of_article": [77.5, 29.0, 6.0, None],
        "ours_today": [None, None, None, None]})
    rules = {"a_pct": {"comparison": "approx", "tolerance": "5"},
             "b_count": {"comparison": "approx", "tolerance": "0"},
             "c_count": {"comparison": "lt", "tolerance": "0"},
             "d": {"comparison": "approx", "tolerance": "15%"}}
    x = placed(rows, rules)["x_as_of_article"].tolist()
    assert x[0] == pytest.approx(-0.5) and x[1] == pytest.approx(-2.0) and x[2] < 0
    assert pd.isna(x[3])
    # a comparison ("at least 1.5 times as many") is placed too, today's value beside it
    ratio = pd.DataFrame({"figure_id": ["r"], "article_value": [1.5],
                          "ours_as_of_article": [None], "ours_today": [0.4]})
    today = placed(ratio, {"r": {"comparison": "ge", "tolerance": "0"}})["x_today"].tolist()
    assert today[0] == pytest.approx(-2.2)


def test_scorecard_legend_shows_only_what_is_drawn(cli, env, conference_server):
    assert cli("refresh", "--source", "conferences").rc == 0
    svg = (env.charts_dir / "scorecard.svg").read_text()
    data = rows_of(env.charts_dir / "scorecard.csv")
    assert not any(r["ours_today"] for r in data) and "ours, today" not in svg
    assert not any(r["status"] == "differs" for r in data) and "(differs)" not in svg
    assert "(matches)" in svg
    drawn = [r for r in data if r["x_as_of_article"]]
    assert drawn and all(abs(float(r["x_as_of_article"])) <= 1 for r in drawn
                         if r["status"] == "matches" and r["comparison"] == "approx")
