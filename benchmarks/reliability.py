"""Reliability table: every fault test in tests/faults/, what it asserts, and today's result.

Runs the fault suite once (pytest, junit XML) and prints a Markdown table:
source, fault, expected behaviour (the test's docstring or name), test id, result.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from benchmarks.common import table

ROOT = Path(__file__).resolve().parent.parent
FAULTS = ROOT / "tests" / "faults"


def describe() -> list[tuple[str, str, str]]:
    """(file stem, test name, behaviour) for every test function in the fault suite."""
    found = []
    for path in sorted(FAULTS.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                paragraph = (ast.get_docstring(node) or "").strip().split("\n\n")[0]
                behaviour = " ".join(paragraph.split()) or node.name[5:].replace("_", " ")
                found.append((path.stem, node.name, behaviour))
    return found


def run_suite() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(FAULTS), f"--junitxml={report}"], cwd=ROOT, capture_output=True)
        results: dict[str, str] = {}
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.get("name", "").split("[")[0]
            outcome = "pass"
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "FAIL"
            elif case.find("skipped") is not None:
                outcome = "skipped"
            key = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{name}"
            if results.get(key) != "FAIL":
                results[key] = outcome
        return results


def main(argv: list[str] | None = None) -> str:
    results = run_suite()
    rows = []
    for stem, name, behaviour in describe():
        source = stem.removeprefix("test_").removesuffix("_faults")
        rows.append([source, behaviour, f"`{stem}.py::{name}`",
                     results.get(f"{stem}::{name}", "not run")])
    text = "### Reliability (fault suite, `tests/faults/`)\n\n" + table(
        ["Source", "Fault → expected behaviour", "Test", "Result"], rows)
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
