"""The real 2021-2026 HN "Who is hiring?" series offline (../shared/mirror/hn-2021-2026, read in
place; skipped where it is absent): its declared gap (2025-11, 2025-12 in `_missing.json`), the
article's window (January - December 2021) against an independent recount of SOURCE.md's table,
a second refresh that stores nothing, and the same folder without the declaration.

The mirror (48 MB, 63 months) is collected once for the module (~10-20 s); every test reads
that store. The recount re-implements SOURCE.md's stated rule here, not with pipeline.rules.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Settings
from tests.conftest import mirror_dir

MIRROR = "hn-2021-2026"
DECLARED = {"2025-11": 45800465, "2025-12": 46108941}  # SOURCE.md section B
#: the months SOURCE.md marks "captured early" (last capture < ~10 days after the thread)
CAPTURED_EARLY = ["2021-07", "2021-09", "2021-11", "2022-03", "2022-06", "2024-01", "2024-12",
                  "2025-02"]


@dataclass
class Run:
    rc: int
    err: str


def run_cli(*args: str) -> Run:
    """`python -m pipeline ...` in-process, its log (stderr) captured."""
    from pipeline.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(list(args))
    return Run(rc, err.getvalue())


@dataclass
class Series:
    mirror: Path
    settings: Settings
    first: Run
    second: Run
    root: Path

    def db(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.db_path), read_only=True)


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Series:
    """The mirror refreshed twice into one store (the second run must find nothing new)."""
    mirror = mirror_dir(MIRROR)
    root = tmp_path_factory.mktemp("hn-series")
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("ADOPTION_"):
                patch.delenv(key)
        patch.setenv("ADOPTION_DATA_DIR", str(root / "data"))
        patch.setenv("ADOPTION_CONFIG", str(root / "no-config.toml"))
        patch.setenv("ADOPTION_JOBS_HN_URL", str(mirror))
        first = run_cli("refresh", "--source", "jobs_hn")
        second = run_cli("refresh", "--source", "jobs_hn")
        yield Series(mirror, Settings.from_env(), first, second, root)


def figures(series: Series) -> dict[str, dict]:
    with (series.settings.results_dir / "figures.csv").open() as fh:
        return {r["figure_id"]: r for r in csv.DictReader(fh)}


def scorecard_row(series: Series, figure_id: str) -> dict:
    with (series.settings.results_dir / "scorecard.csv").open() as fh:
        return next(r for r in csv.DictReader(fh) if r["figure_id"] == figure_id)


def test_declared_gap_is_accepted_listed_and_never_counted_as_zero(series):
    assert series.first.rc == 0, series.first.err
    con = series.db()
    parameters = json.loads(con.execute(
        "SELECT parameters FROM snapshots WHERE snapshot_id = current_snapshot('jobs_hn')"
    ).fetchall()[0][0])
    declared = parameters["months_declared_missing"]
    assert {m: v["thread_id"] for m, v in declared.items()} == DECLARED
    assert all("no complete public copy" in v["reason"] for v in declared.values())
    # the declaration and the copy's description are kept with the snapshot, by checksum
    copy = parameters["local_copy"]
    folder = next(p for p in (series.settings.raw_dir / "jobs_hn").iterdir() if p.is_dir())
    for name, entry in (("_missing.json", copy["missing_file"]),
                        ("SOURCE.md", copy["description"])):
        assert (folder / name).read_bytes() == (series.mirror / name).read_bytes()
        assert entry["path"] == name and len(entry["sha256"]) == 64
    assert any("Replies are absent" in c for c in copy["caveats"])
    assert any("Estimated times: 2021-01" in c for c in copy["caveats"])
    monthly = {f"{m:%Y-%m}": rest for m, *rest in con.execute(
        "SELECT month, postings, pytorch, declared_missing, missing_reason, captured_early, "
        "incomplete FROM out_jobs__hn_monthly").fetchall()}
    assert len(monthly) == 65  # 2021-01 .. 2026-05: 63 months held, 2 declared missing
    for month in DECLARED:
        postings, pytorch, flag, reason, _, _ = monthly[month]
        assert flag and postings is None and pytorch is None and "public copy" in reason
    assert sum(r[2] for r in monthly.values()) == 2
    # detected from the posting times, the same months SOURCE.md marks "captured early"
    assert sorted(m for m, r in monthly.items() if r[4]) == CAPTURED_EARLY
    assert [m for m, r in monthly.items() if r[5]] == ["2026-05"]  # newest: partial
    yearly = dict(con.execute("SELECT year, (months, months_declared_missing) "
                              "FROM out_jobs__hn_yearly").fetchall())
    assert yearly[2025] == (10, 2) and yearly[2021] == (12, 0)
    # today's window, May 2025 - Apr 2026, holds 10 of its 12 months
    window = [f"{m:%Y-%m}" for (m,) in con.execute(
        "SELECT month FROM out_jobs__hn_monthly WHERE in_last12 ORDER BY 1").fetchall()]
    assert window[0] == "2025-05" and window[-1] == "2026-04" and len(window) == 10
    got = figures(series)
    months = got["jobs_hn_months_last12_today"]
    assert (float(months["value"]), months["unit"]) == (10, "of 12 months")
    n, pt, tf = con.execute("SELECT sum(postings), sum(pytorch), sum(tensorflow) FROM "
                            "out_jobs__hn_monthly WHERE in_last12").fetchall()[0]
    assert float(got["jobs_hn_postings_last12_today"]["value"]) == n
    assert float(got["jobs_hn_pt_share_last12_pct_today"]["value"]) == \
        pytest.approx(100 * pt / n, abs=0.01)
    assert "complete months in today's window: 10 of 12 months" in \
        scorecard_row(series, "jobs_hn_tf_to_pt_ratio")["reason"]
    # the chart: a gap with a note, the article's month marked, the open month "partial"
    charts = {e["name"]: e for e in json.loads(
        (series.settings.charts_dir / "charts.json").read_text())["charts"]}
    trend = charts["jobs_hn_trend"]
    assert "10 of 12 months, May 2025–Apr 2026 without Nov–Dec 2025" in trend["title"]
    caption = trend["caption"]
    assert "No data for Nov–Dec 2025: the copy declares them missing" in caption
    assert "holds 10 of 12 months" in caption
    assert "May 2026 was collected while its thread was open (partial)" in caption
    assert "Jul 2021, Sep 2021, Nov 2021, Mar 2022, Jun 2022, Jan 2024, Dec 2024, Feb 2025" \
        in caption
    assert "Read from a local copy, not the Algolia API" in caption
    assert "1-5% more postings in most months" in caption
    assert "Replies are absent" in caption and "Estimated times" in caption
    plotted = {r["month"]: r for r in csv.DictReader(
        (series.settings.charts_dir / "jobs_hn_trend.csv").open())}
    assert min(plotted) == "2021-01" and max(plotted) == "2026-05"
    assert plotted["2025-11"]["postings"] == "" and plotted["2025-11"]["pytorch_smooth_pct"] == ""
    regions = {r for (r,) in con.execute("SELECT DISTINCT regions FROM out_jobs__board_counts "
                                          "WHERE board = 'Hacker News'").fetchall()}
    assert regions == {f"May 2025–Apr 2026 (10 of 12 months, {n} postings)"}


def source_table(mirror: Path) -> dict[str, tuple[int, int, int]]:
    """SOURCE.md's "Postings per month" table: month -> (postings, PyTorch, TensorFlow)."""
    rows = {}
    for line in (mirror / "SOURCE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if re.fullmatch(r"\d{4}-\d{2}", cells[0]) and cells[2].isdigit():
            rows[cells[0]] = (int(cells[2]), int(cells[3]), int(cells[4]))
    return rows


#: SOURCE.md's rule: the text HTML-unescaped with its tags removed (each replaced by a space:
#: removing them outright glues words across paragraphs and does not give the table's counts),
#: matched by \bpytorch\b / \btensorflow\b, case-insensitive. Records whose text is
#: "[flagged]" are not postings (SOURCE.md section C).
RECOUNT = {"pytorch": re.compile(r"\bpytorch\b", re.I),
           "tensorflow": re.compile(r"\btensorflow\b", re.I)}


def recount(mirror: Path) -> dict[str, dict[int, tuple[dict[str, bool], str]]]:
    """month -> {comment id: (what the rule finds, the posting's HTML)}."""
    months = {}
    for path in sorted(mirror.glob("20*.json")):
        postings = {}
        for child in json.loads(path.read_bytes())["children"]:
            text = child.get("text")
            if not text or text.strip() in ("[flagged]", "[dead]", "[deleted]"):
                continue
            plain = html.unescape(re.sub(r"<[^>]*>", " ", text))
            postings[child["id"]] = ({fw: bool(rx.search(plain)) for fw, rx in RECOUNT.items()},
                                     text)
        months[path.stem] = postings
    return months


def test_article_window_agrees_with_an_independent_recount(series):
    table = source_table(series.mirror)
    counted = recount(series.mirror)
    con = series.db()
    ours = {f"{m:%Y-%m}": (n, pt, tf) for m, n, pt, tf in con.execute(
        "SELECT month, postings, pytorch, tensorflow FROM out_jobs__hn_monthly "
        "WHERE NOT declared_missing").fetchall()}
    article = [f"2021-{m:02d}" for m in range(1, 13)]
    for month in article:
        mine = counted[month]
        recounted = (len(mine), sum(p["pytorch"] for p, _ in mine.values()),
                     sum(p["tensorflow"] for p, _ in mine.values()))
        assert recounted == table[month] == ours[month], month
    got = {k: float(v["value"]) for k, v in figures(series).items()}
    assert (got["jobs_hn_postings_article_window"], got["jobs_hn_pt_postings_article_window"],
            got["jobs_hn_tf_postings_article_window"], got["jobs_hn_months_article_window"]) \
        == (10_472, 94, 103, 12)  # SOURCE.md's 2021 totals, all 12 months held
    assert got["jobs_hn_tf_to_pt_ratio"] == round(103 / 94, 2)
    row = scorecard_row(series, "jobs_hn_tf_to_pt_ratio")
    assert row["evaluated_on"] == "article date" and row["status"] == "differs"  # 1.1 < 1.5
    assert float(row["ours_as_of_article"]) == round(103 / 94, 2)
    assert "months of Jan–Dec 2021 with data: 12 of 12 months" in row["reason"]
    # every month: our rules and the recount differ only where a posting names TensorFlow by
    # a TensorFlow-only alias and never by its name (docs/methodology/jobs.md)
    from pipeline.rules import match_frameworks

    differs = {}
    for month, postings in counted.items():
        for comment_id, (theirs, text) in postings.items():
            mine = match_frameworks(text)
            for fw in RECOUNT:
                if mine[fw] != theirs[fw]:
                    differs[(month, comment_id, fw)] = (mine[fw], text)
        assert len(postings) == ours[month][0], month
    assert [k[2] for k in differs] == ["tensorflow"] * len(differs)
    for (_month, _cid, _fw), (ours_says, text) in differs.items():
        assert ours_says and re.search(r"tflite|tfjs|tf\.js|tf\.keras", text, re.I)
    assert [k[0] for k in differs] == ["2026-01"]  # one "TFLite" posting; none in 2021


def test_second_refresh_stores_nothing(series):
    assert series.second.rc == 0, series.second.err
    assert "jobs_hn: unchanged: no thread changed among the 63 listed" in series.second.err
    assert "analysis jobs: unchanged" in series.second.err
    con = series.db()
    assert con.execute("SELECT count(*) FROM snapshots WHERE source = 'jobs_hn' "
                       "AND status = 'ok'").fetchall() == [(1,)]


def test_the_folder_without_its_declaration_fails_naming_the_missing_months(series,
                                                                            tmp_path,
                                                                            monkeypatch):
    """The same month files (hard-linked where possible, else copied into tmp_path; a
    symbolic link would lead outside the folder, which a local origin refuses) without
    `_missing.json`: one line naming the missing months, exit 1, the current snapshot
    untouched."""
    copy = tmp_path / "hn-without-declaration"
    copy.mkdir()
    for path in series.mirror.glob("20*.json"):
        try:
            os.link(path, copy / path.name)
        except OSError:
            shutil.copyfile(path, copy / path.name)
    con = series.db()
    before = con.execute("SELECT snapshot_id, row_count, sha256 FROM snapshots "
                         "WHERE snapshot_id = current_snapshot('jobs_hn')").fetchall()
    con.close()
    for key in list(os.environ):
        if key.startswith("ADOPTION_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ADOPTION_DATA_DIR", str(series.settings.data_dir))
    monkeypatch.setenv("ADOPTION_CONFIG", str(series.root / "no-config.toml"))
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(copy))
    result = run_cli("collect", "jobs_hn")
    assert result.rc == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.err
    assert errors[0].startswith("error: jobs_hn: incomplete: no thread for 2025-11, 2025-12 "
                                "between 2021-01 and 2026-05")
    assert "_missing.json" in errors[0]
    con = series.db()
    assert con.execute("SELECT snapshot_id, row_count, sha256 FROM snapshots "
                       "WHERE snapshot_id = current_snapshot('jobs_hn')").fetchall() == before
