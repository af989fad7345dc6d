"""Likely causes of a wrong loss or gradient, read from the residual in the lecture's terms.

The grader knows the point (W, X, y, reg). For each mistake the notebooks list under "Common
mistakes", it computes in float64 what that mistake would have returned, and names the mistake
only when the student's value fits it: ||got - candidate|| <= FIT_TOL * ||candidate|| for every
tensor. Otherwise it says nothing about the cause. Always phrased as a hint ("likely: ...").
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

# Whole-tensor relative error: correct float32-inside work fits its float64 twin to ~1e-7
# (gradient-checking.md), distinct mistakes differ by >= ~1e-2. The same bound as gradcheck.FULL_TOL.
FIT_TOL = 1e-5

# The notebooks' "Common mistakes" lists are made of these sentences (tests/test_causes.py checks it).
CAUSES = {
    "reg_half": "the regularization gradient lost its factor 2: the local gradient of reg * sum(W * W) is 2 * reg * W",
    "reg_double": "the regularization gradient is doubled: the local gradient of reg * sum(W * W) is 2 * reg * W, not 4 * reg * W",
    "no_reg": "no regularization gradient: add 2 * reg * W to the data gradient",
    "no_mean": "1/N missing: the data loss is a mean over the N samples, so its upstream gradient carries 1/N",
    "mean_twice": "1/N applied twice: divide by N once, where the data loss takes its mean",
    "sign": "the sign is flipped: downstream gradient = upstream gradient times local gradient, with its sign",
    "classes": "scaled by the number of classes C: the mean is over the N samples, not over all N * C scores",
    "correct_margin_grad": "the correct class is counted in the margins: skip j = y_i when you count the positive margins",
    "assigned_column": "gradients add up: W[:, y_i] is in every margin of sample i, so dW[:, y_i] -= X[i] once per "
                       "positive margin (accumulate with -=, don't assign with =)",
    "minus_one": "the -1 at the correct class is missing: the gradient of the scores is probs minus one-hot, over N",
    "scores_not_probs": "the scores are used where the probs belong: the gradient of the scores is probs minus one-hot, over N",
    "bias_mean": "the bias gradient is the mean over the rows instead of the sum: a bias is added to every row",
    "relu_mask": "the ReLU mask is taken from the wrong tensor (or left out): mask the upstream gradient where hidden > 0",
    "local_input": "the local gradient of a product is the other factor of the forward pass: dW2 = hidden.T @ dscores, "
                   "with hidden the ReLU's output",
    "transposed": "a transposed product: the gradient of a tensor has that tensor's shape; check which factor is transposed",
    "bias_shape": "the bias gradient sums the upstream gradient over the rows (dim=0), to the bias's own shape",
    "loss_sum": "the data loss is a sum, not a mean: divide by N",
    "loss_correct_margin": "the margin of the correct class is counted: +1 per sample (leave j = y_i out of the sum)",
    "loss_delta": "the margin Delta = 1 is left out of the margins",
    "loss_reg": "the regularization term is off by a factor 2 or left out: the loss is data loss + reg * sum(W * W), "
                "with no 1/2",
    "loss_reg_weights": "the regularization term sums the squares of every weight matrix once: "
                        "reg * (sum W1^2 + sum W2^2)",
    # the lecture's gate patterns (backprop_basics; checks/gatecauses.py)
    "add_split": "the add gate is a gradient distributor: both inputs get the upstream gradient unchanged, not half each",
    "mul_swap": "the mul gate is a swap multiplier: the local gradient of x * y with respect to x is the other factor, y",
    "max_route": "the max gate is a router: all of the upstream gradient goes to the larger input, none to the other",
    "copy_add": "a value used in several branches (a copy gate) gets the sum of their gradients: add them, "
                "don't keep one",
    "sigmoid_local": "the sigmoid's local gradient is s * (1 - s), with s the sigmoid's output",
    "relu_input": "the ReLU mask comes from the input (x > 0), not from the upstream gradient: "
                  "the gradient is 0 wherever x <= 0",
    "relu_zero": "at x == 0 the ReLU's gradient is taken to be 0: mask with x > 0, not x >= 0",
    "matmul_mean": "a matmul's gradient has its tensor's shape and is a sum over the batch, not averaged: "
                   "dL/dw = x.T @ grad_y",
    "unstable": "a probability underflowed (or exp overflowed): shift each row of scores by its own max and use "
                "log_probs = shifted - log_sum_exp",
}

NOTEBOOKS = {
    "linear_classifiers": ("reg_half", "reg_double", "no_reg", "no_mean", "mean_twice", "sign", "classes",
                           "correct_margin_grad", "assigned_column", "minus_one", "scores_not_probs", "transposed", "loss_sum",
                           "loss_correct_margin", "loss_delta", "loss_reg", "unstable"),
    "backprop_basics": ("add_split", "mul_swap", "max_route", "copy_add", "sigmoid_local", "relu_input",
                        "relu_zero", "transposed", "matmul_mean", "loss_sum", "unstable"),
    "two_layer_net": ("reg_half", "no_reg", "no_mean", "mean_twice", "minus_one", "bias_mean", "relu_mask",
                      "local_input", "transposed", "bias_shape", "loss_sum", "loss_reg", "loss_reg_weights", "unstable"),
}


def hint(key: str) -> str:
    return f"likely: {CAUSES[key]}"


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).norm().item() / max(b.norm().item(), 1e-300)


def fit(got: dict, expected: dict, candidates, tol: float = FIT_TOL) -> str | None:
    """The one cause whose candidate fits every tensor of got within tol, or None.

    got, expected: name -> tensor; candidates: (key, name -> tensor) pairs. A candidate that
    is (nearly) the expected value itself proves nothing and is skipped; two causes that fit
    equally are not told apart, so neither is named."""
    got = {n: t.detach().to("cpu", torch.float64) for n, t in got.items()}
    keys = []
    for key, cand in candidates:
        if all(_rel(expected[n], cand[n]) <= 100 * tol for n in cand):
            continue
        if all(n in got and got[n].shape == cand[n].shape and _rel(got[n], cand[n]) <= tol for n in cand):
            keys.append(key)
    return keys[0] if len(set(keys)) == 1 else None


def data_gradient(reference, W, X, y) -> torch.Tensor:
    """d(data loss)/dW in float64 by autograd of the grader's own loss (reg = 0)."""
    with torch.enable_grad():
        leaf = W.detach().to(torch.float64).clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(reference(leaf, X, y, 0.0), leaf)
    return grad


