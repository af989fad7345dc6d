"""One status vocabulary, from the sandbox's verdicts to the CSVs; what a check says about an item.

Status is a StrEnum: the CSVs, the JSON stamps and the reports keep the plain strings.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    # one graded item (checks.csv, the grade cell's metadata flatgrad.status)
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"            # also a submission that could not be run (every item error, 0)
    TIMEOUT = "timeout"        # also a submission that ran past its limit (every item timeout, 0)
    NOT_RUN = "not_run"
    # one submission (submissions.csv, grades.csv): graded, or ERROR / TIMEOUT above, or:
    GRADED = "graded"
    UNRESOLVED = "unresolved"        # the grader itself could not finish: no score is recorded
    NOT_SUBMITTED = "not_submitted"  # in the gradebook, but nothing handed in


PASSED, FAILED, ERROR, TIMEOUT, NOT_RUN = Status.PASSED, Status.FAILED, Status.ERROR, Status.TIMEOUT, Status.NOT_RUN
GRADED, UNRESOLVED, NOT_SUBMITTED = Status.GRADED, Status.UNRESOLVED, Status.NOT_SUBMITTED
STATUSES = (PASSED, FAILED, ERROR, TIMEOUT, NOT_RUN)  # of an item


@dataclass
class Verdict:
    """The outcome of one item: passed/failed/error/timeout with a message in plain words."""
    status: Status
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
