"""Do the checks pass every correct variant and catch every bug, on its own item only?
(In-process: fast; tests/test_grading.py does the same through make grade.)"""
from __future__ import annotations

from collections.abc import Mapping

import pytest
import torch
from hypothesis import given, settings

from autograder.checks import items
from autograder.checks.linear_classifiers import softmax_loss, svm_loss
from autograder.checks.samples import KINK_MARGIN, away_from_kinks, hinge_margins, visible_reg
from autograder.corpus import entries, module
from autograder.layout import assignments
from autograder.corpus.notebooks import functions
from autograder.kernel import check
from helpers import autograd_gradient, classification_problems

A = "linear_classifiers"
IN_PROCESS = [(a, e) for a in assignments() for e in entries(a) if e.status == "graded" and e.in_process]


class EntryVerdicts(Mapping):
    """{item: Verdict} of one entry, each item checked in this process when first read (a test
    that reads three verdicts does not pay for the search grids)."""

    def __init__(self, assignment, entry):
        self.assignment, self.entry, self.ns, self.done = assignment, entry, None, {}

    def __getitem__(self, item):
        if item not in self.done:
            if item not in items(self.assignment):
                raise KeyError(item)
            if self.ns is None:
                self.ns = functions(self.entry.notebook(self.assignment))
            self.done[item] = check(self.assignment, item, self.ns.get(item))
        return self.done[item]

    def __iter__(self):
        return iter(items(self.assignment))

    def __len__(self):
        return len(items(self.assignment))


@pytest.fixture(scope="module")
def verdicts():
    """(assignment, entry name) -> {item: Verdict}, each entry checked in this process."""
    return {(assignment, entry.name): EntryVerdicts(assignment, entry) for assignment, entry in IN_PROCESS}


@pytest.mark.slow
@pytest.mark.parametrize("assignment,entry", IN_PROCESS, ids=lambda x: getattr(x, "name", x))
def test_entry_fails_exactly_its_items(assignment, entry, verdicts):
    """Does each bug lose its own item and only that one, and each correct variant pass all?"""
    got = verdicts[(assignment, entry.name)]
    for item, verdict in got.items():
        if item in entry.fails:
            assert verdict.status == entry.item_status, (item, verdict)
        else:
            assert verdict.ok, (item, verdict.message)


@pytest.mark.parametrize("assignment,bugs,variants", [("linear_classifiers", 15, 4),
                                                       ("two_layer_net", 10, 2), ("backprop_basics", 6, 2),
                                                       ("knn", 12, 4)])
def test_corpus_is_big_enough(assignment, bugs, variants):
    """Enough realistic bugs and correct variants (besides the reference) per assignment."""
    names = [e.name for e in entries(assignment)]
    assert len([n for n in names if n.startswith("bug-")]) >= bugs
    assert len([n for n in names if n.startswith("ok-") and n != "ok-reference"]) >= variants


def test_failure_messages_name_tensor_entries_and_values(verdicts):
    """Does a one-path gradient bug say which tensor, which entries, analytic vs numeric?"""
    message = verdicts[(A, "bug-softmax-naive-missing-minus-one")]["softmax_loss_naive"].message
    assert "dW" in message and "numeric" in message and "worst: dW[" in message
    message = verdicts[(A, "bug-svm-vec-margin-zero")]["svm_loss_vectorized"].message
    assert "loss is" in message and "expected" in message
    message = verdicts[(A, "bug-svm-vec-python-loop")]["svm_loss_vectorized"].message
    assert "vectorized" in message and "for label in y" in message


@settings(max_examples=30, deadline=None)
@given(classification_problems())
def test_reference_losses_are_differentiable_twins_of_autograd(problem):
    """Are the grader's float64 losses what autograd differentiates to the known formulas?"""
    W, X, y, reg = problem
    N = X.shape[0]
    probs = torch.softmax(X @ W, dim=1)
    expected = X.T @ (probs - torch.nn.functional.one_hot(y, W.shape[1]).double()) / N + 2 * reg * W
    assert torch.allclose(autograd_gradient(softmax_loss, W, X, y, reg), expected, atol=1e-10)
    scores = X @ W
    margins = scores - scores[torch.arange(N), y][:, None] + 1
    margins[torch.arange(N), y] = 0
    assert torch.isclose(svm_loss(W, X, y, reg), margins.clamp(min=0).sum() / N + reg * (W * W).sum())


