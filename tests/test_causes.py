"""Do the grader's messages name the likely cause (checks/causes.py) where the residual fits one of
the notebooks' common mistakes, and only there? In-process, on corpus variants (as test_checks)."""
from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch

from autograder.checks.causes import CAUSES, NOTEBOOKS, hint
from autograder.corpus import entries, real_code
from autograder.corpus.notebooks import functions
from autograder.kernel import check
from autograder.layout import SOURCE

# corpus entry -> the cause its message must name (the residual fits it exactly)
EXPECTED = {
    ("linear_classifiers", "bug-svm-naive-reg-factor"): "reg_half",
    ("linear_classifiers", "bug-svm-naive-counts-correct-class"): "loss_correct_margin",
    ("linear_classifiers", "bug-svm-vec-no-reg-in-loss"): "loss_reg",
    ("linear_classifiers", "bug-svm-vec-grad-missing-1-over-n"): "no_mean",
    ("linear_classifiers", "bug-svm-vec-margin-zero"): "loss_delta",
    ("linear_classifiers", "bug-softmax-naive-missing-minus-one"): "minus_one",
    ("linear_classifiers", "bug-softmax-naive-scores-not-probs"): "scores_not_probs",
    ("linear_classifiers", "bug-softmax-naive-mean-twice"): "mean_twice",
    ("linear_classifiers", "bug-softmax-vec-numel"): "classes",
    ("linear_classifiers", "bug-softmax-vec-half-reg"): "loss_reg",
    ("linear_classifiers", "bug-softmax-vec-missing-correct-class-path"): "minus_one",
    ("linear_classifiers", "bug-svm-vec-counts-correct-class-in-grad"): "correct_margin_grad",
    ("linear_classifiers", "bug-svm-vec-sign-flipped"): "sign",
    ("linear_classifiers", "bug-svm-vec-reg-doubled"): "reg_double",
    ("linear_classifiers", "bug-svm-vec-transposed"): "transposed",
    ("linear_classifiers", "bug-softmax-vec-no-reg-grad"): "no_reg",
    ("linear_classifiers", "bug-svm-naive-assigns-correct-column"): "assigned_column",
    ("two_layer_net", "bug-relu-mask-from-upstream"): "relu_mask",
    ("two_layer_net", "bug-no-relu-backward"): "relu_mask",
    ("two_layer_net", "bug-w2-from-pre-activation"): "local_input",
    ("two_layer_net", "bug-b2-wrong-axis"): "bias_shape",
    ("two_layer_net", "bug-b1-averaged"): "bias_mean",
    ("two_layer_net", "bug-b2-averaged"): "bias_mean",
    ("two_layer_net", "bug-b1-broadcast-shape"): "bias_shape",
    ("two_layer_net", "bug-l2-factor"): "reg_half",
    ("two_layer_net", "bug-w2-no-reg-gradient"): "no_reg",
    ("two_layer_net", "bug-missing-1-over-n"): "no_mean",
    ("two_layer_net", "bug-missing-minus-one"): "minus_one",
    ("two_layer_net", "bug-w1-regularized-twice"): "loss_reg_weights",
    ("backprop_basics", "bug-matmul-grad-w-transposed"): "transposed",
    # the lecture's gate patterns (checks/gatecauses.py)
    ("backprop_basics", "bug-circuit-wrong-local-gradient"): "mul_swap",
    ("backprop_basics", "bug-mul-gate-no-swap"): "mul_swap",
    ("backprop_basics", "bug-multiply-function-no-swap"): "mul_swap",
    ("backprop_basics", "bug-add-gate-splits"): "add_split",
    ("backprop_basics", "bug-max-gate-distributes"): "max_route",
    ("backprop_basics", "bug-copy-gate-overwrites"): "copy_add",
    ("backprop_basics", "bug-graph-no-accumulation"): "copy_add",
    ("backprop_basics", "bug-sigmoid-local-gradient"): "sigmoid_local",
    ("backprop_basics", "bug-sigmoid-function-backward"): "sigmoid_local",
    ("backprop_basics", "bug-relu-mask-from-upstream"): "relu_input",
    ("backprop_basics", "bug-relu-function-no-mask"): "relu_input",
    ("backprop_basics", "bug-matmul-function-averaged"): "matmul_mean",
    ("backprop_basics", "bug-modular-loss-summed"): "loss_sum",
    # round 2 of unseen students (corpus/unseen2_*.py)
    ("backprop_basics", "bug-relu-backward-mask-ge"): "relu_zero",
    ("backprop_basics", "bug-modular-loss-no-max-shift"): "unstable",
    ("two_layer_net", "bug-backward-no-max-shift"): "unstable",
    ("two_layer_net", "bug-backward-biases-regularized"): "loss_reg_weights",
    ("linear_classifiers", "bug-softmax-vec-no-max-shift"): "unstable",
}
# bugs whose residual fits none of the listed mistakes: their messages must name no cause
NO_CAUSE = [("linear_classifiers", "bug-svm-vec-python-loop"),
            # gate bugs outside the gate patterns: a tie given to y, J^T v for J v, zeroed tensors
            ("backprop_basics", "bug-max-ties-to-y"), ("backprop_basics", "bug-jvp-is-a-vjp"),
            ("backprop_basics", "bug-rc-mul-gate-zeroes-inputs"), ("backprop_basics", "bug-rc-matmul-zeroes-upstream"),
            ("backprop_basics", "bug-rc-max-gate-zeroes-upstream")]
