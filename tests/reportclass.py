"""A graded course folder written by hand for the class-report tests: gradebook roster,
reports/checks.csv and submissions.csv, autograded notebooks' times, feedback pages."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from unittest import mock

from autograder.grading.itemrows import COLUMNS

HOSTILE = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("evil.example";"open")'


def write_csv(path: Path, columns, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)


def gradebook(root: Path, students, assignments: dict) -> None:
    """A real nbgrader gradebook with these students and assignments (assignment -> max score
    through one grade cell each), stamped in-process instead of by an `alembic heads` subprocess."""
    import nbgrader.api
    from nbgrader.api import Gradebook

    from autograder.grading.warmdb import alembic_head
    with mock.patch.object(nbgrader.api, "get_alembic_version", alembic_head):
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            for s in students:
                gb.add_student(s)
            for a, points in assignments.items():
                gb.add_assignment(a)
                gb.add_notebook(a, a)
                gb.add_grade_cell("total", a, a, max_score=points, cell_type="code")


def write_class(root: Path, rows: list[tuple], submissions: list[tuple], *, enrolled=(),
                max_scores: dict | None = None, seconds: dict | None = None, feedback=()) -> Path:
    """rows: (student, assignment, item, score, max, status, message); submissions: (student,
    assignment, status, message); seconds: (student, assignment) -> clean-room seconds."""
    write_csv(root / "reports" / "checks.csv", COLUMNS, [dict(zip(COLUMNS, r)) for r in rows])
    write_csv(root / "reports" / "submissions.csv", ("student_id", "assignment", "status", "message"),
              [dict(zip(("student_id", "assignment", "status", "message"), s)) for s in submissions])
    for (s, a), t in (seconds or {}).items():
        nb = root / "autograded" / s / a / f"{a}.ipynb"
        nb.parent.mkdir(parents=True, exist_ok=True)
        nb.write_text(json.dumps({"cells": [], "metadata": {"flatgrad": {"notes": [], "seconds": t}}}))
    for s, a in feedback:
        page = root / "feedback" / s / a / f"{a}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><body>feedback {a}</body></html>")
    if enrolled:
        gradebook(root, enrolled, max_scores or {})
    return root
