"""Is every corpus submission graded right through the real `make grade` path?

One class holds the corpus of every assignment (bugs, correct variants, the untouched
release, a notebook whose kernel dies), packed: bugs that change different cells and fail
different items share a submission (see corpus.notebooks.pack), so each still owns its item.
It is graded once with `make grade COURSE=...`, then one student is re-graded; the
assertions read what a TA reads. tests/test_checks.py checks every entry on its own.
"""
from __future__ import annotations

import json
import re

import pytest

from autograder.corpus import entries
from autograder.corpus.notebooks import pack
from autograder.layout import assignments
from autograder.grading.itemrows import COLUMNS
from autograder.release import MARKERS
from helpers import REPO, make_grade, manual_items, read_csv, total_points

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


def test_regrading_one_student_changes_only_their_rows(graded):
    """Does make grade STUDENT=id leave every other student's rows as they were?"""
    course, _ = graded
    before = (course / "reports" / "checks.csv").read_text().splitlines()
    target = "pack-2"
    proc = make_grade(course, f"STUDENT={target}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = (course / "reports" / "checks.csv").read_text().splitlines()
    mine = lambda line: line.startswith(target + ",")  # noqa: E731
    assert [l for l in before if not mine(l)] == [l for l in after if not mine(l)]
    assert sorted(filter(mine, before)) == sorted(filter(mine, after))
    assert f"{target}/{A}: graded" in proc.stderr


def test_demo_class_is_graded_when_asked(tmp_path):
    """Does the demo class (correct, blank, three bugs, a crash) grade and print its table?"""
    proc = make_grade(tmp_path, "DEMO=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = read_csv(tmp_path / "reports" / "submissions.csv")
    assert len(rows) >= 6 and {r["status"] for r in rows} == {"graded"}
    crash = {(r["student_id"], r["item"]): r for r in read_csv(tmp_path / "reports" / "checks.csv")}
    assert crash[("crash-kernel-dies", "svm_loss_vectorized")]["status"] == "error"  # only that item
    assert crash[("crash-kernel-dies", "svm_loss_naive")]["status"] == "passed"
    assert "ok-reference" in proc.stdout and "items: 1 svm_loss_naive" in proc.stdout


def test_a_deleted_gradebook_means_grading_again(tmp_path):
    """A TA deletes gradebook.db (not build/): the next make grade re-creates and re-grades
    everything instead of trusting stamps of grades the gradebook no longer holds."""
    assert make_grade(tmp_path, "DEMO=1").returncode == 0
    before = read_csv(tmp_path / "reports" / "checks.csv")
    (tmp_path / "gradebook.db").unlink()
    proc = make_grade(tmp_path, "DEMO=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "(unchanged: not re-run)" not in proc.stderr
    assert read_csv(tmp_path / "reports" / "checks.csv") == before


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


def test_cached_overwrite_cells_restores_what_nbgrader_restores(graded):
    """CachedOverwriteCells (gradebook read once per worker) against nbgrader's OverwriteCells
    on a tampered release notebook: a locked cell edited, points inflated, a cell type changed."""
    import copy

    import nbformat
    from nbgrader.preprocessors import OverwriteCells

    from autograder.grading.overwritecells import CachedOverwriteCells, notebook_cells
    course, _ = graded
    nb = nbformat.read(REPO / "release" / A / f"{A}.ipynb", as_version=4)
    tampered = {"locked": 0, "points": 0, "type": 0}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and cell.cell_type == "code" and not tampered["locked"]:
            cell.source += "\nprint('edited')"
            tampered["locked"] += 1
        elif meta.get("grade") and meta.get("points") and not tampered["points"]:
            meta["points"] = 1000
            tampered["points"] += 1
        elif cell.cell_type == "markdown" and meta.get("locked") and not tampered["type"]:
            cell.cell_type, cell.outputs, cell.execution_count = "code", [], None
            tampered["type"] += 1
    assert all(tampered.values())
    resources = {"nbgrader": {"notebook": A, "assignment": A, "db_url": f"sqlite:///{course / 'gradebook.db'}"}}
    notebook_cells.cache_clear()
    theirs, _ = OverwriteCells().preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
    ours, _ = CachedOverwriteCells().preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
    again, _ = CachedOverwriteCells().preprocess(copy.deepcopy(nb), copy.deepcopy(resources))  # from the cache
    assert notebook_cells.cache_info().hits >= 1
    assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert json.dumps(ours, sort_keys=True) != json.dumps(nb, sort_keys=True)  # something was restored


def test_workers_share_one_engine_per_gradebook(graded, monkeypatch):
    """warmdb: every Gradebook of a worker uses the same engine (compiled statements kept)."""
    import nbgrader.api

    from autograder.grading import warmdb
    course, _ = graded
    # undone after the test
    monkeypatch.setattr(nbgrader.api, "create_engine", nbgrader.api.create_engine)
    monkeypatch.setattr(nbgrader.api.Gradebook, "__init__", nbgrader.api.Gradebook.__init__)
    monkeypatch.setattr(nbgrader.api, "get_alembic_version", nbgrader.api.get_alembic_version)
    warmdb.share_engines()
    url = f"sqlite:///{course / 'gradebook.db'}"
    with nbgrader.api.Gradebook(url) as first:
        students = {s.id for s in first.students}
    with nbgrader.api.Gradebook(url) as second:  # after the first one closed (and disposed) it
        assert second.engine is first.engine
        assert {s.id for s in second.students} == students and students
        assert second.course_id == first.course_id


def test_bulk_get_grades_copies_what_nbgrader_copies(graded):
    """BulkGetGrades (a submission's grades read at once) against nbgrader's GetGrades on a
    graded notebook with a manual grade: same cell metadata, same totals."""
    import copy

    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import GetGrades

    from autograder.grading.getgrades import BulkGetGrades
    course, _ = graded
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:  # a hand-graded answer too (what formgrader writes)
        gb.find_grade("written_kinks", A, A, "pack-1").manual_score = 1.0
        gb.db.commit()
    nb = nbformat.read(course / "autograded" / "pack-1" / A / f"{A}.ipynb", as_version=4)
    resources = {"nbgrader": {"notebook": A, "assignment": A, "student": "pack-1", "db_url": db_url}}
    theirs = GetGrades().preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
    ours = BulkGetGrades().preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
    assert json.dumps(ours, sort_keys=True, default=str) == json.dumps(theirs, sort_keys=True, default=str)
    scored = [c.metadata.nbgrader for c in ours[0].cells if "score" in c.metadata.get("nbgrader", {})]
    assert scored and any(m["score"] for m in scored) and ours[1]["nbgrader"]["max_score"] == total_points(A)


def test_bulk_save_auto_grades_records_what_nbgrader_records(graded):
    """BulkSaveAutoGrades (grades and comments read at once, one commit) against nbgrader's
    SaveAutoGrades: the same auto scores, review flags and comments, on a notebook whose
    results changed (one item now passes, one fails, one answer cell untouched) and with a
    hand-graded answer."""
    import copy

    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades

    from autograder.grading.saveautogrades import BulkSaveAutoGrades
    course, _ = graded
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    student = "pack-1"
    nb = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    grade_cells = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    grade_cells[0].outputs = []  # passes now
    grade_cells[1].outputs.append(nbformat.v4.new_output("error", ename="ItemFailed", evalue="x", traceback=[]))
    resources = {"nbgrader": {"notebook": A, "assignment": A, "student": student, "db_url": db_url}}

    def state():
        with Gradebook(db_url) as gb:
            sub = gb.find_submission_notebook(A, A, student)
            return ({g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in sub.grades},
                    {c.name: c.auto_comment for c in sub.comments})

    def restore(saved):
        with Gradebook(db_url) as gb:
            sub = gb.find_submission_notebook(A, A, student)
            for g in sub.grades:
                g.auto_score, g.manual_score, g.needs_manual_grade = saved[0][g.name]
            for c in sub.comments:
                c.auto_comment = saved[1][c.name]
            gb.db.commit()

    with Gradebook(db_url) as gb:
        gb.find_grade("written_kinks", A, A, student).manual_score = 1.0
        gb.db.commit()
    before = state()
    try:
        SaveAutoGrades().preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
        theirs = state()
        restore(before)
        BulkSaveAutoGrades().preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
        ours = state()
    finally:
        restore(before)
    assert ours == theirs and ours != before
    assert ours[0]["written_kinks"][2] is True  # a hand grade keeps the answer marked for review


def test_new_gradebooks_get_nbgrader_s_alembic_version_without_a_subprocess():
    from autograder.grading import warmdb
    assert warmdb.alembic_head() == warmdb.NBGRADER_ALEMBIC_VERSION()  # nbgrader runs `alembic heads`


def test_one_pass_autograde_writes_what_nbgrader_s_two_passes_write(graded):
    """OnePassAutograde (sanitizing and autograding steps in one conversion) against nbgrader's
    Autograde (two conversions, the notebook written and read back in between): the same
    autograded notebook, scores and comments, for a correct, a buggy and a blank submission,
    and the same failure for a corrupt one."""
    import shutil

    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.grading import failures, onepass
    course, _ = graded
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.release_directory = "build/release"
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    corrupt = course / "submitted" / "corrupt-json" / A
    corrupt.mkdir(parents=True)
    (corrupt / f"{A}.ipynb").write_text('{"cells": [{"cell_type": "code", "sour')

    def outcome(student):
        path = course / "autograded" / student / A / f"{A}.ipynb"
        if not path.exists():
            return None
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            sub = gb.find_submission_notebook(A, A, student)
            # the clean room's time (metadata flatgrad.seconds, for the class report) is the one
            # value that differs from run to run
            text = re.sub(r'"seconds": [0-9.e+-]+', '"seconds": 0', path.read_text())
            return (text, sorted((g.name, g.auto_score, g.needs_manual_grade) for g in sub.grades),
                    sorted((c.name, c.auto_comment) for c in sub.comments))

    students = ["ok-reference", "pack-1", "blank-release"]
    try:
        for student in [*students, "corrupt-json"]:
            theirs_log = api.autograde(A, student, force=True, create=True)
            theirs = outcome(student)
            ours_log = onepass.autograde(api, A, student)
            assert outcome(student) == theirs and ours_log["success"] == theirs_log["success"], student
            if theirs is None:
                logs = [(r.get("log") or "") + (r.get("error") or "") for r in (theirs_log, ours_log)]
                assert failures.classify(logs[0]) == failures.classify(logs[1])
                assert failures.classify(logs[1])[0] == "error"
    finally:
        shutil.rmtree(corrupt.parent)
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # leave the class as it was
            gb.remove_submission(A, "corrupt-json")
            gb.remove_student("corrupt-json")
