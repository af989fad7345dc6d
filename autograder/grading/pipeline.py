"""`make grade`: an ordered list of steps over one GradeRun, each a small function.

    prepare -> autograde (and feedback) -> report -> export -> class report -> summary

Every step takes the run and changes it or the course folder; none returns anything.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field

from nbgrader.api import Gradebook
from tqdm.auto import tqdm

from . import failures, workers
from ..report.build import class_report
from ..layout import SOURCE, Course, assignments
from .. import contract
from .csvcells import plain_row, safe_row
from ..submission import SET_ASIDE, find_notebook, record_collection_time
from ..verdict import ERROR, TIMEOUT
from .itemrows import COLUMNS, failed_notebook, load_notebook, read_items
from .watchpool import WorkerStopped

@dataclass
class GradeRun:
    course: Course
    student: str | None = None                    # grade only this student
    jobs: int = os.cpu_count() or 1               # notebooks autograded at once
    assignments: list = field(default_factory=list)
    items: list = field(default_factory=list)         # ItemResult rows
    submissions: list = field(default_factory=list)   # (student, assignment, status, message)
    timings: dict = field(default_factory=dict)       # step -> seconds
    todo: list = field(default_factory=list)          # (student, assignment, previous stamp) to grade
    cached: list = field(default_factory=list)        # (student, assignment, stamp) unchanged since
    pool: object = None                               # warm workers, started once per run

    def log(self, message: str) -> None:
        tqdm.write(message, file=sys.stderr)


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
        shutil.rmtree(build / "graded", ignore_errors=True)
    for a in run.assignments:
        for s in run.course.students(a):
            if run.student not in (None, s):
                continue
            previous = None if run.student else read_stamp(run.course, s, a)
            (run.cached if previous else run.todo).append((s, a, previous))
    digests = {a: hashlib.sha256(source_notebook(a)).hexdigest() for a in run.assignments}
    stale = [a for a in run.assignments if _read(build / f"{a}.source.sha256") != digests[a]]
    if stale or run.todo or any(p["status"] == "graded" for _, _, p in run.cached):
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
    """Start the pool, each worker warming up (imports, zygote) in the background right away;
    with assignments to generate, the future of that job, which a worker takes first."""
    if run.pool is not None:
        return None
    run.pool = workers.pool(run.course, run.jobs, log=run.log)
    made = run.pool.submit(workers.generate, list(generate)) if generate else None
    for _ in range(max(1, run.jobs)):
        run.pool.submit(workers.warm_up)
    return made


def autograde(run: GradeRun) -> None:
    """nbgrader's autograde and generate_feedback of each submission, in warm workers
    (autograder.grading.workers): one bad notebook never stops the rest.

    A submission graded before, unchanged since (same files, same source notebook), is not
    run again: its rows are read back, so manual grades from formgrader are kept. STUDENT=id
    always re-runs that student.
    """
    todo, cached = list(run.todo), run.cached
    refused = {a: contract.refusal(a) for a in run.assignments}
    for s, a, previous in [t for t in todo + cached if refused.get(t[1])]:
        # fail closed, and no stamp: the submission is graded once the course is fixed
        (todo if (s, a, previous) in todo else cached).remove((s, a, previous))
        record(run, s, a, ERROR, refused[a], failed_notebook(run.course.db_url, a, s, ERROR, refused[a]))
    for s, a, previous in cached:
        notebook = run.course.autograded_notebook(s, a)
        if previous["status"] == "graded":
            rows = read_items(run.course.db_url, a, s, load_notebook(notebook))
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
    start_workers(run)
    pool = run.pool
    # feedback of unchanged submissions is rewritten too (it shows manual grades)
    for future in [pool.submit(workers.feedback_one, s, a) for s, a in refresh]:
        try:
            problem = future.result()
        except Exception as exc:  # noqa: BLE001 (the watchdog stopped it: the grade itself stands)
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            run.log(f"warning: feedback: {problem}")
    futures = [pool.submit(workers.autograde_one, s, a) for s, a, _ in todo]
    for future in tqdm(as_completed(futures), total=len(futures), desc="autograde",
                       unit="notebook", file=sys.stderr):
        student, assignment, status, message, rows = outcome_of(future, futures, todo, run.course)
        record(run, student, assignment, status, message, rows)
        if status != failures.UNRESOLVED:  # the grader's own failures are retried next time
            write_stamp(run.course, student, assignment, status, message)


def outcome_of(future, futures, todo, course):
    """A worker's result. The watchdog's verdicts: a submission that held its worker too long
    is a timeout, one that grew it too big an error (every item, score 0); a worker that died
    leaves its submission unresolved, never zero."""
    try:
        return future.result()
    except WorkerStopped as stop:
        s, a, _ = todo[futures.index(future)]
        if stop.kind != "died":
            status = TIMEOUT if stop.kind == "timeout" else ERROR
            return s, a, status, stop.message, failed_notebook(course.db_url, a, s, status, stop.message)
        reason = f"the grading worker failed: {stop.message}"
    except Exception as exc:  # noqa: BLE001 (the worker's own failure, reported)
        s, a, _ = todo[futures.index(future)]
        reason = f"the grading worker failed: {type(exc).__name__}: {exc}"
    return s, a, failures.UNRESOLVED, reason[:300], []


def submission_problem(course: Course, student: str, assignment: str) -> str | None:
    """Put a notebook submitted under another name in place and record when it was collected;
    say why a folder can't be graded (no notebook, a link, a file that is no notebook)."""
    folder = course.submitted / student / assignment
    path, problem = find_notebook(folder, assignment, root=course.submitted)
    if path is None:
        return problem
    record_collection_time(folder, path)
    if path != folder / f"{assignment}.ipynb":
        shutil.copyfile(path, folder / f"{assignment}.ipynb")
        (folder / RENAMED).write_text(path.name)
    return None


