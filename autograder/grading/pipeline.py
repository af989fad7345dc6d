"""`make grade`: one ordered list of named steps over one GradeRun (STEPS, at the end).

    prepare -> autograde -> feedback -> report -> export -> class_report -> summary

Every step takes the run and changes it or the course folder; none returns anything. The warm
workers (autograder.grading.workers) are started once per run, by the first step that needs them.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, as_completed, wait
from dataclasses import dataclass, field

from nbgrader.api import Gradebook
from tqdm.auto import tqdm

from . import workers
from .. import contract
from ..layout import Course, assignments
from ..report.build import class_report
from ..verdict import ERROR, GRADED, TIMEOUT, UNRESOLVED
from .csvcells import plain_row, safe_row
from .printable import visible
from .itemrows import COLUMNS, ItemResult, failed_notebook, load_notebook, read_items
from .records import SUBMISSION_COLUMNS, Pending, SubmissionOutcome
from .stamps import STAMPS, atomic_write, read_stamp, source_notebook, write_stamp
from .submissionnotes import submission_notes, submission_problem
from .summary import summary
from .watchpool import WorkerStopped


@dataclass
class GradeRun:
    course: Course
    student: str | None = None                    # grade only this student
    jobs: int = os.cpu_count() or 1               # notebooks autograded at once
    assignments: list[str] = field(default_factory=list)
    todo: list[Pending] = field(default_factory=list)     # to grade
    cached: list[Pending] = field(default_factory=list)   # unchanged since graded (their stamp)
    submissions: list[SubmissionOutcome] = field(default_factory=list)
    items: list[ItemResult] = field(default_factory=list)  # every submission's items, in order
    statuses: dict = field(default_factory=dict)  # (student, assignment) -> (status, message), for grades.csv
    timings: dict = field(default_factory=dict)   # step -> seconds
    pool: object = None                           # warm workers, started once per run
    pages: dict = field(default_factory=dict)     # feedback future -> its SubmissionOutcome

    def log(self, message: str) -> None:
        tqdm.write(visible(message), file=sys.stderr)  # a student's text acts in no terminal


def prepare(run: GradeRun) -> None:
    """Config for the course root; what to grade; (re)create assignments in the gradebook.

    The warm workers start here, while the gradebook is prepared (in one of them: nbgrader's
    start-up is paid once), instead of after it.
    """
    run.course.write_config()
    run.course.reports.mkdir(parents=True, exist_ok=True)
    build = run.course.root / "build"
    build.mkdir(exist_ok=True)
    if not (run.course.root / "gradebook.db").exists():
        # the gradebook was deleted: the stamps describe assignments and grades it no longer holds
        for stale in build.glob("*.source.sha256"):
            stale.unlink()
        shutil.rmtree(run.course.root / STAMPS, ignore_errors=True)
    for a in run.assignments:
        for s in run.course.students(a):
            if run.student not in (None, s):
                continue
            stamp = None if run.student else read_stamp(run.course, s, a)
            (run.cached if stamp else run.todo).append(Pending(s, a, stamp))
    digests = {a: hashlib.sha256(source_notebook(a)).hexdigest() for a in run.assignments}
    stale = [a for a in run.assignments if _read(build / f"{a}.source.sha256") != digests[a]]
    if stale or run.todo or any(p.stamp.status == GRADED for p in run.cached):
        made = start_workers(run, stale)  # one worker generates while the others warm up
        if made is not None and (failed := made.result()) is not None:
            assignment, problem = failed
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{problem}")
    for assignment in stale:
        (build / f"{assignment}.source.sha256").write_text(digests[assignment])


def _read(path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def start_workers(run: GradeRun, generate: list = ()):
    """Start the pool once per run, each worker warming up (imports, zygote) in the background
    right away; with assignments to generate, the future of that job, which a worker takes first."""
    if run.pool is not None:
        return None
    run.pool = workers.pool(run.course, run.jobs, log=run.log)
    made = run.pool.submit(workers.generate, list(generate)) if generate else None
    for _ in range(max(1, run.jobs)):
        run.pool.submit(workers.warm_up)
    return made


def refusals(run: GradeRun) -> dict:
    """assignment -> why the grader refuses it (its checks do not cover its notebook), or None.
    In a warm worker when there is one (it imports the checks and torch anyway: ~1.7 s of CPU
    this process need not spend); here if it cannot."""
    if run.pool is not None:
        try:
            return run.pool.submit(workers.refusals, list(run.assignments)).result()
        except Exception:  # noqa: BLE001 (a stopped worker: the same check, in this process)
            pass
    return {a: contract.refusal(a) for a in run.assignments}


def autograde(run: GradeRun) -> None:
    """nbgrader's autograde of each submission, in warm workers (autograder.grading.workers):
    one bad notebook never stops the rest.

    A submission graded before, unchanged since (same files, same source notebook), is not
    run again: its rows are read back, so manual grades from formgrader are kept. STUDENT=id
    always re-runs that student.
    """
    db = run.course.db_url
    refused = refusals(run)
    todo, cached = [p for p in run.todo if not refused[p.assignment]], [p for p in run.cached if not refused[p.assignment]]
    for p in [p for p in run.todo + run.cached if refused[p.assignment]]:
        # fail closed, and no stamp: the submission is graded once the course is fixed
        reason = refused[p.assignment]
        record(run, SubmissionOutcome(p.student, p.assignment, ERROR, reason,
                                      failed_notebook(db, p.assignment, p.student, ERROR, reason)))
    for p in cached:
        s, a, stamp = p.student, p.assignment, p.stamp
        if stamp.status == GRADED:
            rows = read_items(db, a, s, load_notebook(run.course.autograded_notebook(s, a)))
        else:
            rows = failed_notebook(db, a, s, stamp.status, stamp.message)
        record(run, SubmissionOutcome(s, a, stamp.status, stamp.message, rows), " (unchanged: not re-run)")
    for p in list(todo):
        if problem := submission_problem(run.course, p.student, p.assignment):
            todo.remove(p)
            record(run, SubmissionOutcome(p.student, p.assignment, ERROR, problem,
                                          failed_notebook(db, p.assignment, p.student, ERROR, problem)))
            write_stamp(run.course, p.student, p.assignment, ERROR, problem)
    if not todo:
        return
    start_workers(run)
    with tqdm(total=len(todo), desc="autograde", unit="notebook", file=sys.stderr) as bar:
        for future, pending in graded_lazily(run, todo):
            outcome = outcome_of(future, pending, run.course)
            record(run, outcome)
            start_feedback(run, outcome)  # queued behind a few notebooks only: pages run between them
            if outcome.status != UNRESOLVED:  # the grader's own failures are retried next time
                write_stamp(run.course, outcome.student, outcome.assignment, outcome.status, outcome.message)
            bar.update()


AHEAD = 2  # autograde tasks queued per worker: enough that none waits, few that pages interleave


def graded_lazily(run: GradeRun, todo: list):
    """(future, pending) of each submission as its autograde ends. Only AHEAD per worker are
    queued at a time: a page queued when its submission comes back runs after those, not after
    the whole class (no feedback tail at the end of the run)."""
    waiting, queued = list(reversed(todo)), {}
    while waiting or queued:
        while waiting and len(queued) < AHEAD * max(1, run.jobs):
            p = waiting.pop()
            queued[run.pool.submit(workers.autograde_one, p.student, p.assignment)] = p
        done, _ = wait(queued, return_when=FIRST_COMPLETED)
        for future in [f for f in queued if f in done]:  # in submission order: a stable log
            yield future, queued.pop(future)


def outcome_of(future, pending: Pending, course: Course) -> SubmissionOutcome:
    """A worker's result. The watchdog's verdicts: a submission that held its worker too long
    is a timeout, one that grew it too big an error (every item, score 0); a worker that died
    leaves its submission unresolved, never zero."""
    s, a = pending.student, pending.assignment
    try:
        return future.result()
    except WorkerStopped as stop:
        if stop.kind != "died":
            status = TIMEOUT if stop.kind == "timeout" else ERROR
            return SubmissionOutcome(s, a, status, stop.message, failed_notebook(course.db_url, a, s, status, stop.message))
        reason = f"the grading worker failed: {stop.message}"
    except Exception as exc:  # noqa: BLE001 (the worker's own failure, reported)
        reason = f"the grading worker failed: {type(exc).__name__}: {exc}"
    return SubmissionOutcome(s, a, UNRESOLVED, reason[:300])


def record(run: GradeRun, outcome: SubmissionOutcome, note: str = "") -> None:
    if outcome.status != GRADED:  # so that grades.csv has a row saying why, not a missing student
        with Gradebook(run.course.db_url) as gb:
            gb.update_or_create_student(outcome.student)
    if outcome.status != UNRESOLVED:
        outcome.notes = submission_notes(run.course, outcome.student, outcome.assignment)
    run.items += outcome.items
    run.submissions.append(outcome)
    score = sum(r.score or 0 for r in outcome.items)
    run.log(f"{outcome.student}/{outcome.assignment}: {outcome.status}, {score:g} of "
            f"{sum(r.max_score for r in outcome.items):g}" + (f" ({outcome.text})" if outcome.text else "") + note)


def start_feedback(run: GradeRun, outcome: SubmissionOutcome) -> None:
    """Queue nbgrader's generate_feedback of a graded submission in the warm workers."""
    if outcome.status == GRADED:
        start_workers(run)
        run.pages[run.pool.submit(workers.feedback_one, outcome.student, outcome.assignment)] = outcome


