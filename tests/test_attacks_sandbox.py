"""Ways out of the sandbox, graded through `make grade` with honest students (issue 13).

Landlock is turned off for this class: the jail, the unprivileged uid, the namespaces and the
cgroup must hold on their own (tests/test_integrity.py grades its corpus with Landlock on).
Every entry gets exactly its expected per-item outcome, the honest ones are unaffected, the
batch finishes, and no process a submission started is left when `make grade` returns.
"""
from __future__ import annotations

import dataclasses
import html
import os
import re

import pytest

from autograder.cleanroom import cgroups
from autograder.corpus import entries
from autograder.corpus.attacks_hostile import ASSIGNMENT, ATTACKS_HOSTILE, LEFT
from autograder.corpus.attacks_sandbox import ATTACKS_SANDBOX, BOMB, DAEMON
from autograder.grading.printable import visible
from helpers import assert_exact_outcome, make_grade, read_csv

pytestmark = pytest.mark.slow  # one make grade of the attack class
A = "linear_classifiers"
HONEST = [e for e in entries(A) if e.name in ("ok-reference", "bug-svm-vec-no-reg-in-loss")]
CLASS = ATTACKS_SANDBOX + HONEST
COURSE_CONFIG = ("c = get_config()  # noqa: F821\n"
                 "c.CleanRoomGrade.cell_timeout = 10\n"
                 "c.CleanRoomGrade.call_timeout = 10\n"
                 "c.CleanRoomGrade.notebook_timeout = 120\n"
                 "c.CleanRoomGrade.memory_limit_mb = 512\n"
                 "c.CleanRoomGrade.landlock = False\n")
NEEDS_ROOT = {"sbx-shm-semaphores", "sbx-many-files", "sbx-import-reference", "sbx-read-repo", "sbx-device"}
NEEDS_CGROUP = {"sbx-memory-children", "sbx-fork-bomb"}


def comms() -> dict[int, str]:
    found = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/comm") as fh:
                found[int(entry)] = fh.read().strip()
        except (OSError, ValueError):
            pass
    return found


@pytest.fixture(scope="module")
def graded(both):
    """The sandbox attacks' view of the one run (see `both`, below)."""
    course, proc, checks, left, _ = both
    return course, proc, checks, {pid: name for pid, name in left.items() if name in (DAEMON, BOMB)}


def test_grading_finishes_and_leaves_no_process_behind(graded):
    course, proc, _, left = graded
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert left == {}, left
    statuses = {r["student_id"]: r["status"] for r in read_csv(course / "reports" / "submissions.csv")}
    assert set(statuses.values()) == {"graded"}


def test_the_log_says_once_what_holds_without_landlock(graded):
    _, proc, _, _ = graded
    log = proc.stdout + proc.stderr
    assert "Clean room:" in log and "Landlock off by configuration" in log
    workers = log.count("Clean room:")
    assert 1 <= workers <= (os.cpu_count() or 1) + 1  # once per grading process, not per notebook


@pytest.mark.parametrize("entry", CLASS, ids=lambda e: e.name)
def test_each_submission_gets_exactly_its_outcome(entry, graded):
    if entry.name in NEEDS_ROOT and os.geteuid() != 0:
        pytest.skip("without root and Landlock the sandbox runs as the grader's user (said in the log)")
    if entry.name in NEEDS_CGROUP and cgroups.setup("probe-attacks").mode == "none":
        pytest.skip("no writable cgroup on this machine (said in the log)")
    course, _, checks, _ = graded
    assert_exact_outcome(entry, checks, A)


def test_no_cgroup_of_a_finished_run_is_left():
    for controller in ("memory", "pids"):
        base = f"/sys/fs/cgroup/{controller}"
        for name in os.listdir(base) if os.path.isdir(base) else ():
            if name.startswith("flatgrad-") and name[9:].isdigit():
                assert os.path.exists(f"/proc/{name[9:]}"), f"{base}/{name} outlived its zygote"
    cgroups.teardown(cgroups.setup("probe-attacks"))


# --- the hostile round: escape, forge, starve, over all four assignments (one class) -----------

HOSTILE_CLASS = ATTACKS_HOSTILE + [
    dataclasses.replace(e, name=f"h-ref-{a}") for a in sorted(set(ASSIGNMENT.values()))
    for e in entries(a) if e.name == "ok-reference"]
ODD_ID = "h-\x1b]0;PWNED\x07\u202eid"  # a folder name with a title escape and a bidi override
LAST = sorted(set(ASSIGNMENT.values()))[-1]
HOSTILE_CLASS.append(dataclasses.replace(HOSTILE_CLASS[-1], name=ODD_ID))  # LAST's reference, once more
WHERE = {**ASSIGNMENT, **{f"h-ref-{a}": a for a in set(ASSIGNMENT.values())}, ODD_ID: LAST}
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MARKUP = ("<script>alert", "<img src=x")  # as tags (the student's source shows them as text)