RENAMED = ".flatgrad-renamed-from"  # which file a renamed submission was graded from


def submission_notes(course: Course, student: str, assignment: str) -> list[str]:
    """What the TA should know about the folder: a renamed notebook, extra files."""
    folder = course.submitted / student / assignment
    notes = []
    renamed = (folder / RENAMED).read_text() if (folder / RENAMED).exists() else None
    if renamed:
        notes.append(f"notebook submitted as {renamed}, graded as {assignment}.ipynb")
    shipped = {p.name for p in (SOURCE / assignment).iterdir()} | {RENAMED, "timestamp.txt", SET_ASIDE}
    extra = sorted(p.name for p in folder.iterdir() if p.name not in shipped and p.name != renamed)
    if (folder / SET_ASIDE).exists():
        notes.append("the submission's own timestamp.txt was not used (the submission time is when "
                     "the notebook was collected)")
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


@functools.lru_cache(maxsize=None)
def source_notebook(assignment: str) -> bytes:
    """The source notebook's bytes, read once per run (every submission's fingerprint uses them)."""
    return (SOURCE / assignment / f"{assignment}.ipynb").read_bytes()


def fingerprint(course: Course, student: str, assignment: str) -> str:
    """Hash of the submitted files and the source notebook they are graded against (a link
    counts by its target's name, a fifo or device by its kind: neither is ever read)."""
    digest = hashlib.sha256(source_notebook(assignment))
    folder = course.submitted / student / assignment
    for path in sorted(p for p in folder.rglob("*") if not p.is_dir() or p.is_symlink()):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            data = path.read_bytes()
        else:
            data = f"{stat.S_IFMT(info.st_mode)}:{os.readlink(path) if path.is_symlink() else ''}".encode()
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + data)
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
            kept = [r for r in map(plain_row, csv.DictReader(fh)) if (r["student_id"], r["assignment"]) not in replaced]
    rows = sorted(kept + rows, key=lambda r: (r["assignment"], r["student_id"]))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    writer.writerows(map(safe_row, rows))  # no cell a spreadsheet runs as a formula
    atomic_write(path, out.getvalue())


def export(run: GradeRun) -> None:
    """grades.csv through nbgrader export, with our status-aware CSV plugin (in a warm worker
    when this run started them: nbgrader's start-up costs ~5 s)."""
    if run.pool is not None:
        run.pool.submit(workers.export_grades, "grades.csv").result()
        return
    proc = run.course.nbgrader("export", "--to=grades.csv",
                               "--exporter=autograder.grading.export.StatusCsvExportPlugin")
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{proc.stderr[-3000:]}")


STEPS = [prepare, autograde, report, export, class_report]  # class_report: reports/index.html


def grade(course: Course, student: str | None = None, only: list | None = None,
          jobs: int | None = None) -> GradeRun:
    """Run every step; the caller prints the summary and decides the exit code."""
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
