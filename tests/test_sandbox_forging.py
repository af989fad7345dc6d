"""Forged facts: a submission that changes the grader's code beside it in the clean room.

Each attack of autograder/corpus/attacks_forging.py breaks a rule or gets an answer wrong and
then tries to hide it by changing what the grader's code in its process reports. It is graded
through the runner's session (given cells, every answer cell, then its one item), and must get
the status the attack hides, or `error` with the message that it changed the grader's code:
never the pass it forged. Honest code that looks a little like an attack keeps its pass.
"""
from __future__ import annotations

import pytest
import torch

from autograder.checks import given as given_cells, items
from autograder.cleanroom import codec, seal
from autograder.cleanroom.runner import NotebookResult, answer_id, ipython_to_python, run_answers, verdict_for
from autograder.cleanroom.session import Session
from autograder.corpus.attacks_forging import FORGES, TAMPERED
from autograder.corpus.notebooks import answers, read
from autograder.layout import SOURCE
from autograder.static import definitions_only


def grade_items(zygote, assignment: str, replace: dict, names: tuple) -> tuple[dict, list]:
    """Verdicts of some items of a notebook (its solutions, some cells replaced), and the notes."""
    nb = read(SOURCE / assignment / f"{assignment}.ipynb")
    given = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
             if c["metadata"].get("nbgrader", {}).get("grade_id") in given_cells(assignment)}
    files = {p.name: p.read_bytes() for p in (SOURCE / assignment).iterdir() if p.suffix == ".py"}
    cells = {**answers(assignment), **replace}
    session = Session(zygote(), files)
    try:
        for cell_id in given_cells(assignment):
            assert session.exec_cell(cell_id, definitions_only(ipython_to_python(given[cell_id]))) == {}
        result = NotebookResult()
        reports = run_answers(session, assignment, cells, result)
        return {name: verdict_for(session, items(assignment)[name], reports[answer_id(name)], list(cells.values()),
                                  cells[answer_id(name)]) for name in names}, result.notes
    finally:
        session.close()


@pytest.mark.parametrize("forge", FORGES, ids=[f.name for f in FORGES])
def test_a_forged_fact_is_caught(zygote, forge):
    """Does the item get the verdict the forgery hides (or `error`: the grader's code was
    changed), with a message that says so, instead of the pass it forged?"""
    verdicts, notes = grade_items(zygote, forge.assignment, {answer_id(forge.item): forge.cell}, (forge.item,))
    verdict = verdicts[forge.item]
    assert (verdict.status, forge.says in verdict.message) == (forge.expect, True), (forge.note, verdict.message)
    if forge.expect == "error":  # named: where, and what was changed
        assert "could not be graded" in verdict.message and "(" in verdict.message.split(TAMPERED)[1]


def test_one_tampering_cell_fails_every_item_closed_and_tells_the_ta(zygote):
    """After a cell changed the grader's code, is every item an error with that message (none a
    pass or a silent zero), and does the TA's note name the cell?"""
    forge = next(f for f in FORGES if f.name == "forge-address")
    names = ("flatten_images", "compute_distances_no_loops", "predict_labels")
    verdicts, notes = grade_items(zygote, "knn", {answer_id(forge.item): forge.cell}, names)
    assert {v.status for v in verdicts.values()} == {"error"}
    assert all(TAMPERED in v.message and "flatten_images_code" in v.message for v in verdicts.values())
    assert any("flatten_images_code" in n and "_ADDRESS" in n for n in notes)


HONEST = [  # (assignment, item, appended code): patches of the student's own world, not the grader's
    ("linear_classifiers", "svm_loss_naive", "import torch\ntorch.Tensor.allclose = lambda self, *a, **k: True\n"
                                             "torch.manual_seed(3)\nimport gc\ngc.collect()\n"),
    ("knn", "flatten_images", "import sys\n_names = sorted(m for m in sys.modules if m.startswith('autograder'))\n"
                              "import torch.autograd\n_grad = torch.autograd.grad\n"),
    ("backprop_basics", "two_layer_loss_modular", "import json\n_text = json.dumps({'a': 1})\n"
                                                  "torch.autograd.set_detect_anomaly(False)\n"),
]


