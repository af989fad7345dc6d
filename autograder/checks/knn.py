"""Checks for assignments/knn: flattening without copies, squared distances three ways,
voting, the classifier, cross-validation with torch.chunk's folds, the best k.

Distances are judged against the grader's float64 squared distances with a tolerance that
scales with ||p||^2 + ||q||^2: the expansion ||p||^2 + ||q||^2 - 2 p.q cancels, and correct
float32 code is off by units at pixel scale where the distance is 0.
"""
from __future__ import annotations

import functools

import torch

from .adapters import classifier_adapter, layout_adapter
from .item import Case, Item
from .knn_reference import (DEFAULT_K, ReferenceKnn, ambiguous, digits_accuracy, digits_cross_validation,
                            digits_images, expected_folds, reference_distances, reference_flatten,
                            reference_predict_labels)
from .outputs import _float32_note, tensor_problem
from .rules import NO_HIDDEN_CALLS, NO_LIBRARY_DISTANCES, NO_LOOPS, NO_TORCH_NN
from .samples import devices

SEED = 498
TOL_UNITS = 16  # tolerance in units of eps * (||p||^2 + ||q||^2); correct float32 code stays < 1
MEMORY_CAP_MB = 2048  # the clean room's cap (nbgrader_config.py: CleanRoomGrade.memory_limit_mb)
MEMORY_SHAPE = (1000, 1000, 640)  # (num_train, num_test, D): a float32 broadcast needs 2.56 GB > 2 GiB
DIGITS_ACCURACY = 97.0  # percent: the reference's best k (1) on the digits test split reaches 98.6


def exact_distances(x_train, x_test) -> torch.Tensor:
    """float64 squared distances on the CPU, from differences (no cancellation), in blocks."""
    p = x_train.reshape(x_train.shape[0], -1).to("cpu", torch.float64)
    q = x_test.reshape(x_test.shape[0], -1).to("cpu", torch.float64)
    return torch.cat([((p[:, None, :] - q[None, j:j + 64, :]) ** 2).sum(-1) for j in range(0, q.shape[0], 64)], 1)


# --- flatten_images: .view vs .reshape, by behaviour ------------------------------------

def flatten_cases() -> list:
    gen = torch.Generator().manual_seed(SEED)
    images = torch.randn(6, 3, 4, 5, dtype=torch.float64, generator=gen)
    return [Case("contiguous images (6, 3, 4, 5)", ("x", "layout"), (images, "contiguous")),
            Case("already flat rows (6, 60)", ("x", "layout"), (images.reshape(6, 60), "contiguous")),
            Case("transposed images x.transpose(2, 3) (not contiguous: no view can flatten it)",
                 ("x", "layout"), (images, "transposed")),
            Case("every other image x[::2] (not contiguous, yet each row can be flattened without a copy)",
                 ("x", "layout"), (images.float(), "every_other"))]


def judge_flatten(case: Case, outcome) -> str | None:
    x, layout = case.args
    view = {"contiguous": x, "transposed": x.transpose(-2, -1), "every_other": x[::2]}[layout]
    expected = view.reshape(view.shape[0], -1)
    if not (isinstance(outcome.value, (tuple, list)) and len(outcome.value) == 2):
        return "the grader could not call it"
    value, shares = outcome.value
    if problem := tensor_problem("the result", value, expected):
        return problem
    if not torch.equal(value, expected):
        return ("the rows are not the images flattened in order: row i must be x[i] flattened "
                "(what x.reshape(N, -1) gives); a transpose or permute before flattening changes the order")
    can_view = layout != "transposed"
    if can_view and not shares:
        return ("the result is a copy, but this x can be flattened without one: return a view "
                "(.view or .reshape; .contiguous() and .clone() copy)")
    return None


# --- the three distance functions ---------------------------------------------------------

def pixels(n: int, shape: tuple, gen) -> torch.Tensor:
    return torch.randint(0, 256, (n, *shape), generator=gen).to(torch.float64)


