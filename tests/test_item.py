"""checks.item: pure_cases items make their cases once per process (a grading worker), and
every run still gets cases equal to freshly made ones, its own copies, the same RNG after."""
from __future__ import annotations

import copy
import sys

import pytest
import torch

from autograder.calls import seed
from autograder.checks import item as itemmod
from autograder.checks import items
from autograder.checks.item import item_cases, item_seed
from autograder.corpus import entries
from autograder.corpus.notebooks import functions
from autograder.kernel import check
from autograder.layout import assignments

PURE = [(a, name) for a in assignments() for name, it in items(a).items() if it.pure_cases]


def same(a, b) -> bool:
    """Structural equality: tensors by dtype, device, shape, strides and values."""
    if torch.is_tensor(a):
        return (torch.is_tensor(b) and (a.dtype, a.device, a.shape, a.stride()) == (b.dtype, b.device, b.shape, b.stride())
                and a.requires_grad == b.requires_grad and torch.equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and same(vars(a), vars(b))
    return a is b or a == b


def module_state() -> dict:
    """Every value a checks module holds at its top level (not its functions and classes)."""
    return {(m, k): v for m, mod in list(sys.modules.items()) if m.startswith("autograder.checks")
            for k, v in vars(mod).items() if not (callable(v) or k.startswith("__") or type(v).__name__ == "module")}


def snapshot(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        try:
            copied = copy.deepcopy(value)
        except Exception:  # noqa: BLE001 (not copyable: compared by identity only)
            copied = value
        out[key] = (value, copied if same(copied, value) else value)  # no equality: identity only
    return out


def changed(before: dict) -> list:
    now = module_state()
    return [k for k, (obj, kept) in before.items() if now.get(k) is not obj or not same(kept, obj)]


def test_an_item_whose_cases_reset_state_is_seen_by_this_test():
    """The detector below can fail: find_best_net's cases clear what its judge reads."""
    item = items("two_layer_net")["find_best_net"]
    from autograder.checks.two_layer_training import TRAINED
    TRAINED.append(("params", 0.5))
    before = snapshot(module_state())
    item.cases()
    assert changed(before) and not item.pure_cases


@pytest.mark.parametrize("assignment,name", PURE)
def test_pure_cases_depend_on_the_seed_only_and_change_no_state(assignment, name):
    item = items(assignment)[name]
    before = snapshot(module_state())
    seed(item_seed(item))
    first, after_first = item.cases(), torch.random.get_rng_state()
    seed(item_seed(item))
    second = item.cases()
    assert same(first, second) and torch.equal(after_first, torch.random.get_rng_state())
    assert changed(before) == []


@pytest.mark.parametrize("assignment,name", PURE)
def test_a_cached_run_gets_its_own_copies_equal_to_fresh_ones(assignment, name, monkeypatch):
    item = items(assignment)[name]
    monkeypatch.setattr(itemmod, "_MADE", {})
    seed(item_seed(item))
    fresh, rng = item.cases(), torch.random.get_rng_state()
    for _ in range(3):  # the first call makes them, the next ones copy (each after a run changed its own)
        seed(item_seed(item))
        got = item_cases(item)
        assert same(got, fresh) and torch.equal(torch.random.get_rng_state(), rng)
        for case in got:  # what a judge or the clean room's write-back does to a run's cases
            for arg in case.args:
                for t in arg.values() if isinstance(arg, dict) else [arg]:
                    if torch.is_tensor(t):
                        t.add_(1)
            if isinstance(case.extra.get("split"), dict):
                case.extra["split"]["data_ok"] = True
    shared = [c.extra["split"] for c in got if "split" in c.extra]
    assert len(shared) in (0, 2) and (not shared or shared[0] is shared[1])  # the reg = 0 twin still shares


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted({a for a, _ in PURE}))
def test_verdicts_with_made_once_cases_are_the_verdicts_without(assignment, monkeypatch):
    """Every corpus bug of a pure item on that item (its message uses the cases' shared scratch
    dicts), and the reference on all of them: the same status and message, cached or not."""
    pure = [name for a, name in PURE if a == assignment]
    runs = [(functions(e.notebook(assignment)), [n for n in pure if e.name == "ok-reference" or n in e.fails])
            for e in entries(assignment) if e.status == "graded" and e.in_process]
    runs = [(ns, names) for ns, names in runs if names]
    monkeypatch.setattr(itemmod, "_MADE", {})
    cached = [[check(assignment, name, ns.get(name)) for name in names] for ns, names in runs]
    assert len(itemmod._MADE) == len(pure)
    monkeypatch.setattr(itemmod, "item_cases", lambda item: item.cases())
    fresh = [[check(assignment, name, ns.get(name)) for name in names] for ns, names in runs]
    assert [[(v.status, v.message) for v in row] for row in cached] == [[(v.status, v.message) for v in row] for row in fresh]
    assert any(v.status == "failed" and "." in v.message for row in fresh for v in row)  # bugs were judged
