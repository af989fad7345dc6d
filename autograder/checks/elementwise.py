"""Small numeric helpers for checks of scalar and elementwise exercises (backprop_basics)."""
from __future__ import annotations

import torch

from ..gradcheck import central_difference

SEED = 77


def as64(value) -> torch.Tensor:
    return torch.as_tensor(value.detach() if torch.is_tensor(value) else value, dtype=torch.float64).cpu()


def elementwise_derivative(f, args, i):
    """d f / d args[i], entry by entry, for an elementwise f: one central difference that steps
    every entry of args[i] at once (entries do not mix)."""
    point = [as64(a) for a in args]
    along = lambda t: f(*point[:i], t, *point[i + 1:])  # noqa: E731 (f along its i-th argument)
    return central_difference(along, point[i], torch.ones_like(point[i]))


def scalars_problem(names, got, expected, rtol=1e-6) -> str | None:
    """Each returned value (number or tensor) against the grader's value."""
    for name, g, e in zip(names, got, expected):
        try:
            g64 = as64(g)
        except (TypeError, ValueError, RuntimeError):
            return f"{name} should be a number or a tensor, got {type(g).__name__}"
        if g64.shape != e.shape and g64.numel() != e.numel():
            return f"{name} has shape {tuple(g64.shape)}, expected {tuple(e.shape)}"
        if not torch.allclose(g64.reshape(e.shape), e, rtol=rtol, atol=rtol):
            show = lambda t: f"{t.item():.6g}" if t.numel() == 1 else f"{t.flatten()[:4].tolist()}"  # noqa: E731 (a formatter for the message)
            return f"{name} is {show(g64)}, expected {show(e)}"
    return None