# correct gate variants (several styles): every item with a gate cause is checked, none may name one
GATE_OK = [("backprop_basics", name) for name in ("ok-reference", "ok-relu-mask-and-printing-max", "ok-relu-mask-only",
                                                   "ok-relu-heaviside", "ok-matmul-einsum-relu-on-a-clone",
                                                   "ok-copy-stack-max-masks", "ok-rc-copy-gate-stack",
                                                   "ok-rc-relu-backward-mask-mul", "ok-sigmoid-circuit-tanh",
                                                   "ok-matmul-float32-inside-mT", "ok-sigmoid-stable-relu-saves-output")]
LOSS_ITEMS = {"svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized",
              "nn_forward_backward", "circuit_forward_backward", "add_gate_backward", "mul_gate_backward",
              "copy_gate_backward", "max_gate_backward", "sigmoid_circuit", "relu_backward", "matmul_backward",
              "Multiply", "MatMul", "ReLU", "Sigmoid", "two_layer_loss_modular", "ComputationalGraph"}


def _entry(assignment, name):
    return next(e for e in list(entries(assignment)) + real_code.entries(assignment) if e.name == name)


def _messages(assignment, name):
    entry = _entry(assignment, name)
    with contextlib.redirect_stdout(io.StringIO()):
        ns = functions(entry.notebook(assignment))
        return {item: check(assignment, item, ns.get(item)) for item in entry.fails or sorted(LOSS_ITEMS & set(ns))}


@pytest.mark.parametrize("assignment,name", sorted(EXPECTED), ids=lambda x: x)
def test_each_cause_is_named_for_its_variant_and_no_other(assignment, name):
    """Does the failing message carry its cause as a hint, and no other cause's words?"""
    key = EXPECTED[(assignment, name)]
    (verdict,) = _messages(assignment, name).values()
    assert verdict.status == "failed" and "likely: " in verdict.message, verdict.message
    assert CAUSES[key] in verdict.message, verdict.message
    others = [k for k, text in CAUSES.items() if text in verdict.message and text not in CAUSES[key]]
    assert not others, (others, verdict.message)


@pytest.mark.parametrize("assignment,name", NO_CAUSE + [("linear_classifiers", "ok-softmax-float32-inside"),
                                                         ("linear_classifiers", "ok-rc-svm-vec-float32-inside"),
                                                         ("two_layer_net", "ok-rc-nn-float32-inside"),
                                                         ("two_layer_net", "ok-one-hot-prints-warns")] + GATE_OK)
def test_no_cause_where_none_fits(assignment, name):
    """Correct variants pass; a bug outside the list gets its facts but no guessed cause."""
    verdicts = _messages(assignment, name)
    assert name.startswith("bug-") or all(v.status == "passed" for v in verdicts.values()), verdicts
    for verdict in verdicts.values():
        assert "likely:" not in verdict.message, verdict.message


def test_the_net_reports_all_four_gradients_in_backward_order():
    (verdict,) = _messages("two_layer_net", "bug-relu-mask-from-upstream").values()
    assert "b2 and W2 right, b1 and W1 wrong: the error enters at the step through the ReLU" in verdict.message
    (verdict,) = _messages("two_layer_net", "bug-missing-1-over-n").values()
    assert "all 4 wrong" in verdict.message and "grads['b2'] does not match" in verdict.message
    assert "40 times" in verdict.message  # by how much, on the gradient nearest the loss


def test_the_loss_is_split_by_the_call_at_reg_zero():
    (verdict,) = _messages("linear_classifiers", "bug-svm-vec-no-reg-in-loss").values()
    assert "The data loss is right (it was at reg = 0), the regularization term is missing" in verdict.message
    (verdict,) = _messages("linear_classifiers", "bug-softmax-vec-half-reg").values()
    assert "the regularization term is half what it should be" in verdict.message
    (verdict,) = _messages("linear_classifiers", "bug-svm-naive-counts-correct-class").values()
    assert "at reg = 0: the data loss alone" in verdict.message and "+1 per sample" in verdict.message
    (verdict,) = _messages("linear_classifiers", "bug-svm-naive-reg-factor").values()
    assert "It was right at reg = 0, so the regularization gradient is off" in verdict.message


