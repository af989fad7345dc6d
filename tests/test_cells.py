"""Are student cells compiled as their kernel compiles them, and do errors point at their lines?"""
from __future__ import annotations  # the grader's own flag: it must not reach the student's cells

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from autograder.calls import call
from autograder.cells import CellCompiler
from autograder.cleanroom.session import Limits, Session

UNDEFINED_ANNOTATION = "def h(x: Undefined) -> int:\n    return 1\n"
PROGRAMS = {
    "an annotation naming an undefined type": [UNDEFINED_ANNOTATION],
    "the same after the student's own __future__ import": ["from __future__ import annotations\n",
                                                           UNDEFINED_ANNOTATION],
    "a future import in the same cell": ["from __future__ import annotations\n" + UNDEFINED_ANNOTATION],
    "annotations read at run time": ["def k(x: int) -> int:\n    return x\n",
                                     "assert k.__annotations__['x'] is int\n"],
}


@pytest.fixture(scope="module")
def session(zygote):
    sessions = []

    def make():
        sessions.append(Session(zygote(), {}, Limits(cell=20)))
        return sessions[-1]
    yield make
    for s in sessions:
        s.close()


def kernel_errors(cells: list[str]) -> list:
    """The exception name each cell raises in a real Jupyter kernel (None when it runs)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return [next((o["ename"] for o in c.outputs if o["output_type"] == "error"), None) for c in nb.cells]


@pytest.mark.slow
def test_cells_fail_in_the_grader_exactly_as_in_a_real_kernel(session):
    """Does each program raise (or not) in the clean room exactly as in a Jupyter kernel?"""
    for name, cells in PROGRAMS.items():
        s = session()
        ours = [(s.exec_cell(f"c{i}", c).get("error") or [None])[0] for i, c in enumerate(cells)]
        assert ours == kernel_errors(cells), name
    assert kernel_errors(PROGRAMS["an annotation naming an undefined type"]) == ["NameError"]


def test_the_compiler_keeps_the_students_future_imports_only():
    """Is the grader's own `from __future__ import annotations` (this file's) never inherited?"""
    compile_cell, ns = CellCompiler(), {}
    with pytest.raises(NameError):
        exec(compile_cell(UNDEFINED_ANNOTATION, "a"), ns)
    exec(compile_cell("from __future__ import annotations\n", "b"), ns)
    exec(compile_cell(UNDEFINED_ANNOTATION, "c"), ns)
    assert ns["h"].__annotations__ == {"x": "Undefined", "return": "int"}


def test_a_crash_message_shows_the_students_line_not_torchs(session):
    """Does an error raised inside torch point at the deepest line of the student's cell, with its text?"""
    s = session()
    s.exec_cell("helpers", "import torch\ndef scores_of(W, X):\n    return X @ W\n")
    reply = s.exec_cell("svm_naive", "def loss(W, X):\n    s = scores_of(W, X)\n    return s.sum()\n"
                        "loss(torch.ones(4, 2), torch.ones(3, 5))\n")
    assert reply["error"][0] == "RuntimeError"
    assert reply["where"] == "in scores_of, cell helpers line 3: `return X @ W`"


def test_a_failing_call_names_function_cell_line_and_text():
    """In-process too: 'in f, cell c line 4: `text` → IndexError: ...'."""
    ns = {}
    exec(CellCompiler()("import torch\ndef f(scores, j):\n    margins = torch.zeros(3)\n"
                        "    margins[j] = scores[j] - 1\n    return margins\n", "svm_naive"), ns)
    out = call(ns["f"], ("scores", "j"), (torch.ones(3), 7))
    text = out.describe_exception()
    assert text.startswith("in f, cell svm_naive line 4: `margins[j] = scores[j] - 1` → IndexError: ")


NEWER = {
    "nested quotes in an f-string": ('d = {"k": 1}\nprint(f"{d["k"]}")\n', "f-string", 2),
    "a type alias statement": ("type Vec = list[float]\n", "`type X = ...`", 1),
    "PEP 695 generics": ("def first[T](xs: list[T]) -> T:\n    return xs[0]\n", "generic", 1),
}


@pytest.mark.parametrize("name", list(NEWER))
def test_newer_syntax_says_which_python_grades_and_what_to_change(session, name):
    """Does 3.12 syntax fail with the grader's Python version, the construct and a fix?"""
    source, what, line = NEWER[name]
    reply = session().exec_cell("c", source)
    kind, message = reply["error"]
    assert kind == "SyntaxError" and what in message and "Python 3.12" in message
    assert "graded with Python 3.11" in message and reply["where"].startswith(f"cell c line {line}: `")


def test_plain_syntax_errors_get_no_version_hint(session):
    """An unclosed bracket or a bad f-string conversion is wrong in every Python: no version talk."""
    reply = session().exec_cell("c", "x = (1,\n")
    assert reply["error"][0] == "SyntaxError" and "Python" not in reply["error"][1]
    assert reply["where"] == "cell c line 1: `x = (1,`"
    reply = session().exec_cell("d", 'a = 1\nx = f"{a!z}"\n')
    assert reply["error"][0] == "SyntaxError" and "f-string" in reply["error"][1]
    assert "Python" not in reply["error"][1]


def test_a_forged_syntax_error_still_gets_a_verdict(session):
    """A SyntaxError raised by hand with odd fields is reported, not a crash of the clean room."""
    reply = session().exec_cell("c", "e = SyntaxError('x')\ne.text = 42\ne.lineno = 'one'\nraise e\n")
    assert reply["error"][0] == "SyntaxError"
