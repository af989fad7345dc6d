"""kNN students of the second unseen round (issue "unseen2"), written like published EECS 498 /
DeepRob solutions: right by another path (addmm with .mT and .view, a loop over test points
with sort and bincount, chunks joined by slicing the tuple, max over sorted keys) and wrong ones
a lazy test passes (a view subtracted in place, float64 returned for float32 inputs, rows
shuffled before torch.chunk, k clipped one short, the accuracy floored to whole percent)."""
from __future__ import annotations

from .notebooks import Entry

ONE, NONE = "compute_distances_one_loop_code", "compute_distances_no_loops_code"
PREDICT, CLS, CV, BEST = "predict_labels_code", "KnnClassifier_code", "knn_cross_validate_code", "knn_get_best_k_code"

NO_LOOPS_ADDMM = '''def compute_distances_no_loops(x_train, x_test):
    """.view when the inputs are contiguous (they are here), addmm for the cross term with .mT."""
    p = x_train.contiguous().view(x_train.shape[0], -1)
    q = x_test.contiguous().view(x_test.shape[0], -1)
    norms = p.pow(2).sum(1, keepdim=True) + q.pow(2).sum(1).unsqueeze(0)
    return torch.addmm(norms, p, q.mT, beta=1, alpha=-2)
'''
PREDICT_LOOP_SORT = '''def predict_labels(dists, y_train, k=1):
    """A loop over the test points: a stable sort of each column, bincount of the first k labels."""
    num_train, num_test = dists.shape
    C = int(y_train.max()) + 1
    y_pred = torch.zeros(num_test, dtype=torch.int64, device=dists.device)
    for j in range(num_test):
        order = torch.sort(dists[:, j], stable=True).indices[:k]
        y_pred[j] = torch.bincount(y_train[order], minlength=C).argmax()
    return y_pred
'''
CV_TUPLE_SLICES = '''def knn_cross_validate(x_train, y_train, num_folds=5, k_choices=None):
    """The other folds by slicing the chunk tuples (folds[:i] + folds[i + 1:]); folds outer, k inner."""
    if k_choices is None:
        k_choices = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]
    x_folds, y_folds = torch.chunk(x_train, num_folds), torch.chunk(y_train, num_folds)
    k_to_accuracies = {k: [] for k in k_choices}
    for i in range(len(x_folds)):
        knn = KnnClassifier(torch.cat(x_folds[:i] + x_folds[i + 1:]), torch.cat(y_folds[:i] + y_folds[i + 1:]))
        for k in k_choices:
            k_to_accuracies[k].append(knn.check_accuracy(x_folds[i], y_folds[i], k=k, quiet=True))
    return k_to_accuracies
'''
BEST_MAX_SORTED = '''def knn_get_best_k(k_to_accuracies):
    """max over the sorted keys: max keeps the first maximum, the smallest k."""
    return max(sorted(k_to_accuracies), key=lambda k: sum(k_to_accuracies[k]) / len(k_to_accuracies[k]))
'''
ONE_LOOP_VIEW_IN_PLACE = '''def compute_distances_one_loop(x_train, x_test):
    """A loop over the training points; 'diff = test' then diff -= ... : diff is x_test's memory."""
    num_train, num_test = x_train.shape[0], x_test.shape[0]
    train = x_train.reshape(num_train, -1)
    dists = x_train.new_zeros(num_train, num_test)
    for i in range(num_train):
        diff = x_test.reshape(num_test, -1)
        diff -= train[i]
        dists[i] = (diff * diff).sum(dim=1)
        diff += train[i]
    return dists
'''
NO_LOOPS_FLOAT64 = '''def compute_distances_no_loops(x_train, x_test):
    """In float64 for precision (no cancellation), returned as float64 whatever the inputs."""
    p = x_train.reshape(x_train.shape[0], -1).double()
    q = x_test.reshape(x_test.shape[0], -1).double()
    return (p * p).sum(1)[:, None] + (q * q).sum(1)[None, :] - 2 * p @ q.T
'''
CV_SHUFFLED = ("    x_folds = torch.chunk(x_train, num_folds)\n    y_folds = torch.chunk(y_train, num_folds)\n",
               "    order = torch.randperm(x_train.shape[0], device=x_train.device)  # shuffle first\n"
               "    x_folds = torch.chunk(x_train[order], num_folds)\n    y_folds = torch.chunk(y_train[order], num_folds)\n")
PREDICT_K_CLIPPED_SHORT = ("k = min(k, num_train)", "k = min(k, num_train - 1)  # topk needs k < n")
CLS_FLOOR_PERCENT = ("accuracy = 100.0 * num_correct / y_test.shape[0]",
                     "accuracy = 100 * num_correct // y_test.shape[0]")

STUDENTS = [
    Entry("ok-no-loops-addmm-view-mT", replace={NONE: NO_LOOPS_ADDMM}),
    Entry("ok-predict-loop-sort-bincount", replace={PREDICT: PREDICT_LOOP_SORT}),
    Entry("ok-cv-tuple-slices-folds-outer", replace={CV: CV_TUPLE_SLICES}),
    Entry("ok-best-k-max-over-sorted-keys", replace={BEST: BEST_MAX_SORTED}),
    Entry("bug-one-loop-subtracts-in-place", ("compute_distances_one_loop",), replace={ONE: ONE_LOOP_VIEW_IN_PLACE},
          messages={"compute_distances_one_loop": "changed its input"},
          note="diff = x_test.reshape(...) is a view: diff -= ... writes into x_test (restored after, up to round-off)"),
    Entry("bug-no-loops-returns-float64", ("compute_distances_no_loops",), replace={NONE: NO_LOOPS_FLOAT64},
          messages={"compute_distances_no_loops": "float64"},
          note="computed and returned in float64: the docstring asks for the inputs' dtype"),
    Entry("bug-cv-shuffles-before-chunk", ("knn_cross_validate",), edits=((CV,) + CV_SHUFFLED,),
          messages={"knn_cross_validate": "torch.chunk"},
          note="shuffles the rows before torch.chunk: the notebook's folds are the chunks in order"),
    Entry("bug-predict-k-clipped-one-short", ("predict_labels",), edits=((PREDICT,) + PREDICT_K_CLIPPED_SHORT,),
          messages={"predict_labels": "k"},
          note="min(k, num_train - 1): with k >= num_train one training point never votes"),
    Entry("bug-classifier-floor-percent", ("KnnClassifier",), edits=((CLS,) + CLS_FLOOR_PERCENT,),
          messages={"KnnClassifier": "percent"},
          note="100 * correct // num_test: whole percent, floored (97 for 351 / 360)"),
]
