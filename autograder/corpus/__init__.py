"""Submissions made from the reference solutions: correct variants, realistic bugs, broken
notebooks. Used by the demo class, the tests and the benchmarks.

Each assignment module defines ENTRIES: a list of Entry. An Entry says how to turn the
solved notebook into a submission and which items it must fail (all others must pass).
"""
from __future__ import annotations

import importlib

MODULES = {"linear_classifiers": "autograder.corpus.linear_classifiers",
           "backprop_basics": "autograder.corpus.backprop_basics",
           "two_layer_net": "autograder.corpus.two_layer_net"}


def entries(assignment: str) -> list:
    return importlib.import_module(MODULES[assignment]).ENTRIES
