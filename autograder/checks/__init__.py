"""Per-assignment checks. Each module defines ITEMS: graded item name -> Item.

An instructor adds an assignment by adding a module here and a line to ASSIGNMENTS.
"""
from __future__ import annotations

import importlib

ASSIGNMENTS = {
    "linear_classifiers": "autograder.checks.linear_classifiers",
    "two_layer_net": "autograder.checks.two_layer_net",
    "backprop_basics": "autograder.checks.backprop_basics",
}


def items(assignment: str) -> dict:
    """The graded items of an assignment: name -> Item."""
    if assignment not in ASSIGNMENTS:
        raise KeyError(f"unknown assignment {assignment!r}; known: {sorted(ASSIGNMENTS)}")
    return importlib.import_module(ASSIGNMENTS[assignment]).ITEMS
