"""Are the rules checked by meaning, and cells compiled as the kernel does, through make grade?

corpus.rule_variants: correct code in the styles the rules allow must get full marks; each way
around a rule (aliases, getattr, sys.modules, importlib, helpers) and each cell that fails in
the student's own kernel must lose its item (and only it), with a message that says why.
Packed, in the shared class (conftest.shared_class) graded once with `make grade COURSE=...`.
"""
from __future__ import annotations

import pytest

from autograder.corpus.rule_variants import ENTRIES
from helpers import rule_variants_class

PACKED = rule_variants_class()
MEMBERS = {e.name: (a, e) for a, entries in ENTRIES.items() for e in entries}


@pytest.fixture(scope="module")
def checks(shared_class):
    """checks.csv's rows of the shared class (conftest), which holds PACKED."""
    return shared_class.checks


def test_the_corpus_has_both_kinds():
    """Correct styles and evasions, in every assignment."""
    for entries in ENTRIES.values():
        assert any(not e.fails for e in entries) and any(e.fails for e in entries)
    assert len(MEMBERS) >= 25


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MEMBERS))
def test_each_variant_gets_exactly_its_verdict(name, checks):
    """Full marks everywhere for a correct style; zero with the right status and message on its
    own item for an evasion, and full marks on every other item of the same submission."""
    assignment, entry = MEMBERS[name]
    student = next(p.name for a, p in PACKED if a == assignment and (p is entry or name in getattr(p, "members", ())))
    rows = {item: r for (s, a, item), r in checks.items() if s == student and a == assignment}
    assert rows, student
    for item in entry.fails:
        row = rows[item]
        assert row["status"] == entry.item_status and float(row["score"]) == 0, row
        assert entry.messages[item] in row["message"], row["message"]
    packed = next(p for a, p in PACKED if a == assignment and p.name == student)
    for item, row in rows.items():
        if item not in packed.expected() and row["status"] != "not_run":  # not_run: written answers
            assert row["status"] == "passed" and row["score"] == row["max_score"], (name, row)
