"""Relocatable: every default path resolves from the project root of the checkout in use (the
nearest one at or above the working directory, or ADOPTION_ROOT), never from where the package
was installed. A copied checkout, a command run in a sub-folder and a notebook kernel (which
starts in notebooks/) read and write only their own data/; outside any checkout a command says
so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.config import PACKAGE_ROOT, Settings
from tests.conftest import executed_outputs, mirror_dir
from tests.mutations import copy_project


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("ADOPTION_", "HF_", "PYTHONPATH"))}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=clean | env,
                          capture_output=True, text=True, timeout=600)


def data_files(root: Path) -> dict[str, int]:
    data = root / "data"
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in data.rglob("*") if p.is_file()} if data.is_dir() else {}


def test_a_copied_checkout_its_subfolders_and_its_notebooks_use_only_their_own_data(tmp_path):
    mirror = str(mirror_dir("pytorch-vs-tensorflow"))
    copy = copy_project(tmp_path / "elsewhere" / "copied-checkout")
    original = data_files(PACKAGE_ROOT)
    # a command in the copy (the installed package is the original's)
    for command in ("collect", "analyze"):
        done = run(["-m", "pipeline", command, *(["conferences"] if command == "collect"
                                                 else [])], copy, ADOPTION_CONFERENCES_URL=mirror)
        assert done.returncode == 0, done.stderr
    assert (copy / "data" / "adoption.duckdb").is_file()
    assert (copy / "data" / "results" / "figures.csv").is_file()
    # in a sub-folder of the copy: the same data, nothing new collected
    again = run(["-m", "pipeline", "collect", "conferences"], copy / "notebooks",
                ADOPTION_CONFERENCES_URL=mirror)
    assert again.returncode == 0 and "conferences: unchanged" in again.stderr, again.stderr
    # what a kernel started in notebooks/ finds by itself, and a real notebook run there
    probe = run(["-c", "from pipeline import nb; print(nb.settings().db_path)"],
                copy / "notebooks")
    assert probe.stdout.strip() == str(copy / "data" / "adoption.duckdb"), probe.stderr
    executed = run(["-c", "from pathlib import Path; from pipeline.notebooks import execute; "
                          "print(execute(Path('notebooks/02_research_papers.ipynb'), "
                          "Path('data/notebooks')))"], copy)
    assert executed.returncode == 0, executed.stderr
    assert "All conferences" in executed_outputs(copy / "data" / "notebooks" /
                                                 "02_research_papers.ipynb")
    # outside any checkout: one line saying what to do, or ADOPTION_ROOT naming the checkout
    outside = tmp_path / "elsewhere"
    lost = run(["-m", "pipeline", "status"], outside)
    assert lost.returncode == 2 and "no framework-adoption checkout" in lost.stderr
    assert len(lost.stderr.strip().splitlines()) == 1, lost.stderr
    named = run(["-m", "pipeline", "status"], outside, ADOPTION_ROOT=str(copy))
    assert named.returncode == 0 and "conferences: snapshot 1" in named.stdout, named.stderr
    assert data_files(PACKAGE_ROOT) == original  # the original checkout's data: untouched


def test_relative_paths_in_the_config_file_are_relative_to_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "adoption.toml").write_text('[paths]\ndata_dir = "my-data"\n'
                                          '[sources.conferences]\nurl = "../mirror"\n')
    for key in [k for k in os.environ if k.startswith("ADOPTION_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ADOPTION_CONFIG", str(folder / "adoption.toml"))
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env()
    assert settings.data_dir == folder / "my-data"
    assert settings.db_path == folder / "my-data" / "adoption.duckdb"
    assert settings.source_url("conferences", "https://x") == str(tmp_path / "mirror")
    monkeypatch.setenv("ADOPTION_DATA_DIR", "env-data")  # the environment: the working folder
    assert Settings.from_env().data_dir == tmp_path / "env-data"
