"""What the report is made of, read once: the gradebook's roster and reports/*.csv.

Scores and statuses come from reports/checks.csv and reports/submissions.csv (what `make
grade` wrote); the gradebook adds who is enrolled (so a student who submitted nothing is
counted as not submitted) and each assignment's maximum; the autograded notebooks add how
long each one took in the clean room (metadata flatgrad.seconds).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

# CSV cells a spreadsheet would run are written with a leading "'": read back as written
from ..grading.csvcells import plain_row
from ..grading.itemrows import ItemResult as ItemRow  # one row of reports/checks.csv
from ..grading.printable import visible
from ..verdict import GRADED, NOT_SUBMITTED



@dataclass
class Submission:
    """One student's notebook of one assignment (or its absence)."""
    student_id: str
    assignment: str
    status: str                  # graded, error, timeout, unresolved, not_submitted
    message: str = ""
    score: float | None = None   # sum of its items' scores; None when none was recorded
    seconds: float | None = None  # clean-room time, when the autograded notebook recorded it
    feedback: str | None = None  # link relative to reports/, when the page exists


@dataclass
class ClassData:
    assignments: list[str]
    students: list[str]
    rows: list[ItemRow]
    submissions: dict = field(default_factory=dict)  # (student, assignment) -> Submission
    max_scores: dict = field(default_factory=dict)   # assignment -> points

    def items(self, assignment: str) -> list[str]:
        """Item names in notebook order (checks.csv keeps each submission's cell order)."""
        return list(dict.fromkeys(r.item for r in self.rows if r.assignment == assignment))

    def of(self, assignment: str) -> list[Submission]:
        return [self.submissions[(s, assignment)] for s in self.students if (s, assignment) in self.submissions]


def _float(text: str) -> float | None:
    try:
        return float(text) if text not in ("", None) else None
    except ValueError:
        return None


def read_rows(path: Path) -> list[dict]:
    """A CSV the grader wrote, each value as it was before writing; [] when missing."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [plain_row(r) for r in csv.DictReader(fh)]


def feedback_link(student: str, assignment: str) -> str:
    """reports/ -> feedback/<student>/<a>/<a>.html, every segment percent-encoded."""
    s, a = quote(student, safe=""), quote(assignment, safe="")
    return f"../feedback/{s}/{a}/{a}.html"


def roster(root: Path) -> tuple[list[str], dict]:
    """(student ids, assignment -> max score) from the gradebook; empty without one."""
    db = root / "gradebook.db"
    if not db.exists():
        return [], {}
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{db}") as gb:
        # ids as the CSVs write them (control characters as escapes), so that one student is one row
        return [visible(s.id) for s in gb.students], {a.name: float(a.max_score) for a in gb.assignments}


def seconds_of(notebook: Path) -> float | None:
    try:
        meta = json.loads(notebook.read_text()).get("metadata", {}).get("flatgrad", {})
        return float(meta["seconds"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def load(root: Path) -> ClassData:
    """Everything the page shows, from a course folder graded by `make grade`."""
    reports = root / "reports"
    rows = [ItemRow(r["student_id"], r["assignment"], r["item"], _float(r["score"]),
                    _float(r["max_score"]) or 0.0, r["status"], r["message"] or "")
            for r in read_rows(reports / "checks.csv")]
    enrolled, max_scores = roster(root)
    submitted = read_rows(reports / "submissions.csv")
    assignments = sorted({r.assignment for r in rows} | {r["assignment"] for r in submitted})
    students = sorted(set(enrolled) | {r.student_id for r in rows} | {r["student_id"] for r in submitted})
    data = ClassData(assignments, students, rows)
    for r in submitted:
        key = (r["student_id"], r["assignment"])
        notebook = root / "autograded" / key[0] / key[1] / f"{key[1]}.ipynb"
        page = root / "feedback" / key[0] / key[1] / f"{key[1]}.html"
        data.submissions[key] = Submission(*key, r["status"], r["message"] or "",
                                           seconds=seconds_of(notebook) if r["status"] == GRADED else None,
                                           feedback=feedback_link(*key) if page.exists() else None)
    for r in rows:
        sub = data.submissions.setdefault((r.student_id, r.assignment),
                                          Submission(r.student_id, r.assignment, GRADED))
        if r.score is not None:
            sub.score = (sub.score or 0.0) + r.score
    for a in assignments:
        top = {}
        for r in rows:
            if r.assignment == a:
                top.setdefault(r.student_id, 0.0)
                top[r.student_id] += r.max_score
        data.max_scores[a] = max_scores.get(a) or max(top.values(), default=0.0)
        for s in students:
            data.submissions.setdefault((s, a), Submission(s, a, NOT_SUBMITTED))
    return data
