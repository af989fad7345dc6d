"""checks.item.cases_of: an item's cases are made once per process, and every notebook gets
the very cases (and random state) that making them anew would give."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from autograder.calls import seed
from autograder.checks import items
from autograder.checks.item import Case, Item, cases_of, item_seed
from autograder.layout import assignments

ITEMS = [(a, name) for a in assignments() for name in items(a)]


def same(a, b) -> bool:
    """Equal values: tensors entry for entry (dtype, shape, device), functions by their code."""
    if torch.is_tensor(a):
        return torch.is_tensor(b) and (a.dtype, a.shape, a.device) == (b.dtype, b.shape, b.device) and \
            bool(torch.equal(a, b) or (a.isnan().any() and torch.equal(a.nan_to_num(), b.nan_to_num())))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if callable(a) and hasattr(a, "__code__"):
        return getattr(b, "__code__", None) is a.__code__
    if hasattr(a, "__dict__") and not isinstance(a, type):  # e.g. the lecture's gate objects
        return type(a) is type(b) and same(vars(a), vars(b))
    return type(a) is type(b) and (a == b or a is b)


@pytest.mark.parametrize("assignment,name", ITEMS)
def test_cached_cases_are_the_cases_made_anew(assignment, name):
    item = items(assignment)[name]
    seed(item_seed(item))
    fresh = item.cases()
    state = torch.random.default_generator.get_state()
    for _ in range(2):  # the first call makes and keeps them, the second copies what it kept
        torch.randn(7)  # whatever ran before: the item's seed still decides
        got = cases_of(item)
        assert same(got, fresh)
        assert torch.equal(torch.random.default_generator.get_state(), state)


def test_each_call_gets_its_own_copy_and_a_changed_item_new_cases():
    calls = []

    def cases():
        calls.append(1)
        return [Case("x", ("x",), (torch.zeros(2),), {"split": {}})]

    item = Item("f", cases, lambda case, outcome: None)
    first = cases_of(item)
    first[0].args[0].add_(1)  # what a local call, or a judge noting in extra, leaves behind
    first[0].extra["split"]["data_ok"] = True
    second = cases_of(item)
    assert torch.equal(second[0].args[0], torch.zeros(2)) and second[0].extra["split"] == {}
    assert len(calls) == 1
    item.cases = lambda: [Case("y", ("x",), (torch.ones(1),))]
    assert cases_of(item)[0].label == "y"
