"""Guards on what the repository ships (the published copy in published/, written only by
`python -m pipeline publish`): charts and results come from real refreshes only."""

from __future__ import annotations

import csv
import json
import re

from pipeline.config import PROJECT_ROOT, REFERENCE_DIR

CHARTS = PROJECT_ROOT / "published" / "charts"
RESULTS = PROJECT_ROOT / "published" / "results"
FAKE_ORIGIN = re.compile(r"127\.0\.0\.1|localhost:|/tmp/|pytest-of-")


def test_committed_charts_do_not_come_from_test_fakes():
    svgs = sorted(CHARTS.glob("*.svg"))
    assert svgs, f"no published chart in {CHARTS}"
    for svg in svgs:
        text = svg.read_text()
        assert not FAKE_ORIGIN.search(text), f"{svg.name} was drawn from a test fake"
        assert "Data: " in text or "No data collected yet" in text, f"{svg.name} has no footer"
    for png in CHARTS.glob("*.png"):
        assert png.with_suffix(".svg").is_file(), f"{png.name} has no SVG twin"


def test_every_image_the_readme_shows_is_published():
    readme = (PROJECT_ROOT / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((published/[^)\s]+)\)", readme)
    assert images, "the README gallery shows no published image"
    missing = [i for i in images if not (PROJECT_ROOT / i).is_file()]
    assert missing == [], f"README shows images that are not published: {missing}"


def test_published_charts_are_described_with_alt_text_and_data():
    """charts.json describes every chart the pipeline draws; every entry has its files and a
    real alt text (what the README gallery and the site show)."""
    from pipeline.charts import all_charts

    index = CHARTS / "charts.json"
    assert index.is_file(), f"{index} is missing: run `make publish`"
    entries = json.loads(index.read_text())["charts"]
    assert {e["name"] for e in entries} >= {c.name for c in all_charts()}
    for entry in entries:
        assert len(entry["alt"]) > 20, entry["name"]
        assert set(entry["files"]) == {"png", "svg", "csv"}, entry["name"]
        for file in entry["files"].values():
            assert (CHARTS / file).is_file(), f"charts.json names {file}, which is missing"
            assert not FAKE_ORIGIN.search((CHARTS / file).read_text(errors="ignore")), file


def test_committed_results_do_not_come_from_test_fakes():
    for path in RESULTS.glob("*"):
        if path.suffix in (".csv", ".md"):
            assert not FAKE_ORIGIN.search(path.read_text()), path.name


def test_reference_figures_file_is_complete():
    with (REFERENCE_DIR / "article_figures.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    ids = {r["figure_id"] for r in rows}
    assert ids == {
        "hf_pt_exclusive_pct", "hf_tf_exclusive_pct", "hf_tf_available_pct", "hf_top30_pt_count",
        "hf_top30_tf_count", "hf_top30_tf_exclusive_count", "research_pt_share_2017_pct",
        "research_pt_share_2021_pct", "migration_tf_to_pt_pct", "migration_pt_stay_pct",
        "pwc_pt_share_q4_2021_pct", "pwc_tf_share_q4_2021_pct", "pwc_repos_q4_2021",
        # the two claims readers check first (issue 13, part 5)
        "hf_tf_also_pt_pct", "jobs_hn_tf_to_pt_ratio",
        # the article's rounds 2 and 3, measured by downloads (issue 27)
        "deploy_tf_share_pct", "ecosystem_tf_share_pct",
    }
    for row in rows:
        assert row["quote"] and row["method_note"] and row["tolerance"], row["figure_id"]
        assert row["claim"] and len(row["claim"]) <= 80, row["figure_id"]  # short, in words
        float(row["value"])


def test_no_output_is_computed_from_the_reference_file():
    """Collectors and analyses never open the article's figures (charts may mark them)."""
    offenders = [p.relative_to(PROJECT_ROOT).as_posix()
                 for folder in ("sources", "analysis")
                 for p in (PROJECT_ROOT / "pipeline" / folder).rglob("*.py")
                 if re.search(r"\bREFERENCE_(DIR|FILE)\b|read_csv\([^)]*article_figures",
                              p.read_text())]
    assert offenders == []


def test_measured_figures_have_one_generated_place_the_docs_link_to():
    """Benchmark tables live in published/benchmarks.md (written by `make bench`); README and
    the methodology notes link to them and never carry a copy that could go stale."""
    docs = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md"))]
    stamp = re.compile(r"_Measured \d{4}-\d\d-\d\d on |<!-- benchmarks:start")
    copies = [p.relative_to(PROJECT_ROOT).as_posix() for p in docs if stamp.search(p.read_text())]
    assert copies == [], f"copied benchmark output in {copies}: link to published/benchmarks/"
    for doc in docs:
        for link in re.findall(r"\]\(([^)#\s]*published/benchmarks[^)#\s]*)\)", doc.read_text()):
            assert (doc.parent / link).resolve().exists(), f"{doc.name} links to missing {link}"
    assert (PROJECT_ROOT / "published" / "benchmarks.md").is_file()
