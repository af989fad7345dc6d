"""Checks for assignments/linear_classifiers: SVM and softmax losses, SGD, prediction.

The grader's own losses below compute values only; every gradient verdict compares the
student's gradient with numeric derivatives of these (float64, central differences).
"""
from __future__ import annotations


import torch
import torch.nn.functional as F

from ..calls import seed
from .record import Record
from .adapters import shipped, twice_adapter
from .item import Case, Item
from .. import gradcheck
from . import causes, search
from .outputs import describe, gradient_problem, scalar_problem, tensor_problem
from .rules import AUTOGRAD_AND_NN, NO_LOOPS
from .samples import (away_from_kinks, devices, float32_tolerance, large_scores_point,
                     visible_reg)

SEED = 2024


def svm_loss(W, X, y, reg):
    """Multiclass SVM loss, margin 1, correct class excluded; mean over N plus reg * sum(W^2)."""
    scores = X @ W
    margins = (scores - scores.gather(1, y[:, None]) + 1).clamp_min(0)
    margins = margins.scatter(1, y[:, None], 0.0)
    return margins.sum() / X.shape[0] + reg * (W * W).sum()


def softmax_loss(W, X, y, reg):
    """Softmax cross-entropy, mean over N, plus reg * sum(W^2)."""
    return F.cross_entropy(X @ W, y) + reg * (W * W).sum()


def loss_cases(reference, hinge: bool) -> list:
    """Points away from kinks; shapes, dtypes and devices vary; reg makes L2 visible."""
    # 20 samples x 10 classes: the naive losses loop over both (200 inner steps per call)
    specs = [("a 20x30 problem with 10 classes", 20, 30, 10, torch.float64, "cpu"),
             ("a single sample (N=1)", 1, 7, 4, torch.float64, "cpu"),
             ("two classes, D != C", 25, 6, 2, torch.float64, "cpu"),
             ("float32 inputs", 20, 30, 10, torch.float32, "cpu"),
             ("more than 10 classes", 15, 20, 12, torch.float64, "cpu")]
    if not hinge:  # the stability test of a softmax: float64 overflows at 710, float32 at 89
        specs += [(f"scores around +-1000, {t} (rows far apart, correct class far above in two)",
                   12, 16, 12, dtype, "large") for t, dtype in (("float64", torch.float64), ("float32", torch.float32))]
    specs += [(f"inputs on {d}", 30, 20, 5, torch.float32, d) for d in devices() if d != "cpu"]
    cases = []
    for k, (label, N, D, C, dtype, device) in enumerate(specs):
        large, device = device == "large", "cpu" if device == "large" else device
        W, X, y = (large_scores_point(N, D, C, seed=SEED + k) if large
                   else away_from_kinks(N, D, C, seed=SEED + k, hinge=hinge))
        # at scores of 1000 a visible L2 term would be ~1e4 and drown the numeric derivatives
        reg = float(f"{1 / (W * W).sum().item():.3g}") if large else visible_reg(reference, W, X, y)
        args = (W.to(device, dtype), X.to(device, dtype), y.to(device), reg)
        point = {"W": args[0].double().cpu(), "X": args[1].double().cpu(), "y": y, "reg": reg}
        tol = f32_tol = gradcheck.DIRECTIONAL_TOL
        if large:  # what float32 work can reach at scores of 1000 (float64 inputs: with a note)
            f32_tol = float32_tolerance(point["X"] @ point["W"], tol)
            tol = f32_tol if dtype == torch.float32 else tol
        cases.append(Case(f"{label} (N={N}, D={D}, C={C}, reg={reg})", ("W", "X", "y", "reg"),
                          args, {"point": point, "seed": SEED + k, "tol": tol, "f32_tol": f32_tol}))
    return cases


