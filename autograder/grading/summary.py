"""pipeline step: what `make grade` prints: one row per student, one column per graded item;
then what was written, and every submission the grader could not finish."""
from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

from ..verdict import ERROR, FAILED, NOT_RUN, PASSED, TIMEOUT, UNRESOLVED
from .csvcells import plain_row
from .printable import visible

MARKS = {PASSED: "", FAILED: " x", ERROR: " E", TIMEOUT: " T", NOT_RUN: " -"}


def summary(run) -> None:
    """The table on stdout (nothing when nothing was graded), the UNRESOLVED lines on stderr."""
    if not run.submissions:
        return
    course = run.course
    print(table(course.reports / "checks.csv", course.reports / "submissions.csv"))
    print(f"\nWrote {course.root / 'grades.csv'}, {course.reports / 'checks.csv'}, {course.root / 'feedback'}/")
    for outcome in run.submissions:
        if outcome.status == UNRESOLVED:
            print(visible(f"UNRESOLVED {outcome.student}/{outcome.assignment}: {outcome.text}"), file=sys.stderr)


def table(checks_csv: Path, submissions_csv: Path) -> str:
    """A plain-text table per assignment: scores, a mark for each item that did not pass."""
    with checks_csv.open(newline="") as fh:
        rows = [_printable(plain_row(r)) for r in csv.DictReader(fh)]
    with submissions_csv.open(newline="") as fh:
        notebook_status = {(r["student_id"], r["assignment"]): r["status"]
                           for r in map(_printable, map(plain_row, csv.DictReader(fh)))}
    by_assignment = defaultdict(list)
    for r in rows:
        by_assignment[r["assignment"]].append(r)
    out = []
    for assignment, arows in by_assignment.items():
        items = list(dict.fromkeys(r["item"] for r in arows))
        students = sorted({r["student_id"] for r in arows})
        cells = {(r["student_id"], r["item"]): r for r in arows}
        width = max(len(s) for s in students + ["student"])
        head = f"{'student':<{width}}  {'total':>11}  {'status':<10}  " + " ".join(f"{i + 1:>4}" for i in range(len(items)))
        out += [f"== {assignment} ==", head, "-" * len(head)]
        for s in students:
            srows = [cells[(s, i)] for i in items if (s, i) in cells]
            total = sum(float(r["score"] or 0) for r in srows)
            top = sum(float(r["max_score"]) for r in srows)
            marks = " ".join(f"{_score(cells.get((s, i))):>4}" for i in items)
            out.append(f"{s:<{width}}  {total:>5g} / {top:<3g}  {notebook_status.get((s, assignment), ''):<10}  {marks}")
        out.append("items: " + ", ".join(f"{k + 1} {i}" for k, i in enumerate(items)))
        out.append("marks: x failed, E error, T timeout, - not run (written answers: graded in formgrader)")
    return "\n".join(out)


def _printable(row: dict) -> dict:
    """Control characters (a student id with an escape sequence) shown, not sent to the terminal."""
    return {k: "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in v) if isinstance(v, str) else v
            for k, v in row.items()}


def _score(row) -> str:
    if row is None:
        return "?"
    score = "" if row["score"] in ("", None) else f"{float(row['score']):g}"
    return score + MARKS.get(row["status"], " ?")
