"""Can a submission tamper with its grade, crash the grader or leak the hidden tests?

The adversarial corpus (autograder/corpus/adversarial.py) is graded through `make grade` in
one class together with honest submissions; every entry must get exactly its expected
per-item outcome, the honest ones must be unaffected, and no feedback may show hidden tests.
"""
from __future__ import annotations

import json
import re
from html import unescape

import pytest

from autograder.cleanroom import landlock
from autograder.corpus import entries
from autograder.corpus.adversarial import ADVERSARIAL
from autograder.release import MARKERS
from helpers import assert_exact_outcome, item_points, make_grade, read_csv, total_points

pytestmark = pytest.mark.slow  # one make grade of the adversarial class
A = "linear_classifiers"
HIDDEN_TEST_LINES = ("from autograder.kernel import grade", 'grade("linear_classifiers"', "raise_for")
HONEST = [e for e in entries(A) if e.name in ("ok-reference", "bug-svm-vec-no-reg-in-loss")]
CLASS = ADVERSARIAL + HONEST
# Short limits so the corpus's endless loops cost seconds (the defaults are in nbgrader_config.py).
COURSE_CONFIG = ("c = get_config()  # noqa: F821\n"
                 "c.CleanRoomGrade.cell_timeout = 5\n"
                 "c.CleanRoomGrade.call_timeout = 5\n"
                 "c.CleanRoomGrade.notebook_timeout = 120\n"
                 "c.CleanRoomGrade.memory_limit_mb = 1024\n")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("adversarial")
    (course / "course_config.py").write_text(COURSE_CONFIG)
    for entry in CLASS:
        entry.write(course / "submitted", A)
    proc = make_grade(course)
    rows = read_csv(course / "reports" / "checks.csv")
    return course, proc, {(r["student_id"], r["item"]): r for r in rows}


def test_corpus_is_big_and_covers_the_attacks():
    names = {e.name for e in ADVERSARIAL}
    assert len(ADVERSARIAL) >= 20
    for must in ("adv-input-transformer", "adv-patch-allclose", "adv-patch-tensor-methods",
                 "adv-replace-checks-module", "adv-override-builtins", "adv-autograd-plain",
                 "adv-autograd-getattr", "adv-swallows-interrupt", "adv-os-exit", "adv-segfault",
                 "adv-memory-bomb", "adv-million-lines", "adv-sys-exit", "adv-nan-inf",
                 "adv-wrong-shape-dtype-device", "adv-modifies-inputs", "adv-warns", "adv-corrupt-json",
                 "adv-deleted-test-cells", "adv-forged-test-cell", "adv-inflated-points", "adv-read-files"):
        assert must in names


def test_grading_finishes_with_nothing_unresolved(graded):
    course, proc, _ = graded
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = {r["student_id"]: r["status"] for r in read_csv(course / "reports" / "submissions.csv")}
    assert "unresolved" not in statuses.values()


@pytest.mark.parametrize("entry", CLASS, ids=lambda e: e.name)
def test_each_submission_gets_exactly_its_outcome(entry, graded):
    """Its own items: the expected status, score 0 and the expected words; all others: full marks."""
    if entry.name == "adv-read-files" and landlock.abi_version() < 1:
        pytest.skip("this kernel has no Landlock: file reads are not confined")
    course, _, checks = graded
    assert_exact_outcome(entry, checks, A)
    submission = {r["student_id"]: r for r in read_csv(course / "reports" / "submissions.csv")}[entry.name]
    assert submission["status"] == entry.status
    assert entry.messages.get("", "").lower() in submission["message"].lower(), submission


def test_inflated_points_do_not_change_the_maximum(graded):
    _, _, checks = graded
    assert float(checks[("adv-inflated-points", "svm_loss_naive")]["max_score"]) == item_points(A)["svm_loss_naive"]
    assert float(checks[("adv-inflated-points", "sample_batch")]["max_score"]) == item_points(A)["sample_batch"]


def test_grades_csv_never_turns_a_failure_into_a_silent_zero(graded):
    course, _, _ = graded
    rows = {r["student_id"]: r for r in read_csv(course / "grades.csv")}
    assert rows["adv-corrupt-json"]["status"] == "error" and "JSON" in rows["adv-corrupt-json"]["message"]
    assert rows["adv-empty-folder"]["status"] == "error"
    assert float(rows["ok-reference"]["score"]) == total_points(A, written=False)


def test_feedback_shows_verdicts_but_no_hidden_tests(graded):
    course, _, checks = graded
    for entry in CLASS:
        if entry.status != "graded":
            continue
        path = course / "feedback" / entry.name / A / f"{A}.html"
        html = path.read_text()
        text = unescape(re.sub(r"<[^>]+>", "", html))  # what a reader of the page sees
        for leak in MARKERS + HIDDEN_TEST_LINES:
            assert leak not in text, (entry.name, leak)
        assert path.stat().st_size < 3_000_000, entry.name  # 10^6 printed lines never reach it
        for item in entry.expected():  # the verdict itself is there, in plain words
            words = re.search(r"[A-Za-z0-9_ ]{12,}", checks[(entry.name, item)]["message"]).group(0)
            assert words in text, (entry.name, item, words)


def test_every_submission_is_in_the_gradebook_exactly_once(graded):
    from nbgrader.api import Gradebook
    course, _, _ = graded
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submissions = [(s.student.id, s.assignment.name) for s in gb.assignment_submissions(A)]
    assert len(submissions) == len(set(submissions))
    graded_ids = {e.name for e in CLASS if e.status == "graded"}
    assert graded_ids <= {s for s, _ in submissions}


def test_autograded_notebooks_keep_no_student_outputs_in_grade_cells(graded):
    """Forged outputs in a grade cell are gone; the cell holds the clean room's verdict."""
    course, _, _ = graded
    nb = json.loads((course / "autograded" / "adv-forged-test-cell" / A / f"{A}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "svm_loss_naive")
    assert "all hidden tests passed" not in json.dumps(cell["outputs"])
    assert any(o["output_type"] == "error" for o in cell["outputs"])
