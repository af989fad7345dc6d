"""Is every corpus submission graded right through the real `make grade` path?

One class holds the corpus of every assignment (bugs, correct variants, the untouched
release, a notebook whose kernel dies), packed: bugs that change different cells and fail
different items share a submission (see corpus.notebooks.pack), so each still owns its item.
It is graded once with `make grade COURSE=...`, then one student is re-graded; the
assertions read what a TA reads. tests/test_checks.py checks every entry on its own.
"""
from __future__ import annotations


import pytest

from autograder.corpus import entries
from autograder.corpus.notebooks import pack
from autograder.layout import assignments
from autograder.grading.itemrows import COLUMNS
from autograder.release import MARKERS
from helpers import make_grade, manual_items, read_csv, total_points

pytestmark = pytest.mark.slow  # make grade of the whole corpus, and nbgrader's own steps
A = "linear_classifiers"
ENTRIES = [(a, e) for a in assignments() for e in pack(entries(a))]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    for assignment, entry in ENTRIES:
        entry.write(course / "submitted", assignment)
    proc = make_grade(course)
    return course, proc


@pytest.fixture(scope="module")
def checks(graded):
    course, _ = graded
    rows = read_csv(course / "reports" / "checks.csv")
    return {(r["student_id"], r["assignment"], r["item"]): r for r in rows}


def test_grading_finishes_and_prints_the_table(graded):
    """Does make grade exit 0 (nothing unresolved) and print one table row per student?"""
    course, proc = graded
    assert proc.returncode == 0, proc.stderr[-3000:]
    for _, entry in ENTRIES:
        assert entry.name in proc.stdout


