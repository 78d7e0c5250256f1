"""The scorecard (pipeline/report.py) on hand-made figures: comparisons, which value a status
is evaluated on, and the computed alternative readings of the reason column."""

from __future__ import annotations

import csv

import duckdb
import pytest

from pipeline.report import COLUMNS, REFERENCE_FILE, build_scorecard, to_markdown

REFERENCE = """figure_id,section,value,unit,comparison,tolerance,quote,method_note,alternatives
share_pct,x,55,%,approx,5,q,n,alt_low_pct: first reading; alt_high_pct: second reading
stay_pct,x,85,%,approx,5,q,n,stay_alt_pct: other reading
ratio,jobs,1.5,×,ge,0,q,n,count_a: TensorFlow postings; missing_id: never computed
bound_count,x,20,models,lt,0,q,n,
"""


def scorecard(tmp_path, figures: list[tuple]) -> dict[str, dict]:
    reference = tmp_path / "reference.csv"
    reference.write_text(REFERENCE)
    con = duckdb.connect()
    con.execute("CREATE TABLE out_figures (analysis VARCHAR, figure_id VARCHAR, value DOUBLE, "
                "unit VARCHAR, as_of VARCHAR, source VARCHAR, snapshot_id BIGINT)")
    con.executemany("INSERT INTO out_figures VALUES ('a', ?, ?, ?, 'article', 's', 1)", figures)
    rows = build_scorecard(con, reference)
    return {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in rows}


def test_alternative_readings_are_computed_and_bracket_the_article(tmp_path):
    card = scorecard(tmp_path, [("share_pct", 52.86, "%"), ("alt_high_pct", 61.7, "%"),
                                ("stay_pct", 86.43, "%"), ("stay_alt_pct", 85.31, "%")])
    # alt_low_pct is not computed: left out, the others listed in the reference file's order
    assert card["share_pct"]["reason"] == (
        "second reading: 61.7%; the article's 55% lies between our readings (52.9% to 61.7%)")
    assert card["stay_pct"]["reason"] == (
        "other reading: 85.3%; the article's 85% lies outside our readings (85.3% to 86.4%)")
    assert card["share_pct"]["status"] == "matches"  # the headline decides the status
    assert card["bound_count"]["reason"] is None


def test_rows_keep_the_reference_files_order(tmp_path):
    """The page and the README list the figures in the reference file's order, whichever have
    values (a join must not reorder them)."""
    figures = [("bound_count", 10.0, "models"), ("ratio_today", 0.4, "×"),
               ("stay_alt_pct", 85.3, "%"), ("share_pct", 52.9, "%")]
    assert list(scorecard(tmp_path, figures)) == ["share_pct", "stay_pct", "ratio", "bound_count"]


def test_a_row_without_a_claim_falls_back_to_the_quote(tmp_path):
    """A reference file without the claim column (or a row that leaves it out) still builds."""
    card = scorecard(tmp_path, [("share_pct", 52.86, "%")])
    assert card["share_pct"]["claim"] == "q"


def test_a_comparison_without_article_date_data_is_evaluated_today(tmp_path):
    card = scorecard(tmp_path, [("ratio_today", 0.4, "×"), ("count_a", 12.0, "postings")])
    row = card["ratio"]
    assert (row["ours_as_of_article"], row["ours_today"]) == (None, 0.4)
    assert (row["status"], row["evaluated_on"], row["tolerance"]) == ("differs", "today", "≥ 1.5")
    assert row["difference"] == pytest.approx(-1.1)
    assert row["reason"] == "TensorFlow postings: 12 postings"  # other unit: no bracket
    markdown = to_markdown([tuple(row[c] for c in COLUMNS)])
    assert "| ≥ 1.5 × | no data | 0.4 | -1.1 | ⚠️ differs (today) |" in markdown
    card = scorecard(tmp_path, [("ratio", 1.5, "×"), ("ratio_today", 0.4, "×")])
    assert (card["ratio"]["status"], card["ratio"]["evaluated_on"]) == ("matches",
                                                                        "article date")


def test_every_reference_id_has_one_row():
    with REFERENCE_FILE.open() as fh:
        reference = list(csv.DictReader(fh))
    ids = [r["figure_id"] for r in reference]
    con = duckdb.connect()
    rows = build_scorecard(con)
    assert [r[0] for r in rows] == ids
    # readers first: each README row leads with the article's claim in words, the id second
    lines = to_markdown(rows).splitlines()
    assert lines[0].startswith("| Claim | Figure |")
    for line, ref in zip(lines[2:], reference, strict=True):
        assert line.startswith(f"| {ref['claim']} | `{ref['figure_id']}` |"), line
    assert {r[COLUMNS.index("status")] for r in rows} == {"no data yet"}
