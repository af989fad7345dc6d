"""The grader's own kNN for assignments/knn: shipped helpers lent to the student's code (a
bug in one function costs its own item only), the expected folds, and the digits figures.

Shipped code runs beside the student's code and must be self-contained (torch only).
"""
from __future__ import annotations

import collections
import functools
import itertools
import math

import torch

from .adapters import shipped
from .search import digits

DEFAULT_K = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]


@shipped
def reference_flatten(x):
    return x.reshape(x.shape[0], -1)


@shipped
def reference_distances(x_train, x_test):
    """Squared distances (num_train, num_test), by the expansion, in the inputs' dtype."""
    p, q = x_train.reshape(x_train.shape[0], -1), x_test.reshape(x_test.shape[0], -1)
    return (p * p).sum(1)[:, None] + (q * q).sum(1)[None, :] - 2 * p @ q.T


@shipped
def reference_predict_labels(dists, y_train, k=1):
    """Majority vote of the k nearest (all of them when k > num_train), ties to the smallest label."""
    nearest = y_train[torch.topk(dists, min(k, dists.shape[0]), dim=0, largest=False).indices]
    votes = torch.zeros(int(y_train.max()) + 1, dists.shape[1], dtype=torch.int64, device=dists.device)
    votes.scatter_add_(0, nearest, torch.ones_like(nearest))
    return votes.argmax(dim=0)  # the first maximum: the smallest label


@shipped
class ReferenceKnn:
    """The grader's KnnClassifier, lent to knn_cross_validate (a classifier bug costs its own item)."""

    def __init__(self, x_train, y_train):
        self.x_train, self.y_train = x_train, y_train

    def predict(self, x_test, k=1):
        p, q = self.x_train.reshape(self.x_train.shape[0], -1), x_test.reshape(x_test.shape[0], -1)
        dists = (p * p).sum(1)[:, None] + (q * q).sum(1)[None, :] - 2 * p @ q.T
        nearest = self.y_train[torch.topk(dists, min(k, dists.shape[0]), dim=0, largest=False).indices]
        votes = torch.zeros(int(self.y_train.max()) + 1, dists.shape[1], dtype=torch.int64, device=dists.device)
        votes.scatter_add_(0, nearest, torch.ones_like(nearest))
        return votes.argmax(dim=0)

    def check_accuracy(self, x_test, y_test, k=1, quiet=False):
        return 100.0 * (self.predict(x_test, k=k) == y_test).double().mean().item()


def expected_folds(x_train, y_train, num_folds: int, k_choices) -> dict:
    """{k: [accuracy on fold i, percent]} with torch.chunk's folds (distances once per fold)."""
    xs, ys = torch.chunk(x_train, num_folds), torch.chunk(y_train, num_folds)
    out = {k: [] for k in k_choices}
    for i in range(num_folds):
        x_rest = torch.cat([x for j, x in enumerate(xs) if j != i])
        y_rest = torch.cat([y for j, y in enumerate(ys) if j != i])
        dists = reference_distances(x_rest, xs[i])
        for k in k_choices:
            y_pred = reference_predict_labels(dists, y_rest, k)
            out[k].append(100.0 * (y_pred == ys[i]).double().mean().item())
    return out


def possible_votes(d: torch.Tensor, y_train: torch.Tensor, k: int) -> set:
    """Every label a right vote can give for one test point (d: its column of dists): one,
    unless duplicates tie at the k-th distance, where any k of the nearest are the k nearest."""
    d, y = d.cpu(), y_train.cpu()
    k = min(k, d.shape[0])
    kth = d.sort().values[k - 1]
    inside, tied = y[d < kth].tolist(), sorted(y[d == kth].tolist())
    need = k - len(inside)
    if math.comb(len(tied), need) > 5000:  # never in the grader's cases; too many to list
        return {int(reference_predict_labels(d[:, None], y, k)[0])}
    out = set()
    for chosen in set(itertools.combinations(tied, need)):
        counts = collections.Counter(inside + list(chosen))
        top = max(counts.values())
        out.add(min(label for label, c in counts.items() if c == top))
    return out


def ambiguous(dists: torch.Tensor, k: int) -> torch.Tensor:
    """Test points whose k nearest are not unique (the k-th and (k+1)-th distances tie):
    any choice among the tied points is right, so their labels are not judged."""
    if k >= dists.shape[0]:
        return torch.zeros(dists.shape[1], dtype=torch.bool)
    near = torch.topk(dists, k + 1, dim=0, largest=False).values
    return (near[k] - near[k - 1]).abs() <= 1e-9 * near[k].abs().clamp_min(1.0)


@functools.lru_cache(maxsize=1)
def digits_images() -> dict:
    """The digits as image tensors (N, 1, 8, 8), float64, without the bias column."""
    data = digits()
    out = {}
    for split in ("train", "test"):
        X = data[f"X_{split}"][:, :-1]
        out[f"x_{split}"] = X.reshape(X.shape[0], 8, 8, 1).permute(0, 3, 1, 2).contiguous()
        out[f"y_{split}"] = data[f"y_{split}"]
    return out


@functools.lru_cache(maxsize=1)
def digits_cross_validation() -> dict:
    """The grader's 5-fold cross-validation on the digits train split, default k_choices."""
    data = digits_images()
    return expected_folds(data["x_train"], data["y_train"], 5, DEFAULT_K)


def digits_accuracy(k: int) -> float:
    data = digits_images()
    return ReferenceKnn(data["x_train"], data["y_train"]).check_accuracy(data["x_test"], data["y_test"], k=k)
