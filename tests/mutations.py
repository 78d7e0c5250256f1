"""Mutation check: break the code the ways an audit did and show that the suite notices.

Each mutation is a plausible bug (deleting the previous snapshot's membership list when an
attempt fails, committing after every batch, storing a token, reading a malformed file as no
papers, losing the published charts). It is applied to a temporary copy of the project, and
the part of the suite that guards against it is run there: it must fail. The same part must
pass on an unchanged copy (the control), so a failure is the mutation's doing.

    make mutants                     # every mutation + the control (a few minutes)
    python -m tests.mutations NAME   # some of them (names below)

`make test` runs the cheapest one (losing the published charts) and checks that every other
mutation still applies to the code as it is (tests/test_mutations.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: folders and files of a checkout that are outputs, caches or the environment: not copied
NOT_COPIED = re.compile(r"^(\.venv|\.git|\.pytest_cache|\.ruff_cache|build|data/(raw|charts|"
                        r"results|site|notebooks|export|tmp|\.site-[^/]*|adoption\.duckdb[^/]*|"
                        r"[^/]*\.lock)|[^/]*\.egg-info)(/|$)|(^|/)__pycache__(/|$)")


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str  # the bug, in words
    guards: tuple[str, ...]  # pytest node ids that must fail on the mutant
    file: str = ""
    old: str = ""  # replaced by `new`; must occur exactly once in `file`
    new: str = ""
    delete: str = ""  # or: a glob of files to delete

    def apply(self, root: Path) -> None:
        if self.delete:
            doomed = list(root.glob(self.delete))
            if not doomed:
                raise MutationStale(f"{self.name}: nothing matches {self.delete}")
            for path in doomed:
                path.unlink()
            return
        path = root / self.file
        text = path.read_text()
        if text.count(self.old) != 1:
            raise MutationStale(f"{self.name}: the code it breaks is not (exactly once) in "
                                f"{self.file} any more; update tests/mutations.py")
        path.write_text(text.replace(self.old, self.new))


class MutationStale(Exception):
    """The code a mutation breaks has changed: the mutation must be updated."""


_FAILED_UPDATE = '''        con.execute(
            "UPDATE snapshots SET status = 'failed', finished_at = ?, error = ?, raw_dir = NULL "
            "WHERE snapshot_id = ?", [utcnow(), redact(message), snapshot_id])
'''
_INSERT = ("            counts[table] += insert_batch(con, stages.get(table, table), snapshot_id, "
           "batch)\n")
_TOKEN = ("    ctx.parameters.update(endpoint=redact(ctx.origin.base), "
          "authenticated=bool(token),")
_PAPERS = '''        yield "raw_conferences__papers", parse_papers(ctx.origin.parse_json(
            Fetched(rel, content, {})), rel)'''

MUTATIONS = [
    Mutation(
        "membership", "a failed attempt deletes the previous snapshot's membership lists",
        ("tests/faults/test_hf_models_faults.py::test_500_forever_fails_after_bounded_retries",),
        "pipeline/collect.py", _FAILED_UPDATE, _FAILED_UPDATE
        + "        for spec in source.versioned.values():\n"
          "            con.execute(f'DELETE FROM {spec.members} WHERE snapshot_id = ?', "
          "[previous])\n"),
    Mutation(
        "commit-per-batch", "the loader commits after every batch instead of once",
        ("tests/faults/test_kill_faults.py::test_sigkill_mid_load_plain_tables",),
        "pipeline/collect.py", _INSERT, _INSERT
        + '            con.execute("COMMIT")\n            con.execute("BEGIN TRANSACTION")\n'),
    Mutation(
        "store-token", "the Hub source stores its HF_TOKEN header in the snapshot's parameters",
        ("tests/faults/test_secrets_faults.py::"
         "test_tokens_never_reach_logs_database_raw_charts_site_or_published",),
        "pipeline/sources/hf_models.py", _TOKEN, _TOKEN.replace("bool(token),",
                                                                "bool(token), auth=headers,")),
    Mutation(
        "malformed-as-empty", "a malformed per-paper file is read as a meeting without papers",
        ("tests/faults/test_conferences_faults.py::"
         "test_malformed_json_in_an_unpinned_copy_reaches_the_parser_and_fails",),
        "pipeline/sources/conferences.py", _PAPERS,
        "        try:\n            papers = ctx.origin.parse_json(Fetched(rel, content, {}))\n"
        "        except SourceError:\n            papers = []\n"
        '        yield "raw_conferences__papers", parse_papers(papers, rel)'),
    Mutation(
        "published-charts", "the published charts are deleted (published/charts/*)",
        ("tests/test_committed_outputs.py",), delete="published/charts/*"),
]


def project_files(root: Path = ROOT) -> list[str]:
    """The checkout's files (tracked and new; not outputs, caches or the venv)."""
    if (root / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                                cwd=root, capture_output=True, check=True).stdout
        names = [n for n in listed.decode().split("\0") if n]
    else:
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return [n for n in names if not NOT_COPIED.search(n) and (root / n).is_file()]


def copy_project(dest: Path, root: Path = ROOT) -> Path:
    for name in project_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return dest


def run_guards(copy: Path, guards: tuple[str, ...]) -> tuple[str, str]:
    """Run the guarding tests in the copy: ("failed" | "passed" | "skipped" | "error", log)."""
    from pipeline.get_mirrors import shared_mirror_root

    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOPTION_")}
    env |= {"ADOPTION_SHARED_MIRROR": str(shared_mirror_root()), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          *guards], cwd=copy, env=env, capture_output=True, text=True,
                         timeout=1800)
    log = run.stdout + run.stderr
    summary = log.strip().splitlines()[-1] if log.strip() else ""
    if run.returncode == 1 and " failed" in summary:
        return "failed", log
    if run.returncode == 0 and " skipped" in summary:
        return "skipped", log
    if run.returncode == 0:
        return "passed", log
    return "error", log


def check(mutation: Mutation, control: bool = True) -> str:
    """Apply `mutation` to a copy and run its guards: a line saying whether they caught it.
    Raises AssertionError if they did not (or could not run), MutationStale if it no longer
    applies."""
    with tempfile.TemporaryDirectory(prefix="adoption-mutant-") as scratch:
        copy = copy_project(Path(scratch) / "framework-adoption")
        if control:
            outcome, log = run_guards(copy, mutation.guards)
            assert outcome == "passed", f"{mutation.name}: the control run {outcome}:\n{log}"
        mutation.apply(copy)
        outcome, log = run_guards(copy, mutation.guards)
    assert outcome == "failed", (f"{mutation.name}: the mutation ({mutation.what}) was not "
                                 f"caught: its guards {outcome}:\n{log[-3000:]}")
    return f"caught: {mutation.name} ({mutation.what}) by {', '.join(mutation.guards)}"


def main(argv: list[str] | None = None) -> int:
    names = [m.name for m in MUTATIONS]
    parser = argparse.ArgumentParser(prog="python -m tests.mutations", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(names))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"unknown mutation(s) {', '.join(unknown)}; known: {', '.join(names)}")
    ok = True
    for mutation in MUTATIONS:
        if args.names and mutation.name not in args.names:
            continue
        try:
            print(check(mutation), flush=True)
        except (AssertionError, MutationStale) as exc:
            print(f"NOT CAUGHT: {exc}", flush=True)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
