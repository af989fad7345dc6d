"""What an nbgrader log says when a notebook could not be autograded at all."""
from __future__ import annotations

from ..verdict import ERROR, TIMEOUT

UNRESOLVED = "unresolved"  # the grader itself could not finish: no score is recorded

# (text in nbgrader's log, status, reason shown to TA and student); first match wins.
KNOWN = [
    ("DeadKernelError", ERROR, "the notebook's kernel died while it ran (os._exit, a crash or "
                               "running out of memory); items after that point could not be graded"),
    ("Kernel died", ERROR, "the notebook's kernel died while it ran"),
    ("NotJSONError", ERROR, "the submitted notebook is not valid notebook JSON (corrupt or truncated file)"),
    ("Notebook does not appear to be JSON", ERROR, "the submitted notebook is not valid JSON"),
    ("CellTimeoutError", TIMEOUT, "a cell ran past the time limit and the kernel did not recover"),
    ("UnresponsiveKernelError", TIMEOUT, "the kernel stopped responding"),
]


def classify(log: str) -> tuple[str, str]:
    """(status, reason) for a failed `nbgrader autograde` of one submission."""
    for needle, status, reason in KNOWN:
        if needle in log:
            return status, reason
    errors = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
    detail = errors[-1].strip() if errors else (log.strip().splitlines() or ["no output"])[-1]
    return UNRESOLVED, f"the grader could not finish this submission: {detail[:300]}"
