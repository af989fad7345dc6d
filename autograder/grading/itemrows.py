"""One row per student, assignment and graded item, read from nbgrader's own records.

Scores come from the gradebook. Status and message come from the grade cell's outputs in
the autograded notebook, where the clean room wrote each verdict (autograder.grading.cleanroomgrade).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from .gradebookview import submission_rows
from ..verdict import ERROR, FAILED, NOT_RUN, PASSED, TIMEOUT

COLUMNS = ("student_id", "assignment", "item", "score", "max_score", "status", "message")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMEOUT_NAMES = {"CellTimeoutError", "KeyboardInterrupt", "TimeoutError"}


@dataclass
class ItemResult:
    student_id: str
    assignment: str
    item: str
    score: float | None
    max_score: float
    status: str
    message: str

    def row(self) -> dict:
        return asdict(self)


def _text(outputs) -> str:
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return ANSI.sub("", "".join(parts)).strip()


def cell_status(cell: dict) -> tuple[str, str]:
    """(status, message) of one executed grade cell, from its outputs."""
    outputs = cell.get("outputs", [])
    errors = [o for o in outputs if o.get("output_type") == "error"]
    printed = _text(outputs)
    if not errors:
        if cell.get("execution_count") is None and not outputs:
            return NOT_RUN, "this cell was not run"
        return PASSED, printed.splitlines()[-1] if printed else "passed"
    ename, evalue = errors[0].get("ename", ""), ANSI.sub("", errors[0].get("evalue", "")).strip()
    if ename == "ItemFailed":
        return FAILED, evalue
    if ename == "ItemError":
        return ERROR, evalue
    if ename in TIMEOUT_NAMES:
        return TIMEOUT, evalue or "the cell ran past the time limit and was interrupted"
    if ename == "NameError":
        return ERROR, f"{evalue}: the function is not defined (did its cell run without errors?)"
    return ERROR, f"{ename}: {evalue}"


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
