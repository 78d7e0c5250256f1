"""The make targets around the pipeline: `make refresh` stops after a configuration error
(said once), and builds the site once, after the notebooks; `make clean` removes every output
folder, `data/export/` included."""

from __future__ import annotations

import os
import re
import subprocess

from pipeline.charts.scorecard import article_text
from pipeline.config import PROJECT_ROOT

MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()


def test_make_refresh_says_a_configuration_error_once_and_runs_nothing_after_it(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ADOPTION_", "MAKE", "MFLAGS"))}  # not the outer make's ARGS
    env |= {"ADOPTION_HTTP_TIMEOUT": "soon", "ADOPTION_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed-stamp",
                          "refresh", "ARGS="], cwd=PROJECT_ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: ADOPTION_HTTP_TIMEOUT='soon' is not a number; set it to a number "
                      "or unset it"], run.stderr
    assert "notebook" not in run.stdout + run.stderr and "site" not in run.stdout + run.stderr
    assert not (tmp_path / "data").exists()


def test_the_site_is_built_once_after_the_notebooks():
    recipe = MAKEFILE[MAKEFILE.index("\nrefresh:"):MAKEFILE.index("\n\n", MAKEFILE.index(
        "\nrefresh:"))]
    assert recipe.count("site") == 1 and recipe.index("notebooks") < recipe.index("site")
    cli = (PROJECT_ROOT / "pipeline" / "cli.py").read_text()
    assert 'args.command in ("refresh", "site")' not in cli  # `pipeline refresh` leaves it


def test_make_clean_removes_every_output_folder():
    clean = MAKEFILE[MAKEFILE.index("\nclean:"):]
    ignored = (PROJECT_ROOT / ".gitignore").read_text()
    for folder in ("data/raw", "data/charts", "data/results", "data/site", "data/notebooks",
                   "data/export"):
        assert re.search(rf"{folder}\b", clean) and f"{folder}/" in ignored, folder


def test_the_scorecard_chart_states_bounds_as_the_article_does():
    assert article_text(20.0, "models", "lt") == "< 20"
    assert article_text(1.5, "×", "ge") == "≥ 1.5×"
    assert article_text(85.0, "%", "approx") == "85%"