def loss_judge(reference):
    kind = "svm" if reference is svm_loss else "softmax"

    def judge(case: Case, outcome) -> str | None:
        value = outcome.value
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            return f"should return a tuple (loss, dW), got {type(value).__name__}"
        if outcome.modified:
            return f"changed its input {', '.join(outcome.modified)} in place; compute new tensors instead"
        loss, dW = value
        p, split = case.extra["point"], case.extra.get("split")
        W = case.args[0]
        unstable = "scores around" in case.label
        expected = reference(p["W"], p["X"], p["y"], p["reg"]).item()
        if problem := scalar_problem("loss", loss, expected, W.dtype, W.device):
            term = p["reg"] * (p["W"] * p["W"]).sum().item()
            return causes.explain_loss(problem, loss, kind, reference, p, term, split, unstable)
        if split is not None and p["reg"] == 0:
            split["data_ok"] = True
        problem = gradient_problem("dW", dW, lambda W_: reference(W_, p["X"], p["y"], p["reg"]),
                                   W, case.extra["seed"], tol=case.extra["tol"],
                                   float32_tol=case.extra["f32_tol"])
        if problem:
            shape = torch.is_tensor(dW) and tuple(dW.shape) != tuple(W.shape)
            cause = (causes.shape_hint("dW", dW.shape, W.shape) if shape
                     else causes.linear_gradient(kind, reference, p, dW))
            return causes.explain_gradient(problem, split, p["reg"], cause, unstable)
        if split is not None and p["reg"] == 0:
            split["grad_ok"] = True
        return None
    return judge


def loss_item(name: str, reference, hinge: bool, vectorized: bool) -> Item:
    return Item(name, lambda: causes.at_reg_zero(loss_cases(reference, hinge)), loss_judge(reference),
                rules=((NO_LOOPS,) if vectorized else ()) + AUTOGRAD_AND_NN, pure_cases=True,
                passed="loss and dW match the grader's float64 numerics on every hidden case")


# --- sample_batch -------------------------------------------------------------------------

def sample_cases() -> list:
    # Row i of X holds i, so every sampled row says where it came from.
    X = torch.arange(1000, dtype=torch.float64)[:, None].repeat(1, 5)
    y = torch.arange(1000) % 7
    names = ("X", "y", "num_train", "batch_size")
    return [Case("1000 rows, batch of 300", names, (X, y, 1000, 300), {"limit": 1000}),
            Case("num_train=10 of 1000 rows, batch of 50", names, (X, y, 10, 50), {"limit": 10}),
            Case("float32 rows, batch of 1", names, (X.float(), y, 1000, 1), {"limit": 1000}),
            # every row reachable, roughly uniform: randint(0, num_train - 1) never draws the last
            Case("num_train=3 of 1000 rows, 3000 draws", names, (X, y, 3, 3000), {"limit": 3, "uniform": True})]


def judge_sample(case: Case, outcome) -> str | None:
    """outcome.value: the results of two calls on the same inputs (twice_adapter)."""
    first, second = outcome.value
    if problem := judge_batch(case, first):
        return problem
    if (case.args[3] > 50 and isinstance(second, (tuple, list)) and torch.is_tensor(second[0])
            and torch.equal(first[0], second[0])):
        return ("two calls returned the same batch: each call must draw new random rows (SGD would "
                "see one batch only); do not reseed the generator (torch.manual_seed) inside")
    return None


def judge_batch(case: Case, value) -> str | None:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return f"should return (X_batch, y_batch), got {type(value).__name__}"
    X, y, _, batch = case.args
    Xb, yb = value
    if problem := (tensor_problem("X_batch", Xb, X.new_empty(batch, X.shape[1]))
                   or tensor_problem("y_batch", yb, y.new_empty(batch))):
        return problem
    rows = Xb[:, 0].long()
    if not torch.equal(Xb, X[rows]) or not torch.equal(yb, y[rows]):
        return "X_batch and y_batch must be matching rows of X and y (row i of X goes with y[i])"
    if rows.max() >= case.extra["limit"]:
        return f"sampled row {int(rows.max())}, but only the first {case.extra['limit']} rows may be used"
    if batch > 50 and rows.unique().numel() == batch:
        return "no row was drawn twice in a large batch: sample WITH replacement (torch.randint)"
    if case.extra.get("uniform"):
        counts = torch.bincount(rows, minlength=case.extra["limit"]).tolist()
        expected = batch / case.extra["limit"]
        if min(counts) == 0:
            return (f"row {counts.index(0)} was never drawn in {batch} draws from the first "
                    f"{case.extra['limit']} rows (counts {counts}): every row must be reachable; note that "
                    "torch.randint(low, high) excludes high")
        if any(abs(c - expected) > 0.25 * expected for c in counts):
            return f"rows drawn {counts} times in {batch} draws: sample uniformly (about {expected:.0f} each)"
    return None


# --- train_linear_classifier ------------------------------------------------------------

