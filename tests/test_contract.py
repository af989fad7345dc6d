"""The assignment contract (autograder/contract.py): every assignment keeps it, and a copy broken
in one place is refused with a message that names the place."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from autograder import checks, contract, corpus
from autograder.layout import REPO, SOURCE, assignments

A = "backprop_basics"


def notebook(assignment: str = A) -> dict:
    return json.loads((SOURCE / assignment / f"{assignment}.ipynb").read_text())


def cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def set_text(c: dict, old: str, new: str) -> None:
    text = "".join(c["source"])
    assert old in text, old
    c["source"] = text.replace(old, new, 1)


def checks_like(assignment: str = A, **changes) -> SimpleNamespace:
    """A stand-in checks module: the real ITEMS and GIVEN, with changes."""
    real = checks.module(assignment)
    return SimpleNamespace(**{"ITEMS": dict(real.ITEMS), "GIVEN": tuple(real.GIVEN), **changes})


def corpus_like(assignment: str = A, drop=(), **changes) -> SimpleNamespace:
    real = corpus.module(assignment)
    kept = [e for e in real.ENTRIES if e.name not in drop]
    return SimpleNamespace(**{"ENTRIES": kept, "DEMO": list(real.DEMO), **changes})


@pytest.mark.parametrize("assignment", assignments())
def test_every_assignment_keeps_the_contract(assignment):
    """Do the notebook, its checks and its corpus agree, and does make grade accept it?"""
    assert contract.problems(assignment) == []
    assert contract.refusal(assignment) is None


def test_a_grade_cell_with_no_check_is_refused_with_both_names():
    """A typo in a grade id: the cell has no check, and the check has no cell."""
    nb = notebook()
    cell(nb, "relu_backward")["metadata"]["nbgrader"]["grade_id"] = "relu_backwards"
    message = contract.refusal(A, nb)
    assert message.startswith(f"the grader refuses to grade {A}: ")
    assert "grade cell 'relu_backwards' has no check in autograder/checks/backprop_basics.py" in message
    assert "check 'relu_backward'" in message and "no grade cell 'relu_backward'" in message


def test_a_check_with_no_grade_cell_is_refused():
    """A check the notebook never calls could give no points: named."""
    items = {**checks.items(A), "softmax_backward": checks.items(A)["relu_backward"]}
    found = contract.notebook_problems(A, notebook(), checks_like(ITEMS=items))
    assert any("check 'softmax_backward'" in p and "no grade cell" in p for p in found), found


def test_a_check_with_no_answer_cell_is_refused():
    """The answer cell renamed, or no longer a solution cell: the clean room would find no code."""
    nb = notebook()
    cell(nb, "matmul_backward_code")["metadata"]["nbgrader"]["grade_id"] = "matmul_backward_answer"
    found = contract.notebook_problems(A, nb)
    assert found == ["check 'matmul_backward' has no answer cell 'matmul_backward_code' (an nbgrader "
                     "solution code cell) in the notebook: the clean room would find no student code for it"]
    nb = notebook()
    cell(nb, "Sigmoid_code")["metadata"]["nbgrader"]["solution"] = False
    assert any("answer cell 'Sigmoid_code'" in p for p in contract.notebook_problems(A, nb))


def test_an_item_named_unlike_its_key_is_refused():
    items = dict(checks.items(A))
    items["ReLU"] = items["relu_backward"]
    found = contract.notebook_problems(A, notebook(), checks_like(ITEMS=items))
    assert any("check 'ReLU' is an Item named 'relu_backward'" in p for p in found), found


def test_a_given_cell_missing_or_writable_is_refused():
    """GIVEN names a cell the notebook lacks, or one the student writes (it would run as trusted)."""
    found = contract.notebook_problems(A, notebook(), checks_like(GIVEN=("setup", "gates_v2")))
    assert found == ["given cell 'gates_v2' (GIVEN in autograder/checks/backprop_basics.py) is no cell of the notebook"]
    found = contract.notebook_problems(A, notebook(), checks_like(GIVEN=("setup", "relu_backward_code")))
    assert len(found) == 1 and "given cell 'relu_backward_code'" in found[0] and "not a read-only code cell" in found[0]
    nb = notebook()
    cell(nb, "gates")["metadata"]["nbgrader"]["locked"] = False
    assert any("given cell 'gates'" in p for p in contract.notebook_problems(A, nb))


def test_points_raised_in_the_metadata_disagree_with_every_text():
    """matmul_backward raised from 3 to 4 points in its metadata: its own line, Part 5's heading
    and the intro's table all say 3."""
    nb = notebook()
    cell(nb, "matmul_backward")["metadata"]["nbgrader"]["points"] = 4
    found = contract.notebook_problems(A, nb)
    assert found == [
        "grade cell 'matmul_backward' says 'Grader check for `matmul_backward` (3 points)', its metadata "
        "gives 4 points to 'matmul_backward'",
        "Part 5's heading says 3 points, its grade cells give 4 points",
        "the points table gives Part 5 3 points, its grade cells give 4 points"]
    assert "Part 5's heading" in contract.refusal(A, nb)


@pytest.mark.parametrize("grade_id,old,new,expected", [
    ("part6_md", "(4 points)", "(5 points)", "Part 6's heading says 5 points, its grade cells give 4 points"),
    ("intro", "| 8 | `ComputationalGraph`: forward in order, backward in reverse | 3 |",
     "| 8 | `ComputationalGraph`: forward in order, backward in reverse | 2 |",
     "the points table gives Part 8 2 points, its grade cells give 3 points"),
    ("intro", "| 10 | one written answer | 2 |\n", "",
     "the points table has no row for Part 10"),
    ("written_jacobian_question", "**Question (2 points).**", "**Question (3 points).**",
     "the question before answer cell 'written_jacobian' says 3 points, its metadata gives 2 points"),
    ("Multiply", "(1 points)", "(2 points)",
     "grade cell 'Multiply' says 'Grader check for `Multiply` (2 points)', its metadata gives 1 point to 'Multiply'"),
])
def test_points_in_the_text_disagreeing_with_the_metadata_are_refused(grade_id, old, new, expected):
    nb = notebook()
    set_text(cell(nb, grade_id), old, new)
    assert contract.notebook_problems(A, nb) == [expected]


