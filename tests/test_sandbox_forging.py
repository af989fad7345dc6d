"""Forged facts: a submission that changes the grader's code beside it in the clean room.

Each attack of autograder/corpus/attacks_forging.py breaks a rule or gets an answer wrong and
then tries to hide it by changing what the grader's code in its process reports. It is graded
through the runner's session (given cells, every answer cell, then its one item), and must get
the status the attack hides, or `error` with the message that it changed the grader's code:
never the pass it forged. Honest code that looks a little like an attack keeps its pass.
"""
from __future__ import annotations

import collections

import pytest
import torch

from autograder.checks import given as given_cells, items
from autograder.cleanroom import codec, seal
from autograder.cleanroom.runner import (NotebookResult, answer_id, fail_closed, ipython_to_python, run_answers,
                                         verdict_for)
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
            assert "error" not in session.exec_cell(cell_id, definitions_only(ipython_to_python(given[cell_id])))
        result = NotebookResult()
        reports = run_answers(session, assignment, cells, result)
        result.verdicts = {name: verdict_for(session, items(assignment)[name], reports[answer_id(name)],
                                             list(cells.values()), cells[answer_id(name)]) for name in names}
        fail_closed(session, result)
        return result.verdicts, result.notes
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
        assert "could not be graded" in verdict.message and TAMPERED in verdict.message


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


FAKE_GRADER = """
TABLE = {"a": 1}
_COMPILED = {}
ITEMS = [1, 2]
def f(x=1):
    return x
def outer():
    y = 2
    def inner():
        return y
    return inner
inner = outer()
class K:
    def m(self):
        return 1
"""


def _fake_grader():
    import types
    module = types.ModuleType("fake_grader")
    exec(compile(FAKE_GRADER, "fake_grader", "exec"), vars(module))
    module.f.__module__ = module.inner.__module__ = module.K.__module__ = "fake_grader"
    return module, seal.take([module])


CHANGES = {  # what the student's code does -> a piece of what the seal says
    "rebind": (lambda m: setattr(m, "f", print), "fake_grader.f (rebound"),
    "new name": (lambda m: setattr(m, "len", lambda x: 0), "name was added"),
    "code": (lambda m: setattr(m.f, "__code__", (lambda x=1: 2).__code__), "fake_grader.f (its code"),
    "defaults": (lambda m: setattr(m.f, "__defaults__", (2,)), "fake_grader.f (its default"),
    "closure": (lambda m: setattr(m.inner.__closure__[0], "cell_contents", 3), "closure variable y"),
    "class": (lambda m: setattr(m.K, "m", lambda self: 2), "fake_grader.K.m"),
    "table": (lambda m: m.TABLE.update(a=2), "fake_grader.TABLE['a']"),
    "table entry": (lambda m: m.TABLE.update(b=2), "an entry was added"),
    "list": (lambda m: m.ITEMS.append(3), "fake_grader.ITEMS"),
    "cache poisoned": (lambda m: (m._COMPILED.update(k=1), m._COMPILED.update(k=2)), None),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_the_seal_names_each_kind_of_change(change):
    """Rebinding, a new name, replaced code/defaults/closure, a changed class, a refilled table:
    each is named. (A grow-only cache may gain keys: see the next test.)"""
    module, records = _fake_grader()
    assert seal.broken(records) is None
    act, says = CHANGES[change]
    act(module)
    if says is None:  # _COMPILED grows; a key that was there when sealed would be checked
        assert seal.broken(records) is None
        return
    assert says in (seal.broken(records) or ""), seal.broken(records)


def test_a_cache_key_the_seal_saw_may_not_change():
    module, _ = _fake_grader()
    module._COMPILED["k"] = 1
    records = seal.take([module])
    module._COMPILED["other"] = 2
    assert seal.broken(records) is None
    module._COMPILED["k"] = 3
    assert "_COMPILED['k']" in seal.broken(records)


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

    class Endless(tuple):
        def __iter__(self):
            ran.append("hangs")
            return iter([])

    Pair = collections.namedtuple("Pair", "loss grad")
    value = (Loud(2.5), Items(a=1), Listy([1, 2]), Sly(), torch.arange(3.0).as_subclass(Sub), Endless((1, 2)),
             Pair(1.0, 2.0), collections.OrderedDict(a=1), torch.tensor([1.0, 3.0]).max(0))
    from autograder.cleanroom.sandbox import export
    enc = codec.Encoder(export)
    body = enc.encode(value)
    decoded = codec.Decoder(enc.buffers).decode(body)
    assert ran == []
    # a container that reads its items with code of its own is a placeholder (its caller would
    # not get what its base type holds); a float subclass is its number; a namedtuple its items
    assert [type(d).__name__ for d in decoded[:6]] == ["float", "Items", "Listy", "Sly", "Tensor", "Endless"]
    assert decoded[0] == 2.5 and torch.equal(decoded[4], torch.arange(3.0))
    assert decoded[6:8] == ((1.0, 2.0), {"a": 1}) and torch.equal(decoded[8][0], torch.tensor(3.0))