class ConstantGradient:
    """A fake loss: returns loss = call number and a fixed gradient, and records its calls."""

    def __init__(self, G):
        self.G, self.calls = G, Record()  # bounded: the first calls, and the count of all

    def __call__(self, W, X_batch, y_batch, reg):
        self.calls.append((tuple(X_batch.shape), X_batch[:, 0].clone(), y_batch.clone(), reg))
        return torch.tensor(float(self.calls.count - 1), dtype=W.dtype), self.G.clone()


@shipped
def reference_sample_batch(X, y, num_train, batch_size):
    """The grader's sampler, lent while checking the training functions. It is shipped: it runs
    beside the student's code, as ~40 calls back into the grader cost ~1 ms each."""
    idx = torch.randint(num_train, (batch_size,), device=X.device)
    return X[idx], y[idx]


@shipped
def softmax_loss_and_grad(W, X, y, reg):
    """The loss_func lent to train_linear_classifier on the blobs: (loss, dW) by autograd. It is
    shipped (self-contained: it runs beside the student's code, and holds no flat gradient)."""
    with torch.enable_grad():
        W_ = W.detach().clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(X @ W_, y) + reg * (W_ * W_).sum()
        loss.backward()
    return loss.detach(), W_.grad


@shipped
def zero_gradient(W, X, y, reg):
    """A loss_func that leaves W where it is: for the case that only looks at W's shape."""
    return (W * 0).sum(), torch.zeros_like(W)


def train_cases() -> list:
    names = ("loss_func", "W", "X", "y", "learning_rate", "reg", "num_iters", "batch_size")
    X = torch.arange(60, dtype=torch.float64)[:, None].repeat(1, 4)
    y = torch.arange(60) % 3
    G = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(4, 3)
    W0 = torch.ones(4, 3, dtype=torch.float64)
    fake = ConstantGradient(G)
    gen = torch.Generator().manual_seed(SEED)
    seed(SEED)  # the student's init and sampling draw from the global RNG
    centers = torch.tensor([[5.0, 0.0], [-3.0, 4.0], [-3.0, -4.0]], dtype=torch.float64)
    yb = torch.arange(300) % 3
    Xb = centers[yb] + torch.randn(300, 2, dtype=torch.float64, generator=gen)
    Xb = torch.cat([Xb, torch.ones(300, 1, dtype=torch.float64)], 1)
    return [Case("a loss with a constant gradient (W must move by -lr * T * grad)", names,
                 (fake, W0.clone(), X, y, 0.1, 0.25, 7, 11),
                 {"fake": fake, "W0": W0, "G": G}),
            # 40 iterations: the reference is at loss < 0.01 and 100% accuracy after 25
            Case("three separable blobs, W=None", names,
                 (softmax_loss_and_grad, None, Xb, yb, 0.5, 1e-4, 40, 50), {"blobs": True}),
            # C = y.max() + 1 as stated; len(torch.unique(y)) or a count of the labels seen is one short
            Case("W=None, labels 0 and 2 only (class 1 absent from y: C = y.max() + 1 = 3)", names,
                 (zero_gradient, None, Xb[:20], torch.where(yb == 1, 2, yb)[:20], 0.5, 1e-4, 1, 5), {"gap": True})]


def judge_train(case: Case, outcome) -> str | None:
    value = outcome.value
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return f"should return (W, loss_history), got {type(value).__name__}"
    W, history = value
    _, _, X, y, lr, reg, T, batch = case.args
    C = int(y.max()) + 1
    if problem := tensor_problem("W", W, torch.empty(X.shape[1], C, dtype=X.dtype, device=X.device)):
        return problem + (f" (with W=None, C = y.max() + 1 = {C} columns, also when a label is absent "
                          "from y)" if "gap" in case.extra else "")
    if not isinstance(history, (list, tuple)) or len(history) != T:
        return f"loss_history should be a list of {T} losses (one per iteration)"
    if "fake" in case.extra:
        return judge_constant_gradient(case, W, history)
    if "gap" in case.extra:
        return None
    first, last = float(history[0]), sum(float(h) for h in history[-20:]) / 20
    if not last < 0.5 * first:
        return f"the loss did not go down on an easy problem (first {first:.3f}, last {last:.3f})"
    accuracy = ((X @ W.detach()).argmax(1) == y).double().mean().item()
    if accuracy < 0.9:
        return f"the trained W classifies only {accuracy:.0%} of an easy training set"
    return None