def assigned_column(W, X, y) -> torch.Tensor:
    """The naive SVM's dW (reg = 0) when the correct-class column is assigned (=), not accumulated (-=),
    in the notebook's loop order (samples, then classes)."""
    W, X = W.to(torch.float64), X.to(torch.float64)
    scores, dW = X @ W, torch.zeros_like(W)
    for i in range(X.shape[0]):
        label = int(y[i])
        for j in range(W.shape[1]):
            if j != label and scores[i, j] - scores[i, label] + 1 > 0:
                dW[:, j] += X[i]
                dW[:, label] = -X[i]
    return dW / X.shape[0]


def linear_gradient(kind: str, reference, point: dict, dW) -> str | None:
    """A hint for a wrong dW of the SVM (kind "svm") or softmax loss, or None."""
    if not torch.is_tensor(dW):
        return None
    W, X, y, reg = point["W"], point["X"], point["y"], point["reg"]
    N, C = X.shape[0], W.shape[1]
    G, R = data_gradient(reference, W, X, y), 2 * reg * W
    onehot = F.one_hot(y, C).to(torch.float64)
    cands = [("reg_half", G + reg * W), ("reg_double", G + 4 * reg * W), ("no_reg", G),
             ("no_mean", N * G + R), ("mean_twice", G / N + R), ("sign", -(G + R)), ("sign", -G + R),
             ("classes", C * G + R), ("classes", G / C + R)]
    if kind == "svm":
        cands += [("correct_margin_grad", G - X.T @ onehot / N + R), ("assigned_column", assigned_column(W, X, y) + R)]
    else:
        scores = X @ W
        shifted = scores - scores.max(1, keepdim=True).values
        cands += [("minus_one", X.T @ torch.softmax(scores, 1) / N + R),
                  ("scores_not_probs", X.T @ (scores - onehot) / N + R),
                  ("scores_not_probs", X.T @ (shifted - onehot) / N + R)]
    if tuple(dW.shape) == tuple(W.T.shape) and W.shape[0] != W.shape[1]:
        return hint("transposed")
    key = fit({"dW": dW}, {"dW": G + R}, [(k, {"dW": c}) for k, c in cands])
    return hint(key) if key else None


