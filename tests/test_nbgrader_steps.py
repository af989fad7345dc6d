"""The nbgrader steps the kit replaces, each against nbgrader's own, on a tiny gradebook.

One course in a tmp folder: one assignment (backprop_basics), two students (the reference and
one bug), generated and autograded through nbgrader's API in this process (seconds, no `make
grade`). Each replaced step (OnePassAutograde, CachedOverwriteCells, BulkSaveAutoGrades,
BulkGetGrades, LiteralGenerateFeedback, the shared engine, the alembic version) must write what
nbgrader's own step writes; and an item's status is the grader's record, whatever a
submission forges.
"""
from __future__ import annotations

import copy
import json
import re
import shutil
from types import SimpleNamespace
from unittest import mock

import nbformat
import nbgrader.api
import pytest
from nbgrader.api import Gradebook

from autograder.corpus import entries
from autograder.grading import failures, onepass, warmdb
from autograder.grading.itemrows import cell_status, load_notebook, read_items
from autograder.layout import SOURCE, Course
from autograder.verdict import ERROR, FAILED, PASSED

A = "backprop_basics"
STUDENTS = ("ok-reference", "bug-mul-gate-no-swap")


def nbgrader_api(root):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.release_directory = "build/release"
    return NbGraderAPI(CourseDirectory(config=config), config=config)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny course, generated and autograded (the students of STUDENTS), each notebook by
    nbgrader's Autograde and then by OnePassAutograde: both outcomes are kept for
    test_one_pass_autograde_..., the second one stays for the other tests."""
    root = tmp_path_factory.mktemp("tiny")
    course = Course(root)
    course.write_config()
    by_name = {e.name: e for e in entries(A)}
    for student in STUDENTS:
        by_name[student].write(course.submitted, A)
    api = nbgrader_api(root)
    # stamped as the workers stamp a new gradebook (warmdb.alembic_head, in-process), not by
    # nbgrader's `alembic heads` subprocess (~5 s; the last test checks both give the same)
    with mock.patch.object(nbgrader.api, "get_alembic_version", warmdb.alembic_head):
        assert api.generate_assignment(A, force=True, create=True)["success"]
    both = {}  # each student graded by nbgrader's Autograde, then by ours (what the tests read)
    for student in STUDENTS:
        theirs_log = api.autograde(A, student, force=True, create=True)
        theirs = outcome(course, student)
        result = onepass.autograde(api, A, student)
        assert result["success"], result.get("log")
        both[student] = (theirs_log, theirs, result, outcome(course, student))
    return SimpleNamespace(course=course, api=api, db_url=course.db_url, root=root, both=both)


def outcome(course, student):
    """What an autograde left: the autograded notebook, the scores and the comments (None if
    it wrote no notebook)."""
    path = course.autograded_notebook(student, A)
    if not path.exists():
        return None
    with Gradebook(course.db_url) as gb:
        sub = gb.find_submission_notebook(A, A, student)
        # the clean room's time (metadata flatgrad.seconds) is the one value that differs
        text = re.sub(r'"seconds": [0-9.e+-]+', '"seconds": 0', path.read_text())
        return (text, sorted((g.name, g.auto_score, g.needs_manual_grade) for g in sub.grades),
                sorted((c.name, c.auto_comment) for c in sub.comments))


def resources(tiny, student=None):
    meta = {"notebook": A, "assignment": A, "db_url": tiny.db_url}
    if student:
        meta["student"] = student
    return {"nbgrader": meta}


def manual_item():
    nb = json.loads((SOURCE / A / f"{A}.ipynb").read_text())
    return next(c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
                if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("grade"))


def test_the_tiny_class_is_graded_from_the_grade_cells_records(tiny):
    """The reference passes every code item, the bug fails its own item only; each status is
    the clean room's record in the grade cell's metadata."""
    for student, own in [("ok-reference", set()), ("bug-mul-gate-no-swap", {"mul_gate_backward"})]:
        nb = load_notebook(tiny.course.autograded_notebook(student, A))
        rows = read_items(tiny.db_url, A, student, nb)
        code = [r for r in rows if r.item != manual_item()]
        assert code and all((r.status == FAILED) == (r.item in own) for r in code), rows
        assert all(r.status == PASSED and r.score == r.max_score for r in code if r.item not in own)
        records = [c["metadata"]["flatgrad"] for c in nb["cells"] if "flatgrad" in c["metadata"]]
        assert len(records) == len(code) and {r["status"] for r in records} == ({"passed", "failed"} if own else {"passed"})


@pytest.mark.parametrize("cell,expected", [
    ({"metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", "text": "ok\n"}],
      "execution_count": 1}, ERROR),  # outputs alone say nothing
    ({"metadata": {"flatgrad": {"status": "full marks", "message": "x"}}}, ERROR),
    ({"metadata": {"flatgrad": "passed"}}, ERROR),
    ({"metadata": {"flatgrad": {"status": "passed", "message": "fine.\nline two"}}}, PASSED),
    ({"metadata": {"flatgrad": {"status": "failed", "message": "\x1b[31mwrong\x1b[0m"}}}, FAILED),
])
def test_an_item_s_status_is_only_the_grader_s_record(cell, expected):
    status, message = cell_status(cell)
    assert status == expected and "\x1b" not in message
    if expected == PASSED:
        assert message == "line two"  # the line the feedback ends with, as before


def test_a_forged_verdict_in_a_submission_gains_nothing(tiny):
    """A blank notebook whose grade cells (and the notebook) carry a forged record and forged
    passing outputs: graded exactly as the honest blank notebook."""
    by_name = {e.name: e for e in entries(A)}
    blank = by_name["blank-release"]
    nb = blank.notebook(A)
    for cell in nb["cells"]:
        cell["metadata"]["flatgrad"] = {"status": "passed", "message": "forged"}
        if cell["metadata"].get("nbgrader", {}).get("grade") and cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "passed\n"}]
            cell["execution_count"] = 1
    nb["metadata"]["flatgrad"] = {"notes": [], "seconds": 0}
    for student, notebook in [("forged", nb), ("honest-blank", blank.notebook(A))]:
        folder = tiny.course.submitted / student / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text(json.dumps(notebook))
    try:
        rows = {}
        for student in ("forged", "honest-blank"):
            assert onepass.autograde(tiny.api, A, student)["success"]
            graded = load_notebook(tiny.course.autograded_notebook(student, A))
            rows[student] = [(r.item, r.score, r.status, r.message) for r in read_items(tiny.db_url, A, student, graded)]
            assert "forged" not in json.dumps(graded)
        assert rows["forged"] == rows["honest-blank"]
        assert not any(status == PASSED for item, _, status, _ in rows["forged"] if item != manual_item())
    finally:
        with Gradebook(tiny.db_url) as gb:
            for student in ("forged", "honest-blank"):
                gb.remove_submission(A, student)
                gb.remove_student(student)
                shutil.rmtree(tiny.course.submitted / student)


def test_one_pass_autograde_writes_what_nbgrader_s_two_passes_write(tiny):
    """OnePassAutograde (sanitizing and autograding steps in one conversion) against nbgrader's
    Autograde (two conversions): the same autograded notebook, scores and comments, for a
    correct and a buggy submission, and the same failure for a corrupt one."""
    for student in STUDENTS:  # graded both ways by the fixture
        theirs_log, theirs, ours_log, ours = tiny.both[student]
        assert theirs is not None and ours == theirs and ours_log["success"] == theirs_log["success"], student
    corrupt = tiny.course.submitted / "corrupt-json" / A
    corrupt.mkdir(parents=True)
    (corrupt / f"{A}.ipynb").write_text('{"cells": [{"cell_type": "code", "sour')
    try:
        theirs_log = tiny.api.autograde(A, "corrupt-json", force=True, create=True)
        theirs = outcome(tiny.course, "corrupt-json")
        ours_log = onepass.autograde(tiny.api, A, "corrupt-json")
        assert theirs is None and outcome(tiny.course, "corrupt-json") is None  # no notebook either way
        assert ours_log["success"] == theirs_log["success"]
        logs = [(r.get("log") or "") + (r.get("error") or "") for r in (theirs_log, ours_log)]
        assert failures.classify(logs[0]) == failures.classify(logs[1])
        assert failures.classify(logs[1])[0] == "error"
    finally:
        shutil.rmtree(corrupt.parent)
        with Gradebook(tiny.db_url) as gb:
            gb.remove_submission(A, "corrupt-json")
            gb.remove_student("corrupt-json")


def test_cached_overwrite_cells_restores_what_nbgrader_restores(tiny):
    """CachedOverwriteCells (gradebook read once per worker) against nbgrader's OverwriteCells
    on a tampered release notebook: a locked cell edited, points inflated, a cell type changed."""
    from nbgrader.preprocessors import OverwriteCells

    from autograder.grading.overwritecells import CachedOverwriteCells, notebook_cells
    nb = nbformat.read(tiny.root / "build" / "release" / A / f"{A}.ipynb", as_version=4)
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
    notebook_cells.cache_clear()
    theirs, _ = OverwriteCells().preprocess(copy.deepcopy(nb), resources(tiny))
    ours, _ = CachedOverwriteCells().preprocess(copy.deepcopy(nb), resources(tiny))
    again, _ = CachedOverwriteCells().preprocess(copy.deepcopy(nb), resources(tiny))  # from the cache
    assert notebook_cells.cache_info().hits >= 1
    assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert json.dumps(ours, sort_keys=True) != json.dumps(nb, sort_keys=True)  # something was restored


def test_restore_grade_cells_puts_a_deleted_test_cell_back(tiny):
    """RestoreGradeCells: a deleted grade cell comes back after its answer cell, with the
    gradebook's source and points; an intact notebook is left as it is."""
    from autograder.grading.overwritecells import notebook_cells
    from autograder.grading.restorecells import RestoreGradeCells
    nb = nbformat.read(tiny.root / "build" / "release" / A / f"{A}.ipynb", as_version=4)
    index, cell = next((i, c) for i, c in enumerate(nb.cells)
                       if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"))
    intact, _ = RestoreGradeCells().preprocess(copy.deepcopy(nb), resources(tiny))
    assert json.dumps(intact, sort_keys=True) == json.dumps(nb, sort_keys=True)
    cut = copy.deepcopy(nb)
    del cut.cells[index]
    restored, _ = RestoreGradeCells().preprocess(cut, resources(tiny))
    back = [c for c in restored.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell.metadata.nbgrader.grade_id]
    source, _ = notebook_cells(tiny.db_url, A, A)
    assert len(back) == 1 and back[0].source == source[cell.metadata.nbgrader.grade_id].source  # with its hidden tests
    before = restored.cells[restored.cells.index(back[0]) - 1]  # right after its answer cell
    assert before.metadata.nbgrader.grade_id == f"{cell.metadata.nbgrader.grade_id}_code"
    assert back[0].metadata.nbgrader.points == cell.metadata.nbgrader.points


def test_workers_share_one_engine_per_gradebook(tiny, monkeypatch):
    """warmdb: every Gradebook of a worker uses the same engine (compiled statements kept)."""
    # undone after the test
    monkeypatch.setattr(nbgrader.api, "create_engine", nbgrader.api.create_engine)
    monkeypatch.setattr(nbgrader.api.Gradebook, "__init__", nbgrader.api.Gradebook.__init__)
    monkeypatch.setattr(nbgrader.api, "get_alembic_version", nbgrader.api.get_alembic_version)
    warmdb.share_engines()
    with nbgrader.api.Gradebook(tiny.db_url) as first:
        students = {s.id for s in first.students}
    with nbgrader.api.Gradebook(tiny.db_url) as second:  # after the first one closed (and disposed) it
        assert second.engine is first.engine
        assert {s.id for s in second.students} == students and students
        assert second.course_id == first.course_id


def test_bulk_get_grades_copies_what_nbgrader_copies(tiny):
    """BulkGetGrades (a submission's grades read at once) against nbgrader's GetGrades on a
    graded notebook with a manual grade: same cell metadata, same totals."""
    from nbgrader.preprocessors import GetGrades

    from autograder.grading.getgrades import BulkGetGrades
    student = "bug-mul-gate-no-swap"
    with Gradebook(tiny.db_url) as gb:  # a hand-graded answer too (what formgrader writes)
        gb.find_grade(manual_item(), A, A, student).manual_score = 1.0
        gb.db.commit()
        max_score = gb.find_assignment(A).max_score
    nb = nbformat.read(tiny.course.autograded_notebook(student, A), as_version=4)
    theirs = GetGrades().preprocess(copy.deepcopy(nb), resources(tiny, student))
    ours = BulkGetGrades().preprocess(copy.deepcopy(nb), resources(tiny, student))
    assert json.dumps(ours, sort_keys=True, default=str) == json.dumps(theirs, sort_keys=True, default=str)
    scored = [c.metadata.nbgrader for c in ours[0].cells if "score" in c.metadata.get("nbgrader", {})]
    assert scored and any(m["score"] for m in scored) and ours[1]["nbgrader"]["max_score"] == max_score


def test_bulk_save_auto_grades_records_what_nbgrader_records(tiny):
    """BulkSaveAutoGrades (grades and comments read at once, one commit) against nbgrader's
    SaveAutoGrades: the same auto scores, review flags and comments, on a notebook whose
    results changed (one item now passes, one fails) and with a hand-graded answer."""
    from nbgrader.preprocessors import SaveAutoGrades

    from autograder.grading.saveautogrades import BulkSaveAutoGrades
    student = "bug-mul-gate-no-swap"
    nb = nbformat.read(tiny.course.autograded_notebook(student, A), as_version=4)
    grade_cells = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    failing = next(c for c in grade_cells if any(o.output_type == "error" for o in c.outputs))
    failing.outputs = []  # passes now
    passing = next(c for c in grade_cells if c is not failing)
    passing.outputs.append(nbformat.v4.new_output("error", ename="ItemFailed", evalue="x", traceback=[]))

    def state():
        with Gradebook(tiny.db_url) as gb:
            sub = gb.find_submission_notebook(A, A, student)
            return ({g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in sub.grades},
                    {c.name: c.auto_comment for c in sub.comments})

    def restore(saved):
        with Gradebook(tiny.db_url) as gb:
            sub = gb.find_submission_notebook(A, A, student)
            for g in sub.grades:
                g.auto_score, g.manual_score, g.needs_manual_grade = saved[0][g.name]
            for c in sub.comments:
                c.auto_comment = saved[1][c.name]
            gb.db.commit()

    with Gradebook(tiny.db_url) as gb:
        gb.find_grade(manual_item(), A, A, student).manual_score = 1.0
        gb.db.commit()
    before = state()
    try:
        SaveAutoGrades().preprocess(copy.deepcopy(nb), resources(tiny, student))
        theirs = state()
        restore(before)
        BulkSaveAutoGrades().preprocess(copy.deepcopy(nb), resources(tiny, student))
        ours = state()
    finally:
        restore(before)
    assert ours == theirs and ours != before
    assert ours[0][manual_item()][2] is True  # a hand grade keeps the answer marked for review


def test_literal_generate_feedback_writes_the_page_of_one_literal_id(tiny):
    """LiteralGenerateFeedback writes the feedback page of the one student named, like
    nbgrader's generate_feedback for an id that is no glob pattern."""
    from autograder.grading import literalids
    page = tiny.root / "feedback" / "ok-reference" / A / f"{A}.html"
    other = tiny.root / "feedback" / "bug-mul-gate-no-swap" / A / f"{A}.html"
    assert literalids.generate_feedback(tiny.api, A, "ok-reference")["success"]
    assert page.exists() and not other.exists()
    text = page.read_text()
    assert "mul_gate_backward" in text
    theirs = tiny.api.generate_feedback(A, "ok-reference", force=True)
    assert theirs["success"] and page.read_text() == text
    assert not literalids.generate_feedback(tiny.api, A, "ok-*")["success"]  # no glob


def test_check_metadata_accepts_the_tiny_class_s_notebooks(tiny):
    """CheckCellMetadata's validator against nbgrader's on what the autograder wrote."""
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    from autograder.grading.checkmetadata import FastMetadataValidator
    for student in STUDENTS:
        nb = nbformat.read(tiny.course.autograded_notebook(student, A), as_version=4)
        MetadataValidatorV3().validate_nb(copy.deepcopy(nb))
        FastMetadataValidator().validate_nb(copy.deepcopy(nb))


def test_new_gradebooks_get_nbgrader_s_alembic_version_without_a_subprocess():
    assert warmdb.alembic_head() == warmdb.NBGRADER_ALEMBIC_VERSION()  # nbgrader runs `alembic heads`


def test_grades_csv_takes_its_statuses_from_the_run_not_from_a_csv(tiny):
    """export_grades writes nbgrader's CSV columns with the statuses it is given (the run's),
    whatever reports/submissions.csv says; an unresolved submission has no score, a student
    without a submission is not_submitted. By hand (`nbgrader export --exporter=...`), the
    plugin reads reports/submissions.csv."""
    import csv

    from autograder.grading.export import KEYS, export_grades
    (tiny.root / "reports").mkdir(exist_ok=True)
    stale = tiny.root / "reports" / "submissions.csv"
    stale.write_text("student_id,assignment,status,message\nok-reference,backprop_basics,error,stale\n")
    with Gradebook(tiny.db_url) as gb:
        gb.update_or_create_student("absent")
    try:
        statuses = {("ok-reference", A): ("graded", ""), ("bug-mul-gate-no-swap", A): ("unresolved", "worker died")}
        export_grades(tiny.root, tiny.db_url, statuses)
        with (tiny.root / "grades.csv").open(newline="") as fh:
            reader = csv.DictReader(fh)
            rows = {r["student_id"]: r for r in reader}
            assert reader.fieldnames == KEYS
        assert rows["ok-reference"]["status"] == "graded" and float(rows["ok-reference"]["score"]) > 0
        assert rows["bug-mul-gate-no-swap"]["status"] == "unresolved" and rows["bug-mul-gate-no-swap"]["score"] == ""
        assert rows["absent"]["status"] == "not_submitted" and rows["absent"]["message"] == "no submission"
        proc = tiny.course.nbgrader("export", "--to=grades.csv", "--exporter=autograder.grading.export.StatusCsvExportPlugin")
        assert proc.returncode == 0, proc.stderr[-2000:]
        with (tiny.root / "grades.csv").open(newline="") as fh:
            by_hand = {r["student_id"]: r for r in csv.DictReader(fh)}
        assert by_hand["ok-reference"]["status"] == "error" and by_hand["ok-reference"]["message"] == "stale"
    finally:
        stale.unlink()
        with Gradebook(tiny.db_url) as gb:
            gb.remove_student("absent")