def test_test_points_avoid_kinks_and_make_l2_visible():
    """Are all hinges far from 0, and is the L2 gradient a visible share of the gradient?"""
    for seed in range(20):
        W, X, y = away_from_kinks(40, 30, 10, seed)
        assert hinge_margins(W, X, y).abs().min() >= KINK_MARGIN
        reg = visible_reg(svm_loss, W, X, y)
        data = autograd_gradient(svm_loss, W, X, y, 0.0).norm()
        assert 0.5 < (2 * reg * W).norm() / data < 2


def test_untouched_release_fails_as_not_implemented(verdicts):
    """Is every item of the untouched release a fail that says 'not implemented yet'?"""
    for verdict in [v for (a, name), vs in verdicts.items() if name == "blank-release" for v in vs.values()]:
        assert verdict.status == "failed" and "not implemented" in verdict.message


def test_two_layer_reference_gradients_agree_with_autograd():
    """Are the grader's textbook two-layer gradients (used while checking training) right?"""
    from autograder.checks.samples import relu_net_point
    from autograder.checks.two_layer_reference import loss, reference_forward_backward
    params, X, y = relu_net_point(12, 5, 7, 4, seed=3)
    value, grads = reference_forward_backward(params, X, y, reg=0.3)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    expected = loss(leaves, X, y, 0.3)
    expected.backward()
    assert torch.isclose(value, expected.detach())
    for k in leaves:
        assert torch.allclose(grads[k], leaves[k].grad, atol=1e-12), k


def _autograd_softmax(W, X, y, reg):
    """The true (loss, dW) through autograd, reached only through getattr."""
    from autograder.checks.linear_classifiers import softmax_loss
    grad_mode = getattr(torch, "enable" + "_grad")
    with grad_mode():
        leaf = getattr(W.detach(), "requires" + "_grad_")(True)
        value = softmax_loss(leaf, X, y, reg)
        (dW,) = getattr(getattr(torch, "auto" + "grad"), "gr" + "ad")(value, leaf)
    return value.detach(), dW


def test_obfuscated_autograd_gradient_fails_the_flat_policy():
    """Does a true gradient computed with autograd behind getattr lose the item, saying why?"""
    def softmax_loss_vectorized(W, X, y, reg):
        grad_mode = getattr(torch, "enable" + "_grad")
        with grad_mode():
            return _autograd_softmax(W, X, y, reg)
    verdict = check(A, "softmax_loss_vectorized", softmax_loss_vectorized)
    assert verdict.status == "failed" and "getattr() with a computed name" in verdict.message


def test_autograd_hidden_in_a_helper_is_caught_at_run_time():
    """The source of the graded function is clean; the autograd graph recorded during the call is not."""
    def softmax_loss_vectorized(W, X, y, reg):
        return _autograd_softmax(W, X, y, reg)
    verdict = check(A, "softmax_loss_vectorized", softmax_loss_vectorized)
    assert verdict.status == "failed" and "autograd graph" in verdict.message


@pytest.mark.parametrize("assignment", assignments())
def test_packing_keeps_every_bug_on_its_own_cells_and_items(assignment):
    """Does pack() put every entry in exactly one submission, never two on one cell or item?"""
    from autograder.corpus.notebooks import Pack, pack
    packed = pack(entries(assignment))
    names = [m for p in packed for m in (p.members if isinstance(p, Pack) else (p.name,))]
    assert sorted(names) == sorted(e.name for e in entries(assignment))
    by_name = {e.name: e for e in entries(assignment)}
    for p in (p for p in packed if isinstance(p, Pack)):
        cells = [c for m in p.members for c in by_name[m].touched()]
        items = [i for m in p.members for i in by_name[m].fails]
        assert len(cells) == len(set(cells)) and len(items) == len(set(items))
        p.notebook(assignment)  # every edit still applies


UNSEEN = [(a, e) for a in assignments() for e in module(a).UNSEEN]


def test_every_assignment_has_unseen_students_both_ways():
    """Students written against the checks, not from them: 3 right by another path and 3 wrong
    ones a lazy test passes, per assignment."""
    for assignment in assignments():
        names = [e.name for e in module(assignment).UNSEEN]
        assert len([n for n in names if n.startswith("ok-")]) >= 3, assignment
        assert len([n for n in names if n.startswith("bug-")]) >= 3, assignment


