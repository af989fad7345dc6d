"""kNN students the first corpus did not have (written for issue "unseen"): right by
another path, and wrong ones that a lazy test passes (zero distances skipped, every tied
point voting, ten classes hard-coded, the nearest label first on a tie)."""
from __future__ import annotations

from .notebooks import Entry

TWO, NONE = "compute_distances_two_loops_code", "compute_distances_no_loops_code"
PREDICT, CLS, BEST = "predict_labels_code", "KnnClassifier_code", "knn_get_best_k_code"

TWO_LOOPS_VECTORIZED = '''def compute_distances_two_loops(x_train, x_test):
    """No loops at all (the student did the fast version three times): the docstring asks for a
    loop over the training points with one over the test points inside (issue "unseen2")."""
    p, q = x_train.flatten(1), x_test.flatten(1)
    return (p * p).sum(1)[:, None] + (q * q).sum(1)[None, :] - 2 * p @ q.T
'''
NO_LOOPS_EINSUM = '''def compute_distances_no_loops(x_train, x_test):
    """einsum for the norms and the cross term, clamped at 0 (round-off below 0 is not a distance)."""
    p = x_train.reshape(len(x_train), -1)
    q = x_test.reshape(len(x_test), -1)
    cross = torch.einsum("id,jd->ij", p, q)
    return (torch.einsum("id,id->i", p, p).unsqueeze(1) + torch.einsum("jd,jd->j", q, q) - 2 * cross).clamp(min=0)
'''
PREDICT_SQRT_ONE_HOT = '''def predict_labels(dists, y_train, k=1):
    """Ranks by the square root of the distances (the same order), one-hot votes with
    F.one_hot, argmax picks the first (smallest) label."""
    import torch.nn.functional as F
    k = min(k, dists.shape[0])
    order = dists.clamp(min=0).sqrt().argsort(dim=0, stable=True)[:k]   # (k, num_test)
    votes = F.one_hot(y_train[order], int(y_train.max()) + 1).sum(dim=0)  # (num_test, C)
    return votes.argmax(dim=1)
'''
PREDICT_NUMPY = '''def predict_labels(dists, y_train, k=1):
    """numpy inside: a stable argsort and one bincount per test point."""
    import numpy as np
    d, labels = dists.detach().cpu().numpy(), y_train.cpu().numpy()
    nearest = np.argsort(d, axis=0, kind="stable")[:k]
    out = [np.bincount(labels[nearest[:, j]]).argmax() for j in range(d.shape[1])]
    return torch.as_tensor(np.array(out, dtype=np.int64), device=dists.device)
'''
CLASSIFIER_FLOAT32_ACCURACY = '''class KnnClassifier:
    """The accuracy as a float32 mean times 100 (97.50000238 for 351 / 360), the distances
    with the two-loop function's fast sibling."""

    def __init__(self, x_train, y_train):
        self.x_train, self.y_train = x_train, y_train

    def predict(self, x_test, k=1):
        return predict_labels(compute_distances_no_loops(self.x_train, x_test), self.y_train, k=k)

    def check_accuracy(self, x_test, y_test, k=1, quiet=False):
        accuracy = (self.predict(x_test, k=k) == y_test).float().mean().item() * 100
        if not quiet:
            print(f"accuracy {accuracy:.2f}%")
        return accuracy
'''
BEST_K_STATISTICS = '''def knn_get_best_k(k_to_accuracies):
    """Exact means (statistics.mean sums exactly), the smallest k among the best."""
    import statistics
    means = {k: statistics.mean(v) for k, v in k_to_accuracies.items()}
    best = max(means.values())
    return min(k for k, m in means.items() if m == best)
'''
PREDICT_SKIPS_ZERO = '''def predict_labels(dists, y_train, k=1):
    """Skips distance 0 ("that is the point itself", as in leave-one-out): wrong here, where a
    test point that equals a training point should take its label."""
    d = dists.clone()
    d[d == 0] = float("inf")
    k = min(k, d.shape[0])
    nearest = torch.topk(d, k, dim=0, largest=False).indices
    votes = torch.zeros(int(y_train.max()) + 1, d.shape[1], dtype=torch.int64, device=d.device)
    votes.scatter_add_(0, y_train[nearest], torch.ones_like(nearest))
    return votes.argmax(dim=0)
'''
PREDICT_THRESHOLD = '''def predict_labels(dists, y_train, k=1):
    """Everything within the k-th smallest distance votes: more than k points when the k-th
    distance is tied (duplicate training points)."""
    k = min(k, dists.shape[0])
    kth = dists.kthvalue(k, dim=0).values                               # (num_test,)
    inside = (dists <= kth).to(torch.int64)                             # (num_train, num_test)
    one_hot = (y_train[:, None] == torch.arange(int(y_train.max()) + 1, device=dists.device)).to(torch.int64)
    return (one_hot.T @ inside).argmax(dim=0)
'''
PREDICT_TEN_CLASSES = '''def predict_labels(dists, y_train, k=1):
    """Ten vote counters: CIFAR-10 has ten classes (and labels 10 or more raise)."""
    k = min(k, dists.shape[0])
    nearest = torch.topk(dists, k, dim=0, largest=False).indices
    votes = torch.zeros(10, dists.shape[1], dtype=torch.int64, device=dists.device)
    votes.scatter_add_(0, y_train[nearest], torch.ones_like(nearest))
    return votes.argmax(dim=0)
'''
PREDICT_FIRST_SEEN = '''def predict_labels(dists, y_train, k=1):
    """Counter.most_common: on a tie, the label seen first (the nearest), not the smallest."""
    from collections import Counter
    k = min(k, dists.shape[0])
    nearest = dists.argsort(dim=0)[:k]
    out = [Counter(y_train[nearest[:, j]].tolist()).most_common(1)[0][0] for j in range(dists.shape[1])]
    return torch.tensor(out, dtype=torch.int64, device=dists.device)
'''
BEST_K_ROUNDED = '''def knn_get_best_k(k_to_accuracies):
    """Means rounded to whole percent before comparing: 76.4 and 75.6 tie, the smaller k wins."""
    means = {k: round(sum(v) / len(v)) for k, v in k_to_accuracies.items()}
    return min(means, key=lambda k: (-means[k], k))
'''