def scalar_fit(got: float, candidates, tol: float = FIT_TOL) -> str | None:
    keys = [k for k, c in candidates if abs(got - c) <= tol * max(abs(c), 1.0)]
    return keys[0] if len(set(keys)) == 1 else None


def data_loss(kind: str, reference, point: dict, got: float) -> str | None:
    """A hint for a wrong loss at reg = 0 (the data loss alone), or None. kind: "svm", "softmax"
    or "net" (reference then takes the net's params in place of W)."""
    W, X, y = point.get("W", point.get("params")), point["X"], point["y"]
    N = X.shape[0]
    expected = reference(W, X, y, 0.0).item()
    cands = [("loss_sum", N * expected), ("mean_twice", expected / N)]
    if kind == "svm":
        scores = X @ W
        margins = (scores - scores.gather(1, y[:, None])).clamp_min(0).scatter(1, y[:, None], 0.0)
        cands += [("loss_correct_margin", expected + 1.0), ("loss_delta", margins.sum().item() / N)]
    key = scalar_fit(got, cands)
    if key == "loss_sum":
        return f"data loss is {N}x too large: {CAUSES['loss_sum']}"
    return hint(key) if key else None


def regularization(got: float, data: float, term: float, parts: dict | None = None, biases: float = 0.0) -> str:
    """What a wrong loss at reg > 0 says once the data loss was right at reg = 0.
    parts: weight name -> its share of the term (reg * sum of its squares), for a net;
    biases: reg * the sum of the biases' squares (a net's biases are not regularized)."""
    added = got - data
    if biases > FIT_TOL * term and abs(added - term - biases) <= FIT_TOL * max(1.0, abs(term)):
        return ("The data loss is right (it was at reg = 0), so the regularization term is off: it regularizes "
                f"the biases too; {hint('loss_reg_weights')}")
    for name, part in (parts or {}).items():
        for factor, text in ((2.0, f"it counts {name} twice and leaves the other weights out"),
                             (1.0, f"it has {name} only")):
            if abs(added - factor * part) <= FIT_TOL * max(1.0, abs(term)) and abs(part - term) > FIT_TOL * term:
                return (f"The data loss is right (it was at reg = 0), so the regularization term is off: {text}; "
                        f"{hint('loss_reg_weights')}")
    says = {0.0: "the regularization term is missing", 0.5: "the regularization term is half what it should be",
            2.0: "the regularization term is twice what it should be"}
    for factor, text in says.items():
        if abs(added - factor * term) <= FIT_TOL * max(1.0, abs(term)):
            return f"The data loss is right (it was at reg = 0), {text}; {hint('loss_reg')}"
    return (f"The data loss is right (it was at reg = 0), so the regularization term is off: it adds "
            f"{added:.6g}, expected {term:.6g}")


def at_reg_zero(cases: list) -> list:
    """The first case once more at reg = 0 (its last argument), before it: the data loss alone.
    Both share a dict for the verdicts at reg = 0, so the reg > 0 verdict can say which term
    is off ("data loss right, regularization off")."""
    first, split = cases[0], {}
    point = {**first.extra["point"], "reg": 0.0}
    label = first.label.rsplit(", reg=", 1)[0].rsplit(" reg=", 1)[0].rstrip(" (,")
    at_zero = replace(first, label=f"{label}, at reg = 0: the data loss alone)".replace("), at", ", at"),
                      args=first.args[:-1] + (0.0,), extra={**first.extra, "point": point, "split": split})
    return [at_zero, replace(first, extra={**first.extra, "split": split})] + cases[1:]


def explain_loss(problem: str, got, kind: str, reference, point: dict, term: float, split, unstable: bool,
                 parts: dict | None = None, biases: float = 0.0) -> str:
    """A wrong loss: which term is off (from the reg = 0 verdict), and a likely cause if one fits."""
    if unstable and ("nan" in problem or "inf" in problem):
        return f"{problem}; {hint('unstable')}"
    try:
        got = float(got)
    except (TypeError, ValueError, RuntimeError):
        return problem
    if point["reg"] == 0 and split is not None:
        cause = data_loss(kind, reference, point, got)
        return f"{problem}: the data loss alone is off" + (f"; {cause}" if cause else "")
    if split is not None and split.get("data_ok"):
        data = reference(point.get("W", point.get("params")), point["X"], point["y"], 0.0).item()
        return f"{problem}. " + regularization(got, data, term, parts, biases)
    return problem


