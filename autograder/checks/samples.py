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


def far_apart_scores(N: int, C: int, y: torch.Tensor, gen) -> torch.Tensor:
    """Scores (N, C) float64 whose rows sit around +-1000 (a different offset per row) with
    gaps of tens inside a row, and two rows where the correct class is 1000 above the rest.

    A softmax without the per-row max shift overflows (exp(1000) = inf), one shifted by the
    global max underflows in the rows far below it, and one-hot * log(probs) makes 0 * log 0 =
    NaN where a wrong class underflows; the textbook per-row shift is exact here.
    """
    sign = torch.where(torch.arange(N) % 2 == 0, 1.0, -1.0).double()
    offsets = sign * (600 + 400 * torch.rand(N, dtype=torch.float64, generator=gen))
    scores = offsets[:, None] + 10 * torch.randn(N, C, dtype=torch.float64, generator=gen)
    rows = torch.arange(min(2, N))
    scores[rows, y[rows]] = offsets[rows] + 1000  # the notebook's own case: correct far above
    return scores


def with_scores(features: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Weights W with features @ W = scores (features (N, K), K >= N, full row rank)."""
    return features.T @ torch.linalg.solve(features @ features.T, scores)


def large_scores_point(N: int, D: int, C: int, seed: int):
    """(W, X, y) float64, D >= N, with X @ W = far_apart_scores (the stability test)."""
    X, y, gen = classification_data(N, D, C, seed)
    return with_scores(X, far_apart_scores(N, C, y, gen)), X, y


def large_scores_net_point(N: int, D: int, H: int, C: int, seed: int):
    """(params, X, y) of a kink-free net (H >= N) whose output scores are far_apart_scores."""
    params, X, y = relu_net_point(N, D, H, C, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    hidden = (X @ params["W1"] + params["b1"]).clamp_min(0)
    params["W2"] = with_scores(hidden, far_apart_scores(N, C, y, gen) - params["b2"])
    return params, X, y


def float32_tolerance(scores: torch.Tensor, tol: float) -> float:
    """The directional gradient threshold for float32 work at these score magnitudes.

    float32 resolves a score of 2000 to ~1e-4, so correct float32 work reaches directional
    errors of ~2e-6 here (measured), not the ~1e-8 of small scores; real gradient bugs stay
    >= 2e-4. A tenth of float32's spacing at the largest score (~2.4e-5 at 2000) sits between.
    """
    return max(tol, 0.1 * torch.finfo(torch.float32).eps * scores.abs().max().item())