def judge_constant_gradient(case: Case, W, history) -> str | None:
    fake, W0, G = case.extra["fake"], case.extra["W0"], case.extra["G"]
    _, _, X, y, lr, reg, T, batch = case.args
    if fake.calls.count != T:
        return f"loss_func was called {fake.calls.count} times in {T} iterations, expected {T}"
    for shape, rows, labels, reg_seen in fake.calls:
        if shape != (batch, X.shape[1]):
            return f"loss_func got a batch of shape {shape}, expected ({batch}, {X.shape[1]})"
        if not torch.equal(labels, y[rows.long()]):
            return "loss_func got labels that do not belong to the sampled rows"
        if reg_seen != reg:
            return f"loss_func got reg={reg_seen}, expected the reg passed in ({reg})"
    drawn = torch.cat([rows for _, rows, _, _ in fake.calls])
    if drawn.max() < X.shape[0] // 2:
        return (f"every batch came from the first {int(drawn.max()) + 1} of {X.shape[0]} rows: sample from "
                "all of them (sample_batch(X, y, num_train, batch_size) with num_train = X.shape[0])")
    if [float(h) for h in history] != [float(i) for i in range(T)]:
        return "loss_history should hold the loss of each iteration, in order"
    expected = W0 - lr * T * G
    if not torch.allclose(W.detach().double().cpu(), expected, rtol=1e-9, atol=1e-12):
        return ("W after training is not W0 - learning_rate * sum of gradients "
                "(use W -= learning_rate * grad once per iteration)")
    return None


# --- predict_linear_classifier (the search grids are in checks/search.py) ---------------

def predict_cases() -> list:
    cases = []
    for k, (N, D, C, dtype, device) in enumerate([(50, 8, 5, torch.float64, "cpu"),
                                                   (1, 3, 2, torch.float64, "cpu"),
                                                   (40, 6, 4, torch.float32, "cpu"),
                                                   (30, 5, 12, torch.float64, "cpu")]
                                                  + [(30, 5, 3, torch.float32, d) for d in devices()[1:]]):
        gen = torch.Generator().manual_seed(SEED + k)
        W = torch.randn(D, C, dtype=torch.float64, generator=gen).to(device, dtype)
        X = torch.randn(N, D, dtype=torch.float64, generator=gen).to(device, dtype)
        cases.append(Case(f"N={N}, D={D}, C={C}, {describe(X)}", ("W", "X"), (W, X)))
    return cases


def judge_predict(case: Case, outcome) -> str | None:
    W, X = case.args
    expected = (X @ W).argmax(dim=1)
    if problem := tensor_problem("y_pred", outcome.value, expected, dtype=torch.int64):
        return problem
    wrong = (outcome.value != expected).nonzero().flatten().tolist()
    if wrong:
        return f"{len(wrong)} of {len(expected)} labels are wrong (first at index {wrong[0]}): predict argmax of X @ W over classes"
    return None


# The notebook's trusted given cells its functions rely on, run before the answers.
GIVEN = ("setup",)

ITEMS = {
    "svm_loss_naive": loss_item("svm_loss_naive", svm_loss, hinge=True, vectorized=False),
    "svm_loss_vectorized": loss_item("svm_loss_vectorized", svm_loss, hinge=True, vectorized=True),
    "softmax_loss_naive": loss_item("softmax_loss_naive", softmax_loss, hinge=False, vectorized=False),
    "softmax_loss_vectorized": loss_item("softmax_loss_vectorized", softmax_loss, hinge=False,
                                         vectorized=True),
    "sample_batch": Item("sample_batch", sample_cases, judge_sample, adapter=twice_adapter,
                         passed="samples matching rows with replacement"),
    "train_linear_classifier": Item("train_linear_classifier", train_cases, judge_train,
                                    helpers={"sample_batch": reference_sample_batch}, updates=("W",),
                                    passed="SGD updates W correctly and learns an easy problem"),
    "predict_linear_classifier": Item("predict_linear_classifier", predict_cases, judge_predict,
                                      passed="predicts argmax labels as int64"),
    "svm_get_search_params": search.grid_item("svm_get_search_params", "svm"),
    "softmax_get_search_params": search.grid_item("softmax_get_search_params", "softmax"),
}
