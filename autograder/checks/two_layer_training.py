"""Checks for two_layer_net's training side: nn_train, nn_predict, the grid, find_best_net."""
from __future__ import annotations

import itertools
import math

import torch

from ..calls import seed
from . import search
from .record import Record
from .item import Case
from .outputs import tensor_problem, tuple_problem
from .samples import devices, relu_net_point
from .two_layer_reference import (PARAMS, reference_forward_backward, reference_init,
                                  reference_predict, reference_train)

SEED = 4243


# --- nn_train -----------------------------------------------------------------------------

class RecordingLoss:
    """A fake loss_func: loss = call number, fixed grads; records params at every call."""

    def __init__(self, grads):
        self.grads, self.seen = grads, Record()  # bounded: the first calls, and the count of all

    def __call__(self, params, X, y=None, reg=0.0):
        if y is None:  # called for scores by a pred_func
            return torch.zeros(X.shape[0], 3, dtype=X.dtype)
        self.seen.append({k: params[k].detach().clone() for k in PARAMS})
        self.reg = reg
        return torch.tensor(float(self.seen.count - 1), dtype=X.dtype), {k: g.clone() for k, g in self.grads.items()}


def fixed_prediction(params, loss_func, X):
    return torch.zeros(X.shape[0], dtype=torch.int64)


