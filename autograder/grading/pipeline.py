"""`make grade`: an ordered list of steps over one GradeRun, each a small function.

    prepare -> autograde (and feedback) -> report -> export -> summary

Every step takes the run and changes it or the course folder; none returns anything.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sys
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field

from nbgrader.api import Gradebook
from tqdm.auto import tqdm

from . import failures, workers
from .course import SOURCE, Course, assignments
from ..submission import find_notebook
from ..verdict import ERROR
from .results import COLUMNS, failed_notebook, read_items

@dataclass
class GradeRun:
    course: Course
    student: str | None = None                    # grade only this student
    jobs: int = os.cpu_count() or 1               # notebooks autograded at once
    assignments: list = field(default_factory=list)
    items: list = field(default_factory=list)         # ItemResult rows
    submissions: list = field(default_factory=list)   # (student, assignment, status, message)
    timings: dict = field(default_factory=dict)       # step -> seconds

    def log(self, message: str) -> None:
        tqdm.write(message, file=sys.stderr)


def prepare(run: GradeRun) -> None:
    """Config for the course root; (re)create each assignment in the gradebook when needed."""
    run.course.write_config()
    run.course.reports.mkdir(parents=True, exist_ok=True)
    build = run.course.root / "build"
    build.mkdir(exist_ok=True)
    for assignment in run.assignments:
        digest = hashlib.sha256((SOURCE / assignment / f"{assignment}.ipynb").read_bytes()).hexdigest()
        stamp = build / f"{assignment}.source.sha256"
        if stamp.exists() and stamp.read_text() == digest:
            continue
        proc = run.course.nbgrader("generate_assignment", assignment, "--force",
                                   "--CourseDirectory.release_directory=build/release")
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{proc.stderr[-3000:]}")
        stamp.write_text(digest)


def autograde(run: GradeRun) -> None:
    """nbgrader's autograde and generate_feedback of each submission, in warm workers
    (autograder.grading.workers): one bad notebook never stops the rest.

    A submission graded before, unchanged since (same files, same source notebook), is not
    run again: its rows are read back, so manual grades from formgrader are kept. STUDENT=id
    always re-runs that student.
    """
    todo, cached = [], []
    for a in run.assignments:
        for s in run.course.students(a):
            if run.student not in (None, s):
                continue
            previous = None if run.student else read_stamp(run.course, s, a)
            (cached if previous else todo).append((s, a, previous))
    for s, a, previous in cached:
        notebook = run.course.autograded_notebook(s, a)
        if previous["status"] == "graded":
            rows = read_items(run.course.db_url, a, s, notebook)
        else:
            rows = failed_notebook(run.course.db_url, a, s, previous["status"], previous["message"])
        record(run, s, a, previous["status"], previous["message"], rows, " (unchanged: not re-run)")
    for s, a, _ in list(todo):
        problem = submission_problem(run.course, s, a)
        if problem:
            todo.remove((s, a, _))
            rows = failed_notebook(run.course.db_url, a, s, ERROR, problem)
            record(run, s, a, ERROR, problem, rows)
            write_stamp(run.course, s, a, ERROR, problem)
    refresh = [(s, a) for s, a, previous in cached if previous["status"] == "graded"]
    if not todo and not refresh:
        return
    with workers.pool(run.course, run.jobs) as pool:
        # feedback of unchanged submissions is rewritten too (it shows manual grades)
        for future in [pool.submit(workers.feedback_one, s, a) for s, a in refresh]:
            if (problem := future.result()) is not None:
                run.log(f"warning: feedback: {problem}")
        futures = [pool.submit(workers.autograde_one, s, a) for s, a, _ in todo]
        for future in tqdm(as_completed(futures), total=len(futures), desc="autograde",
                           unit="notebook", file=sys.stderr):
            student, assignment, status, message, rows = outcome_of(future, futures, todo)
            record(run, student, assignment, status, message, rows)
            if status != failures.UNRESOLVED:  # the grader's own failures are retried next time
                write_stamp(run.course, student, assignment, status, message)


def outcome_of(future, futures, todo):
    """A worker's result; a worker that died leaves its submission unresolved, never zero."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 (BrokenProcessPool and the like)
        s, a, _ = todo[futures.index(future)]
        reason = f"the grading worker failed: {type(exc).__name__}: {exc}"[:300]
        return s, a, failures.UNRESOLVED, reason, []


def submission_problem(course: Course, student: str, assignment: str) -> str | None:
    """Put a notebook submitted under another name in place; say why a folder can't be graded."""
    folder = course.submitted / student / assignment
    path, problem = find_notebook(folder, assignment)
    if path is not None and path != folder / f"{assignment}.ipynb":
        shutil.copyfile(path, folder / f"{assignment}.ipynb")
        (folder / RENAMED).write_text(path.name)
    return problem


