"""Does `make grade` killed with SIGKILL at any moment, then run again, give the same grades?

One class is graded without interruption. A copy of it is graded while being killed (the
whole process group, SIGKILL) at several moments, each killed run as soon as the course folder
shows it has reached its moment (creating the gradebook, autograding, recording grades, writing
feedback, writing the reports): no fixed sleep, which on a slow or busy machine hits other
moments, or the same one twice. Then it is graded to the end. Grades, per-item rows and the
gradebook must equal the clean run's, with every submission in the gradebook exactly once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from autograder.corpus import entries
from autograder.corpus.adversarial import ADVERSARIAL
from helpers import REPO, checkout_zygotes, make_grade, read_csv

pytestmark = pytest.mark.slow  # two make grade runs, one killed
CLASS = [("linear_classifiers", e) for e in entries("linear_classifiers")
         if e.name in ("ok-reference", "blank-release", "bug-svm-naive-reg-factor", "crash-kernel-dies")]
CLASS += [("linear_classifiers", e) for e in ADVERSARIAL if e.name in ("adv-segfault", "adv-empty-folder")]
CLASS += [("two_layer_net", e) for e in entries("two_layer_net") if e.name in ("ok-reference", "blank-release")]
# A killed run's moments, in order: the files under the course root that show a run got there
# (written by that run: newer than its start). A moment's files exist only once the earlier
# moments are passed, so each run is killed at its own moment.
MOMENTS = (
    ("starting up: nbgrader creates the gradebook", "gradebook.db", 1),
    ("autograding: a notebook written, others in flight", "autograded/*/*/*.ipynb", 1),
    ("recording grades: three submissions stamped", "build/graded/*/*.json", 3),
    ("writing feedback: a page written", "feedback/*/*/*.html", 1),
    ("writing the reports: checks.csv written, export and class report to come", "reports/checks.csv", 1),
)
POLL = 0.02  # seconds between looks at the course folder
BOUND = 600  # seconds a killed run may take to reach its moment


def write_class(course):
    for assignment, entry in CLASS:
        path = entry.write(course / "submitted", assignment)
        if path.exists():  # both copies collected at the same time: grades.csv shows that time
            os.utime(path, (1_700_000_000, 1_700_000_000))


def written_since(course, pattern: str, start_ns: int) -> int:
    """How many files matching pattern under the course were written after start_ns."""
    count = 0
    for path in course.glob(pattern):
        try:
            count += path.stat().st_mtime_ns >= start_ns
        except OSError:  # replaced while we looked (atomic writes)
            pass
    return count


def killed_run(course, pattern: str, count: int) -> bool:
    """make grade, SIGKILLed (its whole process group) once `count` files matching pattern have
    been written by it; whether it got there (False: it finished or hung before)."""
    start = time.time_ns() - 10_000_000  # a file's mtime may lag the clock by a tick
    proc = subprocess.Popen(["make", "-s", "grade", f"COURSE={course}"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + BOUND
    reached = False
    while proc.poll() is None and time.monotonic() < deadline:
        if written_since(course, pattern, start) >= count:
            reached = True
            break
        time.sleep(POLL)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return reached


def gradebook_rows(course):
    from nbgrader.api import Gradebook
    out = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                for nb in sub.notebooks:
                    out += [(sub.student.id, assignment.name, g.name, g.score) for g in nb.grades]
    return sorted(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    clean, killed = tmp_path_factory.mktemp("clean"), tmp_path_factory.mktemp("killed")
    write_class(clean)
    write_class(killed)
    first = make_grade(clean)
    missed = [moment for moment, pattern, count in MOMENTS if not killed_run(killed, pattern, count)]
    last = make_grade(killed)
    return clean, killed, first, last, missed


def test_both_runs_finish(runs):
    _, _, first, last, _ = runs
    assert first.returncode == 0, first.stderr[-2000:]
    assert last.returncode == 0, last.stderr[-2000:]


@pytest.mark.parametrize("name", ["grades.csv", "reports/checks.csv", "reports/submissions.csv"])
def test_same_grades_as_an_uninterrupted_run(runs, name):
    clean, killed, _, _, _ = runs
    assert read_csv(killed / name) == read_csv(clean / name)


def test_gradebook_holds_each_submission_once_with_the_same_scores(runs):
    clean, killed, _, _, _ = runs
    rows = gradebook_rows(killed)
    keys = [(s, a, g) for s, a, g, _ in rows]
    assert len(keys) == len(set(keys))
    assert rows == gradebook_rows(clean)


def test_every_run_was_killed_at_its_moment(runs):
    """A run that finished (or hung) before its moment was not killed there: that moment went
    untested."""
    *_, missed = runs
    assert not missed, missed


def test_no_process_outlives_a_killed_run(runs):
    """Workers, zygotes and sandboxes die with the process that started them."""
    strays = checkout_zygotes()  # this test process may hold its own: not counted
    assert not strays, strays


def test_the_stray_finder_sees_a_zygote_of_this_checkout(zygote):
    """The session's zygote is found when this process's own are counted: the filter cannot
    pass by matching nothing."""
    pid = zygote().proc.pid
    assert not [z for z in checkout_zygotes() if z.startswith(f"{pid}:")]
    assert [z for z in checkout_zygotes(own=True) if z.startswith(f"{pid}:")]
