"""Submissions made from the reference solutions: correct variants, realistic bugs, broken
notebooks. Used by the demo class, the tests and the benchmarks.

Assignment <a>'s corpus is autograder.corpus.<a>, found by name. It defines ENTRIES: a list of
Entry, and DEMO: the names of the entries in the demo class. An Entry says how to turn the solved notebook into a submission and which items it
must fail (all others must pass).
"""
from __future__ import annotations

import importlib

from ..layout import assignments


def module(assignment: str):
    """The corpus module of an assignment of assignments/."""
    if assignment not in assignments():
        raise KeyError(f"unknown assignment {assignment!r}; known: {assignments()}")
    return importlib.import_module(f"{__name__}.{assignment}")


def entries(assignment: str) -> list:
    return module(assignment).ENTRIES


def demo(assignment: str) -> list[str]:
    """Names of the entries the demo class holds for this assignment."""
    return list(module(assignment).DEMO)
