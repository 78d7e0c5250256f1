"""Research analyses on small hand-built inputs whose answers are worked out by hand."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

COUNTS = """ICML,06/17,1,9,50
CVPR,06/17,3,7,40
ICLR,05/21,30,10,100
NeurIPS,12/21,0,0,10
"""


def paper(pid: str, authors: list[str], words: list[str], year) -> dict:
    return {"authors": authors, "conference": "x", "id": pid, "name": f"Paper {pid}",
            "metadata": {"affiliation": [], "words": words}, "pdf_link": "", "year": year}


def write_source(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data.csv").write_text(COUNTS)
    files = {
        "icml_2018.json": [
            paper("a", ["Alice", "Bob"], ["tensorflow"], "2018"),
            paper("b", [" carol  smith"], ["tf", "google.com"], "2018"),
            paper("c", ["Dan"], ["allennlp"], "2018"),
            paper("d", ["Eve", "Frank"], ["pytorch"], "2018"),
            paper("e", ["Frank", "Gina", "Hank"], ["TensorFlow"], "2018"),
        ],
        "icml_2019.json": [
            paper("f", ["Alice"], ["pytorch"], 2019),
            paper("g", ["Bob"], ["tensorflow"], 2019),
            paper("h", ["Carol Smith"], ["pytorch", "tensorflow"], 2019),
            paper("i", ["Dan"], ["pt"], 2019),
            paper("j", ["Eve"], ["tf"], 2019),
            paper("k", ["Frank"], ["pytorch"], 2019),
            paper("l", ["Hank"], [], 2019),  # in 2019 but no framework: not in any flow
            paper("m", ["Zed"], ["pytorch"], 2019, ),
        ],
        # a meeting never scanned for words: its papers must not count as framework-free
        "acl_2019.json": [paper("n", ["Gina"], [], 2019), paper("o", ["Bob"], [], 2019)],
    }
    for name, papers in files.items():
        (root / "data" / name).write_text(json.dumps(papers))
    return root


@pytest.fixture
def hand_built(cli, env, tmp_path, monkeypatch):
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(write_source(tmp_path / "src")))
    result = cli("refresh", "--source", "conferences")
    assert result.rc == 0, result.err
    return duckdb.connect(str(env.db_path), read_only=True)


def test_share_per_meeting_and_pooled(hand_built):
    rows = dict(hand_built.execute(
        "SELECT conference || ' ' || year, pt_share_pct FROM out_research__share").fetchall())
    assert rows["ICML 2017"] == pytest.approx(10.0)
    assert rows["CVPR 2017"] == pytest.approx(30.0)
    assert rows["All conferences 2017"] == pytest.approx(100 * 4 / 20)  # 20%, not mean of 10/30
    assert rows["All conferences 2021"] == pytest.approx(75.0)  # 0/0 NeurIPS adds nothing
    assert rows["NeurIPS 2021"] is None  # no framework papers: undefined, not 0%


def test_migration_flows(hand_built, env):
    flows = {(f, t): n for f, t, n in hand_built.execute(
        "SELECT from_group, to_group, authors FROM out_research__migration").fetchall()}
    # 2018 groups: TF = Alice, Bob, Carol, Gina, Hank; PT = Dan, Eve; Both = Frank.
    # 2019 (scanned files only): Alice PT, Bob TF, Carol Both, Dan PT, Eve TF, Frank PT, Zed PT.
    # Gina appears only in the unscanned ACL file, Hank has no framework: both drop out.
    assert flows == {
        ("PyTorch", "PyTorch"): 1, ("PyTorch", "TensorFlow"): 1, ("PyTorch", "Both"): 0,
        ("TensorFlow", "PyTorch"): 1, ("TensorFlow", "TensorFlow"): 1,
        ("TensorFlow", "Both"): 1,
        ("Both", "PyTorch"): 1, ("Both", "TensorFlow"): 0, ("Both", "Both"): 0,
    }
    with (env.results_dir / "figures.csv").open() as fh:
        figures = {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}
    assert figures["migration_tf_to_pt_pct"] == pytest.approx(66.67)  # Alice + Carol of 3
    assert figures["migration_pt_stay_pct"] == pytest.approx(50.0)  # Dan of Dan, Eve
    # the alternative reading: Frank (2018 "both", 2019 PyTorch) joins each 2018 group
    assert figures["migration_tf_to_pt_incl_both_pct"] == pytest.approx(75.0)  # 3 of 4
    assert figures["migration_pt_stay_incl_both_pct"] == pytest.approx(66.67)  # Dan, Frank of 3
    assert figures["research_pt_share_2017_pct"] == pytest.approx(20.0)


def test_analysis_skips_when_inputs_unchanged(cli, hand_built):
    hand_built.close()
    result = cli("analyze")
    assert "research: unchanged (skipped)" in result.err
    result = cli("analyze", "--force")
    # 2017 and 2021 shares, two migration figures and their two alternative readings
    assert "research: 6 figures" in result.err


def test_real_mirror_migration_readings_bracket_the_article(cli, env, conference_mirror,
                                                            monkeypatch):
    """On the real conference data the two readings of "TensorFlow users of 2018" give 52.9%
    and 61.7% moved to PyTorch: the article's 55% lies between them. The scorecard's reason
    column shows the computed alternative (the reference file names only its figure id)."""
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(conference_mirror))
    assert cli("collect", "conferences").rc == 0
    assert cli("analyze").rc == 0
    assert cli("report").rc == 0
    with (env.results_dir / "figures.csv").open() as fh:
        got = {r["figure_id"]: float(r["value"]) for r in csv.DictReader(fh)}
    assert got["migration_tf_to_pt_pct"] == pytest.approx(52.9, abs=0.05)
    assert got["migration_tf_to_pt_incl_both_pct"] == pytest.approx(61.7, abs=0.05)
    assert got["migration_pt_stay_pct"] == pytest.approx(86.4, abs=0.05)
    assert got["migration_pt_stay_incl_both_pct"] == pytest.approx(85.3, abs=0.05)
    with (env.results_dir / "scorecard.csv").open() as fh:
        card = {r["figure_id"]: r for r in csv.DictReader(fh)}
    reason = card["migration_tf_to_pt_pct"]["reason"]
    tf_only, with_both = got["migration_tf_to_pt_pct"], got["migration_tf_to_pt_incl_both_pct"]
    assert reason == (f"2018 'both' authors counted as TensorFlow users: {with_both:.1f}%; the "
                      f"article's 55% lies between our readings ({tf_only:.1f}% to "
                      f"{with_both:.1f}%)")
    assert card["migration_tf_to_pt_pct"]["status"] == "matches"
    assert card["migration_pt_stay_pct"]["reason"].startswith(
        f"2018 'both' authors counted as PyTorch users: "
        f"{got['migration_pt_stay_incl_both_pct']:.1f}%")