@pytest.mark.parametrize("assignment, item, code", HONEST, ids=[h[1] for h in HONEST])
def test_honest_code_that_reads_or_patches_its_own_world_keeps_its_pass(zygote, assignment, item, code):
    """Reading sys.modules, collecting garbage, patching torch.Tensor.allclose, using json or
    torch.autograd's switches is no tampering: the seal must not fire on it."""
    cell = answers(assignment)[answer_id(item)] + "\n" + code
    verdicts, _ = grade_items(zygote, assignment, {answer_id(item): cell}, (item,))
    assert verdicts[item].status == "passed", verdicts[item].message


def test_the_seal_sees_each_kind_of_change_and_nothing_else():
    """Rebinding, a new name, replaced code/defaults/closure, a refilled table, a changed class:
    each is named; the same modules untouched, or a grow-only cache filled, are not."""
    import types
    module = types.ModuleType("fake_grader")
    exec("TABLE = {'a': 1}\n_COMPILED = {}\nITEMS = [1, 2]\n"
         "def f(x=1):\n    return x\n"
         "def outer():\n    y = 2\n    def inner():\n        return y\n    return inner\n"
         "inner = outer()\n"
         "class K:\n    def m(self):\n        return 1\n", vars(module))
    module.__name__ = "fake_grader"
    for value in vars(module).values():
        if hasattr(value, "__module__"):
            try:
                value.__module__ = "fake_grader"
            except (AttributeError, TypeError):
                pass
    records = seal.take([module])
    assert seal.broken(records) is None
    module._COMPILED["key"] = object()
    assert seal.broken(records) is None
    changes = [("TABLE", lambda: module.TABLE.update(a=2)), ("f", lambda: setattr(module.f, "__defaults__", (2,))),
               ("f", lambda: setattr(module.f, "__code__", (lambda x=1: 2).__code__)),
               ("inner", lambda: setattr(module.inner.__closure__[0], "cell_contents", 3)),
               ("K", lambda: setattr(module.K, "m", lambda self: 2)), ("ITEMS", lambda: module.ITEMS.append(3)),
               ("new", lambda: setattr(module, "len", lambda x: 0)), ("f", lambda: setattr(module, "f", print))]
    for name, change in changes:
        saved = {k: (v.copy() if isinstance(v, (dict, list)) else v) for k, v in vars(module).items()}
        state = (module.f.__code__, module.f.__defaults__, module.inner.__closure__[0].cell_contents, dict(vars(module.K)))
        change()
        what = seal.broken(records)
        assert what is not None and (name in what or "added" in what), (name, what)
        for k in [k for k in vars(module) if k not in saved]:  # undo, for the next change
            delattr(module, k)
        for k, v in saved.items():
            target = getattr(module, k)
            if isinstance(v, (dict, list)) and type(target) is type(v) and k != "_COMPILED":
                target.clear() if isinstance(target, list) else target.clear()
                target.extend(v) if isinstance(target, list) else target.update(v)
            else:
                setattr(module, k, v)
        module.f.__code__, module.f.__defaults__ = state[0], state[1]
        module.inner.__closure__[0].cell_contents = state[2]
        module.K.m = state[3]["m"]
        assert seal.broken(records) is None, name


def test_the_encoder_runs_none_of_the_students_code():
    """A str/float/dict/list subclass and an object with __getattr__ and a lying __class__ are
    read through their base types (or as a placeholder) without running their methods."""
    ran = []

    class Loud(float):
        def __float__(self):
            ran.append("float")
            return 1.0

    class Items(dict):
        def items(self):
            ran.append("items")
            return iter([("forged", 1)])

    class Listy(list):
        def __iter__(self):
            ran.append("iter")
            return iter([0])

    class Sly:
        def __getattr__(self, name):
            ran.append(name)
            return True

        @property
        def __class__(self):
            ran.append("__class__")
            return torch.Tensor

    class Sub(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            ran.append("torch_function")
            return super().__torch_function__(func, types, args, kwargs or {})

    value = (Loud(2.5), Items(a=1), Listy([1, 2]), Sly(), torch.arange(3.0).as_subclass(Sub))
    from autograder.cleanroom.sandbox import export
    enc = codec.Encoder(export)
    body = enc.encode(value)
    decoded = codec.Decoder(enc.buffers).decode(body)
    assert ran == []
    assert decoded[:3] == (2.5, {"a": 1}, [1, 2]) and type(decoded[3]).__name__ == "Sly"
    assert torch.equal(decoded[4], torch.arange(3.0))
