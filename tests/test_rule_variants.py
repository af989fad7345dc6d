"""Are the rules checked by meaning, and cells compiled as the kernel does, through make grade?

corpus.rule_variants: correct code in the styles the rules allow must get full marks; each way
around a rule (aliases, getattr, sys.modules, importlib, helpers) and each cell that fails in
the student's own kernel must lose its item (and only it), with a message that says why.
One packed class, graded once with `make grade COURSE=...`.
"""
from __future__ import annotations

import csv
import subprocess

import pytest

from autograder.corpus.notebooks import pack
from autograder.corpus.rule_variants import ENTRIES
from helpers import REPO

PACKED = [(a, e) for a, entries in ENTRIES.items() for e in pack(entries, prefix=f"rules-{a}")]
MEMBERS = {e.name: (a, e) for a, entries in ENTRIES.items() for e in entries}


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    for assignment, entry in PACKED:
        entry.write(course / "submitted", assignment)
    proc = subprocess.run(["make", "-s", "grade", f"COURSE={course}"], cwd=REPO,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(course / "reports" / "checks.csv", newline="") as fh:
        return {(r["student_id"], r["assignment"], r["item"]): r for r in csv.DictReader(fh)}


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
