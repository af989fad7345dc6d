"""An Item: cases the grader chooses, a judge of each outcome, optional static checks.

Checks are plain functions of data: cases() makes inputs, the student's function is called
on them (autograder.calls), judge(case, outcome) returns None or what is wrong. run() only
wires these together, so the calling can move to another process without changing a check.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

from ..calls import call
from ..static import banned_uses, function_source, loops
from ..verdict import ERROR, FAILED, PASSED, Verdict


@dataclass
class Case:
    """One call the grader makes: a label for messages, argument names and values."""
    label: str
    names: tuple
    args: tuple
    extra: dict = field(default_factory=dict)


@dataclass
class Item:
    """A graded function: how to test it and what counts as right."""
    name: str
    cases: Callable[[], list]
    judge: Callable[[Case, object], str | None]
    no_loops: bool = False      # vectorized: no Python loop or comprehension allowed
    flat_backprop: bool = False  # gradients by hand: no autograd, torch.nn, torch.relu
    no_grad: bool = True
    helpers: dict = field(default_factory=dict)  # grader versions of functions fn calls
    adapter: Callable | None = None  # turns what was submitted (e.g. a class) into a callable
    static: Callable | None = None   # extra source rule: source -> problem or None
    passed: str = "all hidden tests passed"


def static_problems(item: Item, source: str | None) -> str | None:
    """What the source breaks of the item's rules, or None."""
    if source is None:
        return None  # nothing to read (e.g. a builtin); the numeric checks still apply
    if item.static and (problem := item.static(source)):
        return problem
    if item.flat_backprop and (uses := banned_uses(source)):
        return (f"{item.name} must compute gradients by hand (flat backprop), but uses "
                + "; ".join(uses[:3]))
    if item.no_loops and (found := loops(source)):
        return (f"{item.name} must be vectorized (no Python loops or comprehensions), "
                f"but has: " + "; ".join(found[:3]))
    return None


def exception_verdict(name: str, case: Case, outcome) -> Verdict:
    """A raised exception: not implemented yet is a fail, anything else an error."""
    if isinstance(outcome.exception, NotImplementedError):
        return Verdict(FAILED, f"{name} is not implemented yet (it raised NotImplementedError).")
    return Verdict(ERROR, f"{name} raised {outcome.describe_exception()} on {case.label}.")


def _module_globals(obj):
    """The global namespace a class was defined in (where its methods look names up)."""
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    return vars(module) if module is not None else None


def run(item: Item, fn) -> Verdict:
    """Run every case of an item against fn and return the first problem, or a pass."""
    if not callable(fn):
        return Verdict(ERROR, f"{item.name} is not a function (got {type(fn).__name__}).")
    if problem := static_problems(item, function_source(fn)):
        return Verdict(FAILED, problem)
    target = item.adapter(fn) if item.adapter else fn
    for case in item.cases():
        outcome = call(target, case.names, case.args, no_grad=item.no_grad, helpers=item.helpers,
                       namespace=getattr(fn, "__globals__", None) or _module_globals(fn))
        if outcome.raised:
            return exception_verdict(item.name, case, outcome)
        if item.flat_backprop and outcome.used_autograd:
            return Verdict(FAILED, f"{item.name} recorded an autograd graph (requires_grad / enable_grad): "
                                   "flat backprop computes every gradient by hand")
        if problem := item.judge(case, outcome):
            return Verdict(FAILED, f"{item.name}, {case.label}: {problem}")
    return Verdict(PASSED, f"{item.name}: {item.passed}.")