@pytest.mark.parametrize("assignment,entry", [(a, e) for a, e in UNSEEN if e.fails],
                         ids=lambda x: getattr(x, "name", x))
def test_unseen_wrong_students_lose_their_item_saying_why(assignment, entry):
    """Each wrong path loses its own item with the reason in the message (the other items of these
    students are judged by test_entry_fails_exactly_its_items, which is slow)."""
    ns = functions(entry.notebook(assignment))
    for item, status in entry.expected().items():
        verdict = check(assignment, item, ns.get(item))
        assert verdict.status == status, (item, verdict)
        assert entry.messages[item].lower() in verdict.message.lower(), verdict.message


UNSEEN2 = [(a, e) for a in assignments() for e in module(a).UNSEEN2]


def test_unseen2_round_has_right_and_wrong_students_per_assignment():
    """The second round (issue "unseen2"): per assignment, at least 3 students right by another
    path and 3 wrong ones that a lazy test passes, none a copy of an earlier entry's name."""
    for assignment in assignments():
        names = [e.name for e in module(assignment).UNSEEN2]
        assert len([n for n in names if n.startswith("ok-")]) >= 3, assignment
        assert len([n for n in names if n.startswith("bug-")]) >= 3, assignment
        others = [e.name for e in entries(assignment) if e not in module(assignment).UNSEEN2]
        assert not set(names) & set(others), assignment


@pytest.mark.parametrize("assignment,entry", [(a, e) for a, e in UNSEEN2 if e.fails],
                         ids=lambda x: getattr(x, "name", x))
def test_unseen2_wrong_students_lose_their_item_saying_why(assignment, entry):
    """Each wrong path of round 2 loses its own item, with the reason in the message (all items of
    every round-2 student are judged by test_entry_fails_exactly_its_items, which is slow)."""
    ns = functions(entry.notebook(assignment))
    for item, status in entry.expected().items():
        verdict = check(assignment, item, ns.get(item))
        assert verdict.status == status, (item, verdict)
        assert entry.messages[item].lower() in verdict.message.lower(), verdict.message


@pytest.mark.parametrize("assignment,entry", [(a, e) for a, e in UNSEEN2 if not e.fails],
                         ids=lambda x: getattr(x, "name", x))
def test_unseen2_right_students_pass_the_items_they_rewrote(assignment, entry):
    """Each right-by-another-path student of round 2 passes the items whose cells it rewrote."""
    ns = functions(entry.notebook(assignment))
    for item in sorted({gid.removesuffix("_code") for gid in entry.touched()} & set(items(assignment))):
        verdict = check(assignment, item, ns.get(item))
        assert verdict.ok, (item, verdict.message)


def test_knn_loop_levels_follow_the_docstrings():
    """two_loops nests two Python loops (for, while or a comprehension's for), one_loop has one:
    the fast version under a loop name loses the item, any loop spelling keeps it."""
    from autograder.checks.knn import loop_depth
    assert loop_depth("def f(a, b):\n    for i in a:\n        for j in b:\n            pass\n") == 2
    assert loop_depth("def f(a, b):\n    return [[i * j for j in b] for i in a]\n") == 2
    assert loop_depth("def f(a, b):\n    return [i * j for i in a for j in b]\n") == 2
    assert loop_depth("def f(a):\n    i = 0\n    while i < 3:\n        x = [j for j in a]\n        i += 1\n") == 2
    assert loop_depth("def f(p, q):\n    return (p * p).sum(1)[:, None] - 2 * p @ q.T\n") == 0

    def compute_distances_two_loops(x_train, x_test):
        p, q = x_train.flatten(1), x_test.flatten(1)
        return torch.stack([torch.stack([((a - b) ** 2).sum() for b in q]) for a in p])

    def compute_distances_one_loop(x_train, x_test):
        p, q = x_train.flatten(1), x_test.flatten(1)
        out = torch.zeros(len(p), len(q), dtype=p.dtype)
        for i in range(len(p)):
            for j in range(len(q)):
                out[i, j] = ((p[i] - q[j]) ** 2).sum()
        return out
    assert check("knn", "compute_distances_two_loops", compute_distances_two_loops).ok
    verdict = check("knn", "compute_distances_one_loop", compute_distances_one_loop)
    assert verdict.status == "failed" and "single Python loop" in verdict.message, verdict.message