def blobs(n: int, seed: int):
    """Three well-separated 2-D blobs: (X (n, 2), y (n,)) float64."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[3.0, 0.0], [-2.0, 2.5], [-2.0, -2.5]], dtype=torch.float64)
    y = torch.arange(n) % 3
    return centers[y] + 0.5 * torch.randn(n, 2, dtype=torch.float64, generator=gen), y


def train_cases() -> list:
    names = ("params", "loss_func", "pred_func", "X", "y", "X_val", "y_val", "learning_rate",
             "learning_rate_decay", "reg", "num_iters", "batch_size")
    shapes = {"W1": (2, 4), "b1": (4,), "W2": (4, 3), "b2": (3,)}
    grads = {k: torch.linspace(-1, 1, math.prod(s), dtype=torch.float64).reshape(s) for k, s in shapes.items()}
    start = {k: torch.ones(s, dtype=torch.float64) for k, s in shapes.items()}
    X = torch.arange(60, dtype=torch.float64)[:, None].repeat(1, 2)
    y = torch.arange(60) % 3
    y_val = torch.zeros(6, dtype=torch.int64)  # fixed_prediction is right on all of them: accuracy 1.0
    seed(SEED)
    Xb, yb = blobs(300, SEED)
    Xv, yv = blobs(90, SEED + 1)
    fake = [RecordingLoss(grads), RecordingLoss(grads)]
    return [Case("a loss with constant gradients (60 rows, batches of 20, 7 iterations)", names,
                 ({k: v.clone() for k, v in start.items()}, fake[0], fixed_prediction, X, y, X[:6], y_val,
                  0.1, 0.5, 0.25, 7, 20), {"fake": fake[0]}),
            # 50 // 20 = 2 iterations per epoch: 50 / 20 = 2.5 or its ceiling 3 decay at other iterations
            Case("the same, 50 rows (batches of 20 do not divide them: an epoch is 50 // 20 = 2 iterations)",
                 names, ({k: v.clone() for k, v in start.items()}, fake[1], fixed_prediction, X[:50], y[:50],
                         X[:6], y_val, 0.1, 0.5, 0.25, 7, 20), {"fake": fake[1]}),
            Case("three separable blobs", names,
                 (reference_init(2, 16, 3, dtype=torch.float64, std=0.5), reference_forward_backward,
                  reference_predict, Xb, yb, Xv, yv, 0.5, 0.95, 1e-4, 40, 50), {})]


def judge_train(case: Case, outcome) -> str | None:
    stats = outcome.value
    if not isinstance(stats, dict) or not {"loss_history", "train_acc_history", "val_acc_history"} <= set(stats):
        return "should return a dict with loss_history, train_acc_history and val_acc_history"
    params, _, _, X, y, X_val, y_val, lr, decay, reg, T, batch = case.args
    if len(stats["loss_history"]) != T:
        return f"loss_history has {len(stats['loss_history'])} entries, expected one per iteration ({T})"
    if "fake" not in case.extra:
        first, last = stats["loss_history"][0], sum(stats["loss_history"][-20:]) / 20
        accuracy = (reference_predict(params, reference_forward_backward, X_val) == y_val).double().mean().item()
        if not (last < 0.5 * first and accuracy >= 0.9):
            return (f"training did not learn an easy problem (loss {first:.3f} -> {last:.3f}, "
                    f"validation accuracy {accuracy:.0%}); update every parameter in params")
        return None
    return judge_schedule(case, stats)


def judge_schedule(case: Case, stats) -> str | None:
    """With constant gradients every step is lr_t * grad: read lr_t back from the params seen."""
    fake = case.extra["fake"]
    params, _, _, X, _, _, _, lr, decay, reg, T, batch = case.args
    if fake.seen.count != T:
        return f"loss_func was called {fake.seen.count} times for {T} iterations"
    if getattr(fake, "reg", None) != reg:
        return f"loss_func got reg={getattr(fake, 'reg', None)}, expected {reg}"
    path = fake.seen + [{k: params[k].detach().clone() for k in PARAMS}]
    per_iter = []
    for before, after in zip(path, path[1:]):
        for k in PARAMS:
            g = fake.grads[k]
            step = ((before[k] - after[k]) / g)[g.abs() > 1e-9]
            if not torch.allclose(step, step[0].expand_as(step), rtol=1e-9):
                return f"params['{k}'] did not move by -learning_rate * grads['{k}']"
            if k == PARAMS[0]:
                per_iter.append(step[0].item())
            elif not math.isclose(step[0].item(), per_iter[-1], rel_tol=1e-9):
                return (f"params['{k}'] moved by {step[0].item():.4g} * grads['{k}'] but params['W1'] "
                        f"by {per_iter[-1]:.4g} * grads['W1']: update every parameter the same way")
    if not math.isclose(per_iter[0], lr, rel_tol=1e-9):
        return f"the first step used learning rate {per_iter[0]:.4g}, expected {lr}"
    decays = [i for i in range(1, T) if not math.isclose(per_iter[i], per_iter[i - 1], rel_tol=1e-9)]
    if any(not math.isclose(per_iter[i], per_iter[i - 1] * decay, rel_tol=1e-9) for i in decays):
        return "the learning rate changed by something other than learning_rate_decay"
    epoch = max(X.shape[0] // batch, 1)
    if len(decays) < (T - 1) // epoch or any(b - a != epoch for a, b in zip(decays, decays[1:])):
        return f"the learning rate should decay once per epoch ({epoch} iterations), decays at {decays}"
    if len(stats["val_acc_history"]) < T // epoch or len(stats["train_acc_history"]) != len(stats["val_acc_history"]):
        return "train_acc_history and val_acc_history need one entry per epoch"
    y_val = case.args[6]
    if any(abs(float(a) - 1.0) > 1e-6 for a in stats["val_acc_history"]):
        return (f"val_acc_history is {[round(float(a), 3) for a in stats['val_acc_history']]}, but pred_func is "
                f"right on every one of (X_val, y_val) here ({len(y_val)} points): the validation accuracy is "
                "pred_func's accuracy on X_val against y_val, not on a training batch")
    return None


# --- nn_predict, the search grid and find_best_net --------------------------------------

def predict_cases() -> list:
    cases = []
    for k, (N, dtype, device) in enumerate([(30, torch.float64, "cpu"), (1, torch.float64, "cpu"),
                                            (20, torch.float32, "cpu")] + [(20, torch.float32, d) for d in devices()[1:]]):
        params, X, _ = relu_net_point(max(N, 2), 6, 5, 4, SEED + k)
        params = {n: t.to(device, dtype) for n, t in params.items()}
        cases.append(Case(f"N={N}, {dtype}, {device}", ("params", "loss_func", "X"),
                          (params, reference_forward_backward, X[:N].to(device, dtype))))
    params, X, _ = relu_net_point(30, 6, 5, 4, SEED)
    cases.append(Case("N=30, float64, a loss_func of another net (tanh instead of ReLU)",
                      ("params", "loss_func", "X"), (params, tanh_net_scores, X), {"other_net": True}))
    return cases


def tanh_net_scores(params, X, y=None, reg=0.0):
    """A loss_func that is not nn_forward_backward: scores of the same weights with tanh hidden
    units. nn_predict's labels are the argmax of whatever loss_func(params, X) returns."""
    return torch.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def judge_predict(case: Case, outcome) -> str | None:
    params, loss_func, X = case.args
    expected = loss_func(params, X).argmax(dim=1)
    if problem := tensor_problem("y_pred", outcome.value, expected, dtype=torch.int64):
        return problem
    wrong = (outcome.value != expected).nonzero().flatten().tolist()
    if not wrong:
        return None
    hint = (": call loss_func(params, X) for the scores (it need not be nn_forward_backward), not "
            "nn_forward_pass" if "other_net" in case.extra else "")
    return f"{len(wrong)} labels differ from argmax of the scores of loss_func(params, X) (first at index {wrong[0]}){hint}"


