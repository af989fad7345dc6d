"""Test points the grader chooses: random data away from kinks, with a visible L2 term."""
from __future__ import annotations

import torch

KINK_MARGIN = 1e-3  # every hinge stays this far from 0 (perturbations move it < 1e-4)


def devices() -> list:
    """Devices to test on: always the CPU, and CUDA when there is one."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def classification_data(N: int, D: int, C: int, seed: int):
    """Random inputs X (N, D) float64 and labels y (N,) int64 covering the classes."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, dtype=torch.float64, generator=gen)
    y = torch.randint(0, C, (N,), generator=gen)
    y[: min(N, C)] = torch.randperm(C, generator=gen)[: min(N, C)]
    return X, y, gen


def hinge_margins(W, X, y) -> torch.Tensor:
    """Margins s_j - s_y + 1 for j != y, shape (N, C-1) flattened."""
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    mask = torch.ones_like(scores, dtype=torch.bool).scatter_(1, y[:, None], False)
    return (scores - correct + 1)[mask]


def away_from_kinks(N: int, D: int, C: int, seed: int, scale: float = 0.5, hinge: bool = True):
    """(W, X, y) float64 with every SVM margin at least KINK_MARGIN away from 0."""
    X, y, gen = classification_data(N, D, C, seed)
    for _ in range(1000):
        W = scale * torch.randn(D, C, dtype=torch.float64, generator=gen) / D ** 0.5
        if not hinge or hinge_margins(W, X, y).abs().min() >= KINK_MARGIN:
            return W, X, y
    raise RuntimeError("no kink-free test point found")  # never seen: margins are continuous


def visible_reg(loss_fn, W, X, y) -> float:
    """A reg for which the L2 gradient is about as large as the data gradient.

    With tiny reg a missing factor 2 on reg*sum(W^2) hides below the numeric noise, so the
    grader makes the L2 term a visible share of the gradient.
    """
    Wg = W.clone().requires_grad_(True)
    with torch.enable_grad():
        loss_fn(Wg, X, y, 0.0).backward()
    data_norm = Wg.grad.norm().item()
    return round(max(data_norm, 1e-3) / (2 * W.norm().item()), 4)


def relu_net_point(N: int, D: int, H: int, C: int, seed: int):
    """(params, X, y) float64 with every ReLU input >= KINK_MARGIN from 0 and 20-80% negative,
    so a missing ReLU mask changes the gradient."""
    X, y, gen = classification_data(N, D, C, seed)
    for _ in range(1000):
        params = {"W1": torch.randn(D, H, dtype=torch.float64, generator=gen) / D ** 0.5,
                  "b1": 0.3 * torch.randn(H, dtype=torch.float64, generator=gen),
                  "W2": torch.randn(H, C, dtype=torch.float64, generator=gen) / H ** 0.5,
                  "b2": 0.3 * torch.randn(C, dtype=torch.float64, generator=gen)}
        pre = X @ params["W1"] + params["b1"]
        negative = (pre < 0).double().mean().item()
        if pre.abs().min() >= KINK_MARGIN and (N * H < 5 or 0.2 <= negative <= 0.8):
            return params, X, y
    raise RuntimeError("no kink-free test point found")


def visible_reg_params(loss_fn, params: dict, X, y, names=("W1", "W2")) -> float:
    """reg making the L2 gradient of the regularized weights about as large as the data gradient."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        loss_fn(leaves, X, y, 0.0).backward()
    ratios = [max(leaves[k].grad.norm().item(), 1e-3) / (2 * params[k].norm().item()) for k in names]
    return round(float(torch.tensor(ratios).log().mean().exp()), 4)
