"""grades.csv: nbgrader's CSV export (an `nbgrader export` plugin) plus the status of each row.

A submission that could not be graded must never look like a zero: its `status` says what
happened and `score` stays empty when the grader itself could not finish. `make grade` hands
the plugin the run's statuses (export_grades); `nbgrader export --exporter=...` by hand reads
the ones the last run wrote to reports/submissions.csv.
"""
from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import CsvExportPlugin

from ..verdict import NOT_SUBMITTED, UNRESOLVED
from .csvcells import plain_row, safe_row

KEYS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
        "raw_score", "late_submission_penalty", "score", "max_score", "status", "message"]
STATUS_FILE = Path("reports") / "submissions.csv"


def read_statuses(path: Path) -> dict:
    """(student_id, assignment) -> (status, message) from reports/submissions.csv."""
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        return {(r["student_id"], r["assignment"]): (r["status"], r["message"])
                for r in map(plain_row, csv.DictReader(fh))}


def export_grades(root: Path, db_url: str, statuses: dict, config=None) -> None:
    """What `nbgrader export --to=grades.csv` with StatusCsvExportPlugin does in the course
    root, with the given statuses (config: the course's nbgrader config, read when not given)."""
    if config is None:
        from traitlets.config.loader import PyFileConfigLoader
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    plugin = StatusCsvExportPlugin(config=config)
    plugin.to, plugin.statuses = str(Path(root) / "grades.csv"), statuses
    with Gradebook(db_url, config.CourseDirectory.get("course_id", "")) as gb:
        plugin.export(gb)


class StatusCsvExportPlugin(CsvExportPlugin):
    """grades.csv with `status` and `message` columns (graded, error, timeout, unresolved)."""

    statuses: dict | None = None  # (student_id, assignment) -> (status, message); None: read them

    def export(self, gradebook) -> None:
        dest = self.to or "grades.csv"
        statuses = self.statuses
        if statuses is None:
            statuses = read_statuses(Path(dest).resolve().parent / STATUS_FILE)
        with open(dest, "w", newline="") as fh:
            writer = csv.DictWriter(fh, KEYS)
            writer.writeheader()
            # sorted: the gradebook lists students in the order they were first graded, which
            # parallel workers (and a resumed run) change from run to run
            students = sorted(gradebook.students, key=lambda s: s.id)
            for assignment in sorted(gradebook.assignments, key=lambda a: a.name):
                if self.assignment and assignment.name not in self.assignment:
                    continue
                for student in students:
                    if self.student and student.id not in self.student:
                        continue
                    status, message = statuses.get((student.id, assignment.name), ("", ""))
                    writer.writerow(safe_row(self.row(gradebook, assignment, student, status, message)))

    @staticmethod
    def row(gradebook, assignment, student, status, message) -> dict:
        row = {"assignment": assignment.name, "duedate": assignment.duedate or "",
               "student_id": student.id, "last_name": student.last_name or "",
               "first_name": student.first_name or "", "email": student.email or "",
               "max_score": assignment.max_score, "status": status or NOT_SUBMITTED,
               "message": message}
        try:
            sub = gradebook.find_submission(assignment.name, student.id)
        except MissingEntry:
            row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            row["message"] = row["message"] or "no submission"
            return row
        penalty = sub.late_submission_penalty or 0.0
        row.update(timestamp=sub.timestamp or "", raw_score=sub.score,
                   late_submission_penalty=penalty, score=sub.score - penalty)
        if status == UNRESOLVED:  # the grader failed: no number at all, never a silent zero
            row.update(raw_score="", score="")
        return row