def distance_cases(no_loops: bool) -> list:
    gen = torch.Generator().manual_seed(SEED)
    names = ("x_train", "x_test")
    images = torch.randn(13, 3, 4, 5, dtype=torch.float64, generator=gen)
    tests = torch.randn(7, 3, 4, 5, dtype=torch.float64, generator=gen)
    tests[2] = images[5]  # a duplicate: distance exactly 0
    flat_train, flat_test = pixels(20, (3072,), gen), pixels(6, (3072,), gen)
    flat_test[0] = flat_test[4] = flat_train[3]  # duplicates at pixel scale: the expansion cancels
    shifted = torch.randn(9, 16, dtype=torch.float64, generator=gen) + 50.0
    specs = [("image-shaped inputs (13, 3, 4, 5) and (7, 3, 4, 5), float64, one duplicate point",
              images, tests),
             ("flat float32 pixels 0..255, (20, 3072) and (6, 3072), test points 0 and 4 equal to "
              "training point 3", flat_train.float(), flat_test.float()),
             ("image-shaped float32 inputs (13, 3, 4, 5) and (7, 3, 4, 5)", images.float(), tests.float()),
             ("a single training and a single test point, flat (1, 16)", shifted[:1], shifted[1:2]),
             ("nine training points far from 0 and one test point, flat (9, 16) and (1, 16)",
              shifted, shifted[4:5] + 0.5)]
    specs += [(f"float32 inputs on {d}", images.float().to(d), tests.float().to(d)) for d in devices()[1:]]
    cases = [Case(label, names, (p, q)) for label, p, q in specs]
    if no_loops:
        cases.append(memory_case())
    return cases


@functools.lru_cache(maxsize=1)
def memory_inputs() -> tuple:
    """(x_train, x_test, expected, scale) of the memory case: the same for every student, so the
    grader's float64 answer is computed once per process."""
    gen = torch.Generator().manual_seed(SEED + 2)
    p = torch.rand(MEMORY_SHAPE[0], MEMORY_SHAPE[2], generator=gen, dtype=torch.float64).float()
    q = torch.rand(MEMORY_SHAPE[1], MEMORY_SHAPE[2], generator=gen, dtype=torch.float64).float()
    p64, q64 = p.double(), q.double()
    scale = (p64 * p64).sum(1)[:, None] + (q64 * q64).sum(1)[None, :]
    return p, q, reference_distances(p64, q64), scale


def memory_case() -> Case:
    """Sized so that a (num_train, num_test, D) broadcast exceeds the clean room's memory cap,
    while the expansion's largest tensor, (num_train, num_test), takes a few MB."""
    num_train, num_test, D = MEMORY_SHAPE
    gb = num_train * num_test * D * 4 / 1e9
    p, q, _, _ = memory_inputs()
    label = (f"{num_train} training and {num_test} test points of D = {D}, float32 (a (num_train, num_test, D) "
             f"tensor of these would take {gb:.1f} GB, over the grader's {MEMORY_CAP_MB // 1024} GiB memory limit: "
             "use the expansion ||p||^2 + ||q||^2 - 2 p.q, whose largest tensor is (num_train, num_test))")
    return Case(label, ("x_train", "x_test"), (p.clone(), q.clone()), {"big": True})


def judge_distances(case: Case, outcome) -> str | None:
    x_train, x_test = case.args
    num_train, num_test = x_train.shape[0], x_test.shape[0]
    value = outcome.value
    like = torch.empty(num_train, num_test, dtype=x_train.dtype, device=x_train.device)
    if torch.is_tensor(value) and num_train != num_test and tuple(value.shape) == (num_test, num_train):
        return (f"dists has shape {tuple(value.shape)} = (num_test, num_train); the course's orientation is "
                f"(num_train, num_test) = {(num_train, num_test)}: dists[i, j] compares training point i "
                "with test point j")
    if not torch.is_tensor(value) or tuple(value.shape) != tuple(like.shape):
        return tensor_problem("dists", value, like)
    if case.extra.get("big"):
        expected, scale = memory_inputs()[2:]
    else:
        p = x_train.reshape(num_train, -1).to("cpu", torch.float64)
        q = x_test.reshape(num_test, -1).to("cpu", torch.float64)
        expected, scale = exact_distances(p, q), (p * p).sum(1)[:, None] + (q * q).sum(1)[None, :]
    got = value.detach().to("cpu", torch.float64)
    tol = TOL_UNITS * torch.finfo(x_train.dtype).eps * scale + 1e-300
    nan = torch.isnan(got)
    square_rooted = bool(((got * got - expected).abs() <= TOL_UNITS * 1.2e-7 * scale + 1e-12)[~nan].all()
                         and (nan <= (expected <= tol)).all() and (expected > 1).any())
    if square_rooted:
        return ("dists holds the square roots of the distances: the course's distances are SQUARED "
                "(dists[i, j] = sum of (p - q)^2, no sqrt; the square root does not change which points "
                "are nearest, and of the expansion's round-off near 0 it gives NaN)"
                + (f" ({int(nan.sum())} NaN entries)" if nan.any() else ""))
    if problem := tensor_problem("dists", value, like):
        return problem
    error = (got - expected).abs()
    if (error <= tol).all():
        return None
    loose = TOL_UNITS * torch.finfo(torch.float32).eps * scale
    if x_train.dtype == torch.float64 and (error <= loose).all():
        _float32_note("dists", (error / scale.clamp_min(1e-300)).max().item())
        return None
    if num_train == num_test and ((got.T - expected).abs() <= tol).all():
        return "dists is transposed: dists[i, j] must compare training point i with test point j"
    i, j = divmod(int((error / tol).argmax()), num_test)
    return (f"{int((error > tol).sum())} of {error.numel()} entries are wrong; worst: dists[{i}, {j}] = "
            f"{got[i, j].item():.6g}, expected {expected[i, j].item():.6g} (the squared distance between "
            f"training point {i} and test point {j}; tolerance {tol[i, j].item():.2g}, which scales with "
            "||p||^2 + ||q||^2)")


