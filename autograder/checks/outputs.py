"""Judging returned values: scalars, tensors and gradients, in plain words."""
from __future__ import annotations

import math

import torch

from .. import gradcheck
from . import causes

# Loss values: float64 work agrees with the float64 reference to ~1e-12; float32 to ~1e-6.
LOSS_RTOL = {torch.float64: 1e-7, torch.float32: 1e-4}

# Precision is not a bug: a float64 result that agrees with the reference only to float32
# precision was computed in float32 inside; it passes, and the verdict says so (one note).
_NOTES: list = []


def precision_notes() -> list:
    """The notes of the item being judged (emptied here: checks.item.run calls it per item)."""
    _NOTES.clear()
    return _NOTES


def _float32_note(name: str, error: float) -> None:
    if not _NOTES:
        _NOTES.append(f"{name} agrees with the float64 reference to float32 precision only (relative "
                      f"error {error:.1e}): it was evidently computed in float32, which is accepted.")


def describe(tensor: torch.Tensor) -> str:
    return f"{tuple(tensor.shape)}, {str(tensor.dtype).replace('torch.', '')}, {tensor.device}"


def tensor_problem(name: str, value, like: torch.Tensor, dtype=None) -> str | None:
    """Type, shape, dtype, device and finiteness of a returned tensor; None when fine."""
    dtype = dtype or like.dtype
    if not torch.is_tensor(value):
        return f"{name} should be a tensor of shape {tuple(like.shape)}, got {type(value).__name__}"
    if tuple(value.shape) != tuple(like.shape):
        transposed = (len(like.shape) == 2 and tuple(value.shape) == tuple(like.shape)[::-1]
                      and name.startswith(("d", "grad")))
        return (f"{name} has shape {tuple(value.shape)}, expected {tuple(like.shape)}"
                + (f"; {causes.hint('transposed')}" if transposed else ""))
    if value.dtype != dtype:
        return (f"{name} is {str(value.dtype).replace('torch.', '')}, expected "
                f"{str(dtype).replace('torch.', '')} (keep the dtype of the inputs)")
    if value.device != like.device:
        return f"{name} is on {value.device}, expected {like.device} (keep tensors on the input's device)"
    if value.is_floating_point() and not torch.isfinite(value).all():
        return f"{name} has {int((~torch.isfinite(value)).sum())} NaN/inf entries"
    return None


def scalar_problem(name: str, value, expected: float, dtype, device) -> str | None:
    """A loss value: a python number or a one-element tensor, finite, close to expected."""
    if torch.is_tensor(value):
        if value.numel() != 1:
            return f"{name} should be a scalar, got a tensor of shape {tuple(value.shape)}"
        if value.device != device:
            return f"{name} is on {value.device}, expected {device}"
        number = float(value.detach().reshape(()).item())
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        return f"{name} should be a number or a scalar tensor, got {type(value).__name__}"
    if not math.isfinite(number):
        return f"{name} is {number}"
    rtol = LOSS_RTOL.get(dtype, 1e-4)
    error = abs(number - expected) / max(1.0, abs(expected))
    if error <= rtol:
        return None
    if dtype == torch.float64 and error <= LOSS_RTOL[torch.float32]:
        _float32_note(name, error)
        return None
    return f"{name} is {number:.8g}, expected {expected:.8g} (difference {number - expected:+.3g})"


def gradient_problem(name: str, value, reference_loss, point: torch.Tensor, seed: int,
                     tol: float = gradcheck.DIRECTIONAL_TOL, float32_tol: float | None = None) -> str | None:
    """Judge a gradient against numeric derivatives of the grader's float64 loss at point.

    tol: the directional threshold for the inputs' dtype; float32_tol: what float32 work can
    reach at this point (higher only where large inputs limit float32): a float64 gradient
    within it, but not within tol, was computed in float32 and passes with a note.
    """
    if problem := tensor_problem(name, value, point):
        return problem
    gen = torch.Generator().manual_seed(seed)
    x = point.detach().to("cpu", torch.float64)
    verdict = gradcheck.check_gradient(reference_loss, x, value, name=name, generator=gen, tol=tol)
    if verdict.ok:
        return None
    if point.dtype == torch.float64 and float32_tol and float32_tol > tol and verdict.error <= float32_tol:
        _float32_note(name, verdict.error)
        return None
    return verdict.message


# Values computed in float64 agree with the float64 reference to ~1e-12; float32 to ~1e-6.
VALUE_RTOL = {torch.float64: 1e-8, torch.float32: 1e-4}


def values_problem(name: str, value, expected: torch.Tensor, like: torch.Tensor | None = None) -> str | None:
    """A returned tensor against the grader's expected values (computed in float64)."""
    like = expected if like is None else like
    if problem := tensor_problem(name, value, like):
        return problem
    got = value.detach().to("cpu", torch.float64)
    want = expected.detach().to("cpu", torch.float64)
    scale = max(1.0, want.abs().max().item())
    rtol = VALUE_RTOL.get(like.dtype, 1e-4)
    if torch.allclose(got, want, rtol=rtol, atol=rtol * scale):
        return None
    loose = VALUE_RTOL[torch.float32]
    if like.dtype == torch.float64 and torch.allclose(got, want, rtol=loose, atol=loose * scale):
        _float32_note(name, ((got - want).abs().max() / scale).item())
        return None
    return f"{name} is wrong. " + gradcheck.describe_mismatch(name, got, want, label="expected")


def tuple_problem(value, names: tuple) -> str | None:
    """Is value a tuple/list with one entry per name?"""
    if isinstance(value, (tuple, list)) and len(value) == len(names):
        return None
    return f"should return a tuple ({', '.join(names)}), got {type(value).__name__}"
