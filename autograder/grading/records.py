"""The typed records a grading run keeps: one per submission, and what is known before grading."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..verdict import Status
from .itemrows import ItemResult

SUBMISSION_COLUMNS = ("student_id", "assignment", "status", "message")  # reports/submissions.csv


@dataclass
class SubmissionOutcome:
    """One submission's result: graded (items scored), or error / timeout (every item 0), or
    unresolved (the grader failed: no score). `notes` are what the TA should know about the
    folder (a renamed notebook, extra files), shown after the grader's own message."""
    student: str
    assignment: str
    status: Status
    message: str = ""
    items: list[ItemResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The message of submissions.csv and grades.csv."""
        return "; ".join([m for m in [self.message] if m] + self.notes)

    def row(self) -> dict:
        return dict(zip(SUBMISSION_COLUMNS, (self.student, self.assignment, self.status, self.text)))


@dataclass(frozen=True)
class Stamp:
    """The stored outcome of a submission (build/graded/<student>/<assignment>.json), valid while
    its files and the source notebook keep this fingerprint."""
    fingerprint: str
    status: Status
    message: str


@dataclass(frozen=True)
class Pending:
    """A submission found by prepare: to grade (stamp None, or STUDENT=id), or unchanged since
    it was graded (its stamp)."""
    student: str
    assignment: str
    stamp: Stamp | None = None