DISTANCE_RULES = (NO_LIBRARY_DISTANCES, NO_TORCH_NN, NO_HIDDEN_CALLS)


def distance_item(name: str, no_loops: bool = False) -> Item:
    return Item(name, lambda: distance_cases(no_loops), judge_distances,
                helpers={"flatten_images": reference_flatten},
                rules=DISTANCE_RULES + ((NO_LOOPS,) if no_loops else ()),
                passed="squared distances (num_train, num_test) match the grader's float64 values"
                       + (", and fit in memory at scale" if no_loops else ""))


# --- predict_labels ---------------------------------------------------------------------

def predict_cases() -> list:
    gen = torch.Generator().manual_seed(SEED)
    names = ("dists", "y_train", "k")
    cases = []
    random = torch.rand(30, 12, dtype=torch.float64, generator=gen)
    y_random = torch.randint(0, 6, (30,), generator=gen)
    cases.append(Case("random distances, k=1", names, (random, y_random, 1)))
    cases.append(Case("random distances, k=5", names, (random, y_random, 5)))
    # ties: the nearest neighbour has the larger label, so "nearest wins" and "largest wins" both fail
    tie_train = 12
    dists = 100 + torch.rand(tie_train, 3, dtype=torch.float64, generator=gen)
    y_train = torch.tensor([3, 1, 3, 1, 4, 4, 2, 2, 0, 4, 2, 4])
    dists[[0, 1, 2, 3], 0] = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)    # 3 1 3 1 -> 1
    dists[[5, 7, 4, 6], 1] = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)    # 4 2 4 2 -> 2
    dists[[9, 10, 8, 11], 2] = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)  # 4 2 0 4 -> 4
    cases.append(Case("ties between classes among the k=4 nearest (the smallest label wins)",
                      names, (dists, y_train, 4)))
    cases.append(Case("ties in float32, k=4", names, (dists.float(), y_train, 4)))
    few = torch.tensor([[1.0, 4.0], [2.0, 3.0], [3.0, 2.0], [4.0, 1.0], [5.0, 6.0], [6.0, 5.0]], dtype=torch.float64)
    cases.append(Case("k=10 larger than num_train=6 (all training points vote; ties to the smallest label)",
                      names, (few, torch.tensor([2, 0, 2, 0, 1, 1]), 10)))
    cases.append(Case("a single test point, k=3, labels 7 and 9 only", names,
                      (random[:9, :1], torch.tensor([9, 7, 9, 7, 9, 7, 9, 7, 9]), 3)))
    cases += [Case(f"ties on {d}, k=4", names, (dists.float().to(d), y_train.to(d), 4)) for d in devices()[1:]]
    return cases


def judge_predict(case: Case, outcome) -> str | None:
    dists, y_train, k = case.args
    expected = reference_predict_labels(dists.cpu().double(), y_train.cpu(), k).to(dists.device)
    if problem := tensor_problem("y_pred", outcome.value, expected, dtype=torch.int64):
        return problem
    wrong = (outcome.value != expected).nonzero().flatten().tolist()
    if not wrong:
        return None
    j = wrong[0]
    order = torch.argsort(dists[:, j].cpu(), stable=True)[:min(k, dists.shape[0])]
    labels = y_train.cpu()[order].tolist()
    return (f"{len(wrong)} of {len(expected)} labels are wrong; test point {j}: its {len(labels)} nearest "
            f"training points (nearest first) have labels {labels}, so the vote gives "
            f"{int(expected[j])}, got {int(outcome.value[j])} (the smallest k distances in column j of dists "
            "vote; ties between classes go to the smallest label"
            + ("; k larger than num_train: all training points vote)" if k > dists.shape[0] else ")"))