def test_checks_csv_has_exactly_the_promised_columns(graded):
    """Is reports/checks.csv's header exactly the documented one?"""
    course, _ = graded
    header = (course / "reports" / "checks.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)


@pytest.mark.parametrize("assignment,entry", ENTRIES, ids=lambda x: getattr(x, "name", x))
def test_each_submission_loses_points_only_on_its_own_items(assignment, entry, checks):
    """Full marks on every other auto-graded item; zero with the right status on its own."""
    items = {item for (student, a, item) in checks if student == entry.name and a == assignment}
    assert items, f"no rows for {entry.name}"
    for item in items:
        row = checks[(entry.name, assignment, item)]
        if item in manual_items(assignment):
            expected = "error" if entry.status == "error" else "not_run"
            assert row["status"] == expected
        elif item in entry.expected():
            assert row["status"] == entry.expected()[item] and float(row["score"]) == 0, row
            assert row["message"], row
        else:
            assert row["status"] == "passed" and row["score"] == row["max_score"], row


def test_submission_status_and_grades_csv_agree(graded, checks):
    """Does grades.csv hold nbgrader's columns plus a status, with scores = sum of items?"""
    course, _ = graded
    grades = {(r["student_id"], r["assignment"]): r for r in read_csv(course / "grades.csv")}
    for assignment, entry in ENTRIES:
        row = grades[(entry.name, assignment)]
        assert row["status"] == entry.status
        total = sum(float(r["score"]) for (s, a, _), r in checks.items() if s == entry.name and a == assignment)
        assert float(row["score"]) == pytest.approx(total)
        if entry.name == "ok-reference":
            auto = sum(float(r["max_score"]) for (s, a, i), r in checks.items()
                       if s == entry.name and a == assignment and i not in manual_items(assignment))
            assert float(row["score"]) == auto > 0
    submitted = {(e.name, a) for a, e in ENTRIES}
    assert all(r["status"] == "not_submitted" for k, r in grades.items() if k not in submitted)


def test_feedback_shows_messages_but_no_hidden_tests(graded, checks):
    """Does each feedback HTML exist, show the item's message, and hide the hidden tests?"""
    course, _ = graded
    for assignment, entry in ENTRIES:
        if entry.status != "graded":
            continue
        html = (course / "feedback" / entry.name / assignment / f"{assignment}.html").read_text()
        for leak in MARKERS + ("autograder.kernel", "raise_for", "grade(&quot;"):
            assert leak not in html, (entry.name, leak)
    holder = next(e.name for a, e in ENTRIES if a == A and "bug-svm-naive-reg-factor" in getattr(e, "members", ()))
    bug = checks[(holder, A, "svm_loss_naive")]["message"]
    html = (course / "feedback" / holder / A / f"{A}.html").read_text()
    assert "does not match the numeric gradient" in bug and "does not match the numeric gradient" in html


def test_every_graded_submission_has_its_page_and_no_page_failed(graded):
    """Pages are written between autogrades (not after the class): still one per graded
    submission, none for the others, and no "feedback could not be written"."""
    course, proc = graded
    graded_ones = {(e.name, a) for a, e in ENTRIES if e.status == "graded"}
    pages = {(p.parts[-3], p.parts[-2]) for p in (course / "feedback").glob("*/*/*.html")}
    assert graded_ones <= pages and not (pages - graded_ones) & {(e.name, a) for a, e in ENTRIES}
    assert "feedback could not be written" not in proc.stderr
    assert "time per step: prepare" in proc.stderr and ", feedback " in proc.stderr


def test_regrading_one_student_changes_only_their_rows(graded):
    """Does make grade STUDENT=id leave every other student's rows as they were?"""
    course, _ = graded
    files = ("reports/checks.csv", "reports/submissions.csv", "grades.csv")
    before = {name: (course / name).read_text().splitlines() for name in files}
    target = "pack-2"
    proc = make_grade(course, f"STUDENT={target}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = {name: (course / name).read_text().splitlines() for name in files}
    # grades.csv too: its statuses come from the run, plus the rows kept from the earlier run
    mine = lambda line: line.startswith(target + ",") or f",{target}," in line  # noqa: E731 (a predicate for filter())
    for name in files:
        assert [l for l in before[name] if not mine(l)] == [l for l in after[name] if not mine(l)], name
        assert sorted(filter(mine, before[name])) == sorted(filter(mine, after[name])), name
    assert f"{target}/{A}: graded" in proc.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo class graded once (make grade DEMO=1): its course, the run, and its CSVs as that
    run wrote them (a later test deletes its gradebook and grades it again)."""
    course = tmp_path_factory.mktemp("demo")
    proc = make_grade(course, "DEMO=1")
    reports = course / "reports"
    csvs = {name: read_csv(reports / name) if (reports / name).exists() else None
            for name in ("checks.csv", "submissions.csv")}
    return course, proc, csvs


def test_demo_class_is_graded_when_asked(demo):
    """Does the demo class (correct, blank, three bugs, a crash) grade and print its table?"""
    _, proc, csvs = demo
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = csvs["submissions.csv"]
    assert len(rows) >= 6 and {r["status"] for r in rows} == {"graded"}
    crash = {(r["student_id"], r["item"]): r for r in csvs["checks.csv"]}
    assert crash[("crash-kernel-dies", "svm_loss_vectorized")]["status"] == "error"  # only that item
    assert crash[("crash-kernel-dies", "svm_loss_naive")]["status"] == "passed"
    assert "ok-reference" in proc.stdout and "items: 1 svm_loss_naive" in proc.stdout


def test_a_deleted_gradebook_means_grading_again(demo):
    """A TA deletes gradebook.db (not build/): the next make grade re-creates and re-grades
    everything instead of trusting stamps of grades the gradebook no longer holds."""
    course, first, csvs = demo
    assert first.returncode == 0
    (course / "gradebook.db").unlink()
    proc = make_grade(course, "DEMO=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "(unchanged: not re-run)" not in proc.stderr
    assert read_csv(course / "reports" / "checks.csv") == csvs["checks.csv"]


def test_rerun_keeps_manual_grades_and_skips_unchanged_notebooks(graded):
    """After a TA grades a written answer by hand, does make grade keep it without re-running?"""
    from nbgrader.api import Gradebook
    course, _ = graded
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade("written_kinks", A, A, "ok-reference")
        grade.manual_score = 2.0
        gb.db.commit()
    proc = make_grade(course)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("(unchanged: not re-run)") == len(ENTRIES)
    rows = {(r["student_id"], r["assignment"], r["item"]): r for r in read_csv(course / "reports" / "checks.csv")}
    row = rows[("ok-reference", A, "written_kinks")]
    assert row["status"] == "passed" and float(row["score"]) == 2.0 and "by hand" in row["message"]
    grades = {(r["student_id"], r["assignment"]): r for r in read_csv(course / "grades.csv")}
    assert grades[("ok-reference", A)]["score"] == str(total_points(A, written=False) + 2.0)