RENAMED = ".flatgrad-renamed-from"  # which file a renamed submission was graded from


def submission_notes(course: Course, student: str, assignment: str) -> list[str]:
    """What the TA should know about the folder: a renamed notebook, extra files."""
    folder = course.submitted / student / assignment
    notes = []
    renamed = (folder / RENAMED).read_text() if (folder / RENAMED).exists() else None
    if renamed:
        notes.append(f"notebook submitted as {renamed}, graded as {assignment}.ipynb")
    shipped = {p.name for p in (SOURCE / assignment).iterdir()} | {RENAMED, "timestamp.txt"}
    extra = sorted(p.name for p in folder.iterdir() if p.name not in shipped and p.name != renamed)
    if extra:
        notes.append(f"extra files not used by the grader: {', '.join(extra[:5])}")
    return notes


def record(run: GradeRun, student, assignment, status, message, rows, note: str = "") -> None:
    if status != "graded":  # so that grades.csv has a row saying why, not a missing student
        with Gradebook(run.course.db_url) as gb:
            gb.update_or_create_student(student)
    if status != failures.UNRESOLVED and (run.course.submitted / student / assignment).is_dir():
        message = "; ".join([m for m in [message] if m] + submission_notes(run.course, student, assignment))
    run.items += rows
    run.submissions.append((student, assignment, status, message))
    score = sum(r.score or 0 for r in rows)
    run.log(f"{student}/{assignment}: {status}, {score:g} of {sum(r.max_score for r in rows):g}"
            + (f" ({message})" if message else "") + note)


def fingerprint(course: Course, student: str, assignment: str) -> str:
    """Hash of the submitted files and the source notebook they are graded against."""
    digest = hashlib.sha256((SOURCE / assignment / f"{assignment}.ipynb").read_bytes())
    folder = course.submitted / student / assignment
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _stamp_path(course: Course, student: str, assignment: str):
    return course.root / "build" / "graded" / student / f"{assignment}.json"


def read_stamp(course: Course, student: str, assignment: str) -> dict | None:
    """The stored outcome of an unchanged, already graded submission, else None."""
    path = _stamp_path(course, student, assignment)
    try:
        stamp = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("fingerprint") != fingerprint(course, student, assignment):
        return None
    if stamp["status"] == "graded" and not course.autograded_notebook(student, assignment).exists():
        return None
    return stamp


def write_stamp(course: Course, student: str, assignment: str, status: str, message: str) -> None:
    path = _stamp_path(course, student, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"fingerprint": fingerprint(course, student, assignment),
                                   "status": status, "message": message}))


def atomic_write(path, text: str) -> None:
    """Write a file so that a kill at any moment leaves the old or the new version, whole."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def report(run: GradeRun) -> None:
    """reports/checks.csv and reports/submissions.csv; a re-grade of one student keeps the rest."""
    graded = {(s, a) for s, a, _, _ in run.submissions}
    write_rows(run.course.reports / "checks.csv", COLUMNS, [r.row() for r in run.items], graded)
    write_rows(run.course.reports / "submissions.csv", ("student_id", "assignment", "status", "message"),
               [dict(zip(("student_id", "assignment", "status", "message"), s)) for s in run.submissions],
               graded)


def write_rows(path, columns, rows, replaced) -> None:
    """Write rows, keeping earlier rows of (student, assignment) pairs not graded this time."""
    kept = []
    if path.exists():
        with path.open(newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if (r["student_id"], r["assignment"]) not in replaced]
    rows = sorted(kept + rows, key=lambda r: (r["assignment"], r["student_id"]))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, out.getvalue())


def export(run: GradeRun) -> None:
    """grades.csv through nbgrader export, with our status-aware CSV plugin."""
    proc = run.course.nbgrader("export", "--to=grades.csv",
                               "--exporter=autograder.grading.export.StatusCsvExportPlugin")
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{proc.stderr[-3000:]}")


STEPS = [prepare, autograde, report, export]


def grade(course: Course, student: str | None = None, only: list | None = None,
          jobs: int | None = None) -> GradeRun:
    """Run every step; the caller prints the summary and decides the exit code."""
    run = GradeRun(course, student, jobs or os.cpu_count() or 1,
                   only or [a for a in assignments() if course.students(a)])
    for step in STEPS:
        start = time.perf_counter()
        step(run)
        run.timings[step.__name__] = time.perf_counter() - start
    run.log("time per step: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items()))
    return run
