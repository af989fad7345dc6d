"""The hidden-test entry point that grade cells call inside the notebook's kernel.

    from autograder.kernel import grade
    grade("linear_classifiers", "svm_loss_naive", svm_loss_naive)

It prints the verdict in plain words and raises ItemFailed / ItemError when the item does
not pass, which nbgrader scores as 0 for that cell.
"""
from __future__ import annotations

from .checks import items
from .checks.item import run
from .verdict import Verdict, raise_for


def check(assignment: str, item: str, fn) -> Verdict:
    """Run the hidden tests of one item against fn; data in, verdict out."""
    return run(items(assignment)[item], fn)


def grade(assignment: str, item: str, fn) -> None:
    verdict = check(assignment, item, fn)
    print(verdict.message)
    raise_for(verdict)
