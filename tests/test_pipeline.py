"""The grading pipeline's shape and records, without grading: the list of steps, the typed
records, one status vocabulary, the stamps, the feedback and summary steps (fast: no nbgrader
run, no workers)."""
from __future__ import annotations

import ast
import contextlib
import csv
import json
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest

from autograder.grading import pipeline, stamps
from autograder.grading.itemrows import ItemResult
from autograder.grading.records import SUBMISSION_COLUMNS, Pending, Stamp, SubmissionOutcome
from autograder.layout import Course
from autograder.verdict import ERROR, FAILED, GRADED, PASSED, UNRESOLVED, Status

A = "backprop_basics"
PACKAGE = Path(pipeline.__file__).resolve().parents[1]


def test_make_grade_is_one_ordered_list_of_named_steps():
    assert [step.__name__ for step in pipeline.STEPS] == [
        "prepare", "autograde", "feedback", "report", "export", "class_report", "summary"]


def test_every_module_of_the_pipeline_is_small():
    for path in (PACKAGE / "grading").glob("*.py"):
        assert len(path.read_text().splitlines()) < 300, path.name


def test_statuses_are_the_strings_the_csvs_and_stamps_hold():
    assert [str(s) for s in Status] == ["passed", "failed", "error", "timeout", "not_run",
                                        "graded", "unresolved", "not_submitted"]
    row = SubmissionOutcome("s", A, UNRESOLVED, "the grader failed").row()
    assert json.dumps(row) == json.dumps({"student_id": "s", "assignment": A, "status": "unresolved",
                                          "message": "the grader failed"})
    assert {"unresolved": 1}[Status.UNRESOLVED] == 1 and Status("graded") is GRADED


def status_words() -> set[str]:
    return {str(s) for s in Status} - {"error", "failed", "timeout"}  # these are also other things' words


