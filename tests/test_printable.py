"""Terminal control characters from a student become visible escapes (grading/printable.py),
in CSV cells (csvcells.py), the log, and feedback outputs (cleantracebacks.py)."""
from __future__ import annotations

import io
import sys

import nbformat
from hypothesis import given
from hypothesis import strategies as st

from autograder.grading.cleantracebacks import CleanGradeTracebacks
from autograder.grading.csvcells import safe_cell
from autograder.grading.printable import visible, visible_keeping_colours

ATTACK = "\x1b]52;c;ZWNobyBQV05FRA==\x07\x1b]0;PWNED\x07\x1b]8;;http://evil/\x07x\x1b]8;;\x07\x1b[2J\x9b2J\rfake\u202eabc"


def controls(text: str) -> list[str]:
    return [ch for ch in text if not ch.isprintable() and ch not in "\n\t"]


@given(st.text())
def test_nothing_that_acts_is_left_and_plain_text_is_kept(text):
    shown = visible(text)
    assert controls(shown) == []
    if text.isprintable():
        assert shown == text


def test_each_escape_is_shown_not_dropped():
    shown = visible(ATTACK + "\nline 2\tcolumn é 名")
    assert shown.startswith("\\x1b]52;c;ZWNobyBQV05FRA==\\x07\\x1b]0;PWNED")
    assert "\\x9b2J" in shown and "\\rfake" in shown and "\\u202eabc" in shown
    assert shown.endswith("\nline 2\tcolumn é 名")
    assert visible_keeping_colours("\x1b[31mred\x1b[0m" + ATTACK).startswith("\x1b[31mred\x1b[0m\\x1b]52")
    assert controls(safe_cell("=" + ATTACK)) == [] and safe_cell("=" + ATTACK).startswith("'=")


def test_feedback_outputs_show_escapes_as_text():
    cell = nbformat.v4.new_code_cell("x", metadata={"nbgrader": {"grade": True, "grade_id": "t", "points": 1}})
    cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue=ATTACK, traceback=["\x1b[31m" + ATTACK]),
                    nbformat.v4.new_output("stream", name="stdout", text=ATTACK),
                    nbformat.v4.new_output("execute_result", data={"text/plain": ATTACK}, execution_count=1)]
    answer = nbformat.v4.new_code_cell("y")
    answer.outputs = [nbformat.v4.new_output("error", ename="E", evalue="e", traceback=["\x1b[31mred\x1b[0m" + ATTACK])]
    nb = nbformat.v4.new_notebook(cells=[cell, answer])
    nb, _ = CleanGradeTracebacks().preprocess(nb, {})
    texts = [nb.cells[0].outputs[0].evalue, *nb.cells[0].outputs[0].traceback, nb.cells[0].outputs[1].text,
             nb.cells[0].outputs[2].data["text/plain"], *nb.cells[1].outputs[0].traceback]
    assert all(controls(t.replace("\x1b[31m", "").replace("\x1b[0m", "")) == [] for t in texts), texts
    assert nb.cells[1].outputs[0].traceback[0].startswith("\x1b[31mred\x1b[0m\\x1b]52")  # colours stay


def test_the_log_of_make_grade_shows_escapes(monkeypatch):
    from autograder.grading.pipeline import GradeRun
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    GradeRun.log(None, f"h-{ATTACK}/knn: graded")
    assert controls(err.getvalue()) == [] and "\\x1b]0;PWNED" in err.getvalue()