def test_lettered_parts_are_read_too():
    """'## Part A (...)' (nbgrader's own style) is a part like 'Part 1': the table must name it."""
    nb = notebook()
    set_text(cell(nb, "part1_md"), "## Part 1: A first circuit", "## Part A: A first circuit")
    assert contract.notebook_problems(A, nb) == [
        "the points table has a row for Part 1, the notebook has no such part",
        "the points table has no row for Part A"]


def test_a_grade_cell_without_points_is_refused():
    nb = notebook()
    cell(nb, "jvp_from_vjp")["metadata"]["nbgrader"]["points"] = 0
    assert "grade cell 'jvp_from_vjp' has points 0 in its metadata: a grade cell needs points > 0" \
        in contract.notebook_problems(A, nb)


def test_an_item_with_no_bug_in_the_corpus_is_caught():
    """The corpus lost its relu_backward bugs: the contract test says so (make grade does not
    import the corpus)."""
    bugs = tuple(e.name for e in corpus.module(A).ENTRIES if "relu_backward" in e.fails and e.name.startswith("bug-"))
    broken = corpus_like(drop=bugs, DEMO=["ok-reference"])
    found = contract.problems(A, corpus_module=broken)
    assert found == ["autograder/corpus/backprop_basics.py has no bug entry for 'relu_backward' "
                     "(an Entry named 'bug-...' whose fails include it)"]


def test_a_corpus_without_reference_or_blank_or_with_stray_names_is_caught():
    real = corpus.module(A)
    blank = next(e for e in real.ENTRIES if e.name == contract.BLANK)
    partial_blank = copy.copy(blank)
    partial_blank.fails = blank.fails[:-1]
    entries = [e for e in real.ENTRIES if e.name not in (contract.REFERENCE, contract.BLANK)] + [partial_blank]
    found = contract.problems(A, corpus_module=SimpleNamespace(ENTRIES=entries, DEMO=["ok-reference", "bug-nope"]))
    assert any("no entry 'ok-reference'" in p for p in found)
    assert any("no entry 'blank-release'" in p for p in found)
    assert any("DEMO names 'bug-nope', which is no entry" in p for p in found)
    typo = copy.copy(next(e for e in real.ENTRIES if e.name == "bug-mul-gate-no-swap"))
    typo.fails = ("mul_gate_backwards",)
    found = contract.problems(A, corpus_module=corpus_like(drop=(typo.name,), ENTRIES=[*corpus_like().ENTRIES, typo]))
    assert any("fails 'mul_gate_backwards', which is no check" in p for p in found)


def test_an_assignment_without_checks_is_refused():
    message = contract.refusal("no_such_assignment")
    assert "no_such_assignment has no checks (autograder/checks/no_such_assignment.py" in message


def test_the_command_prints_the_problems_and_exits_1(monkeypatch, tmp_path, capsys):
    """`python -m autograder contract`: 0 on the repository; 1 and the problem on a broken copy."""
    proc = subprocess.run([sys.executable, "-m", "autograder", "contract"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(f"{a}: keeps the contract" in proc.stdout for a in assignments())
    from autograder.__main__ import main
    nb = notebook()
    set_text(cell(nb, "part6_md"), "(4 points)", "(5 points)")
    (tmp_path / A).mkdir()
    (tmp_path / A / f"{A}.ipynb").write_text(json.dumps(nb))
    monkeypatch.setattr(contract, "SOURCE", tmp_path)
    assert main(["contract", A]) == 1
    out = capsys.readouterr().out
    assert f"{A}: 1 problem(s)" in out and "Part 6's heading says 5 points" in out


def test_make_grade_refuses_a_broken_assignment(tmp_path, monkeypatch):
    """The pipeline (in this process, its workers real) with a source notebook whose points
    disagree: the submission gets status error with the refusal, 0 points on every item, and no
    stamp (it is graded once the course is fixed)."""
    from autograder.grading import pipeline, stamps
    from autograder.layout import Course
    nb = notebook()
    cell(nb, "relu_backward")["metadata"]["nbgrader"]["points"] = 5
    (tmp_path / "source" / A).mkdir(parents=True)
    (tmp_path / "source" / A / f"{A}.ipynb").write_text(json.dumps(nb))
    monkeypatch.setattr(contract, "SOURCE", tmp_path / "source")
    # spawned workers cannot see this process's patched SOURCE: the check runs here, as it does
    # when no worker is left (pipeline.refusals' fallback)
    monkeypatch.setattr(pipeline.workers, "refusals", None)
    reason = contract.refusal(A)
    assert reason and "Part 4's heading says 2 points, its grade cells give 5 points" in reason
    reference = next(e for e in corpus.entries(A) if e.name == contract.REFERENCE)
    course = tmp_path / "course"
    reference.write(course / "submitted", A)
    run = pipeline.grade(Course(course), jobs=1)
    assert [(o.student, o.assignment, o.status, o.text) for o in run.submissions] == [("ok-reference", A, "error", reason)]
    assert run.items and all(r.status == "error" and r.score == 0 and r.message == reason for r in run.items)
    assert stamps.read_stamp(Course(course), "ok-reference", A) is None
