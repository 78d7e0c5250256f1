"""The GitHub workflows: valid against the workflow schema (check-jsonschema) and free of
high-severity findings (zizmor --offline: pinned actions, least-privilege permissions, no
persisted credentials); the scheduled refresh does what the README says it does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
BAD_WORKFLOW = """
name: bad
on: [push]
permissions: write-all
jobs:
  x:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.head_commit.message }}"
"""


def tool(name: str) -> str:
    """The tool from this venv (a dev dependency), or a skip saying how to get it."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed: pip install -e '.[dev]' installs it")
    return found


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_both_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "refresh.yml"]


@pytest.mark.parametrize("name", ["ci.yml", "refresh.yml"])
def test_workflow_matches_the_github_schema(name):
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                 str(WORKFLOWS / name))
    assert result.returncode == 0, result.stdout + result.stderr


def high_findings(path: Path) -> list[str]:
    result = run(tool("zizmor"), "--offline", "--format", "json", str(path))
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr  # 1x: findings
    return [f"{f['ident']}: {f['desc']}" for f in json.loads(result.stdout or "[]")
            if f["determinations"]["severity"] == "High"]


def test_zizmor_finds_nothing_high():
    assert high_findings(WORKFLOWS) == []


def test_zizmor_would_catch_a_careless_workflow(tmp_path):
    """The check above can fail: an unpinned, over-privileged, injectable workflow is caught."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(BAD_WORKFLOW)
    assert high_findings(folder)
    schema = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                 str(folder / "bad.yml"))
    assert schema.returncode == 0  # valid, yet unsafe: the two checks are complementary


def test_ci_runs_the_ci_script():
    steps = load("ci.yml")["jobs"]["test"]["steps"]
    assert steps[-1]["run"] == "bash .ci/run"
    assert load("ci.yml")[True] == {"push": None, "pull_request": None}  # YAML reads `on` as True


def test_scheduled_refresh_publishes_commits_and_deploys():
    flow = load("refresh.yml")
    triggers = flow[True]
    assert "workflow_dispatch" in triggers and triggers["schedule"][0]["cron"]
    assert flow["permissions"] == {}
    refresh = flow["jobs"]["refresh"]
    assert refresh["permissions"] == {"contents": "write"}
    runs = [s.get("run", "") for s in refresh["steps"]]
    assert "make refresh" in runs and "make publish" in runs
    env = next(s["env"] for s in refresh["steps"] if s.get("run") == "make refresh")
    assert env == {"HF_TOKEN": "${{ secrets.HF_TOKEN }}",
                   "GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}
    commit = next(r for r in runs if "git commit" in r)
    assert "github-actions[bot]" in commit and "git add -A published README.md" in commit
    upload = next(s for s in refresh["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "data/site"
    deploy = flow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert "deploy-pages" in deploy["steps"][0]["uses"]
