"""`publish`: the explicit step that copies a refresh's outputs into the tracked published/
folder and README, and never replaces published data with "no data yet"."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from pipeline.publish import MARKER
from tests.conftest import mirror_dir


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A scratch project folder: published/ and a README with the generated blocks."""
    root = tmp_path / "project"
    (root / "published").mkdir(parents=True)
    blocks = "\n\n".join(
        MARKER.format(name=name, edge=edge, command="make publish")
        for name in ("scorecard", "sources") for edge in ("start", "end"))
    (root / "README.md").write_text(f"# Readme\n\n{blocks}\n\nEnd.\n")
    monkeypatch.setenv("ADOPTION_PUBLISHED_DIR", str(root / "published"))
    return root


@pytest.fixture
def refreshed(cli, env, monkeypatch):
    monkeypatch.setenv("ADOPTION_CONFERENCES_URL", str(mirror_dir("pytorch-vs-tensorflow")))
    result = cli("refresh", "--source", "conferences")
    assert result.rc == 0, result.err
    return env


def published_figures(project) -> dict[str, str]:
    with (project / "published" / "results" / "figures.csv").open() as fh:
        return {r["figure_id"]: r["value"] for r in csv.DictReader(fh)}


def test_publish_copies_outputs_and_readme_blocks_once(cli, refreshed, project):
    result = cli("publish")
    assert result.rc == 0, result.err
    published = project / "published"
    for name in ("research_share", "author_migration_sankey", "scorecard"):
        for suffix in (".png", ".svg"):
            assert (published / "charts" / f"{name}{suffix}").read_bytes() == \
                (refreshed.charts_dir / f"{name}{suffix}").read_bytes()
    index = json.loads((published / "charts" / "charts.json").read_text())
    assert {e["name"] for e in index["charts"]} >= {"research_share", "jobs_hn_trend"}
    assert published_figures(project)["research_pt_share_2017_pct"]
    readme = (project / "README.md").read_text()
    assert "| `research_pt_share_2017_pct` |" in readme and "| `conferences` |" in readme
    assert readme.endswith("End.\n")
    block = readme.split("<!-- scorecard:start")[1].split("<!-- scorecard:end")[0]
    table = [line for line in block.splitlines() if line.startswith("|")]
    assert table[0].startswith("| Claim | Figure |")  # the whole header, claim first
    assert len({line.count(" | ") for line in table[:1] + table[2:]}) == 1  # as many cells
    again = cli("publish")
    assert again.rc == 0 and "publish: 0 file(s) changed" in again.err


def test_publish_never_replaces_data_with_no_data(cli, refreshed, project):
    assert cli("publish").rc == 0
    published = project / "published"
    # as if a week ago the Hub had been collected: its chart and figure were published
    index = json.loads((published / "charts" / "charts.json").read_text())
    for entry in index["charts"]:
        if entry["name"] == "hf_top30":
            entry["has_data"] = True
    (published / "charts" / "charts.json").write_text(json.dumps(index))
    (published / "charts" / "hf_top30.png").write_bytes(b"an earlier chart with data")
    with (published / "results" / "figures.csv").open("a") as fh:
        fh.write("hf_pt_exclusive_pct,85.1,%,article,hf_models,7\n")
    before = (published / "results" / "scorecard.md").read_text()
    result = cli("publish")
    assert result.rc == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert "kept the published chart hf_top30" in warnings[0]
    assert "would lose their values: hf_pt_exclusive_pct" in warnings[1]
    assert (published / "charts" / "hf_top30.png").read_bytes() == b"an earlier chart with data"
    assert published_figures(project)["hf_pt_exclusive_pct"] == "85.1"
    assert (published / "results" / "scorecard.md").read_text() == before
    forced = cli("publish", "--force")
    assert forced.rc == 0 and "warning" not in forced.err
    assert "hf_pt_exclusive_pct" not in published_figures(project)
    assert (published / "charts" / "hf_top30.png").read_bytes() == \
        (refreshed.charts_dir / "hf_top30.png").read_bytes()


def test_published_history_is_merged_never_shortened(cli, refreshed, project):
    results = project / "published" / "results"
    results.mkdir(parents=True)
    shutil.copy(refreshed.results_dir / "figures_history.csv", results / "figures_history.csv")
    with (results / "figures_history.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    old = dict(rows[0], value="1.5", snapshot_sha256="f" * 64, data_date="2026-01-05")
    with (results / "figures_history.csv").open("a", newline="") as fh:
        csv.DictWriter(fh, list(rows[0])).writerow(old)
    assert cli("publish").rc == 0
    with (results / "figures_history.csv").open() as fh:
        merged = list(csv.DictReader(fh))
    assert len(merged) == len(rows) + 1
    assert any(r["snapshot_sha256"] == "f" * 64 for r in merged)


def test_publish_before_any_refresh_says_what_to_run(cli, env, project):
    result = cli("publish")
    assert result.rc == 1
    assert "nothing to publish" in result.err and "make refresh" in result.err


def published_bytes(project) -> dict[str, bytes]:
    return {p.relative_to(project).as_posix(): p.read_bytes()
            for p in sorted(project.rglob("*")) if p.is_file()}


def test_publishing_identical_data_again_changes_no_byte(cli, refreshed, project, monkeypatch):
    """`make publish` twice, after an unchanged refresh, after a forced re-collection of the
    same data and after redrawing everything: no published byte changes (charts are drawn
    deterministically and name their data by its date and checksum, not by snapshot id or run).
    A forced re-collection makes new snapshots: only the tables naming snapshot ids (scorecard,
    figures, sources) change, never a chart, its data or charts.json."""
    monkeypatch.setenv("ADOPTION_JOBS_HN_URL", str(mirror_dir("hn")))
    assert cli("refresh", "--source", "conferences", "--source", "jobs_hn").rc == 0
    assert cli("publish").rc == 0
    first = published_bytes(project)
    assert cli("publish").rc == 0
    assert published_bytes(project) == first
    assert cli("refresh", "--source", "conferences", "--source", "jobs_hn").rc == 0  # unchanged
    assert cli("publish").rc == 0
    assert published_bytes(project) == first
    assert cli("charts", "--force").rc == 0 and cli("report").rc == 0  # redrawn, same data
    assert cli("publish").rc == 0
    assert published_bytes(project) == first
    assert cli("refresh", "--source", "conferences", "--force").rc == 0  # a new snapshot #3
    assert cli("publish").rc == 0
    changed = {k for k, v in published_bytes(project).items() if first.get(k) != v}
    assert changed <= {"README.md", "published/results/scorecard.md", "published/results/"
                       "scorecard.csv", "published/results/figures.csv",
                       "published/results/sources.md"}, changed  # no chart, CSV or index
    footer = (project / "published" / "charts" / "research_share.svg").read_text()
    assert "conferences as collected" in footer and "snapshot #" not in footer
