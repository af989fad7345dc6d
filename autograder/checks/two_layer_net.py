"""Checks for assignments/two_layer_net: a two-layer ReLU net with a flat backward pass.

The grader's own forward pass and loss compute values only; gradient verdicts compare the
student's grads with numeric derivatives of this loss in float64, parameter by parameter.
"""
from __future__ import annotations

import torch

from . import causes
from .item import Case, Item
from .rules import FLAT
from .linear_classifiers import reference_sample_batch
from .outputs import gradient_problem, scalar_problem, tuple_problem, values_problem
from .. import gradcheck
from .samples import (devices, float32_tolerance, large_scores_net_point, relu_net_point,
                     visible_reg_params)
from .two_layer_reference import (PARAMS, forward, loss, reference_forward_backward,
                                  reference_init, reference_predict)
from .two_layer_training import (best_net_cases, judge_best_net, judge_grid, judge_predict,
                                 judge_train, predict_cases, recording_train, train_cases)

SEED = 4242


def net_cases(with_labels: bool) -> list:
    """Kink-free points; shapes (N=1, C=2, D != H), dtypes and devices vary."""
    specs = [("a 40x20 input, H=15, 10 classes", 40, 20, 15, 10, torch.float64, "cpu"),
             ("a single sample (N=1)", 1, 5, 6, 3, torch.float64, "cpu"),
             ("two classes, D=6, H=4", 25, 6, 4, 2, torch.float64, "cpu"),
             ("float32 inputs", 40, 20, 15, 10, torch.float32, "cpu"),
             ("more than 10 classes", 30, 10, 12, 12, torch.float64, "cpu")]
    # the stability test: output scores around +-1000, rows far apart (see samples.far_apart_scores)
    specs += [(f"scores around +-1000, {t} (rows far apart, correct class far above in two)",
               8, 10, 24, 12, dtype, "large") for t, dtype in (("float64", torch.float64), ("float32", torch.float32))]
    specs += [(f"inputs on {d}", 30, 12, 10, 5, torch.float32, d) for d in devices() if d != "cpu"]
    cases = []
    for k, (label, N, D, H, C, dtype, device) in enumerate(specs):
        large, device = device == "large", "cpu" if device == "large" else device
        params, X, y = (large_scores_net_point if large else relu_net_point)(N, D, H, C, seed=SEED + k)
        # at scores of 1000 a visible L2 term would be ~1e4 and drown the numeric derivatives
        weights = (params["W1"] ** 2).sum() + (params["W2"] ** 2).sum()
        reg = float(f"{1 / weights.item():.3g}") if large else visible_reg_params(loss, params, X, y)
        moved = {n: t.to(device, dtype) for n, t in params.items()}
        Xd = X.to(device, dtype)
        point = {"params": {n: t.double().cpu() for n, t in moved.items()}, "X": Xd.double().cpu(),
                 "y": y, "reg": reg}
        tol = f32_tol = gradcheck.DIRECTIONAL_TOL
        if large:  # what float32 work can reach at scores of 1000 (float64 inputs: with a note)
            f32_tol = float32_tolerance(forward(point["params"], point["X"])[0], tol)
            tol = f32_tol if dtype == torch.float32 else tol
        extra = {"point": point, "seed": SEED + k, "tol": tol, "f32_tol": f32_tol}
        if with_labels:
            cases.append(Case(f"{label} (N={N}, reg={reg})", ("params", "X", "y", "reg"),
                              (moved, Xd, y.to(device), reg), extra))
        else:
            cases.append(Case(f"{label} (N={N})", ("params", "X"), (moved, Xd), extra))
    return cases


def judge_forward(case: Case, outcome) -> str | None:
    if problem := tuple_problem(outcome.value, ("scores", "hidden")):
        return problem
    if outcome.modified:
        return f"changed its input {', '.join(outcome.modified)} in place"
    p = case.extra["point"]
    scores, hidden = forward(p["params"], p["X"])
    like = case.args[1]
    return (values_problem("hidden", outcome.value[1], hidden, like.new_empty(hidden.shape))
            or values_problem("scores", outcome.value[0], scores, like.new_empty(scores.shape)))


def judge_scores_only(case: Case, outcome) -> str | None:
    scores, _ = forward(case.extra["point"]["params"], case.extra["point"]["X"])
    return values_problem("scores (y=None)", outcome.value, scores, case.args[1].new_empty(scores.shape))


