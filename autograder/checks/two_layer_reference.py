"""The grader's own two-layer net: forward pass, loss, and the helpers students' functions
call during checks (sampling, init, training, prediction). Values and textbook gradients."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .linear_classifiers import reference_sample_batch

PARAMS = ("W1", "b1", "W2", "b2")


def forward(params, X):
    """Reference: (scores (N, C), hidden (N, H)) of W2 max(0, X W1 + b1) + b2."""
    hidden = (X @ params["W1"] + params["b1"]).clamp_min(0)
    return hidden @ params["W2"] + params["b2"], hidden


def loss(params, X, y, reg):
    """Reference: mean softmax cross-entropy + reg * (sum W1^2 + sum W2^2)."""
    scores, _ = forward(params, X)
    return F.cross_entropy(scores, y) + reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())


def reference_forward_backward(params, X, y=None, reg=0.0):
    """The grader's (loss, grads) for checks of functions that call it (any dtype/device).

    Its gradients are the textbook formulas; the test suite checks them against autograd.
    """
    pre = X @ params["W1"] + params["b1"]
    hidden = pre.clamp_min(0)
    scores = hidden @ params["W2"] + params["b2"]
    if y is None:
        return scores
    N = X.shape[0]
    value = F.cross_entropy(scores, y) + reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
    grad_scores = torch.softmax(scores, dim=1)
    grad_scores[torch.arange(N, device=X.device), y] -= 1
    grad_scores /= N
    grad_pre = (grad_scores @ params["W2"].T) * (pre > 0)
    return value, {"W1": X.T @ grad_pre + 2 * reg * params["W1"], "b1": grad_pre.sum(0),
                   "W2": hidden.T @ grad_scores + 2 * reg * params["W2"], "b2": grad_scores.sum(0)}


def reference_predict(params, loss_func, X):
    return loss_func(params, X).argmax(dim=1)


def reference_init(input_size, hidden_size, output_size, dtype=torch.float32, device="cpu", std=1e-4):
    return {"W1": std * torch.randn(input_size, hidden_size, dtype=dtype, device=device),
            "b1": torch.zeros(hidden_size, dtype=dtype, device=device),
            "W2": std * torch.randn(hidden_size, output_size, dtype=dtype, device=device),
            "b2": torch.zeros(output_size, dtype=dtype, device=device)}


def reference_train(params, loss_func, pred_func, X, y, X_val, y_val, learning_rate=1e-3,
                    learning_rate_decay=0.95, reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    """The grader's SGD loop (used while checking find_best_net)."""
    num_train = X.shape[0]
    per_epoch = max(num_train // batch_size, 1)
    stats = {"loss_history": [], "train_acc_history": [], "val_acc_history": []}
    for it in range(num_iters):
        X_batch, y_batch = reference_sample_batch(X, y, num_train, batch_size)
        value, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        stats["loss_history"].append(value.item())
        for k in PARAMS:
            params[k] -= learning_rate * grads[k]
        if it % per_epoch == 0:
            stats["train_acc_history"].append((pred_func(params, loss_func, X_batch) == y_batch).float().mean().item())
            stats["val_acc_history"].append((pred_func(params, loss_func, X_val) == y_val).float().mean().item())
            learning_rate *= learning_rate_decay
    return stats
