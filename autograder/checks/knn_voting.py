"""Checks for assignments/knn, part 2: voting, the classifier, cross-validation, the best k
(the cases and judges; the items are in checks/knn.py)."""
from __future__ import annotations

import fractions

import torch

from .item import Case
from .knn_reference import (DEFAULT_K, ReferenceKnn, ambiguous, digits_accuracy, digits_cross_validation,
                            digits_images, expected_folds, possible_votes, reference_distances,
                            reference_predict_labels)
from .outputs import tensor_problem
from .samples import devices

SEED = 498
DIGITS_ACCURACY = 97.0  # percent: the reference's best k (1) on the digits test split reaches 98.6
# percent: a float32 mean times 100 is off by up to ~1e-5 (97.50000238 for 351 / 360); a wrong
# accuracy is off by at least 100 / num_test (0.03 at 3000 test points)
ACCURACY_TOL = 1e-3


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
    # k == num_train: all vote, and the farthest point (label 0) breaks a 2-2-1 vote into a 2-2-2 tie
    # that goes to 0 (k = min(k, num_train - 1) drops it and answers 1)
    farthest = torch.tensor([[1.0], [2.0], [3.0], [6.0], [4.0], [5.0]], dtype=torch.float64)
    cases.append(Case("k=6 equal to num_train=6 (all vote; the farthest point decides the tie)",
                      names, (farthest, torch.tensor([2, 0, 2, 0, 1, 1]), 6)))
    cases.append(Case("a single test point, k=3, labels 7 and 9 only", names,
                      (random[:9, :1], torch.tensor([9, 7, 9, 7, 9, 7, 9, 7, 9]), 3)))
    cases += [Case(f"ties on {d}, k=4", names, (dists.float().to(d), y_train.to(d), 4)) for d in devices()[1:]]
    cases += special_predict_cases(gen)
    return cases


def special_predict_cases(gen) -> list:
    """Inputs a lazy test never tries: distance 0 (a test point equal to a training point),
    duplicate training points tied at the k-th distance, and labels past 9."""
    names = ("dists", "y_train", "k")
    zero = 1 + torch.rand(8, 3, dtype=torch.float64, generator=gen)
    y_zero = torch.tensor([4, 2, 5, 1, 0, 3, 6, 2])
    zero[2, 0] = zero[6, 1] = zero[0, 2] = 0.0  # labels 5, 6 and 4; the next nearest differ
    zero[[3, 5, 7], [0, 1, 2]] = 0.5
    dup = 2 + torch.rand(7, 2, dtype=torch.float64, generator=gen)
    y_dup = torch.tensor([5, 7, 7, 2, 4, 1, 3])
    dup[0, 0], dup[[1, 2], 0] = 0.5, 1.0  # k=2: 5, then one of two duplicates (7, 7): a 5-7 tie -> 5
    dup[[3, 4], 1] = 1.0                  # k=2: two duplicates, labels 2 and 4 -> 2
    dup[6, 1] = 0.25                      # ... after the nearest, label 3: 3 and one of 2, 4 -> 2 or 3
    many = torch.rand(30, 4, dtype=torch.float64, generator=gen)
    y_many = torch.arange(30) % 12
    return [Case("test points equal to training points (distance exactly 0), k=1", names, (zero, y_zero, 1)),
            Case("duplicate training points tied at the k-th distance, k=2 (any 2 of the nearest are the "
                 "2 nearest; more than k must not vote)", names, (dup, y_dup, 2)),
            Case("12 classes (labels 0 to 11), k=3", names, (many, y_many, 3))]


