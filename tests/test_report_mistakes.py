"""Does the report group failure messages into mistakes a lecturer can teach?"""
from __future__ import annotations

from autograder.report.classdata import load
from autograder.report.mistakes import message_class, mistakes, next_class, normalize
from helpers import HOSTILE, write_class


def test_messages_that_differ_only_in_numbers_are_one_class():
    """The brief's example, plus negative, scientific and integer values."""
    a = normalize("loss is 12.19, expected 18.69")
    assert a == normalize("loss is 3.2, expected 4.1") == "loss is #, expected #"
    assert normalize("dW is -1.5e-03 at row 7, expected +2E4") == normalize("dW is 0.25 at row 12, expected 3")


def test_value_lists_of_any_length_and_shapes_group_together():
    assert normalize("dX is [0.1, -0.2, 3e-5, 4.0], expected [1.0, 2.0, 3.0, 4.0]") == \
        normalize("dX is [7.0], expected [8.5]") == "dX is […], expected […]"
    assert normalize("dW has shape (3, 10), expected (10, 3)") == normalize("dW has shape (5, 2), expected (2, 5)")


def test_digits_inside_names_are_kept_apart():
    """dW1 and dW2 wrong are different mistakes; float32 vs float64 too."""
    assert normalize("dW1 is 0.5, expected 1.0") != normalize("dW2 is 0.5, expected 1.0")
    assert "float32" in normalize("returned float32, expected float64 at x_2")
    assert "x_2" in normalize("returned float32, expected float64 at x_2")


def test_a_cause_hint_decides_the_class():
    """Different numbers and wording before the hint, the same likely cause: one class."""
    one = message_class("loss is 2.31, expected 2.30 (likely: the scores were not shifted by their max)")
    two = message_class("loss is nan on large scores; likely cause: the scores were not shifted by their max.")
    assert one == two == ("the scores were not shifted by their max", True)
    assert message_class("loss is 2.31, expected 2.30") == ("loss is #, expected #", False)


def row(s, a, item, status, message, score=0.0):
    return (s, a, item, score if status != "passed" else 1.0, 1.0, status, message)


def test_mistakes_count_rows_and_students_and_skip_unrun_notebooks(tmp_path):
    rows = [row("s1", "A", "f", "failed", "loss is 1.5, expected 2.5"),
            row("s2", "A", "f", "failed", "loss is 9, expected 10"),
            row(HOSTILE, "A", "f", "failed", "loss is 0.1, expected 0.2"),
            row("s1", "A", "g", "error", "g raised IndexError: index 4 is out of bounds for size 4"),
            row("s2", "A", "g", "error", "g raised IndexError: index 9 is out of bounds for size 9"),
            row("s3", "A", "f", "passed", "all hidden tests passed"),
            row("s4", "A", "f", "timeout", "the cell ran past 30 s"),
            # a notebook that could not run: its reason is on every item, counted as a status instead
            row("s5", "A", "f", "error", "the submitted notebook is not valid JSON"),
            row("s5", "A", "g", "error", "the submitted notebook is not valid JSON")]
    subs = [("s1", "A", "graded", ""), ("s2", "A", "graded", ""), (HOSTILE, "A", "graded", ""),
            ("s3", "A", "graded", ""), ("s4", "A", "graded", ""), ("s5", "A", "error", "not valid JSON")]
    data = load(write_class(tmp_path, rows, subs))
    found = {(m.item, m.label): m for m in mistakes(data, "A")}
    assert set(found) == {("f", "loss is #, expected #"), ("f", "the cell ran past # s"),
                          ("g", "g raised IndexError: index # is out of bounds for size #")}
    loss = found[("f", "loss is #, expected #")]
    assert loss.count == 3 and sorted(loss.students) == sorted(["s1", "s2", HOSTILE])
    assert found[("g", "g raised IndexError: index # is out of bounds for size #")].students == ["s1", "s2"]
    assert [m.label for m in mistakes(data, "A")][0] == "loss is #, expected #"  # most students first


def test_next_class_ranks_over_assignments_and_skips_work_not_done(tmp_path):
    rows = ([row(f"s{k}", "A", "f", "failed", f"f is {k}, expected 0") for k in range(2)]
            + [row(f"s{k}", "B", "h", "failed", f"dh is {k}.5") for k in range(5)]
            + [row(f"s{k}", "A", "g", "failed", "g is not implemented yet (it raised NotImplementedError).")
               for k in range(5)])
    subs = [(f"s{k}", a, "graded", "") for k in range(5) for a in "AB"]
    data = load(write_class(tmp_path, rows, subs))
    top = next_class(data)
    assert [(m.assignment, m.item, len(m.students)) for m in top] == [("B", "h", 5), ("A", "f", 2)]
    assert [(m.item, m.attempted) for m in mistakes(data, "A")] == [("g", False), ("f", True)]
