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
    runs = [s.get("run", "") for s in refresh["steps"]]
    assert "make refresh" in runs and "make publish" in runs
    env = next(s["env"] for s in refresh["steps"] if s.get("run") == "make refresh")
    assert env == {"HF_TOKEN": "${{ secrets.HF_TOKEN }}",
                   "GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}
    handed = next(s for s in refresh["steps"] if "upload-artifact" in s.get("uses", ""))
    assert handed["with"]["path"].split() == ["published", "README.md"]
    upload = next(s for s in refresh["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "data/site"
    commit_job = flow["jobs"]["commit"]
    assert commit_job["needs"] == "refresh"
    commit = next(s["run"] for s in commit_job["steps"] if "git commit" in s.get("run", ""))
    assert "github-actions[bot]" in commit and "git add -A published README.md" in commit
    deploy = flow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert "deploy-pages" in deploy["steps"][0]["uses"]


def test_only_the_commit_job_can_write_and_it_runs_no_project_code():
    """The refresh (untrusted data, notebooks) holds a read-only token; the job with
    `contents: write` only checks out, downloads the artifact and runs git."""
    jobs = load("refresh.yml")["jobs"]
    assert jobs["refresh"]["permissions"] == {"contents": "read"}
    writers = [name for name, job in jobs.items()
               if (job.get("permissions") or {}).get("contents") == "write"]
    assert writers == ["commit"]
    steps = jobs["commit"]["steps"]
    assert [s["uses"].split("@")[0] for s in steps if "uses" in s] == [
        "actions/checkout", "actions/download-artifact"]
    assert all(s.get("with", {}).get("persist-credentials") is False
               for s in steps if "checkout" in s.get("uses", ""))
    script = "\n".join(s.get("run", "") for s in steps)
    for project_code in ("make ", "python", "pip ", ".venv", "bash ."):
        assert project_code not in script, project_code
    assert "grep -v -e '^published/' -e '^README.md$'" in script  # nothing else is committed


LOCK = PROJECT_ROOT / "requirements" / "refresh.txt"


def locked() -> dict[str, tuple[str, list[str]]]:
    """The lock file as {name: (version, hashes)}."""
    entries: dict[str, tuple[str, list[str]]] = {}
    name = None
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            spec = line.split(";")[0].split("\\")[0].strip()
            name, _, version = spec.partition("==")
            entries[name.lower()] = (version, [])
        elif "--hash=sha256:" in line and name:
            entries[name.lower()][1].append(line.split("sha256:")[1].split()[0])
    return entries


def test_refresh_installs_runtime_dependencies_from_the_hashed_lock_file():
    """Every dependency the refresh needs (pyproject's dependencies and the notebooks extra)
    is pinned in requirements/refresh.txt with sha256 hashes; no dev tool is in it; the
    workflow installs it with --require-hashes and nothing else."""
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    entries = locked()
    wanted = [*project["dependencies"], *project["optional-dependencies"]["notebooks"]]
    for requirement in wanted:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        key = name.lower().replace("_", "-")
        assert key in entries, f"{name} is not in {LOCK.name}: regenerate it (see its header)"
    assert all(version and len(hashes) >= 1 and all(len(h) == 64 for h in hashes)
               for version, hashes in entries.values())
    for dev in ("pytest", "ruff", "playwright", "zizmor", "check-jsonschema", "trustme"):
        assert dev not in entries, dev
    install = [s["run"] for s in load("refresh.yml")["jobs"]["refresh"]["steps"]
               if "pip install" in s.get("run", "")]
    assert install == [next(r for r in install)]
    assert "--require-hashes --no-deps -r requirements/refresh.txt" in install[0]
    assert "touch .venv/.installed-stamp" in install[0]  # so make installs nothing unpinned
