"""Corpus for knn: realistic bugs (course-conventions.md: published EECS 498 / DeepRob kNN
solutions and their forum threads) and correct variants written differently."""
from __future__ import annotations

from .notebooks import Entry
from .unseen_knn import STUDENTS as UNSEEN  # students written against the checks (issue "unseen")
from .unseen2_knn import STUDENTS as UNSEEN2  # a second, independent round (issue "unseen2")

FLAT, TWO, ONE, NONE = ("flatten_images_code", "compute_distances_two_loops_code",
                        "compute_distances_one_loop_code", "compute_distances_no_loops_code")
PREDICT, CLS, CV, BEST = "predict_labels_code", "KnnClassifier_code", "knn_cross_validate_code", "knn_get_best_k_code"
EXPANSION = "    return train_sq[:, None] + test_sq[None, :] - 2 * (train @ test.T)\n"

BUGS = [
    Entry("bug-flatten-view", ("flatten_images",),
          ((FLAT, "return x.reshape(x.shape[0], -1)", "return x.view(x.shape[0], -1)"),), item_status="error",
          note=".view on a transposed tensor raises: no view exists"),
    Entry("bug-flatten-contiguous-copies", ("flatten_images",),
          ((FLAT, "return x.reshape(x.shape[0], -1)", "return x.contiguous().view(x.shape[0], -1)"),),
          note=".contiguous().view copies x[::2], which reshape would view"),
    Entry("bug-two-loops-sqrt", ("compute_distances_two_loops",),
          ((TWO, "dists[i, j] = ((train[i] - test[j]) ** 2).sum()",
            "dists[i, j] = ((train[i] - test[j]) ** 2).sum().sqrt()"),),
          note="Euclidean distance instead of the course's squared distance"),
    Entry("bug-one-loop-test-by-train", ("compute_distances_one_loop",),
          ((ONE, "    dists = x_train.new_zeros(num_train, num_test)\n    for i in range(num_train):\n"
                 "        dists[i] = ((train[i] - test) ** 2).sum(dim=1)\n",
            "    dists = x_train.new_zeros(num_test, num_train)\n    for j in range(num_test):\n"
            "        dists[j] = ((train - test[j]) ** 2).sum(dim=1)\n"),),
          note="(num_test, num_train) orientation (CS231n's) instead of the course's (num_train, num_test)"),
    Entry("bug-no-loops-broadcast", ("compute_distances_no_loops",),
          ((NONE, EXPANSION, "    return ((train[:, None, :] - test[None, :, :]) ** 2).sum(dim=2)\n"),),
          item_status="error", in_process=False,
          note="no loops by a (num_train, num_test, D) broadcast: over the memory limit at scale"),
    Entry("bug-no-loops-sqrt", ("compute_distances_no_loops",),
          ((NONE, EXPANSION, "    return (train_sq[:, None] + test_sq[None, :] - 2 * (train @ test.T)).clamp(min=0).sqrt()\n"),),
          note="square root taken (clamped first, so no NaN): not squared"),
    Entry("bug-no-loops-missing-factor-2", ("compute_distances_no_loops",),
          ((NONE, EXPANSION, "    return train_sq[:, None] + test_sq[None, :] - train @ test.T\n"),),
          note="the expansion without its factor 2 on p.q"),
    Entry("bug-no-loops-returns-float32", ("compute_distances_no_loops",),
          ((NONE, "    train = x_train.reshape(num_train, -1)\n    test = x_test.reshape(num_test, -1)\n    train_sq",
            "    train = x_train.reshape(num_train, -1).float()  # save memory\n"
            "    test = x_test.reshape(num_test, -1).float()\n    train_sq"),),
          note="converted to float32 to save memory and returned as float32 for float64 inputs"),
    Entry("bug-no-loops-norm", ("compute_distances_no_loops",),
          ((NONE, "    train_sq = (train * train).sum(dim=1)  # (num_train,)",
            "    train_sq = torch.norm(train, dim=1) ** 2"),),
          note="torch.norm, which the notebook forbids"),
    Entry("bug-no-loops-comprehension", ("compute_distances_no_loops",),
          ((NONE, "    test_sq = (test * test).sum(dim=1)     # (num_test,)",
            "    test_sq = torch.stack([(row * row).sum() for row in test])"),),
          note="a comprehension left in the no-loop version"),
    Entry("bug-predict-ties-to-largest", ("predict_labels",),
          ((PREDICT, "return votes.argmax(dim=0)", "return votes.shape[0] - 1 - votes.flip(0).argmax(dim=0)"),),
          note="ties broken to the largest label"),
    Entry("bug-predict-farthest", ("predict_labels",),
          ((PREDICT, "largest=False", "largest=True"),), note="the k farthest vote (argsort descending)"),
    Entry("bug-predict-k-over-num-train", ("predict_labels",),
          ((PREDICT, "    k = min(k, num_train)\n", ""),), item_status="error",
          note="k > num_train not handled: topk raises"),
    Entry("bug-classifier-ignores-k", ("KnnClassifier",),
          ((CLS, "return predict_labels(dists, self.y_train, k=k)", "return predict_labels(dists, self.y_train)"),),
          note="predict does not pass k on (always k=1)"),
    Entry("bug-classifier-fraction", ("KnnClassifier",),
          ((CLS, "accuracy = 100.0 * num_correct / y_test.shape[0]", "accuracy = num_correct / y_test.shape[0]"),),
          note="check_accuracy returns a fraction, not percent"),
    Entry("bug-cv-folds-by-hand", ("knn_cross_validate",),
          ((CV, "    x_folds = torch.chunk(x_train, num_folds)\n    y_folds = torch.chunk(y_train, num_folds)\n",
            "    size = x_train.shape[0] // num_folds\n"
            "    x_folds = [x_train[f * size:(f + 1) * size] for f in range(num_folds)]\n"
            "    y_folds = [y_train[f * size:(f + 1) * size] for f in range(num_folds)]\n"),),
          note="equal folds by hand (num_train // num_folds): drops the remainder, not torch.chunk's folds"),
    Entry("bug-cv-tests-on-training-rows", ("knn_cross_validate",),
          ((CV, "classifier = KnnClassifier(x_rest, y_rest)", "classifier = KnnClassifier(x_train, y_train)"),),
          note="the classifier is built from all the data, the test fold included"),
    Entry("bug-cv-fractions", ("knn_cross_validate",),
          ((CV, "k_to_accuracies[k].append(classifier.check_accuracy(x_folds[i], y_folds[i], k=k, quiet=True))",
            "k_to_accuracies[k].append(classifier.check_accuracy(x_folds[i], y_folds[i], k=k, quiet=True) / 100)"),),
          note="fractions instead of percent"),
    Entry("bug-best-k-largest-on-ties", ("knn_get_best_k",),
          ((BEST, "mean > best_mean", "mean >= best_mean"),), note="the largest k wins a tie"),
    Entry("bug-best-k-dict-order", ("knn_get_best_k",),
          ((BEST, "for k in sorted(k_to_accuracies):", "for k in k_to_accuracies:"),),
          note="the first best in the dict's key order, not the smallest k"),
]

