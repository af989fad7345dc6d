"""Search grids judged by what they reach: the grader trains the student's grid on the offline
digits, as the notebook's search does, and requires the validation accuracy the docstring
states. Training runs here, in the grader (a grid is plain numbers); results are cached per
grid, since a class submits the same few grids again and again.
"""
from __future__ import annotations

import functools
import importlib.util
import itertools
import math

import torch

from ..calls import seed
from ..layout import REPO
from .item import Case, Item

# linear_classifiers: the notebook's search (SEARCH_ITERS outside grading, batches of 200,
# torch.manual_seed(0) before each combination) must reach this validation accuracy.
LINEAR_ITERS, LINEAR_BATCH, LINEAR_ACCURACY = 1500, 200, 0.93
# two_layer_net: find_best_net as graded (NUM_SEARCH_ITERS, SEARCH_BATCH_SIZE under grading);
# MAX_HIDDEN bounds the grader's work: 25 nets of 256 units, the worst grid, train in ~20 s
# (measured: 25 x 512 units cost 2.1 s CPU per 50 iterations, ~43 s for 1000).
MAX_HIDDEN = 256
NET_ITERS, NET_BATCH, NET_ACCURACY = 1000, 100, 0.95


@functools.lru_cache(maxsize=1)
def digits() -> dict:
    """The offline digits split the notebooks use (data/flatgrad_data.py, float64)."""
    spec = importlib.util.spec_from_file_location("flatgrad_data", REPO / "data" / "flatgrad_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_digits()


def linear_gradient(kind: str, W, X, y, reg):
    """The gradient of the mean SVM or softmax loss plus reg * sum(W^2) for K models at once:
    W is (D, K, C), one plain matrix product for all (2-4x faster than a batched one)."""
    (N, D), (_, K, C) = X.shape, W.shape
    scores = (X @ W.reshape(D, K * C)).view(N, K, C)
    onehot = torch.zeros(N, 1, C, dtype=W.dtype).scatter_(2, y.view(N, 1, 1), 1.0)
    if kind == "svm":
        correct = scores.gather(2, y.view(N, 1, 1).expand(N, K, 1))
        active = (scores - correct + 1 > 0).to(W.dtype) * (1 - onehot)
        grad_scores = active - onehot * active.sum(dim=2, keepdim=True)
    else:
        probs = (scores - scores.amax(dim=2, keepdim=True)).exp_()  # torch.softmax is 5x slower
        grad_scores = probs / probs.sum(dim=2, keepdim=True) - onehot  # over 10 classes
    grad = (X.T @ grad_scores.view(N, K * C)).view(D, K, C) / N
    return grad + 2 * reg[None, :, None] * W


@functools.lru_cache(maxsize=256)
def linear_search(kind: str, learning_rates: tuple, regs: tuple) -> tuple:
    """(best validation accuracy, its (lr, reg)) of the notebook's search on the digits.

    Every combination starts from the same W and sees the same minibatches (the notebook
    seeds 0 before each), so all of them train at once as one (D, K, C) tensor.
    """
    data = digits()
    X, y = data["X_train"], data["y_train"]
    combos = list(itertools.product(learning_rates, regs))
    lr = torch.tensor([c[0] for c in combos], dtype=X.dtype)[None, :, None]
    reg = torch.tensor([c[1] for c in combos], dtype=X.dtype)
    seed(0)
    W = 0.000001 * torch.randn(X.shape[1], int(y.max()) + 1, dtype=X.dtype)
    W = W[:, None, :].expand(-1, len(combos), -1).clone()
    with torch.no_grad():
        for _ in range(LINEAR_ITERS):
            idx = torch.randint(X.shape[0], (LINEAR_BATCH,))
            W -= lr * linear_gradient(kind, W, X[idx], y[idx], reg)
        scores = torch.einsum("nd,dkc->nkc", data["X_val"], W)
        accuracy = (scores.argmax(dim=2) == data["y_val"][:, None]).double().mean(dim=0)
    accuracy = torch.nan_to_num(accuracy, nan=0.0)  # a diverged run classifies nothing
    best = int(accuracy.argmax())
    return accuracy[best].item(), combos[best]


def net_gradients(P: dict, X, y, reg):
    """Batched textbook gradients of the two-layer loss: P holds (K, ...) parameters."""
    N = X.shape[0]
    pre = X @ P["W1"] + P["b1"][:, None, :]                         # (K, N, H)
    hidden = pre.clamp_min(0)
    grad_scores = torch.softmax(hidden @ P["W2"] + P["b2"][:, None, :], dim=2)
    grad_scores[:, torch.arange(N), y] -= 1
    grad_scores /= N
    grad_pre = (grad_scores @ P["W2"].transpose(1, 2)) * (pre > 0)
    r = 2 * reg[:, None, None]
    return {"W1": X.T @ grad_pre + r * P["W1"], "b1": grad_pre.sum(1),
            "W2": hidden.transpose(1, 2) @ grad_scores + r * P["W2"], "b2": grad_scores.sum(1)}


def net_accuracy(P: dict, X, y) -> torch.Tensor:
    hidden = (X @ P["W1"] + P["b1"][:, None, :]).clamp_min(0)
    scores = hidden @ P["W2"] + P["b2"][:, None, :]
    return torch.nan_to_num((scores.argmax(dim=2) == y).double().mean(dim=1), nan=0.0)


def train_nets(combos: list, hidden: int, data: dict) -> torch.Tensor:
    """Validation accuracies of nets of one hidden size, trained at once as a (K, ...) batch
    (find_best_net's loop: init_params std 1e-4, SGD, decay once per epoch)."""
    X, y = data["X_train"], data["y_train"]
    K, D, C = len(combos), X.shape[1], int(y.max()) + 1
    lr, reg, decay = (torch.tensor([c[i] for c in combos], dtype=X.dtype) for i in (0, 2, 3))
    P = {"W1": 1e-4 * torch.randn(K, D, hidden, dtype=X.dtype), "b1": torch.zeros(K, hidden, dtype=X.dtype),
         "W2": 1e-4 * torch.randn(K, hidden, C, dtype=X.dtype), "b2": torch.zeros(K, C, dtype=X.dtype)}
    per_epoch = max(X.shape[0] // NET_BATCH, 1)
    with torch.no_grad():
        for it in range(NET_ITERS):
            idx = torch.randint(X.shape[0], (NET_BATCH,))
            grads = net_gradients(P, X[idx], y[idx], reg)
            for k, g in grads.items():
                P[k] -= lr.view(-1, *[1] * (g.dim() - 1)) * g
            if it % per_epoch == 0:
                lr = lr * decay
        return net_accuracy(P, data["X_val"], data["y_val"])


@functools.lru_cache(maxsize=256)
def net_search(combos: tuple) -> tuple:
    """(best validation accuracy, its combination) of find_best_net on the digits. Nets of one
    hidden size train together; it stops at the first size whose best reaches NET_ACCURACY."""
    data = digits()
    best = (0.0, combos[0])
    seed(0)
    for hidden in dict.fromkeys(int(c[1]) for c in combos):  # the student's order
        group = [c for c in combos if int(c[1]) == hidden]
        accuracy = train_nets(group, hidden, data)
        k = int(accuracy.argmax())
        best = max(best, (accuracy[k].item(), group[k]), key=lambda b: b[0])
        if best[0] >= NET_ACCURACY:
            break
    return best


# --- the linear grids: shape, then what they reach --------------------------------------

def grid_judge(kind: str):
    """The grid's shape, then what it reaches: the notebook's search on the digits."""
    def judge(case: Case, outcome) -> str | None:
        if problem := judge_grid(case, outcome):
            return problem
        grid = tuple(tuple(float(v) for v in values) for values in outcome.value)
        accuracy, (lr, reg) = linear_search(kind, *grid)
        if accuracy < LINEAR_ACCURACY:
            return (f"the grid's best combination (learning rate {lr:g}, reg {reg:g}) reaches a validation "
                    f"accuracy of {accuracy:.3f} on the digits after {LINEAR_ITERS} iterations; the "
                    f"docstring asks for at least {LINEAR_ACCURACY} (too small a learning rate learns "
                    "nothing, too large a reg keeps W near 0)")
        return None
    return judge


def judge_grid(case: Case, outcome) -> str | None:
    value = outcome.value
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return f"should return (learning_rates, regularization_strengths), got {type(value).__name__}"
    names = ("learning_rates", "regularization_strengths")
    for name, values in zip(names, value):
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            return f"{name} should be a list of numbers"
        if not numbers:
            return f"{name} is empty"
        if not all(math.isfinite(v) and v >= 0 for v in numbers):
            return f"{name} should hold finite non-negative numbers, got {numbers}"
    combos = len(value[0]) * len(value[1])
    if not 2 <= combos <= 25:
        return f"the grid has {combos} combinations; search 2 to 25 (each one trains a model)"
    if not all(0 < float(v) <= 10 for v in value[0]):
        return "every learning rate should be in (0, 10]"
    return None


def grid_item(name: str, kind: str) -> Item:
    return Item(name, lambda: [Case("called with no arguments", (), ())], grid_judge(kind),
                passed=f"the grid's best combination reaches {LINEAR_ACCURACY} on the digits")