STUDENTS = [
    Entry("bug-two-loops-without-loops", ("compute_distances_two_loops",), replace={TWO: TWO_LOOPS_VECTORIZED},
          messages={"compute_distances_two_loops": "two nested python loops"},
          note="the fast version under the two-loop name: the docstring asks for two nested loops"),
    Entry("ok-no-loops-einsum-clamped", replace={NONE: NO_LOOPS_EINSUM}),
    Entry("ok-predict-sqrt-ranking-one-hot", replace={PREDICT: PREDICT_SQRT_ONE_HOT}),
    Entry("ok-predict-numpy-bincount", replace={PREDICT: PREDICT_NUMPY}),
    Entry("ok-classifier-float32-percent", replace={CLS: CLASSIFIER_FLOAT32_ACCURACY}),
    Entry("ok-best-k-exact-means", replace={BEST: BEST_K_STATISTICS}),
    Entry("bug-predict-skips-zero-distance", ("predict_labels",), replace={PREDICT: PREDICT_SKIPS_ZERO},
          messages={"predict_labels": "distance exactly 0"},
          note="a distance of 0 skipped as 'the point itself': a test point equal to a training point loses its label"),
    Entry("bug-predict-tied-points-all-vote", ("predict_labels",), replace={PREDICT: PREDICT_THRESHOLD},
          messages={"predict_labels": "more than k must not vote"},
          note="every point within the k-th distance votes: more than k where duplicates tie at the boundary"),
    Entry("bug-predict-ten-classes", ("predict_labels",), replace={PREDICT: PREDICT_TEN_CLASSES},
          messages={"predict_labels": "12 classes"},
          item_status="error", note="ten vote counters hard-coded: labels 10 and up raise"),
    Entry("bug-predict-tie-first-seen", ("predict_labels",), replace={PREDICT: PREDICT_FIRST_SEEN},
          messages={"predict_labels": "smallest label"},
          note="Counter.most_common breaks a tie by the nearest label, not the smallest"),
    Entry("bug-best-k-rounded-means", ("knn_get_best_k",), replace={BEST: BEST_K_ROUNDED},
          messages={"knn_get_best_k": "expected 3"},
          note="means rounded to whole percent: different means tie"),
]