FLOAT32_INSIDE = '''def compute_distances_no_loops(x_train, x_test):
    """The expansion in float32 inside (half the memory), clamped at 0, returned in the inputs' dtype."""
    train = x_train.flatten(1).float()
    test = x_test.flatten(1).float()
    cross = torch.mm(train, test.t())
    dists = train.pow(2).sum(1, keepdim=True) - 2 * cross + test.pow(2).sum(1).unsqueeze(0)
    return dists.clamp_(min=0).to(x_train.dtype)
'''
VIEW_WHEN_CONTIGUOUS = '''def flatten_images(x):
    """A view by .view when x is contiguous, otherwise reshape (a view where strides allow it)."""
    if x.is_contiguous():
        return x.view(len(x), -1)
    return torch.reshape(x, (x.shape[0], -1))
'''
ONE_LOOP_OVER_TEST = '''def compute_distances_one_loop(x_train, x_test):
    """One loop over the test points, filling columns; .contiguous().view to flatten."""
    train = x_train.contiguous().view(x_train.shape[0], -1)
    test = x_test.contiguous().view(x_test.shape[0], -1)
    dists = torch.empty(train.shape[0], test.shape[0], dtype=x_train.dtype, device=x_train.device)
    for j, point in enumerate(test):
        diff = train - point
        dists[:, j] = (diff * diff).sum(dim=1)
    return dists
'''
PREDICT_BINCOUNT = '''def predict_labels(dists, y_train, k=1):
    """argsort, then one bincount per test point; argmax picks the first (smallest) label."""
    order = dists.argsort(dim=0)[:k]
    num_classes = int(y_train.max().item()) + 1
    y_pred = torch.zeros(dists.shape[1], dtype=torch.long, device=dists.device)
    for j in range(dists.shape[1]):
        y_pred[j] = torch.bincount(y_train[order[:, j]], minlength=num_classes).argmax()
    return y_pred
'''
PREDICT_MODE = '''def predict_labels(dists, y_train, k=1):
    """Voting with torch.mode (on the CPU it returns the smallest of tied values; undocumented)."""
    k = min(k, dists.shape[0])
    idx = torch.topk(dists, k, dim=0, largest=False).indices
    return torch.mode(y_train[idx], dim=0).values
'''
CV_OTHER_ORDER = '''def knn_cross_validate(x_train, y_train, num_folds=5, k_choices=None):
    """Training folds concatenated after-then-before the held-out one; a dict comprehension."""
    if k_choices is None:
        k_choices = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]
    xs, ys = x_train.chunk(num_folds), y_train.chunk(num_folds)
    def fold_accuracy(i, k):
        rest = list(range(i + 1, len(xs))) + list(range(i))
        model = KnnClassifier(torch.cat([xs[j] for j in rest]), torch.cat([ys[j] for j in rest]))
        return model.check_accuracy(xs[i], ys[i], k=k, quiet=True)
    return {k: [fold_accuracy(i, k) for i in range(num_folds)] for k in k_choices}
'''
BEST_K_TORCH = '''def knn_get_best_k(k_to_accuracies):
    """Means by torch (float32), the smallest k by a key of (-mean, k)."""
    means = {k: torch.tensor(v).mean().item() for k, v in k_to_accuracies.items()}
    return min(means, key=lambda k: (-means[k], k))
'''

