"""Does the numeric gradient engine agree with autograd, and does it separate right from wrong?"""
from __future__ import annotations

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograder import gradcheck
from autograder.checks.linear_classifiers import softmax_loss
from helpers import autograd_gradient, classification_problems


@settings(max_examples=40, deadline=None)
@given(classification_problems())
def test_numeric_gradient_matches_autograd(problem):
    """Is the full central difference equal to the float64 autograd gradient of a smooth loss?"""
    W, X, y, reg = problem
    f = lambda W_: softmax_loss(W_, X, y, reg)
    numeric = gradcheck.numeric_gradient(f, W)
    assert numeric.dtype == torch.float64 and numeric.shape == W.shape
    assert gradcheck.relative_error(numeric, autograd_gradient(softmax_loss, W, X, y, reg)) < 1e-7


@settings(max_examples=60, deadline=None)
@given(classification_problems(), st.sampled_from([torch.float64, torch.float32]))
def test_correct_gradients_pass_in_float64_and_float32(problem, dtype):
    """Is a correct gradient accepted, also when it was computed in float32?

    float32 is judged at well-conditioned points (the grader chooses its own: weights of
    scale ~0.5/sqrt(D) and a visible reg). When the gradient is a tiny difference of O(1)
    terms, float32 rounding alone is ~1e-3 of it, so those points are left out here.
    """
    W, X, y, reg = problem
    if dtype == torch.float32:
        assume(autograd_gradient(softmax_loss, W, X, y, reg).norm() > 0.1)
    grad = autograd_gradient(lambda W_, *a: softmax_loss(W_.to(dtype), X.to(dtype), y, reg), W)
    verdict = gradcheck.check_gradient(lambda W_: softmax_loss(W_, X, y, reg), W, grad.to(dtype))
    assert verdict.ok, verdict.message
    assert verdict.evaluations == 2 * gradcheck.NUM_DIRECTIONS


@settings(max_examples=40, deadline=None)
@given(classification_problems(max_n=20, max_d=10), st.data())
def test_one_wrong_row_is_rejected_and_located(problem, data):
    """Is a gradient with one zeroed row rejected, and does the message name that row?"""
    W, X, y, reg = problem
    grad = autograd_gradient(softmax_loss, W, X, y, reg)
    row = data.draw(st.integers(0, W.shape[0] - 1))
    if grad[row].abs().max() < 1e-3 * grad.abs().max():
        return  # that row is ~0 already: zeroing it is not a bug
    bad = grad.clone()
    bad[row] = 0
    verdict = gradcheck.check_gradient(lambda W_: softmax_loss(W_, X, y, reg), W, bad)
    assert not verdict.ok
    assert f"dW[{row}," in verdict.message or f"row {row} " in verdict.message


def test_missing_factor_two_on_l2_is_rejected(rng):
    """Is reg*W instead of 2*reg*W rejected when the L2 term matters?"""
    X = torch.randn(30, 20, dtype=torch.float64, generator=rng)
    y = torch.randint(0, 5, (30,), generator=rng)
    W = 0.5 * torch.randn(20, 5, dtype=torch.float64, generator=rng)
    grad = autograd_gradient(softmax_loss, W, X, y, 0.5)
    verdict = gradcheck.check_gradient(lambda W_: softmax_loss(W_, X, y, 0.5), W, grad - 0.5 * W)
    assert not verdict.ok and "does not match" in verdict.message


def test_scaled_gradient_is_reported_as_a_factor(rng):
    """Does a gradient that is N times too big say so?"""
    X = torch.randn(10, 4, dtype=torch.float64, generator=rng)
    y = torch.randint(0, 3, (10,), generator=rng)
    W = torch.randn(4, 3, dtype=torch.float64, generator=rng)
    grad = autograd_gradient(softmax_loss, W, X, y, 0.0)
    verdict = gradcheck.check_gradient(lambda W_: softmax_loss(W_, X, y, 0.0), W, 10 * grad)
    assert not verdict.ok and "10 times" in verdict.message


def test_wrong_shape_nan_and_non_tensor_are_explained(rng):
    """Are wrong shapes, NaNs and non-tensors rejected with a message saying so?"""
    W = torch.randn(3, 2, dtype=torch.float64, generator=rng)
    f = lambda W_: (W_ ** 2).sum()
    assert "shape (2, 3)" in gradcheck.check_gradient(f, W, torch.zeros(2, 3)).message
    nan = 2 * W
    nan[0, 0] = float("nan")
    assert "NaN" in gradcheck.check_gradient(f, W, nan).message
    assert "expected a tensor" in gradcheck.check_gradient(f, W, [1.0]).message


