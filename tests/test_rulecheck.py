"""Does the notebooks' check_rules (autograder/rulecheck.py, shipped as release/<a>/rulecheck.py)
say what the grader says about a function's source, with the grader's own rule modules?

In-process: every corpus variant whose items have rules (rule_variants, real code, bugs and
correct styles), the helper reading the cells as a kernel has them (the whole notebook run
top to bottom, IPython's In) against the grader reading the answer cells. Then in a student's
folder: a copy of release/<a>/ alone, in a real IPython shell in a fresh process where the kit
is not importable.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from autograder import rulecheck
from autograder.checks import items
from autograder.checks.item import static_problems
from autograder.corpus import entries, real_code, rule_variants
from autograder.corpus.notebooks import SOLUTION_MARKER, functions
from autograder.layout import assignments
from autograder.static import definition_source
from helpers import REPO

RULED = [a for a in assignments() if any(i.rules for i in items(a).values())]


def corpus(assignment):
    found = list(entries(assignment)) + real_code.ENTRIES.get(assignment, []) \
        + real_code.RULES.get(assignment, []) + rule_variants.ENTRIES.get(assignment, [])
    return [e for e in found if e.status == "graded" and not e.untouched]


@pytest.fixture
def shipped_table(monkeypatch):
    def use(assignment):
        table = json.loads((REPO / "release" / assignment / rulecheck.TABLE_FILE).read_text())
        monkeypatch.setattr(rulecheck, "TABLE", table)
        return table
    return use


def kernel_and_grader(assignment, entry):
    """(In as a kernel that ran every code cell has it, the answer cells the grader reads,
    the functions defined)."""
    nb = entry.notebook(assignment)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    history = ["", *(SOLUTION_MARKER.sub("", "".join(c["source"])) for c in code)]
    answers = [SOLUTION_MARKER.sub("", "".join(c["source"])) for c in code
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ns = functions(nb)
    except Exception:  # noqa: BLE001 (a variant whose cell fails in the kernel too: no function)
        ns = {}
    return history, answers, ns


@pytest.mark.parametrize("assignment", RULED)
def test_same_verdict_and_message_as_the_grader_on_every_variant(assignment, shipped_table):
    """On every corpus variant and every item with rules: check_rules's message is the grader's
    (None for both when the source follows the rules)."""
    table = shipped_table(assignment)
    checked = bad = 0
    for entry in corpus(assignment):
        history, answers, ns = kernel_and_grader(assignment, entry)
        for name in table["items"]:
            item = items(assignment)[name]
            # the stated rules (an item's own source rule, e.g. knn's loop structure, has its own check)
            grader = static_problems(replace(item, static=None), definition_source(answers, name), answers)
            helper = rulecheck.problems(ns.get(name), name, cells=history)
            assert helper == grader, (entry.name, name)
            checked += 1
            bad += grader is not None
        if entry.name.startswith("rules-bad") and set(entry.fails) & set(table["items"]) \
                and entry.item_status == "failed":
            assert any(rulecheck.problems(ns.get(n), n, cells=history) for n in entry.fails), entry.name
    assert checked > 50 and bad >= 2


def test_the_notebooks_own_cells_are_not_read_as_answers(shipped_table):
    """A notebook cell (fingerprinted at release) with exec() at its top level would be a hidden
    definition if it were the student's; the helper leaves the notebook's cells out, as the grader."""
    shipped_table("backprop_basics")
    own = "exec('x = 1')\n"
    rulecheck.TABLE = {**rulecheck.TABLE, "given": [*rulecheck.TABLE["given"], rulecheck.fingerprint(own)]}
    answer = "def relu_backward(x, grad_y):\n    return grad_y * helper(x)\n"
    assert rulecheck.problems(None, "relu_backward", cells=[own, answer]) is None
    assert "exec()" in rulecheck.problems(None, "relu_backward", cells=["exec('x = 1')  # mine\n", answer])


def test_check_rules_prints_ok_wrong_and_what_it_cannot_check(shipped_table, capsys):
    shipped_table("linear_classifiers")
    ns = {"_ih": ["", "def svm_loss_vectorized(W, X, y, reg):\n    for _ in y:\n        pass\n    return 0, W\n"]}
    exec(ns["_ih"][1], ns)  # noqa: S102 (a test's own cell)
    assert rulecheck.check_rules(ns["svm_loss_vectorized"]) is False
    assert capsys.readouterr().out.startswith("WRONG: `svm_loss_vectorized` may not use a Python loop")
    ns["_ih"].append("def svm_loss_vectorized(W, X, y, reg):\n    return (W * 0).sum(), W\n")
    exec(ns["_ih"][2], ns)  # noqa: S102 (redefined: the last definition is what runs)
    assert rulecheck.check_rules(ns["svm_loss_vectorized"]) is True
    assert capsys.readouterr().out.startswith("OK: `svm_loss_vectorized` follows the rules")
    table = shipped_table("backprop_basics")  # an item whose only rule is code in its checks module:
    rulecheck.TABLE = {**table, "unchecked": ["two_layer_loss_modular"]}  # (its stated rules are checked)
    rulecheck.check_rules(len, "two_layer_loss_modular")
    assert capsys.readouterr().out.startswith("NOTE: check_rules cannot check `two_layer_loss_modular`")


def test_the_table_is_the_graders_rule_records():
    """rulecheck_items.json holds the very Rule records of the checks modules (the shared ones and
    kNN's own), not another list."""
    for a in RULED:
        table = json.loads((REPO / "release" / a / rulecheck.TABLE_FILE).read_text())
        for name, entry in table["items"].items():
            assert [rulecheck.Rule(**{k: tuple(v) if isinstance(v, list) else v for k, v in r.items()})
                    for r in entry["rules"]] == list(items(a)[name].rules)


def test_the_shipped_modules_are_the_graders():
    """The rulecheck_*.py files beside each source notebook are links to the grader's modules."""
    for a in RULED:
        folder = REPO / "assignments" / a
        for name, target in [("rulecheck", "autograder/rulecheck.py"), ("rulecheck_static", "autograder/static.py"),
                             ("rulecheck_names", "autograder/names.py"), ("rulecheck_bytecache", "autograder/bytecache.py"),
                             ("rulecheck_rules", "autograder/checks/rules.py")]:
            path = folder / f"{name}.py"
            assert path.is_symlink() and path.resolve() == (REPO / target).resolve(), path


# --- in a student's folder: the release folder alone, a real IPython shell, no kit ----------

def variant_cells(assignment, entry):
    """The cells a student runs (setup, answers, then the check_rules line of each check cell)
    and the line check_rules must print for each: the grader's verdict and message."""
    nb = entry.notebook(assignment)
    code = [(c.get("metadata", {}).get("nbgrader", {}), SOLUTION_MARKER.sub("", "".join(c["source"])))
            for c in nb["cells"] if c["cell_type"] == "code"]
    cells = [s for m, s in code if m.get("grade_id") == "setup" or m.get("solution")]
    checks = [s for m, s in code if "check_rules(" in s and not m.get("solution")]
    cells += ["from rulecheck import check_rules\n" + s.split("\n", 3)[2] + "\n" for s in checks]
    _, answers, _ = kernel_and_grader(assignment, entry)
    expected = []
    for s in checks:
        name = s.split("check_rules(", 1)[1].split(")", 1)[0]
        grader = static_problems(replace(items(assignment)[name], static=None), definition_source(answers, name), answers)
        expected.append("WRONG: " + grader if grader else f"OK: `{name}` follows")
    return cells, expected


def printed_rules(lines):
    return [line for line in lines if line.startswith(("OK: `", "WRONG: `")) and ("rules" in line or "may not" in line)]


SHELL = r'''
import json, os, sys
# a student's Python: the kit's editable install and checkout are not there
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in str(getattr(f, "__module__", ""))]
sys.path[:] = [p for p in sys.path if not p.startswith(sys.argv[2]) or p.startswith(sys.argv[2] + "/.venv")]
from IPython.core.interactiveshell import InteractiveShell
assert "autograder" not in sys.modules
try:
    import autograder
    raise SystemExit("the kit is importable")
except ImportError:
    pass
shell = InteractiveShell.instance()
for variant in json.load(open(sys.argv[1])):
    shell.reset(new_session=True)
    for source in variant:
        shell.run_cell(source, store_history=True)  # as a Jupyter kernel does: In keeps every cell
    print("=====")
'''


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ["linear_classifiers", "two_layer_net", "backprop_basics", "knn"])
def test_in_a_copy_of_the_release_folder_as_a_student_runs_it(assignment, tmp_path, shipped_table):
    """The notebook's setup cell, the answer cells, then each visible check cell that calls
    check_rules, in IPython (its In history, its cell files) in a copy of release/<a>/ with
    nothing of the kit importable: the line printed is the grader's verdict and message."""
    table = shipped_table(assignment)
    folder = tmp_path / assignment
    shutil.copytree(REPO / "release" / assignment, folder)
    variants, expected = [], []
    chosen = [e for e in corpus(assignment) if e.name.startswith("rules-") or "loop" in e.name
              or e.name.startswith("ok-")][:12]
    assert chosen
    for entry in chosen:
        cells, want = variant_cells(assignment, entry)
        variants.append(cells)
        expected += [(entry.name, w) for w in want]
    (tmp_path / "variants.json").write_text(json.dumps(variants))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    proc = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(folder)!r})\n" + SHELL,
                           str(tmp_path / "variants.json"), str(REPO)], cwd=folder, capture_output=True, text=True,
                          timeout=600, env={**env, "MPLBACKEND": "Agg", "NBGRADER_EXECUTION": "autograde"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = printed_rules(proc.stdout.splitlines())
    assert len(printed) == len(expected), proc.stdout[-3000:]
    for line, (entry, want) in zip(printed, expected):
        assert line.startswith(want), (entry, line, want)
    assert table["items"]


@pytest.mark.slow
def test_in_a_jupyter_kernel(tmp_path, shipped_table):
    """The same in a real Jupyter kernel (nbclient) in a copy of release/two_layer_net/: torch.relu
    kept in a dict of another cell is found through the kernel's In history, as by the grader."""
    from nbclient import NotebookClient
    import nbformat
    from bench.runall_bench import offline_env
    shipped_table("two_layer_net")
    entry = next(e for e in rule_variants.ENTRIES["two_layer_net"] if e.name == "rules-bad-backward-relu-in-a-dict")
    cells, expected = variant_cells("two_layer_net", entry)
    assert any(w.startswith("WRONG") and "OPS" in w for w in expected)
    folder = tmp_path / "two_layer_net"
    shutil.copytree(REPO / "release" / "two_layer_net", folder)
    (tmp_path / "home").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute(env=offline_env(tmp_path / "home"))
    lines = [line for c in nb.cells for o in c.outputs if o.get("output_type") == "stream"
             for line in o.get("text", "").splitlines()]
    printed = printed_rules(lines)
    assert len(printed) == len(expected), lines
    for line, want in zip(printed, expected):
        assert line.startswith(want), (line, want)