def judge_grid(case: Case, outcome) -> str | None:
    names = ("learning_rates", "hidden_sizes", "regularization_strengths", "learning_rate_decays")
    if problem := tuple_problem(outcome.value, names):
        return problem
    combos = 1
    for name, values in zip(names, outcome.value):
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            return f"{name} should be a list of numbers"
        if not numbers or not all(math.isfinite(v) and v >= 0 for v in numbers):
            return f"{name} should be a non-empty list of finite non-negative numbers"
        combos *= len(numbers)
    if not all(float(h) == int(h) and int(h) > 0 for h in outcome.value[1]):
        return "hidden_sizes should be positive integers"
    if not all(0 < float(d) <= 1 for d in outcome.value[3]):
        return "learning_rate_decays should be in (0, 1]"
    if not 2 <= combos <= 25:
        return f"the grid has {combos} combinations; search 2 to 25"
    if max(int(h) for h in outcome.value[1]) > search.MAX_HIDDEN:
        return f"hidden_sizes go up to {search.MAX_HIDDEN} (each net is trained when the grid is graded)"
    lrs, hidden, regs, decays = ([float(v) for v in values] for values in outcome.value)
    combos = tuple(itertools.product(lrs, [int(h) for h in hidden], regs, decays))
    accuracy, (lr, H, reg, decay) = search.net_search(combos)
    if accuracy < search.NET_ACCURACY:
        return (f"the grid's best net (learning rate {lr:g}, {H} hidden units, reg {reg:g}, decay {decay:g}) "
                f"reaches a validation accuracy of {accuracy:.3f} on the digits with find_best_net "
                f"({search.NET_ITERS} iterations, batches of {search.NET_BATCH}); the docstring asks for at "
                f"least {search.NET_ACCURACY}")
    return None


TRAINED = Record()  # (params, validation accuracy) of the nets the student's search trained


SEARCH_ITERS = 40  # enough for learning rate 1 to beat learning rate 0 on the blobs (it does in 30)


def recording_train(params, *args, **kwargs):
    """The grader's nn_train, remembering each trained net and its validation accuracy.

    It trains for at most SEARCH_ITERS iterations whatever the search asks: the check is
    about keeping the best net, not about training long.
    """
    if len(args) > 9:  # (loss_func, pred_func, X, y, X_val, y_val, lr, decay, reg, num_iters, ...)
        args = (*args[:9], min(int(args[9]), SEARCH_ITERS), *args[10:])
    elif "num_iters" in kwargs:
        kwargs["num_iters"] = min(int(kwargs["num_iters"]), SEARCH_ITERS)
    else:
        kwargs["num_iters"] = SEARCH_ITERS
    stats = reference_train(params, *args, **kwargs)
    X_val, y_val = (args[4], args[5]) if len(args) > 5 else (kwargs["X_val"], kwargs["y_val"])
    accuracy = (reference_predict(params, reference_forward_backward, X_val) == y_val).double().mean().item()
    TRAINED.append((params, accuracy))
    return stats


recording_train.changes_its_arguments = True  # the clean room sends the trained params back


def best_net_cases() -> list:
    TRAINED.clear()
    seed(SEED)
    X, y = blobs(240, SEED)
    Xv, yv = blobs(90, SEED + 1)
    # validation labels shifted by one class: the net that learns the training blobs (lr 1) is the
    # worst on validation, so a search that keeps the best on the training data picks the wrong one
    data = {"X_train": X, "y_train": y, "X_val": Xv, "y_val": (yv + 1) % 3}
    grid = lambda: ([0.0, 1.0], [8], [1e-4], [0.95])  # noqa: E731  (lr 0 learns nothing)
    return [Case("two combinations, learning rates 0 and 1, on blobs whose validation labels are shifted by "
                 "one class (the net that learns the training set is the worse one on validation)",
                 ("data_dict", "get_param_set_fn"), (data, grid), {})]


def judge_best_net(case: Case, outcome) -> str | None:
    if problem := tuple_problem(outcome.value, ("best_params", "best_stats", "best_val_acc")):
        return problem
    params, _, val_acc = outcome.value
    data = case.args[0]
    if not isinstance(params, dict) or set(params) != set(PARAMS):
        return "best_params should be a params dict with W1, b1, W2, b2"
    if tuple(params["W1"].shape) != (2, 8):
        return f"best_params['W1'] has shape {tuple(params['W1'].shape)}, expected (2, 8) from the grid"
    actual = (reference_predict(params, reference_forward_backward, data["X_val"]) == data["y_val"]).double().mean().item()
    if not math.isclose(float(val_acc), actual, abs_tol=1e-6):
        return f"best_val_acc is {float(val_acc):.4f} but best_params score {actual:.4f} on the validation set"
    if TRAINED.count != 2:
        return f"nn_train was called {TRAINED.count} times for a grid of 2 combinations"
    best = max(acc for _, acc in TRAINED)
    if actual < best - 1e-9:
        return (f"returned a net with validation accuracy {actual:.3f}, but one of the nets trained "
                f"scored {best:.3f}: keep the best on the validation set (X_val, y_val), not the training set")
    return None
