"""Warm grading workers: nbgrader, torch and a clean-room zygote loaded once per process.

`nbgrader autograde` as a command pays ~3.5 s of start-up per notebook (nbgrader, torch).
Each worker here imports them once and runs nbgrader's own converters through its Python API
(Autograde, in one pass: autograder.grading.onepass; generate_feedback; export) for one
submission after another; every submission still gets a fresh sandbox process for the
student's code (autograder.cleanroom). Workers are replaced after MAX_TASKS submissions, so
memory stays bounded whatever the class size, and they run behind a watchdog
(autograder.grading.watchpool): a submission that holds its worker past the notebook's limit
(plus WATCHDOG_GRACE for nbgrader's own steps) or grows it past WORKER_MEMORY_MB ends as
timeout / error, and the worker is replaced.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
from pathlib import Path

from . import failures, literalids, onepass
from ..verdict import GRADED
from .itemrows import failed_notebook, load_notebook, notebook_notes, read_items
from .records import SubmissionOutcome
from .watchpool import WatchedPool

MAX_TASKS = 1000  # submissions per worker before it is replaced (RSS stayed at 344 MB over 120)
NOTEBOOK_TIMEOUT = 600.0  # CleanRoomGrade.notebook_timeout's default (nbgrader_config.py sets it)
WATCHDOG_GRACE = 120.0    # seconds beyond it for nbgrader's steps and the feedback page
WORKER_MEMORY_MB = 3072   # a worker is ~350 MB; a lent helper may add 512 (cleanroom.bounds)
_api = None
_course = None


def pool(course, jobs: int, log=None) -> WatchedPool:
    limit = notebook_timeout(course.root) + WATCHDOG_GRACE
    return WatchedPool(jobs, multiprocessing.get_context("spawn"), initializer=_start,
                       initargs=(str(course.root), course.db_url), task_limit=limit,
                       memory_mb=WORKER_MEMORY_MB, max_tasks=MAX_TASKS, log=log)


def notebook_timeout(root) -> float:
    """CleanRoomGrade.notebook_timeout of the course (its nbgrader_config.py and course_config.py)."""
    from traitlets.config.loader import PyFileConfigLoader
    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        return float(config.CleanRoomGrade.get("notebook_timeout", NOTEBOOK_TIMEOUT))
    except Exception:  # noqa: BLE001 (a broken config fails in the workers, with nbgrader's message)
        return NOTEBOOK_TIMEOUT


def _start(root: str, db_url: str) -> None:
    """Worker start-up: one thread (workers run side by side), nbgrader's config of the course."""
    from ..cleanroom.lifetime import die_with_parent
    die_with_parent()
    if multiprocessing.parent_process() is not None:  # a pool worker, not a script or a test
        atexit.register(_exit_now)  # registered first, so it runs last (after the zygote's close)
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    import torch
    torch.set_num_threads(1)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from ..layout import Course
    from .warmdb import share_engines
    share_engines()  # one engine (and compiled-statement cache) per gradebook, not one per step
    # nbgrader 0.9.6 under SQLAlchemy 2 warns about its own cascades on every run (harmless)
    import warnings

    from sqlalchemy.exc import SAWarning
    warnings.filterwarnings("ignore", category=SAWarning, module="nbgrader")
    # nbgrader shells out to alembic when it creates a gradebook: the venv's bin on PATH.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.chdir(root)
    from .cleanroomgrade import zygote
    zygote(wait=False)  # it imports torch while this worker loads nbgrader and the course
    config = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
    config.CourseDirectory.root = root
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.release_directory = "build/release"  # never the committed release/
    global _api, _course
    _api = NbGraderAPI(CourseDirectory(config=config), config=config)
    _course = Course(Path(root))


def _exit_now() -> None:
    """End the worker without finalizing the interpreter (torch, nbgrader: ~1.2 s a worker at
    the end of every run). Its results were sent and its gradebook sessions committed and closed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed or replaced
            pass
    os._exit(0)


def warm_up() -> int:
    """Start what a worker's first notebook would need (the clean-room zygote); the pid."""
    from .cleanroomgrade import zygote
    zygote()
    return os.getpid()


def generate(assignments: list[str]):
    """nbgrader generate_assignment of each, one after another, in this worker (the gradebook's
    cells; the student version goes to build/release); None, or (assignment, what went wrong)."""
    for assignment in assignments:
        try:
            result = _api.generate_assignment(assignment, force=True, create=True)
        except Exception as exc:  # noqa: BLE001 (reported by the caller, which stops)
            return assignment, f"{type(exc).__name__}: {exc}"
        if not result.get("success"):
            return assignment, ((result.get("log") or "") + (result.get("error") or ""))[-3000:]
    return None


def refusals(assignments: list[str]) -> dict:
    """assignment -> why the grader refuses it (autograder.contract), or None."""
    from .. import contract
    return {a: contract.refusal(a) for a in assignments}


def export_grades(statuses: dict) -> None:
    """grades.csv with the run's statuses (autograder.grading.export), in this worker."""
    from .export import export_grades as export
    export(_course.root, _api.coursedir.db_url, statuses, config=_api.config)


def autograde_one(student: str, assignment: str) -> SubmissionOutcome:
    """nbgrader autograde of one submission, then its items from the gradebook: graded, or a
    failure status from autograder.grading.failures with the reason."""
    notebook = _course.autograded_notebook(student, assignment)
    try:
        result = onepass.autograde(_api, assignment, student)  # nbgrader's steps, one conversion
    except Exception as exc:  # noqa: BLE001 (nbgrader itself failed: reported, never a zero)
        result = {"success": False, "log": f"{type(exc).__name__}: {exc}"}
    log = (result.get("log") or "") + (result.get("error") or "")
    if result.get("success") and notebook.exists():
        graded = load_notebook(notebook)
        return SubmissionOutcome(student, assignment, GRADED, "; ".join(notebook_notes(graded)),
                                 read_items(_course.db_url, assignment, student, graded))
    status, message = failures.classify(log)
    return SubmissionOutcome(student, assignment, status, message,
                             failed_notebook(_course.db_url, assignment, student, status, message))


def feedback_one(student: str, assignment: str) -> str | None:
    """nbgrader generate_feedback for one graded submission; None, or what went wrong."""
    try:
        result = literalids.generate_feedback(_api, assignment, student)  # the id is no glob pattern
    except Exception as exc:  # noqa: BLE001 (reported; the grade itself stands)
        result = {"success": False, "log": f"{type(exc).__name__}: {exc}"}
    if result.get("success"):
        return None
    return f"feedback could not be written ({(result.get('log') or '').strip().splitlines()[-1:]})"
