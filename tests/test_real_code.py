"""Issue 11 through `make grade`: the real-code corpus (autograder/corpus/real_code.py).

Every bug loses its item with a message that says why, every correct variant gets full marks
(float32 work with a one-line note), and nothing else changes (collateral 0). The variants
whose verdict the flat-backprop rules decide (autograder/checks/rules.py) are listed apart.
"""
from __future__ import annotations

import pytest

from autograder.checks import items
from autograder.corpus import real_code
from helpers import manual_items, real_code_class

PACKS, RULES = real_code_class()
ENTRY = {e.name: (a, p) for a, p in PACKS for e in real_code.entries(a, rules=False) if e.name in p.members}
CAUGHT = ("failed", "error")  # both score 0; which one depends on how the bug shows (a crash: error)


@pytest.fixture(scope="module")
def rows(shared_class):
    """checks.csv's rows of the shared class (conftest), which holds PACKS and RULES."""
    return shared_class.checks


def outcome(rows, student, assignment):
    return {item: r for (s, a, item), r in rows.items() if s == student and a == assignment
            and item not in manual_items(assignment)}


def test_corpus_is_big_enough_and_new():
    """At least 30 variants written for this issue, bugs and correct ones in each assignment."""
    names = [e.name for a in real_code.ENTRIES for e in real_code.entries(a)]
    assert len(names) >= 30 and len(set(names)) == len(names)
    for a in real_code.ENTRIES:  # every variant changes some cell, and fails only real items
        assert all(e.touched() and set(e.fails) <= set(items(a)) for e in real_code.entries(a))
    for a in real_code.ENTRIES:
        assert any(e.fails for e in real_code.entries(a)) and any(not e.fails for e in real_code.entries(a))


@pytest.mark.slow
@pytest.mark.parametrize("assignment,submission", PACKS, ids=lambda x: getattr(x, "name", x))
def test_bugs_caught_correct_code_full_marks_collateral_zero(assignment, submission, rows):
    """Each pack: its bugs' items score 0 with a message, every other item full marks."""
    got = outcome(rows, submission.name, assignment)
    assert got, f"no rows for {submission.name}"
    for item, row in got.items():
        if item in submission.expected():
            assert row["status"] in CAUGHT and float(row["score"]) == 0 and row["message"], row
        else:
            assert row["status"] == "passed" and row["score"] == row["max_score"], row


@pytest.mark.slow
@pytest.mark.parametrize("name,item,words", [
    ("bug-rc-softmax-vec-no-shift", "softmax_loss_vectorized", ("scores around +-1000",)),
    ("bug-rc-softmax-vec-global-shift", "softmax_loss_vectorized", ("scores around +-1000",)),
    ("bug-rc-softmax-vec-onehot-0log0", "softmax_loss_vectorized", ("correct class far above", "nan")),
    ("bug-rc-nn-onehot-0log0", "nn_forward_backward", ("correct class far above", "nan")),
    ("bug-rc-svm-naive-range-10", "svm_loss_naive", ("more than 10 classes",)),
    ("bug-rc-sample-never-last-row", "sample_batch", ("never drawn", "excludes high")),
    ("bug-rc-sample-zeroes-inputs", "sample_batch", ("changed its input X, y in place",)),
    ("bug-rc-predict-zeroes-inputs", "predict_linear_classifier", ("changed its input X in place",)),
    ("bug-rc-nn-predict-zeroes-inputs", "nn_predict", ("changed its input X in place",)),
    ("bug-rc-mul-gate-zeroes-inputs", "mul_gate_backward", ("changed its input x, y in place",)),
    ("bug-rc-relu-backward-in-place", "relu_backward", ("changed its input grad_y in place",)),
    ("bug-rc-svm-grid-never-learns", "svm_get_search_params", ("validation accuracy", "at least 0.93")),
    ("bug-rc-nn-grid-never-learns", "nn_get_search_params", ("validation accuracy", "at least 0.95")),
])
def test_messages_say_what_and_where(name, item, words, rows):
    """Does the message name the case (large scores, 12 classes), the changed input, the accuracy?"""
    assignment, submission = ENTRY[name]
    message = rows[(submission.name, assignment, item)]["message"]
    for word in words:
        assert word.lower() in message.lower(), (word, message)


@pytest.mark.slow
@pytest.mark.parametrize("name,item", [("ok-rc-svm-vec-float32-inside", "svm_loss_vectorized"),
                                       ("ok-rc-nn-forward-float32-inside", "nn_forward_pass"),
                                       ("ok-rc-nn-float32-inside", "nn_forward_backward")])
def test_float32_work_passes_with_one_note(name, item, rows):
    """Precision is not a bug: float64 inputs computed in float32 pass, and the message says so."""
    assignment, submission = ENTRY[name]
    row = rows[(submission.name, assignment, item)]
    assert row["status"] == "passed" and row["score"] == row["max_score"]
    assert "computed in float32" in row["message"] and row["message"].count("Note:") == 1


@pytest.mark.slow
@pytest.mark.parametrize("assignment,entry", RULES, ids=lambda x: getattr(x, "name", x))
def test_rules_variants(assignment, entry, rows):
    """Verdicts the flat-backprop rules decide (rules branch, merged): relu in the SVM loss passes
    (the linear notebook never bans it), F.one_hot passes (the rules allow one_hot)."""
    for item, row in outcome(rows, entry.name, assignment).items():
        expect_zero = item in entry.fails
        assert (row["status"] in CAUGHT) == expect_zero and (float(row["score"]) == 0) == expect_zero, row