def feedback(run: GradeRun) -> None:
    """nbgrader's generate_feedback of every graded submission, in the warm workers (started by
    autograde as each submission is graded, so the workers never wait between the two steps);
    also of the unchanged ones (their feedback shows manual grades from formgrader). A feedback
    page that cannot be written is said in the submission's message; its grade stands."""
    started = {id(o) for o in run.pages.values()}
    for outcome in run.submissions:
        if id(outcome) not in started:
            start_feedback(run, outcome)
    if not run.pages:
        return
    for future in tqdm(as_completed(run.pages), total=len(run.pages), desc="feedback",
                       unit="notebook", file=sys.stderr):
        outcome = run.pages[future]
        try:
            problem = future.result()
        except Exception as exc:  # noqa: BLE001 (the watchdog stopped it: the grade itself stands)
            problem = f"feedback could not be written ({type(exc).__name__}: {exc})"
        if problem is not None:
            run.log(f"warning: {outcome.student}/{outcome.assignment}: {problem}")
            outcome.message = "; ".join(m for m in [outcome.message, problem] if m)


def report(run: GradeRun) -> None:
    """reports/checks.csv and reports/submissions.csv; a re-grade of one student keeps the rest
    (and so do the statuses grades.csv is exported with)."""
    graded = {(o.student, o.assignment) for o in run.submissions}
    write_rows(run.course.reports / "checks.csv", COLUMNS, [r.row() for r in run.items], graded)
    rows = write_rows(run.course.reports / "submissions.csv", SUBMISSION_COLUMNS,
                      [o.row() for o in run.submissions], graded)
    run.statuses = {(r["student_id"], r["assignment"]): (r["status"], r["message"]) for r in rows}