@pytest.mark.parametrize("folder", ["grading", "report"])
def test_no_status_is_spelled_outside_the_vocabulary(folder):
    """Submission and item statuses are written as Status members, not as string literals."""
    for path in [*(PACKAGE / folder).glob("*.py"), PACKAGE / "__main__.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in status_words(), (path.name, node.value, node.lineno)


def test_a_submission_s_message_is_the_grader_s_then_the_folder_notes():
    item = ItemResult("s", A, "relu_backward", 0.0, 2.0, FAILED, "wrong")
    outcome = SubmissionOutcome("s", A, GRADED, "a note", [item], ["extra files not used by the grader: x"])
    assert outcome.text == "a note; extra files not used by the grader: x"
    assert SubmissionOutcome("s", A, GRADED, "", [], ["n"]).text == "n"
    assert tuple(outcome.row()) == SUBMISSION_COLUMNS
    assert item.row()["status"] == "failed"


def course_with_submission(tmp_path) -> Course:
    folder = tmp_path / "submitted" / "alice" / A
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text("{}")
    return Course(tmp_path)


def test_a_stamp_is_read_back_typed_while_its_files_are_unchanged(tmp_path):
    course = course_with_submission(tmp_path)
    assert stamps.read_stamp(course, "alice", A) is None
    stamps.write_stamp(course, "alice", A, ERROR, "not a notebook")
    stamp = stamps.read_stamp(course, "alice", A)
    assert stamp == Stamp(stamps.fingerprint(course, "alice", A), ERROR, "not a notebook")
    assert isinstance(stamp.status, Status)
    (course.submitted / "alice" / A / "extra.txt").write_text("changed")
    assert stamps.read_stamp(course, "alice", A) is None  # another fingerprint: graded again


@pytest.mark.parametrize("stored", ['{"fingerprint": "F", "status": "full marks", "message": ""}',
                                    '{"status": "graded"}', "[1, 2]", "not json"])
def test_a_bad_stamp_means_grading_again(tmp_path, stored):
    course = course_with_submission(tmp_path)
    path = tmp_path / stamps.STAMPS / "alice" / f"{A}.json"
    path.parent.mkdir(parents=True)
    path.write_text(stored.replace('"F"', json.dumps(stamps.fingerprint(course, "alice", A))))
    assert stamps.read_stamp(course, "alice", A) is None


def test_a_graded_stamp_without_its_autograded_notebook_means_grading_again(tmp_path):
    course = course_with_submission(tmp_path)
    stamps.write_stamp(course, "alice", A, GRADED, "")
    assert stamps.read_stamp(course, "alice", A) is None


class FakePool:
    """Runs each task at once; feedback_one answers from `problems`."""

    def __init__(self, problems):
        self.problems, self.calls = problems, []

    def submit(self, fn, *args):
        self.calls.append((fn.__name__, args))
        future = Future()
        problem = self.problems.get(args[0])
        if isinstance(problem, Exception):
            future.set_exception(problem)
        else:
            future.set_result(problem)
        return future


class GradingPool(FakePool):
    """Also autogrades at once: every submission graded, but the student "err" (status error)."""

    def submit(self, fn, *args):
        if fn.__name__ != "autograde_one":
            return super().submit(fn, *args)
        self.calls.append((fn.__name__, args))
        future = Future()
        future.set_result(SubmissionOutcome(args[0], A, ERROR if args[0] == "err" else GRADED))
        return future


def autograde_alone(monkeypatch):
    """pipeline.autograde without the course around it: no contract, stamps, notes or gradebook
    (but the student row an error writes)."""
    for name, value in (("refusals", lambda run: {A: None}), ("submission_problem", lambda *a: None),
                        ("write_stamp", lambda *a: None), ("submission_notes", lambda *a: [])):
        monkeypatch.setattr(pipeline, name, value)
    monkeypatch.setattr(pipeline, "Gradebook", lambda url: contextlib.nullcontext(SimpleNamespace(
        update_or_create_student=lambda student: None)))


def test_the_feedback_step_writes_every_graded_submission_s_page_and_says_what_failed(tmp_path):
    run = pipeline.GradeRun(Course(tmp_path))
    run.submissions = [SubmissionOutcome("ok", A, GRADED, "a note"), SubmissionOutcome("bad", A, GRADED),
                       SubmissionOutcome("dead", A, GRADED), SubmissionOutcome("err", A, ERROR, "no notebook")]
    run.pool = FakePool({"bad": "feedback could not be written (x)", "dead": RuntimeError("worker stopped")})
    pipeline.feedback(run)
    assert sorted(args[0] for name, args in run.pool.calls) == ["bad", "dead", "ok"]  # not the error
    messages = {o.student: o.message for o in run.submissions}
    assert messages["ok"] == "a note" and messages["bad"] == "feedback could not be written (x)"
    assert "worker stopped" in messages["dead"] and messages["err"] == "no notebook"
    assert all(o.status == (ERROR if o.student == "err" else GRADED) for o in run.submissions)  # grades stand


def test_autograde_queues_each_graded_submission_s_feedback_as_it_comes_back(tmp_path, monkeypatch):
    """No barrier between the two steps: a page is queued while the rest are autograded, and
    the feedback step only waits for it (and starts the pages of the unchanged submissions)."""
    autograde_alone(monkeypatch)
    run = pipeline.GradeRun(Course(tmp_path), assignments=[A])
    run.todo = [Pending("ok", A), Pending("err", A), Pending("bad", A)]
    run.pool = GradingPool({"bad": "feedback could not be written (x)"})
    pipeline.autograde(run)
    assert [c[0] for c in run.pool.calls] == ["autograde_one"] * 3 + ["feedback_one"] * 2
    unchanged = SubmissionOutcome("kept", A, GRADED)  # as autograde records an unchanged submission
    run.submissions.append(unchanged)
    pipeline.feedback(run)
    assert sorted(a[0] for n, a in run.pool.calls if n == "feedback_one") == ["bad", "kept", "ok"]  # each once
    assert {o.student: o.message for o in run.submissions}["bad"] == "feedback could not be written (x)"


def test_pages_are_queued_between_autogrades_not_after_the_class(tmp_path, monkeypatch):
    """Grading is submitted lazily (AHEAD per worker): each graded submission's page is queued
    as it comes back, before the autograde of a submission a few places later, so pages run
    while the class is graded. Every graded submission gets exactly one page; a page that fails
    or whose worker stopped is said in the message, the grade stands; errors get none."""
    autograde_alone(monkeypatch)
    students = [f"s{k:02d}" for k in range(12)] + ["err", "bad", "dead"]

    run = pipeline.GradeRun(Course(tmp_path), jobs=2, assignments=[A])
    run.todo = [Pending(s, A) for s in students]
    run.pool = GradingPool({"bad": "feedback could not be written (x)", "dead": RuntimeError("worker stopped")})
    pipeline.autograde(run)
    order = [(n, a[0]) for n, a in run.pool.calls]
    window = pipeline.AHEAD * run.jobs
    assert [s for n, s in order if n == "autograde_one"] == students  # each once, in order
    for k, student in enumerate(students[:-window]):
        if student != "err":
            assert order.index(("feedback_one", student)) < order.index(("autograde_one", students[k + window])), order
    pipeline.feedback(run)
    pages = [s for n, s in order if n == "feedback_one"] + [a[0] for n, a in run.pool.calls[len(order):]]
    assert sorted(pages) == sorted(s for s in students if s != "err")  # every graded one, once
    messages = {o.student: o.message for o in run.submissions}
    assert messages["bad"] == "feedback could not be written (x)"
    assert messages["dead"].startswith("feedback could not be written (RuntimeError: worker stopped")
    assert messages["s00"] == "" and messages["err"] == ""
    assert [o.status for o in run.submissions] == [ERROR if s == "err" else GRADED for s in students]


def test_the_contract_is_checked_in_a_warm_worker_or_here_when_it_stopped(tmp_path, monkeypatch):
    class ContractPool:
        def __init__(self, fails):
            self.fails, self.calls = fails, []

        def submit(self, fn, *args):
            self.calls.append(fn.__name__)
            future = Future()
            if self.fails:
                future.set_exception(RuntimeError("worker stopped"))
            else:
                future.set_result(fn(*args))
            return future

    here = []
    monkeypatch.setattr(pipeline.contract, "refusal", lambda a: here.append(a) or f"refused {a}")
    for fails in (False, True):
        run = pipeline.GradeRun(Course(tmp_path), assignments=[A])
        run.pool = ContractPool(fails)
        assert pipeline.refusals(run) == {A: f"refused {A}"} and run.pool.calls == ["refusals"]
    assert here == [A, A]  # once by the (here in-process) worker, once here after the worker failed


def test_the_summary_step_prints_the_table_and_every_unresolved_submission(tmp_path, capsys):
    course = Course(tmp_path)
    course.reports.mkdir()
    run = pipeline.GradeRun(course)
    run.submissions = [SubmissionOutcome("alice", A, GRADED,
                                         items=[ItemResult("alice", A, "relu_backward", 2.0, 2.0, PASSED, "ok")]),
                       SubmissionOutcome("bob", A, UNRESOLVED, "the grading worker failed: x")]
    run.items = [i for o in run.submissions for i in o.items]
    pipeline.report(run)
    assert run.statuses == {("alice", A): ("graded", ""), ("bob", A): ("unresolved", "the grading worker failed: x")}
    pipeline.summary(run)
    out, err = capsys.readouterr()
    assert "alice" in out and "graded" in out and "items: 1 relu_backward" in out
    assert f"UNRESOLVED bob/{A}: the grading worker failed: x" in err
    with (course.reports / "submissions.csv").open(newline="") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["graded", "unresolved"]


def test_the_summary_step_prints_nothing_when_nothing_was_graded(tmp_path, capsys):
    pipeline.summary(pipeline.GradeRun(Course(tmp_path)))
    assert capsys.readouterr() == ("", "")


def test_a_stopped_worker_s_submission_is_typed_too():
    future = Future()
    future.set_exception(RuntimeError("boom"))
    outcome = pipeline.outcome_of(future, Pending("s", A), None)
    assert outcome == SubmissionOutcome("s", A, UNRESOLVED, "the grading worker failed: RuntimeError: boom")