def judge_loss_grads(case: Case, outcome) -> str | None:
    """Loss first (which term is off, from the reg = 0 case), then all four gradients, reported
    in backward order (b2, W2, b1, W1) with where the error enters and a likely cause."""
    if len(case.args) == 2:
        return judge_scores_only(case, outcome)
    if problem := tuple_problem(outcome.value, ("loss", "grads")):
        return problem
    if outcome.modified:
        return f"changed its input {', '.join(outcome.modified)} in place"
    value, grads = outcome.value
    p, split = case.extra["point"], case.extra.get("split")
    params, X, y, reg = p["params"], p["X"], p["y"], p["reg"]
    like = case.args[0]["W1"]
    unstable = "scores around" in case.label
    if problem := scalar_problem("loss", value, loss(params, X, y, reg).item(), like.dtype, like.device):
        term = reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum()).item()
        parts = {n: reg * (params[n] ** 2).sum().item() for n in ("W1", "W2")}
        biases = reg * sum((params[n] ** 2).sum().item() for n in ("b1", "b2"))
        return causes.explain_loss(problem, value, "net", loss, p, term, split, unstable, parts, biases)
    if split is not None and reg == 0:
        split["data_ok"] = True
    if not isinstance(grads, dict) or set(grads) != set(PARAMS):
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        return f"grads should be a dict with keys W1, b1, W2, b2, got {keys}"
    problems = {}
    for k, name in enumerate(PARAMS):  # every gradient is judged, none hides another
        def f(P, name=name):
            return loss({**params, name: P}, X, y, reg)
        if problem := gradient_problem(f"grads['{name}']", grads[name], f, case.args[0][name],
                                       case.extra["seed"] + k, tol=case.extra["tol"],
                                       float32_tol=case.extra["f32_tol"]):
            problems[name] = problem
    if not problems:
        if split is not None and reg == 0:
            split["grad_ok"] = True
        return None
    first = next(n for n in causes.BACKWARD_ORDER if n in problems)  # the one nearest the loss
    got = grads[first]
    if torch.is_tensor(got) and tuple(got.shape) != tuple(params[first].shape):
        cause = causes.shape_hint(first, got.shape, params[first].shape, rows=X.shape[0])
    else:
        cause = causes.net_gradient(p, grads)
    summary = f"grads: {gradcheck.where_it_enters(set(problems))}"
    return summary + ". " + causes.explain_gradient(problems[first], split, reg, cause, unstable)


def forward_backward_cases() -> list:
    return net_cases(with_labels=False)[:2] + causes.at_reg_zero(net_cases(with_labels=True))


HELPERS = {"sample_batch": reference_sample_batch, "init_params": reference_init,
           "nn_forward_pass": forward, "nn_forward_backward": reference_forward_backward,
           "nn_predict": reference_predict, "nn_train": recording_train}

# The notebook's trusted given cells its functions rely on, run before the answers.
GIVEN = ("setup", "helper_sample_batch", "helper_init_params")

ITEMS = {
    "nn_forward_pass": Item("nn_forward_pass", lambda: net_cases(with_labels=False), judge_forward,
                            rules=FLAT, pure_cases=True, passed="scores and hidden match on every hidden case"),
    "nn_forward_backward": Item("nn_forward_backward", forward_backward_cases, judge_loss_grads,
                                rules=FLAT, helpers={"nn_forward_pass": forward}, pure_cases=True,
                                passed="scores, loss and all four gradients match the grader's float64 numerics"),
    "nn_train": Item("nn_train", train_cases, judge_train, helpers={"sample_batch": reference_sample_batch},
                     updates=("params",),
                     passed="SGD with a per-epoch learning-rate decay, and it learns an easy problem"),
    "nn_predict": Item("nn_predict", predict_cases, judge_predict, passed="predicts argmax labels as int64"),
    "nn_get_search_params": Item("nn_get_search_params", lambda: [Case("called with no arguments", (), ())],
                                 judge_grid, passed="the grid's best net reaches 0.95 on the digits"),
    "find_best_net": Item("find_best_net", best_net_cases, judge_best_net, helpers=HELPERS,
                          passed="trains every combination and keeps the best"),
}
