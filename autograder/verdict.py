"""What a check says about one graded item, and how the in-kernel runner reports it."""
from __future__ import annotations

from dataclasses import dataclass

PASSED, FAILED, ERROR, TIMEOUT, NOT_RUN = "passed", "failed", "error", "timeout", "not_run"
STATUSES = (PASSED, FAILED, ERROR, TIMEOUT, NOT_RUN)


@dataclass
class Verdict:
    """The outcome of one item: passed/failed/error with a message in plain words."""
    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == PASSED


class ItemFailed(AssertionError):
    """The student's function ran but gave a wrong answer (nbgrader scores the cell 0)."""


class ItemError(Exception):
    """The student's function crashed, or could not be called as specified."""


def raise_for(verdict: Verdict) -> None:
    """Turn a failing verdict into the exception that marks the grade cell."""
    if verdict.status == FAILED:
        raise ItemFailed(verdict.message)
    if verdict.status == ERROR:
        raise ItemError(verdict.message)
