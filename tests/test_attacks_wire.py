"""Do attacks on the grader's own process and pool cost their author only (issue 13, round 2)?

autograder/corpus/attacks_wire.py is graded through `make grade` in one class with honest
students: every entry gets exactly its per-item outcome, the honest ones are unaffected, the
batch finishes (the run itself is bounded: a hang fails this test instead of the suite), and
nothing the students started is left running.
"""
from __future__ import annotations

import os
import signal
import subprocess

import pytest
from helpers import assert_exact_outcome, manual_items, read_csv

from autograder.corpus import entries
from autograder.corpus.attacks_wire import ATTACKS_WIRE
from autograder.layout import REPO

pytestmark = pytest.mark.slow  # one make grade of the attack class
A = "linear_classifiers"
HONEST = [e for e in entries(A) if e.name in ("ok-reference", "bug-svm-vec-no-reg-in-loss")]
CLASS = ATTACKS_WIRE + HONEST
# Short limits so the attacks cost seconds. Landlock off: the semaphore attack reads its own
# grader's memory maps to find the pool's semaphores (and only those: the machine is shared).
COURSE_CONFIG = ("c = get_config()  # noqa: F821\n"
                 "c.CleanRoomGrade.cell_timeout = 5\n"
                 "c.CleanRoomGrade.call_timeout = 10\n"
                 "c.CleanRoomGrade.notebook_timeout = 30\n"
                 "c.CleanRoomGrade.memory_limit_mb = 1024\n"
                 "c.CleanRoomGrade.landlock = False\n")
BOUND = 600  # seconds: before the watchdog pool, the semaphore attack hung make grade forever


def make_grade_bounded(course):
    """make grade in its own session, killed whole if it runs past BOUND."""
    proc = subprocess.Popen(["make", "-s", "grade", f"COURSE={course}"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=BOUND)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"make grade did not return within {BOUND} s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def course_processes(course) -> list[str]:
    """Processes whose command line or working folder mentions the course or a sandbox."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if str(course) in cmdline or str(course) in cwd:
            left.append(f"{pid}: {cmdline[:200]}")
    return left


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("attacks-wire")
    (course / "course_config.py").write_text(COURSE_CONFIG)
    for entry in CLASS:
        entry.write(course / "submitted", A)
    proc = make_grade_bounded(course)
    rows = read_csv(course / "reports" / "checks.csv")
    return course, proc, {(r["student_id"], r["item"]): r for r in rows}


def test_the_batch_finishes_with_nothing_unresolved_or_left_running(graded):
    course, proc, _ = graded
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = {r["student_id"]: r["status"] for r in read_csv(course / "reports" / "submissions.csv")}
    assert set(statuses) == {e.name for e in CLASS} and set(statuses.values()) == {"graded"}
    assert not course_processes(course)


@pytest.mark.parametrize("entry", CLASS, ids=lambda e: e.name)
def test_each_submission_gets_exactly_its_outcome(entry, graded):
    """Its own items: the expected status, score 0 and the expected words; all others: full marks."""
    _, _, checks = graded
    assert_exact_outcome(entry, checks, A)


def test_items_after_the_notebook_limit_say_timeout_not_undefined(graded):
    _, _, checks = graded
    later = [row for (student, item), row in checks.items()
             if student == "wire-notebook-limit" and item not in manual_items(A)][1:]
    assert later and all("not defined" not in row["message"] for row in later)


def test_a_long_answer_cell_costs_its_feedback_page_nothing(graded):
    """The 3 MB cell is not in the feedback page (shortened, with the reason), which stays small."""
    course, _, _ = graded
    page = course / "feedback" / "wire-long-cell" / A / f"{A}.html"
    assert page.stat().st_size < 1_000_000
    assert "over the limit of 100,000" in page.read_text()
