"""Per-assignment checks, found by name: assignment <a> is checked by autograder.checks.<a>.

Each assignment module defines
- ITEMS: graded item name -> Item (one per auto-graded cell of the notebook), and
- GIVEN: the ids of the notebook's trusted given cells, run (definitions only) before the
  student's answers, in the clean room.
Adding an assignment adds a module here; nothing else lists it (see autograder.contract).
"""
from __future__ import annotations

import importlib
from types import ModuleType

PACKAGE = __name__


def module(assignment: str) -> ModuleType:
    """The checks module of an assignment (KeyError when there is none).

    Found by name, not by the folder scan: the Gradescope bundle has one assignment and no
    assignments/ folder."""
    if not assignment.isidentifier() or assignment.startswith("_"):
        from ..layout import assignments  # here only: the sandbox imports this package, never layout
        raise KeyError(f"unknown assignment {assignment!r}; known: {assignments()}")
    try:
        found = importlib.import_module(f"{PACKAGE}.{assignment}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{PACKAGE}.{assignment}":
            raise
        raise KeyError(f"assignment {assignment!r} has no checks module {PACKAGE}.{assignment}") from exc
    if not hasattr(found, "ITEMS"):  # a shared helper module of this package, not an assignment
        raise KeyError(f"{PACKAGE}.{assignment} is no assignment's checks (it defines no ITEMS)")
    return found


def items(assignment: str) -> dict:
    """The graded items of an assignment: name -> Item."""
    return module(assignment).ITEMS


def given(assignment: str) -> tuple[str, ...]:
    """Ids of the given cells the assignment's functions rely on, in notebook order."""
    return tuple(module(assignment).GIVEN)
