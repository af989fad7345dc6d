"""Does `make grade` killed with SIGKILL at any moment, then run again, give the same grades?

One class is graded without interruption. A copy of it is graded while being killed (the
whole process group, SIGKILL) at several moments (starting up, grading, writing feedback),
then graded to the end. Grades, per-item rows and the gradebook must equal the clean run's,
with every submission in the gradebook exactly once.
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
KILL_AFTER = (4.0, 9.0, 14.0, 20.0, 27.0)  # seconds after each start


def write_class(course):
    for assignment, entry in CLASS:
        path = entry.write(course / "submitted", assignment)
        if path.exists():  # both copies collected at the same time: grades.csv shows that time
            os.utime(path, (1_700_000_000, 1_700_000_000))


def killed_run(course, after: float) -> None:
    proc = subprocess.Popen(["make", "-s", "grade", f"COURSE={course}"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


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
    for after in KILL_AFTER:
        killed_run(killed, after)
    last = make_grade(killed)
    return clean, killed, first, last


def test_both_runs_finish(runs):
    _, _, first, last = runs
    assert first.returncode == 0, first.stderr[-2000:]
    assert last.returncode == 0, last.stderr[-2000:]


@pytest.mark.parametrize("name", ["grades.csv", "reports/checks.csv", "reports/submissions.csv"])
def test_same_grades_as_an_uninterrupted_run(runs, name):
    clean, killed, _, _ = runs
    assert read_csv(killed / name) == read_csv(clean / name)


def test_gradebook_holds_each_submission_once_with_the_same_scores(runs):
    clean, killed, _, _ = runs
    rows = gradebook_rows(killed)
    keys = [(s, a, g) for s, a, g, _ in rows]
    assert len(keys) == len(set(keys))
    assert rows == gradebook_rows(clean)


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
