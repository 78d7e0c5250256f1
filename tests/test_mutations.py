"""The mutation check (tests/mutations.py) in the suite: every audited breakage still applies
to the code as it is, and the cheapest one is run for real. `make mutants` runs them all."""

from __future__ import annotations

import re

import pytest

from tests.mutations import MUTATIONS, ROOT, check


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_still_applies_and_its_guards_exist(mutation):
    if mutation.file:
        assert (ROOT / mutation.file).read_text().count(mutation.old) == 1, (
            f"{mutation.name}: the code it breaks changed; update tests/mutations.py")
    else:
        assert list(ROOT.glob(mutation.delete)), mutation.delete
    for guard in mutation.guards:
        path, _, name = guard.partition("::")
        assert (ROOT / path).is_file(), guard
        assert not name or re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), guard


def test_losing_the_published_charts_is_caught():
    mutation = next(m for m in MUTATIONS if m.name == "published-charts")
    assert check(mutation, control=False).startswith("caught")  # control: this suite
