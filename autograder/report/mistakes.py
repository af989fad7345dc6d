"""What the class got wrong: failure messages grouped into classes a lecturer can teach.

Two messages are one mistake when they differ only in numbers ("loss is 12.19, expected
18.69" and "loss is 3.2, expected 4.1"), or, when the grader names a likely cause
("... likely: forgot the max shift"), when that cause is the same.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..verdict import ERROR, FAILED, GRADED, TIMEOUT
from .classdata import ClassData

WRONG = (FAILED, ERROR, TIMEOUT)
# a cause hint: "likely: ..." or "likely cause: ..." up to the end of its sentence or line
LIKELY = re.compile(r"\blikely(?: cause)?\s*:\s*([^\n;]+)", re.IGNORECASE)
# a list of values ("[0.1, -2.0, 3]"): one placeholder, whatever its length
VALUES = re.compile(r"\[(?=[^\]]*\d)[-+0-9.eE,\s'naif]*\]")
# a number standing alone: not the digits of a name (W1, float64, x_2)
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
# the check's own words for a function still raising the release's NotImplementedError
NOT_ATTEMPTED = "is not implemented yet"


@dataclass
class Mistake:
    """One class of messages of one item."""
    assignment: str
    item: str
    label: str        # the normalized message, or the cause
    by_cause: bool    # the label is the grader's cause hint
    example: str      # one message as a student saw it
    count: int = 0
    students: list = field(default_factory=list)

    @property
    def attempted(self) -> bool:
        """False for work not done (the stub still raises): nothing to re-teach."""
        return NOT_ATTEMPTED not in self.label


def normalize(message: str) -> str:
    """The message with its numbers, indices and value lists replaced by '#' / '[…]'."""
    text = ADDRESS.sub("#", message)
    text = VALUES.sub("[…]", text)
    text = NUMBER.sub("#", text)
    return " ".join(text.split())


def message_class(message: str) -> tuple[str, bool]:
    """(label, by_cause): the cause hint when the message has one, else the normalized message."""
    hint = LIKELY.search(message)
    if hint:
        return normalize(hint.group(1).strip().rstrip(").")), True
    return normalize(message), False


def mistakes(data: ClassData, assignment: str) -> list[Mistake]:
    """Classes of item failures of notebooks that were graded, most students first.

    Notebooks that could not be run at all are left out: their one reason repeats on every
    item and is counted in the status table instead."""
    graded = {(s.student_id, s.assignment) for s in data.of(assignment) if s.status == GRADED}
    order = {item: k for k, item in enumerate(data.items(assignment))}
    groups: dict = {}
    for r in data.rows:
        if r.assignment != assignment or r.status not in WRONG or (r.student_id, assignment) not in graded:
            continue
        label, by_cause = message_class(r.message)
        group = groups.setdefault((r.item, label), Mistake(assignment, r.item, label, by_cause, r.message))
        group.count += 1
        if r.student_id not in group.students:
            group.students.append(r.student_id)
    return sorted(groups.values(), key=lambda m: (-len(m.students), order.get(m.item, 0), m.label))


def next_class(data: ClassData, n: int = 8) -> list[Mistake]:
    """The mistakes shared by the most students, over every assignment (work not done is not
    a mistake to teach: it is left out here, and listed under its item)."""
    every = [m for a in data.assignments for m in mistakes(data, a) if m.attempted]
    return sorted(every, key=lambda m: (-len(m.students), m.assignment, m.item))[:n]