def write_rows(path, columns, rows, replaced) -> list[dict]:
    """Write rows, keeping earlier rows of (student, assignment) pairs not graded this time;
    all the rows written."""
    kept = []
    if path.exists():
        with path.open(newline="") as fh:
            kept = [r for r in map(plain_row, csv.DictReader(fh)) if (r["student_id"], r["assignment"]) not in replaced]
    rows = sorted(kept + rows, key=lambda r: (r["assignment"], r["student_id"]))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    writer.writerows(map(safe_row, rows))  # no cell a spreadsheet runs as a formula
    atomic_write(path, out.getvalue())
    return rows


def export(run: GradeRun) -> None:
    """grades.csv: nbgrader's CSV export, with each row's status and message from the run
    (autograder.grading.export), in a warm worker when this run started them."""
    if run.pool is not None:
        run.pool.submit(workers.export_grades, run.statuses).result()
    else:
        from .export import export_grades
        export_grades(run.course.root, run.course.db_url, run.statuses)


STEPS = [prepare, autograde, feedback, report, export, class_report, summary]
# class_report: reports/index.html; summary: the table on the TA's screen


def grade(course: Course, student: str | None = None, only: list | None = None,
          jobs: int | None = None) -> GradeRun:
    """Run every step; the caller decides the exit code."""
    run = GradeRun(course, student, jobs or os.cpu_count() or 1,
                   only or [a for a in assignments() if course.students(a)])
    try:
        for step in STEPS:
            start = time.perf_counter()
            step(run)
            run.timings[step.__name__] = time.perf_counter() - start
    finally:
        if run.pool is not None:
            run.pool.shutdown(cancel_futures=True)
    run.log("time per step: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items()))
    return run
