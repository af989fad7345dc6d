"""One row per student, assignment and graded item, read from nbgrader's own records.

Scores come from the gradebook. Status and message come from the grade cell's metadata in
the autograded notebook, where the clean room recorded each verdict
(autograder.grading.cleanroomgrade; the cell's outputs are the student's copy of it).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from .gradebookview import submission_rows
from ..verdict import ERROR, FAILED, NOT_RUN, PASSED, STATUSES, TIMEOUT, Status

COLUMNS = ("student_id", "assignment", "item", "score", "max_score", "status", "message")
ITEM_STATUSES = {str(s) for s in STATUSES}
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # a student's colours never reach a CSV


@dataclass
class ItemResult:
    student_id: str
    assignment: str
    item: str
    score: float | None
    max_score: float
    status: Status
    message: str

    def row(self) -> dict:
        return asdict(self)


def cell_status(cell: dict) -> tuple[Status, str]:
    """(status, message) of one autograded grade cell: the verdict the clean room recorded in its
    metadata (flatgrad.status). A cell without one, or with a status outside the vocabulary, got
    no verdict from the grader: an error, never a pass."""
    record = cell.get("metadata", {}).get("flatgrad")
    if not isinstance(record, dict) or record.get("status") not in ITEM_STATUSES:
        return ERROR, "the grader recorded no verdict for this grade cell"
    status, message = Status(record["status"]), ANSI.sub("", str(record.get("message", ""))).strip()
    if status == PASSED:  # the line the student's feedback ends with
        return status, message.splitlines()[-1] if message else str(PASSED)
    if status == TIMEOUT:
        return status, message or "the cell ran past the time limit and was interrupted"
    return status, message


def load_notebook(notebook_path: Path) -> dict:
    """An autograded notebook as plain JSON, read once for its notes and its items."""
    return json.loads(notebook_path.read_text())


def grade_cells(nb: dict) -> dict:
    """grade_id -> cell, for every grade cell of a notebook (plain JSON)."""
    cells = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells[meta["grade_id"]] = cell
    return cells


def notebook_notes(nb: dict) -> list[str]:
    """What the clean room noted about a notebook (e.g. a deleted answer cell)."""
    try:
        return list(nb.get("metadata", {}).get("flatgrad", {}).get("notes", []))
    except (AttributeError, TypeError):
        return []


def read_items(db_url: str, assignment: str, student: str, nb: dict) -> list[ItemResult]:
    """Items of one graded submission, from its autograded notebook (load_notebook)."""
    cells = grade_cells(nb)
    rows = []
    with Gradebook(db_url) as gb:
        _, grades, _ = submission_rows(gb, assignment, assignment, student)
        order = {name: k for k, name in enumerate(cells)}
        for name, grade in sorted(grades.items(), key=lambda kv: order.get(kv[0], len(order))):
            cell = cells.get(name, {})
            if cell.get("cell_type") == "markdown":
                status, message = manual_status(grade)
            else:
                status, message = cell_status(cell) if cell else (ERROR, "grade cell missing")
            rows.append(ItemResult(student, assignment, name, grade.score or 0.0,
                                   grade.max_score, status, message))
    return rows


def manual_status(grade) -> tuple[str, str]:
    """Written answers are graded by hand in formgrader."""
    if grade.manual_score is None:
        return NOT_RUN, "written answer: graded by hand in formgrader, not graded yet"
    full = grade.score >= grade.max_score
    return (PASSED if full else FAILED), f"graded by hand: {grade.score:g} of {grade.max_score:g}"


def failed_notebook(db_url: str, assignment: str, student: str, status: str, reason: str) -> list[ItemResult]:
    """Every item of a submission whose notebook could not be run at all."""
    with Gradebook(db_url) as gb:
        cells = gb.find_notebook(assignment, assignment).grade_cells
        return [ItemResult(student, assignment, c.name, 0.0 if status in (ERROR, TIMEOUT) else None,
                           c.max_score, status, reason) for c in cells]