# --- KnnClassifier ------------------------------------------------------------------------

def clustered(n: int, gen, classes: int = 4, noise: float = 1.2):
    centers = 2.0 * torch.randn(classes, 1, 4, 4, dtype=torch.float64, generator=gen)
    y = torch.arange(n) % classes
    return centers[y] + noise * torch.randn(n, 1, 4, 4, dtype=torch.float64, generator=gen), y


def classifier_cases() -> list:
    gen = torch.Generator().manual_seed(SEED)
    x_train, y_train = clustered(40, gen)
    x_test, y_test = clustered(25, gen)
    names = ("x_train", "y_train", "x_test", "y_test", "k")
    data = digits_images()
    cases = [Case("k=1 on 40 noisy image-shaped (1, 4, 4) points, 4 classes", names,
                  (x_train, y_train, x_test, y_test, 1))]
    for k in (3, 7):
        cases.append(Case(f"the same, k={k} (k must reach predict_labels)", names,
                          (x_train, y_train, x_test, y_test, k)))
    cases.append(Case("the digits, train split and test split, k=1", names,
                      (data["x_train"], data["y_train"], data["x_test"], data["y_test"], 1)))
    return cases


def judge_classifier(case: Case, outcome) -> str | None:
    x_train, y_train, x_test, y_test, k = case.args
    classifier = ReferenceKnn(x_train, y_train)
    expected = classifier.predict(x_test, k=k)
    if not (isinstance(outcome.value, (tuple, list)) and len(outcome.value) == 2):
        return "the grader could not call predict and check_accuracy"
    y_pred, accuracy = outcome.value
    if problem := tensor_problem("predict(x_test, k)", y_pred, expected, dtype=torch.int64):
        return problem
    dists = reference_distances(x_train.double(), x_test.double())
    judged = ~ambiguous(dists, k)  # where the k nearest tie at the boundary, any choice is right
    if not torch.equal(y_pred[judged], expected[judged]):
        others = [kk for kk in (1, 3, 5, 7) if kk != k and torch.equal(y_pred, classifier.predict(x_test, k=kk))]
        return (f"predict(x_test, k={k}) gives {int((y_pred != expected)[judged].sum())} of {len(expected)} wrong labels"
                + (f"; they are the labels for k={others[0]}: pass k on to predict_labels" if others else ""))
    want = 100.0 * (y_pred == y_test).double().mean().item()  # of its own predictions (ties may differ)
    try:
        number = float(accuracy)
    except (TypeError, ValueError):
        return f"check_accuracy should return a number, got {type(accuracy).__name__}"
    if abs(number - want / 100) < 1e-9 and want > 0:
        return f"check_accuracy returned {number:.4g}, a fraction; the docstring asks for percent ({want:.4g})"
    if abs(number - want) > 1e-6:
        return f"check_accuracy(x_test, y_test, k={k}) returned {number:.6g}, expected {want:.6g} (percent)"
    return None


# --- cross-validation and the best k --------------------------------------------------------

def cross_validate_cases() -> list:
    gen = torch.Generator().manual_seed(SEED + 1)
    names = ("x_train", "y_train", "num_folds", "k_choices")
    x, y = clustered(23, gen, noise=2.0)
    x2, y2 = clustered(40, gen, noise=2.0)
    return [Case("23 points, 5 folds (torch.chunk makes 5, 5, 5, 5, 3), k_choices [1, 3, 5]", names,
                 (x, y, 5, [1, 3, 5])),
            Case("40 points, 4 folds, k_choices [8, 2, 1]", names, (x2, y2, 4, [8, 2, 1])),
            Case("17 points, 3 folds (6, 6, 5), the default k_choices", names[:3], (x2[:17], y2[:17], 3))]