CORRECT = [
    Entry("ok-reference"),
    Entry("ok-float32-inside-clamped", replace={NONE: FLOAT32_INSIDE}),
    Entry("ok-view-when-contiguous-loop-over-test", replace={FLAT: VIEW_WHEN_CONTIGUOUS, ONE: ONE_LOOP_OVER_TEST}),
    Entry("ok-argsort-bincount", replace={PREDICT: PREDICT_BINCOUNT}),
    Entry("ok-torch-mode-voting", replace={PREDICT: PREDICT_MODE}),
    Entry("ok-cv-other-order-torch-means", replace={CV: CV_OTHER_ORDER, BEST: BEST_K_TORCH}),
]

ITEMS = ("flatten_images", "compute_distances_two_loops", "compute_distances_one_loop", "compute_distances_no_loops",
         "predict_labels", "KnnClassifier", "knn_cross_validate", "knn_get_best_k")

BROKEN = [Entry("blank-release", ITEMS, untouched=True, note="the untouched release: every stub raises")]

ENTRIES = BUGS + CORRECT + BROKEN + UNSEEN + UNSEEN2
DEMO = ["ok-reference", "blank-release", "bug-no-loops-broadcast", "bug-predict-ties-to-largest",
        "bug-cv-tests-on-training-rows"]
