"""Notebooks: stored without outputs, and they run both before any refresh and on real results."""

from __future__ import annotations

import json

import nbformat
import pytest

from pipeline.notebooks import NOTEBOOKS_DIR, execute

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = ["00_overview", "01_huggingface", "02_research_papers", "03_papers_with_code",
            "04_jobs"]


def test_every_section_has_a_notebook():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def errors(nb) -> list[str]:
    return [o.get("ename", "") for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def text_of(nb) -> str:
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_before_any_refresh_and_says_what_to_run(env, path, tmp_path):
    out = execute(path, tmp_path / "out", timeout=120)
    nb = nbformat.read(out, as_version=4)
    assert errors(nb) == []
    assert "make refresh" in text_of(nb)
    assert out.with_suffix(".html").is_file()


def test_research_notebooks_on_collected_results(cli, env, conference_server, tmp_path):
    assert cli("refresh", "--source", "conferences").rc == 0
    for name in ("00_overview", "02_research_papers"):
        out = execute(NOTEBOOKS_DIR / f"{name}.ipynb", tmp_path / "out", timeout=120)
        nb = nbformat.read(out, as_version=4)
        assert errors(nb) == [], name
        html = out.with_suffix(".html").read_text()
        assert "image/png" in html or "data:image/png" in html, name
    research = nbformat.read(tmp_path / "out" / "02_research_papers.ipynb", as_version=4)
    shown = json.dumps([c.get("outputs") for c in research.cells])
    assert "All conferences" in shown and "share_pct" in shown
