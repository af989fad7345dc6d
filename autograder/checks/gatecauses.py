"""Likely causes for the backprop_basics gates, in the lecture's gate patterns.

Each judge knows its inputs and the upstream gradient; here it builds, in float64, what each
listed mistake would have returned, and causes.fit names the one the student's values fit
(within causes.FIT_TOL, candidates equal to the right answer skipped). Otherwise: nothing.
"""
from __future__ import annotations

import torch

from .causes import CAUSES, data_loss, fit, hint
from .elementwise import as64


def named(got: dict, expected: dict, candidates) -> str:
    """"; likely: ..." when one listed mistake fits every tensor of got, else ""."""
    try:
        got = {n: as64(v) for n, v in got.items()}
    except (TypeError, ValueError, RuntimeError):
        return ""
    key = fit(got, expected, candidates)
    return f"; {hint(key)}" if key else ""


def pair(key, expected, grad_x=None, grad_y=None):
    """The candidates where grad_x, grad_y or both take the mistaken value."""
    ex, ey = expected
    out = []
    if grad_x is not None:
        out.append((key, {"grad_x": grad_x, "grad_y": ey}))
    if grad_y is not None:
        out.append((key, {"grad_x": ex, "grad_y": grad_y}))
    if grad_x is not None and grad_y is not None:
        out.append((key, {"grad_x": grad_x, "grad_y": grad_y}))
    return out


def add_gate(got, g) -> str:
    """Add gate = gradient distributor: both inputs get g unchanged (not half each)."""
    expected = (g, g)
    cands = pair("add_split", expected, g / 2, g / 2)
    return named({"grad_x": got[0], "grad_y": got[1]}, dict(zip(("grad_x", "grad_y"), expected)), cands)


def mul_gate(got, x, y, g) -> str:
    """Mul gate = swap multiplier: d/dx of x * y is y."""
    expected = (g * y, g * x)
    cands = pair("mul_swap", expected, g * x, g * y)
    return named({"grad_x": got[0], "grad_y": got[1]}, dict(zip(("grad_x", "grad_y"), expected)), cands)


def max_gate(got, x, y, g) -> str:
    """Max gate = router: all of g to the larger input (x on a tie), none to the other."""
    wins = (x >= y).to(torch.float64)
    expected = (g * wins, g * (1 - wins))
    cands = pair("max_route", expected, g, g) + pair("max_route", expected, g / 2, g / 2)
    return named({"grad_x": got[0], "grad_y": got[1]}, dict(zip(("grad_x", "grad_y"), expected)), cands)


def copy_gate(got, branches) -> str:
    """Copy gate / branches: the gradients of every branch add."""
    if len(branches) < 2:
        return ""
    branches = [as64(b) for b in branches]
    expected = {"grad_x": sum(branches)}
    cands = [("copy_add", {"grad_x": branches[-1]}), ("copy_add", {"grad_x": branches[0]}),
             ("copy_add", {"grad_x": sum(branches) / len(branches)})]
    return named({"grad_x": got}, expected, cands)


def branches(got, parts) -> str:
    """A value feeding several gates whose gradient is one branch's part, not their sum."""
    if len(parts) < 2:
        return ""
    parts = [torch.tensor(float(p), dtype=torch.float64) for p in parts]
    return named({"g": got}, {"g": sum(parts)}, [("copy_add", {"g": p}) for p in parts])


def circuit(got, x, y, z) -> str:
    """f = (x + y) * z: the mul gate's local gradients are the other factor, the add gate copies."""
    names = ("grad_x", "grad_y", "grad_z")
    q = x + y
    expected = dict(zip(names, (z, z, q)))
    cands = [("mul_swap", {**expected, "grad_z": x}), ("mul_swap", {**expected, "grad_z": y}),
             ("mul_swap", {**expected, "grad_x": q, "grad_y": q, "grad_z": z}),
             ("add_split", {**expected, "grad_x": z / 2, "grad_y": z / 2})]
    return named(dict(zip(names, got)), expected, cands)


def sigmoid_circuit(grads, expected, L) -> str:
    """The sigmoid's local gradient is s * (1 - s), s its output: a missing factor scales every gradient."""
    names = [f"g{i}" for i in range(len(expected))]
    expected = dict(zip(names, expected))
    cands = [("sigmoid_local", {n: e / factor for n, e in expected.items()})
             for factor in ((1 - L), L, L * (1 - L))]
    cands.append(("sigmoid_local", {n: e * L for n, e in expected.items()}))  # s * s * (1 - s)
    return named(dict(zip(names, grads)), expected, cands)


def relu(got, x, g) -> str:
    """The ReLU mask comes from the input (x > 0), not from the upstream gradient."""
    expected = {"grad_x": g * (x > 0)}
    cands = [("relu_input", {"grad_x": g * (g > 0)}), ("relu_input", {"grad_x": g})]
    if (x == 0).any():  # the case with zeros in x (and no negatives): only the convention at 0 is tested
        cands = [("relu_zero", {"grad_x": g * (x >= 0)})]
    return named({"grad_x": got}, expected, cands)


def function(name: str, i: int, got, grad_out, inputs) -> str:
    """A hint for input i's gradient from one of the autograd Functions (Multiply, MatMul, ReLU, Sigmoid)."""
    g, xs = as64(grad_out), [as64(t) for t in inputs]
    if name == "Multiply":
        x, y = xs
        return named({"g": got}, {"g": g * xs[1 - i]}, [("mul_swap", {"g": g * xs[i]})])
    if name == "MatMul":
        x, w = xs
        right = g @ w.T if i == 0 else x.T @ g
        return named({"g": got}, {"g": right}, [("matmul_mean", {"g": right / x.shape[0]})])
    if name == "ReLU":
        return relu(got, xs[0], g)
    if name == "Sigmoid":
        s = torch.sigmoid(xs[0])
        right = g * s * (1 - s)
        return named({"g": got}, {"g": right}, [("sigmoid_local", {"g": c}) for c in (g * s, g * (1 - s), g)])
    return ""


def modular_loss(got, loss, params, X, y, reg) -> str:
    """A wrong loss of the modular net: a summed data loss is N times the mean (the reg term kept)."""
    try:
        got = float(got)
    except (TypeError, ValueError, RuntimeError):
        return ""
    term = loss(params, X, y, reg).item() - loss(params, X, y, 0.0).item()
    cause = data_loss("net", loss, {"params": params, "X": X, "y": y}, got - term)
    if cause and not cause.startswith("likely:"):  # "data loss is Nx too large: ..." named as a hint too
        cause = cause.replace(f": {CAUSES['loss_sum']}", f"; {hint('loss_sum')}")
    return f"; {cause}" if cause else ""
