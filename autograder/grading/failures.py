"""What an nbgrader log says when a notebook could not be autograded at all."""
from __future__ import annotations

from ..verdict import ERROR, UNRESOLVED, Status

# (text in nbgrader's log, status, reason shown to TA and student); first match wins.
KNOWN = [
    ("NotJSONError", ERROR, "the submitted notebook is not valid notebook JSON (corrupt or truncated file)"),
    ("Notebook does not appear to be JSON", ERROR, "the submitted notebook is not valid JSON"),
    ("Unreadable Notebook", ERROR, "the submitted notebook is not a valid notebook file"),
    ("not valid json", ERROR, "the submitted notebook is not valid JSON (corrupt or truncated file)"),
]


def classify(log: str) -> tuple[Status, str]:
    """(status, reason) for a failed `nbgrader autograde` of one submission."""
    for needle, status, reason in KNOWN:
        if needle in log:
            return status, reason
    errors = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
    detail = errors[-1].strip() if errors else (log.strip().splitlines() or ["no output"])[-1]
    return UNRESOLVED, f"the grader could not finish this submission: {detail[:300]}"
