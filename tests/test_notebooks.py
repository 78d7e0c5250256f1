"""Notebooks: stored without outputs, and they run both before any refresh and on real results."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from pipeline.notebooks import NOTEBOOKS_DIR, execute, execute_all

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = ["00_overview", "01_huggingface", "02_research_papers", "03_papers_with_code",
            "04_jobs", "05_package_downloads", "06_rounds"]


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


def test_html_is_self_contained_with_alt_text_and_no_noise(env, conference_server, tmp_path,
                                                           capfd, caplog):
    """No CDN scripts, every image has real alt text, no TCP or alt-text warnings."""
    from pipeline.cli import main

    assert main(["refresh", "--source", "conferences"]) == 0
    capfd.readouterr()
    out = execute(NOTEBOOKS_DIR / "02_research_papers.ipynb", tmp_path / "out", timeout=120)
    html = out.with_suffix(".html").read_text()
    assert "cdnjs" not in html and not re.search(r"<script[^>]+src=[\"']?(https?:)?//", html)
    images = re.findall(r"<img\b[^>]*>", html)
    assert len(images) == 2
    for tag in images:
        alt = re.search(r'alt="([^"]+)"', tag)
        assert alt and "No description" not in alt.group(1) and len(alt.group(1)) > 40, tag
    noise = capfd.readouterr().err + caplog.text
    assert "without encryption" not in noise and "Alternative text" not in noise, noise


def test_notebooks_are_not_rerun_when_no_input_changed(env, tmp_path, caplog):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nbformat.write(nb, folder / "one.ipynb")
    assert execute_all(env, folder)
    out = env.notebooks_out_dir / "one.ipynb"
    first = out.stat().st_mtime_ns
    assert json.loads((env.notebooks_out_dir / "_inputs.json").read_text())["code"]["one.ipynb"]
    caplog.clear()
    assert execute_all(env, folder)
    assert out.stat().st_mtime_ns == first and "unchanged" in caplog.text
    assert execute_all(env, folder, force=True)
    assert out.stat().st_mtime_ns != first
    second = out.stat().st_mtime_ns
    nb.cells.append(nbformat.v4.new_code_cell("print(1)"))  # an input changed
    nbformat.write(nb, folder / "one.ipynb")
    assert execute_all(env, folder)
    assert out.stat().st_mtime_ns != second