def strays() -> dict[int, str]:
    """Processes named by the attacks (the sandbox attacks' daemon and fork bomb, the hostile
    round's sandbox that ignores SIGTERM and sleeps in atexit), left after `make grade` returned.
    (Not "every process of uid 65534": other test runs on the machine have live sandboxes.)"""
    return {pid: name for pid, name in comms().items() if name in (DAEMON, BOMB, LEFT)}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The sandbox attacks (CLASS) and the hostile round (HOSTILE_CLASS) in one class, graded by
    one make grade (same limits; each make grade pays its start-up and reports whatever the
    class size): the course, the run, checks.csv's rows by (student, item), the processes the
    attacks named that are left, and the files the hostile round left."""
    names = [e.name for e in CLASS + HOSTILE_CLASS]
    assert len(names) == len(set(names)), "a student of both classes"
    course = tmp_path_factory.mktemp("attacks")
    (course / "course_config.py").write_text(COURSE_CONFIG)
    tmp_before = set(os.listdir("/tmp"))
    for entry in CLASS:
        entry.write(course / "submitted", A)
    for entry in HOSTILE_CLASS:
        entry.write(course / "submitted", WHERE[entry.name])
    proc = make_grade(course)
    left = strays()
    litter = sorted(n for n in set(os.listdir("/tmp")) - tmp_before if n.startswith("fghostile")) + \
        [str(p) for p in course.rglob("fghostile*")]
    rows = read_csv(course / "reports" / "checks.csv")
    return course, proc, {(r["student_id"], r["item"]): r for r in rows}, left, litter


@pytest.fixture(scope="module")
def hostile(both):
    """The hostile round's view of the one run."""
    course, proc, checks, left, litter = both
    return course, proc, checks, {pid: name for pid, name in left.items() if name == LEFT}, litter


def test_a_hostile_class_finishes_and_leaves_no_process_or_file(hostile):
    """h-tln-strays' full marks (its exact outcome) prove its code ran: a failed Popen or fork
    would have cost the item."""
    course, proc, _, left, litter = hostile
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert left == {} and litter == [], (left, litter)
    statuses = {r["student_id"]: r["status"] for r in read_csv(course / "reports" / "submissions.csv")}
    assert statuses == {visible(e.name): "graded" for e in HOSTILE_CLASS + CLASS}  # the attacks' too


@pytest.mark.parametrize("entry", HOSTILE_CLASS[:-1], ids=lambda e: e.name)
def test_each_hostile_submission_gets_exactly_its_outcome(entry, hostile):
    """The references (h-ref-*) keep full marks next to the attacks."""
    if entry.name in ("h-knn-snoop-and-litter",) and os.geteuid() != 0:
        pytest.skip("without root and Landlock the sandbox runs as the grader's user (said in the log)")
    _, _, checks, _, _ = hostile
    assert_exact_outcome(entry, checks, WHERE[entry.name])
    maxima = {s: {item: r["max_score"] for (student, item), r in checks.items() if student == s}
              for s in (entry.name, f"h-ref-{WHERE[entry.name]}")}
    assert maxima[entry.name] == maxima[f"h-ref-{WHERE[entry.name]}"]  # forged points change no maximum


def test_no_terminal_escape_or_markup_reaches_the_tas_files_log_or_pages(hostile):
    """A message, a class name and a stdout flood carry OSC 52 (clipboard), a title, a hyperlink,
    CSI, bidi overrides and markup: the CSVs and the log show them as escapes, pages as text."""
    course, proc, checks, _, _ = hostile
    assert "clipboard" in checks["h-knn-escapes", "compute_distances_two_loops"]["message"]
    texts = {"make grade's output": proc.stdout + proc.stderr}
    for path in [course / "grades.csv", *(course / "reports").glob("*.csv"), course / "reports" / "index.html",
                 *(course / "feedback").rglob("*.html")]:
        texts[str(path)] = path.read_text(errors="replace")
    for where, text in texts.items():
        assert not CONTROL.search(text.replace("\r\n", "\n")), (where, CONTROL.search(text.replace("\r\n", "\n")))
        if where.endswith(".html"):
            assert not any(m in text for m in MARKUP), where
    page = (course / "feedback" / "h-knn-escapes" / "knn" / "knn.html").read_text()
    assert "\\x1b]52;c;" in page  # the escape is shown, as text
    report = (course / "reports" / "index.html").read_text()
    shown = {html.unescape(s) for s in re.findall(r'data-student="([^"]*)"', report)}
    assert shown == {visible(e.name) for e in HOSTILE_CLASS + CLASS}  # the odd id once, as CSVs write it