def test_nan_at_large_scores_names_the_underflow():
    (verdict,) = _messages("two_layer_net", "bug-rc-nn-onehot-0log0").values()
    assert hint("unstable") in verdict.message, verdict.message


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_notebook_common_mistakes_are_the_grader_causes(assignment):
    """The notebook's "Common mistakes" list and causes.py are one list: they cannot drift."""
    nb = json.loads((SOURCE / assignment / f"{assignment}.ipynb").read_text())
    (cell,) = [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
               == "common_mistakes_md"]
    bullets = [line[2:].strip() for line in "".join(cell["source"]).splitlines() if line.startswith("* ")]
    listed = [f"{CAUSES[k][0].upper()}{CAUSES[k][1:]}." for k in NOTEBOOKS[assignment]]
    assert bullets == listed


def test_a_fit_needs_every_tensor_and_one_cause():
    """Two causes that fit the same value are not told apart: neither is named."""
    from autograder.checks.causes import fit
    e = {"g": torch.ones(3, dtype=torch.float64)}
    got = {"g": 2 * torch.ones(3, dtype=torch.float64)}
    assert fit(got, e, [("no_mean", {"g": 2 * e["g"]})]) == "no_mean"
    assert fit(got, e, [("no_mean", {"g": 2 * e["g"]}), ("classes", {"g": 2 * e["g"]})]) is None
    assert fit({"g": got["g"] * (1 + 1e-3)}, e, [("no_mean", {"g": 2 * e["g"]})]) is None


def test_a_gate_cause_needs_its_residual():
    """The student who beats the hint: a wrong value that is not the listed mistake gets none, and a
    mistake that changes nothing at this point (x == y for the mul gate) is not named."""
    from autograder.checks import gatecauses
    gen = torch.Generator().manual_seed(0)
    x, y, g = (torch.randn(4, 3, dtype=torch.float64, generator=gen) for _ in range(3))
    assert hint("mul_swap") in gatecauses.mul_gate((g * x, g * x), x, y, g)
    assert gatecauses.mul_gate((g * x, g * x), x, x.clone(), g) == ""  # no swap to see when x == y
    assert gatecauses.mul_gate((g * x * 1.01, g * x), x, y, g) == ""    # near the mistake is not the mistake
    assert gatecauses.add_gate((g / 3, g), g) == "" and hint("add_split") in gatecauses.add_gate((g / 2, g / 2), g)
    assert gatecauses.max_gate((g, g), x, y, g) != "" and gatecauses.max_gate((-g, g), x, y, g) == ""
    assert gatecauses.relu(g.abs(), x, g) == "" and hint("relu_input") in gatecauses.relu(g, x, g)
    zeros = torch.tensor([0.0, 2.0, 0.0], dtype=torch.float64)  # x >= 0 as the mask: only the convention at 0
    assert gatecauses.relu(g[0], zeros, g[0]) == f"; {hint('relu_zero')}"
    assert gatecauses.copy_gate(g, [g]) == ""  # one branch: keeping it is right
    assert gatecauses.copy_gate(g.float(), [x, g]) == gatecauses.copy_gate(g, [x, g]) != ""  # float32 fits too
    assert gatecauses.mul_gate(("not", "tensors"), x, y, g) == ""


def test_the_assigned_column_cause_needs_the_notebooks_loop_order():
    """= instead of -= in the notebook's order (samples, then classes) is named; the same mistake in
    another loop order gives another value, which is not the listed mistake's: no cause."""
    from autograder.checks.causes import assigned_column, linear_gradient
    from autograder.checks.linear_classifiers import svm_loss
    gen = torch.Generator().manual_seed(1)
    W, X = torch.randn(6, 5, dtype=torch.float64, generator=gen), torch.randn(8, 6, dtype=torch.float64, generator=gen)
    y = torch.randint(0, 5, (8,), generator=gen)
    point = {"W": W, "X": X, "y": y, "reg": 0.0}
    assert linear_gradient("svm", svm_loss, point, assigned_column(W, X, y)) == hint("assigned_column")
    scores, dW = X @ W, torch.zeros_like(W)
    for j in range(5):  # classes outer: the last sample with a positive margin wins each column instead
        for i in range(8):
            if j != y[i] and scores[i, j] - scores[i, y[i]] + 1 > 0:
                dW[:, j] += X[i]
                dW[:, y[i]] = -X[i]
    assert not torch.allclose(dW / 8, assigned_column(W, X, y))
    assert linear_gradient("svm", svm_loss, point, dW / 8) is None