def explain_gradient(problem: str, split, reg: float, cause: str | None, unstable: bool) -> str:
    """A wrong gradient: related to the verdict at reg = 0, with a likely cause if one fits."""
    problem = problem.rstrip(".")
    cause = None if cause and cause in problem else cause
    if unstable and ("NaN" in problem or "inf" in problem):
        return f"{problem}; {hint('unstable')}"
    if reg != 0 and split is not None and split.get("grad_ok"):
        problem += (". It was right at reg = 0, so the regularization gradient is off "
                    "(the local gradient of reg * sum(W * W) is 2 * reg * W)")
    return problem + (f"; {cause}." if cause else ".")


# --- the two-layer net ------------------------------------------------------------------

BACKWARD_ORDER = ("b2", "W2", "b1", "W1")


def net_grads(params, X, y, reg, dscores="ok", mask="hidden", bias="sum", reg_factor=(2.0, 2.0), w2_input="hidden"):
    """The two-layer net's gradients in float64, with one of the listed mistakes switched on."""
    W1, b1, W2, b2 = (params[k].to(torch.float64) for k in ("W1", "b1", "W2", "b2"))
    N, C = X.shape[0], W2.shape[1]
    pre = X @ W1 + b1
    hidden = pre.clamp_min(0)
    scores = hidden @ W2 + b2
    probs, onehot = torch.softmax(scores, 1), F.one_hot(y, C).to(torch.float64)
    g = {"ok": (probs - onehot) / N, "no_mean": probs - onehot, "mean_twice": (probs - onehot) / N ** 2,
         "minus_one": probs / N, "classes": (probs - onehot) / (N * C)}[dscores]
    dhidden = g @ W2.T
    dpre = {"hidden": dhidden * (pre > 0), "upstream": dhidden * (dhidden > 0), "none": dhidden}[mask]
    total = (lambda t: t.mean(0)) if bias == "mean" else (lambda t: t.sum(0))
    w2_in = hidden if w2_input == "hidden" else pre
    return {"W1": X.T @ dpre + reg_factor[0] * reg * W1, "b1": total(dpre),
            "W2": w2_in.T @ g + reg_factor[1] * reg * W2, "b2": total(g)}


def net_candidates(params, X, y, reg):
    one = lambda **kw: net_grads(params, X, y, reg, **kw)
    cands = [(k, one(dscores=k)) for k in ("no_mean", "mean_twice", "minus_one", "classes")]
    cands += [("relu_mask", one(mask="upstream")), ("relu_mask", one(mask="none")),
              ("local_input", one(w2_input="pre"))]
    ok = one()
    for name in ("b1", "b2"):
        cands.append(("bias_mean", {**ok, name: one(bias="mean")[name]}))
    for factor, key in ((1.0, "reg_half"), (0.0, "no_reg"), (4.0, "reg_double")):
        for which in ((factor, 2.0), (2.0, factor), (factor, factor)):
            cands.append((key, one(reg_factor=which)))
    cands.append(("sign", {n: -t for n, t in ok.items()}))
    return ok, cands


def net_gradient(point: dict, grads: dict) -> str | None:
    """A hint for a wrong set of the net's four gradients, or None."""
    if not all(torch.is_tensor(grads.get(n)) for n in BACKWARD_ORDER):
        return None
    expected, cands = net_candidates(point["params"], point["X"], point["y"], point["reg"])
    key = fit(grads, expected, cands)
    return hint(key) if key else None


def shape_hint(name: str, got, want, rows: int | None = None) -> str | None:
    """A hint for a gradient of the wrong shape (a transposed product, a bias kept 2-D)."""
    got, want = tuple(got), tuple(want)
    if len(want) == 2 and got == want[::-1] and want[0] != want[1]:
        return hint("transposed")
    if len(want) == 1 and (got == (1,) + want or got == (rows,)):
        return hint("bias_shape")
    return None
