"""An Item: cases the grader chooses, a judge of each outcome, optional static checks.

Checks are plain functions of data: cases() makes inputs, the student's function is called
on them (autograder.calls), judge(case, outcome) returns None or what is wrong. run() only
wires these together, so the calling can move to another process without changing a check.
"""
from __future__ import annotations

import copy
import sys
import zlib
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from ..calls import call, pristine, seed
from ..static import function_source, rule_uses, rules_message
from .rules import NO_AUTOGRAD, Rule
from ..verdict import ERROR, FAILED, PASSED, TIMEOUT, Verdict
from . import outputs
from .outputs import describe


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
    rules: tuple[Rule, ...] = ()  # source rules its notebook states (checks.rules)
    no_grad: bool = True
    helpers: dict = field(default_factory=dict)  # grader versions of functions fn calls
    adapter: Callable | None = None  # turns what was submitted (e.g. a class) into a callable
    static: Callable | None = None   # extra source rule: source -> problem or None
    passed: str = "all hidden tests passed"
    updates: tuple = ()  # arguments the function is meant to change in place (e.g. W in SGD)
    pure_cases: bool = False  # cases() only makes data from its seeds (no state): made once per process


def static_problems(item: Item, source: str | None, sources=()) -> str | None:
    """What the source breaks of the item's rules, or None.

    source: the function's text; sources: the student's cells (where its helpers live)."""
    if source is None and not sources:
        return None  # nothing to read (e.g. a builtin); the numeric checks still apply
    # the stated rules first (the notebook's rules block), then the item's own source rule
    if problem := rules_message(item.name, item.rules, rule_uses(sources, item.name, item.rules,
                                                                 skip=item.helpers, source=source)):
        return problem
    return item.static(source) if item.static and source else None


def exception_verdict(name: str, case: Case, outcome) -> Verdict:
    """A raised exception: not implemented yet is a fail, anything else an error."""
    if outcome.error[0] == "NotImplementedError":
        return Verdict(FAILED, f"{name} is not implemented yet (it raised NotImplementedError).")
    return Verdict(ERROR, f"{name} raised an error on {case.label}: {outcome.describe_exception()}")


def _module_globals(obj):
    """The global namespace a class was defined in (where its methods look names up)."""
    for member in vars(obj).values() if isinstance(obj, type) else ():
        if hasattr(member, "__globals__"):  # a method: exactly where it looks names up (exec'd cells too)
            return member.__globals__
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    return vars(module) if module is not None else None


def item_seed(item: Item) -> int:
    """The random seed of an item's calls: the same for every student and every run."""
    return zlib.crc32(item.name.encode()) & 0xFFFF


class Submission:
    """Where a student's functions live: problem(name), source(name), call(item, case).
    sources: the student's cells, for the static checks to follow helpers (none in-process)."""
    sources: list = []


class LocalSubmission(Submission):
    """A function in this process (the notebook's own hidden-test cell, the test suite)."""

    def __init__(self, fn):
        self.fn = fn

    def problem(self, name: str) -> str | None:
        return None if callable(self.fn) else f"{name} is not a function (got {type(self.fn).__name__})."

    def source(self, name: str) -> str | None:
        return function_source(self.fn)

    def call(self, item: Item, case: Case):
        target = item.adapter(self.fn) if item.adapter else self.fn
        seed(item_seed(item))
        return call(target, case.names, case.args, no_grad=item.no_grad, helpers=item.helpers,
                    namespace=getattr(self.fn, "__globals__", None) or _module_globals(self.fn))


def stopped_verdict(item: Item, case: Case, outcome) -> Verdict:
    status = TIMEOUT if outcome.stopped == "timeout" else ERROR
    return Verdict(status, f"{item.name} {outcome.error[1]} (on {case.label}).")


def run(item: Item, fn) -> Verdict:
    """Run every case of an item and return the first problem, or a pass.

    fn is the student's function itself, or a submission object with problem/source/call
    (autograder.cleanroom.remote: the function lives in another process).
    """
    submission = fn if isinstance(fn, Submission) else LocalSubmission(fn)
    if problem := submission.problem(item.name):
        return Verdict(ERROR, problem)
    if problem := static_problems(item, submission.source(item.name), submission.sources):
        return Verdict(FAILED, problem)
    seed(item_seed(item))  # the grader's own random draws (cases, lent helpers)
    notes = outputs.precision_notes()
    for case in item_cases(item):
        before = pristine(case.args)  # the grader's own copy: judges never read what the call left
        outcome = submission.call(item, case)
        if outcome.stopped:
            return stopped_verdict(item, case, outcome)
        if outcome.raised:
            return exception_verdict(item.name, case, outcome)
        if NO_AUTOGRAD in item.rules and outcome.used_autograd:
            return Verdict(FAILED, f"{item.name} recorded an autograd graph (requires_grad / enable_grad): "
                                   "flat backprop computes every gradient by hand")
        if changed := [n for n in outcome.modified if n not in item.updates]:
            return Verdict(FAILED, f"{item.name}, {case.label}: changed its input {', '.join(changed)} in "
                                   "place; the docstring asks to leave inputs unchanged (compute new tensors, "
                                   "e.g. x.clone() or torch.where, instead of x[...] = or x.zero_())")
        pre_call = replace(case, args=tuple(a if n in item.updates else b
                                            for n, a, b in zip(case.names, case.args, before)))
        if problem := judged(item, pre_call, outcome):
            return Verdict(FAILED, f"{item.name}, {case.label}: {problem}")
    note = f" Note: {notes[0]}" if notes else ""
    return Verdict(PASSED, f"{item.name}: {item.passed}.{note}")


_MADE: dict = {}  # item.cases -> (cases, torch's RNG state after making them), for pure_cases items


def item_cases(item: Item) -> list:
    """item.cases(), or for a pure_cases item a deep copy of the first call's cases (a judge's
    scratch dicts, a write-back into the arguments: every run gets its own), with the RNG
    left where making them leaves it. A grading worker makes them once, not once a notebook."""
    if not item.pure_cases or torch.cuda.is_available():  # CUDA: seed() draws there too
        return item.cases()
    if item.cases not in _MADE:
        made = item.cases()
        _MADE[item.cases] = (copy.deepcopy(made), torch.random.get_rng_state())
        return made
    cases, state = _MADE[item.cases]
    torch.random.set_rng_state(state)
    return copy.deepcopy(cases)  # one deepcopy: what cases share (a reg = 0 twin's dict), they still share


def judged(item: Item, case: Case, outcome) -> str | None:
    """item.judge, except that a judge tripping over a value the student's code returned (a
    complex loss, a history of strings) fails this item only, with what it tripped over."""
    try:
        return item.judge(case, outcome)
    except Exception as exc:  # noqa: BLE001 (the value came from the student's process)
        text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        return f"the grader could not read the returned value ({_kind(outcome.value)}): {text[:300]}"


def _kind(value) -> str:
    """What came back, in a few words: "a tensor (), complex64, cpu", "a tuple of 2"."""
    if isinstance(value, torch.Tensor):
        return f"a tensor {describe(value)}"
    if isinstance(value, (tuple, list, dict)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"
