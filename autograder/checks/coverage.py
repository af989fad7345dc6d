"""Fail closed: every auto-graded cell has a check and every check has a grade cell.

nbgrader gives a grade cell full marks when it runs without an error, so a grade cell that no
check claims (a typo in a grade id, an item not yet registered) would give everyone full marks.
`make grade` refuses such an assignment instead (status error, the grade id in the message).
"""
from __future__ import annotations

import json
from pathlib import Path

from . import module, items


def autograded_ids(notebook: dict) -> list[str]:
    """grade_ids of the auto-graded test cells: code cells with grade and no solution."""
    ids = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            ids.append(meta.get("grade_id"))
    return ids


def problems(assignment: str, grade_ids: list[str]) -> list[str]:
    """What does not match between an assignment's grade cells and its checks."""
    checks = items(assignment)
    name = module(assignment).__name__
    out = [f"grade cell {gid!r} has no check in {name}: it would give full marks unchecked"
           for gid in grade_ids if gid not in checks]
    out += [f"check {name!r} ({name}) has no grade cell {name!r} in the notebook: it could give no points"
            for name in checks if name not in grade_ids]
    return out


def refusal(assignment: str, source: Path) -> str | None:
    """The message of a refused assignment (None when every cell and check pair up)."""
    try:
        module(assignment)
    except KeyError:
        return f"the grader refuses {assignment}: it has no checks (autograder/checks/{assignment}.py)"
    found = problems(assignment, autograded_ids(json.loads(Path(source).read_text())))
    if not found:
        return None
    return f"the grader refuses to grade {assignment}: " + "; ".join(found)