def judge_cross_validate(case: Case, outcome) -> str | None:
    x_train, y_train, num_folds = case.args[:3]
    k_choices = case.args[3] if len(case.args) > 3 else DEFAULT_K
    expected = expected_folds(x_train, y_train, num_folds, k_choices)
    value = outcome.value
    if not isinstance(value, dict):
        return f"should return a dict {{k: [accuracy per fold]}}, got {type(value).__name__}"
    keys = sorted(int(k) for k in value)
    if keys != sorted(k_choices):
        return f"the dict's keys are {keys}, expected the k_choices {sorted(k_choices)}"
    sizes = [len(c) for c in torch.chunk(y_train, num_folds)]
    for k in k_choices:
        got = [float(a) for a in next(v for kk, v in value.items() if int(kk) == k)]
        if len(got) != num_folds:
            return f"k={k}: {len(got)} accuracies, expected one per fold ({num_folds})"
        want = expected[k]
        if all(abs(g - w / 100) < 1e-9 for g, w in zip(got, want)) and any(want):
            return f"k={k}: accuracies {got} are fractions; the docstring asks for percent, as check_accuracy returns"
        if any(abs(g - w) > 1e-6 for g, w in zip(got, want)):
            fold = next(i for i, (g, w) in enumerate(zip(got, want)) if abs(g - w) > 1e-6)
            return (f"k={k}, fold {fold}: accuracy {got[fold]:.4g}%, expected {want[fold]:.4g}% (all folds: got "
                    f"{[round(g, 2) for g in got]}, expected {[round(w, 2) for w in want]}). The folds are "
                    f"torch.chunk(x_train, num_folds) (sizes {sizes} here, uneven); fold i is tested on a "
                    "classifier trained on the other folds only, never on itself")
    return None


def best_k(k_to_accuracies: dict) -> int:
    means = {k: sum(v) / len(v) for k, v in k_to_accuracies.items()}
    return min(k for k in means if means[k] == max(means.values()))


def best_k_cases() -> list:
    names = ("k_to_accuracies",)
    return [Case("{1: [50, 70], 3: [80, 70], 5: [60, 60]}", names, ({1: [50.0, 70.0], 3: [80.0, 70.0], 5: [60.0, 60.0]},)),
            Case("a tie between k=3 and k=10, keys in the order 10, 3, 5", names,
                 ({10: [50.0, 60.0], 3: [60.0, 50.0], 5: [40.0, 40.0]},)),
            Case("a tie between k=1 and k=8, keys in the order 20, 8, 1", names,
                 ({20: [12.5, 25.0], 8: [87.5, 62.5, 75.0], 1: [75.0, 75.0, 75.0]},)),
            Case("the grader's 5-fold cross-validation on the digits train split (default k_choices)", names,
                 (digits_cross_validation(),), {"digits": True})]


def judge_best_k(case: Case, outcome) -> str | None:
    (k_to_accuracies,) = case.args
    want = best_k(k_to_accuracies)
    value = outcome.value
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, int) and type(value).__name__ not in ("int64", "int32"):
        return f"should return an int, got {type(value).__name__}"
    if int(value) == want:
        return None
    means = {k: sum(v) / len(v) for k, v in k_to_accuracies.items()}
    note = (f" (test accuracy on the digits: k={int(value)} gives {digits_accuracy(int(value)):.1f}%, k={want} "
            f"{digits_accuracy(want):.1f}%)" if case.extra.get("digits") and int(value) in means else "")
    tied = sorted(k for k in means if means[k] == means[want])
    return (f"returned k={int(value)}, expected {want}: mean accuracies "
            + ", ".join(f"{k}: {means[k]:.4g}" for k in sorted(means))
            + (f"; k in {tied} tie, and the smallest k wins, whatever the order of the dict's keys" if len(tied) > 1 else "")
            + note)


# The notebook's trusted given cells its functions rely on, run before the answers.
GIVEN = ("setup",)

ITEMS = {
    "flatten_images": Item("flatten_images", flatten_cases, judge_flatten, adapter=layout_adapter,
                           passed="flattens every layout in order, without a copy where a view exists"),
    "compute_distances_two_loops": distance_item("compute_distances_two_loops"),
    "compute_distances_one_loop": distance_item("compute_distances_one_loop"),
    "compute_distances_no_loops": distance_item("compute_distances_no_loops", no_loops=True),
    "predict_labels": Item("predict_labels", predict_cases, judge_predict,
                           passed="votes of the k nearest, ties to the smallest label, k > num_train handled"),
    "KnnClassifier": Item("KnnClassifier", classifier_cases, judge_classifier, adapter=classifier_adapter,
                          helpers={"flatten_images": reference_flatten,
                                   "compute_distances_two_loops": reference_distances,
                                   "compute_distances_one_loop": reference_distances,
                                   "compute_distances_no_loops": reference_distances,
                                   "predict_labels": reference_predict_labels},
                          passed="predict passes k through and check_accuracy reports percent"),
    "knn_cross_validate": Item("knn_cross_validate", cross_validate_cases, judge_cross_validate,
                               helpers={"KnnClassifier": ReferenceKnn, "flatten_images": reference_flatten},
                               passed="torch.chunk's folds, each tested on a classifier of the others, in percent"),
    "knn_get_best_k": Item("knn_get_best_k", best_k_cases, judge_best_k,
                           passed="the smallest k among the best mean accuracies, in any key order"),
}