def judge_predict(case: Case, outcome) -> str | None:
    dists, y_train, k = case.args
    expected = reference_predict_labels(dists.cpu().double(), y_train.cpu(), k).to(dists.device)
    if problem := tensor_problem("y_pred", outcome.value, expected, dtype=torch.int64):
        return problem
    wrong = [j for j in (outcome.value != expected).nonzero().flatten().tolist()
             if int(outcome.value[j]) not in possible_votes(dists[:, j], y_train, k)]
    if not wrong:
        return None
    j = wrong[0]
    order = torch.argsort(dists[:, j].cpu(), stable=True)[:min(k, dists.shape[0])]
    labels = y_train.cpu()[order].tolist()
    return (f"{len(wrong)} of {len(expected)} labels are wrong; test point {j}: its {len(labels)} nearest "
            f"training points (nearest first) have labels {labels}, so the vote gives "
            f"{int(expected[j])}, got {int(outcome.value[j])} (the smallest k distances in column j of dists "
            "vote; ties between classes go to the smallest label"
            + ("; k >= num_train: all num_train training points vote)" if k >= dists.shape[0] else ")"))


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
    if abs(number - want / 100) < ACCURACY_TOL / 100 and want > 0:
        return f"check_accuracy returned {number:.4g}, a fraction; the docstring asks for percent ({want:.4g})"
    if abs(number - want) > ACCURACY_TOL:
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
        if all(abs(g - w / 100) < ACCURACY_TOL / 100 for g, w in zip(got, want)) and any(want):
            return f"k={k}: accuracies {got} are fractions; the docstring asks for percent, as check_accuracy returns"
        if any(abs(g - w) > ACCURACY_TOL for g, w in zip(got, want)):
            fold = next(i for i, (g, w) in enumerate(zip(got, want)) if abs(g - w) > ACCURACY_TOL)
            return (f"k={k}, fold {fold}: accuracy {got[fold]:.4g}%, expected {want[fold]:.4g}% (all folds: got "
                    f"{[round(g, 2) for g in got]}, expected {[round(w, 2) for w in want]}). The folds are "
                    f"torch.chunk(x_train, num_folds) (sizes {sizes} here, uneven); fold i is tested on a "
                    "classifier trained on the other folds only, never on itself")
    return None


MEANS = {  # fair ways to take a mean: exact, and the float sums students write
    "exact": lambda v: fractions.Fraction(sum(map(fractions.Fraction, v)), len(v)),
    "float64 in order": lambda v: sum(v) / len(v),
    "float64 reversed": lambda v: sum(reversed(v)) / len(v),
    "float32 (torch.tensor(v).mean())": lambda v: torch.tensor(v, dtype=torch.float32).mean().item(),
}


def best_k(k_to_accuracies: dict, mean=MEANS["exact"]) -> int:
    """The smallest k among the best means (exact means: a true tie is a tie)."""
    means = {k: mean([float(a) for a in v]) for k, v in k_to_accuracies.items()}
    return min(k for k in means if means[k] == max(means.values()))


def best_k_answers(k_to_accuracies: dict) -> set:
    """The best k by every fair way to take the means: where a true tie's float sums differ in
    the last bit, the k that rounding favours is right too."""
    return {best_k(k_to_accuracies, mean) for mean in MEANS.values()}


THIRD = 100 / 3  # the accuracy of 1 right in a fold of 3, in percent


def best_k_cases() -> list:
    names = ("k_to_accuracies",)
    return [Case("{1: [50, 70], 3: [80, 70], 5: [60, 60]}", names, ({1: [50.0, 70.0], 3: [80.0, 70.0], 5: [60.0, 60.0]},)),
            Case("a tie between k=3 and k=10, keys in the order 10, 3, 5", names,
                 ({10: [50.0, 60.0], 3: [60.0, 50.0], 5: [40.0, 40.0]},)),
            Case("a tie between k=1 and k=8, keys in the order 20, 8, 1", names,
                 ({20: [12.5, 25.0], 8: [87.5, 62.5, 75.0], 1: [75.0, 75.0, 75.0]},)),
            Case("means 76.4 (k=1) and 76.45 (k=3): close, not tied", names,
                 ({1: [76.0, 76.8], 3: [76.1, 76.8], 8: [50.0, 50.0]},)),
            Case("5 folds of 3 points: k=1 and k=5 score the same folds in another order (a true tie; "
                 "float sums in order differ in the last bit)", names,
                 ({1: [THIRD * 2, 0.0, THIRD * 2, THIRD * 2, 100.0], 5: [THIRD * 2, 100.0, THIRD * 2, 0.0, THIRD * 2],
                   3: [THIRD, THIRD, THIRD, 100.0, 0.0]},)),
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
    if int(value) in best_k_answers(k_to_accuracies):
        return None
    means = {k: sum(v) / len(v) for k, v in k_to_accuracies.items()}
    note = (f" (test accuracy on the digits: k={int(value)} gives {digits_accuracy(int(value)):.1f}%, k={want} "
            f"{digits_accuracy(want):.1f}%)" if case.extra.get("digits") and int(value) in means else "")
    exact = {k: MEANS["exact"]([float(a) for a in v]) for k, v in k_to_accuracies.items()}
    tied = sorted(k for k in exact if exact[k] == exact[want])
    return (f"returned k={int(value)}, expected {want}: mean accuracies "
            + ", ".join(f"{k}: {means[k]:.4g}" for k in sorted(means))
            + (f"; k in {tied} tie, and the smallest k wins, whatever the order of the dict's keys" if len(tied) > 1 else "")
            + note)