def test_a_rejected_gradient_is_localized_by_one_autograd_pass(rng):
    """Is the exact gradient of the checker's own f used to say where, at the cost of one pass?"""
    W = torch.randn(100, 50, dtype=torch.float64, generator=rng)
    wrong = 3 * W ** 2
    wrong[7] += 1.0
    verdict = gradcheck.check_gradient(lambda W_: (W_ ** 3).sum(), W, wrong)
    assert not verdict.ok and "row 7 " in verdict.message and "expected" in verdict.message
    assert verdict.evaluations == 2 * gradcheck.NUM_DIRECTIONS + 1


def test_large_tensors_are_localized_on_a_sample_without_autograd(rng):
    """When f cannot be differentiated by autograd, is the numeric fallback limited to a sample?"""
    W = torch.randn(100, 50, dtype=torch.float64, generator=rng)
    f = lambda W_: torch.tensor(float((W_.detach() ** 3).sum()))  # noqa: E731  (no graph)
    verdict = gradcheck.check_gradient(f, W, 3 * W ** 2 + 1.0)
    assert not verdict.ok
    assert verdict.evaluations == 2 * gradcheck.NUM_DIRECTIONS + 2 * gradcheck.MAX_FULL_ENTRIES


def test_grad_check_and_check_close_print_plain_words(capsys, rng):
    """Do the student-facing helpers print OK/WRONG and return the verdict?"""
    W = torch.randn(4, 3, dtype=torch.float64, generator=rng)
    assert gradcheck.grad_check(lambda W_: (W_ ** 2).sum(), W, 2 * W)
    assert not gradcheck.check_close("dW", W, W + 1)
    out = capsys.readouterr().out
    assert out.startswith("OK: dW matches") and "WRONG: dW" in out


def test_one_criterion_flags_counts_and_lists(capsys, rng):
    """check_close decides and lists with differs(): never "WRONG ... 0 entries", and float32
    rounding of a float64 result is not a difference."""
    e = torch.randn(5, 3, dtype=torch.float64, generator=rng)
    assert gradcheck.check_close("scores", e.float().double(), e)
    bad = e.clone()
    bad[2, 1] += 1.0
    assert not gradcheck.check_close("scores", bad, e)
    out = capsys.readouterr().out
    assert "WRONG: scores" in out and "scores[2, 1]" in out and "0 of" not in out
    message = gradcheck.describe_mismatch("dW", 3 * e, e, label="expected")
    assert "every entry of dW differs" in message and "3 times the expected value" in message
    nearly = 3 * e
    nearly[0, 0] = e[0, 0]
    assert "nearly every entry of dW differs (14 of 15)" in gradcheck.describe_mismatch("dW", nearly, e)


def test_grad_check_accepts_a_loss_computed_in_float32(capsys, rng):
    """A correct softmax gradient computed in float32 inside is not called WRONG by the visible check."""
    X = torch.randn(20, 8, dtype=torch.float64, generator=rng)
    y = torch.randint(0, 5, (20,), generator=rng)
    W = 0.3 * torch.randn(8, 5, dtype=torch.float64, generator=rng)
    f32 = lambda W_: softmax_loss(W_.float(), X.float(), y, 0.1).double()  # noqa: E731 (a one-line loss, named for the asserts)
    grad = autograd_gradient(lambda W_, *a: softmax_loss(W_.float(), X.float(), y, 0.1), W).double()
    assert gradcheck.float32_inside(f32, W) and not gradcheck.float32_inside(lambda W_: softmax_loss(W_, X, y, 0.1), W)
    assert gradcheck.grad_check(f32, W, grad), capsys.readouterr().out
    assert not gradcheck.grad_check(f32, W, grad + 0.1 * W)  # a real bug still fails


def test_gradient_checks_split_reg_and_skip_a_wrong_loss(capsys, rng):
    """Visible: reg = 0 and reg > 0 with the hint when only the reg part fails; nothing blamed on
    the gradient when the loss is wrong; a net's gradients in backward order with where."""
    X = torch.randn(20, 8, dtype=torch.float64, generator=rng)
    y = torch.randint(0, 5, (20,), generator=rng)
    W = 0.3 * torch.randn(8, 5, dtype=torch.float64, generator=rng)
    loss = lambda p, r: softmax_loss(p["W"], X, y, r)  # noqa: E731 (one-line loss and gradient, named for the asserts)
    half = lambda p, r: autograd_gradient(softmax_loss, p["W"], X, y, r) - r * p["W"]  # noqa: E731 (one-line loss and gradient, named for the asserts)
    assert not gradcheck.gradient_checks(loss, half, {"W": W}, 0.5)
    out = capsys.readouterr().out
    assert "OK at reg = 0.0" in out and "WRONG at reg = 0.5" in out and "HINT: right at reg = 0" in out
    assert not gradcheck.gradient_checks(loss, half, {"W": W}, 0.5, loss_ok=False)
    out = capsys.readouterr().out
    assert out.startswith("NOT CHECKED") and "fix the loss first" in out and "dW" not in out
    assert "b2 and W2 right, b1 and W1 wrong: the error enters at the step through the ReLU" in \
        gradcheck.where_it_enters({"b1", "W1"})
