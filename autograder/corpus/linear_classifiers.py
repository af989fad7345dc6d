"""Corpus for linear_classifiers: realistic bugs, correct variants written differently,
and broken notebooks. Bugs come from course forums and write-ups (course-conventions.md)."""
from __future__ import annotations

from .notebooks import Entry
from .unseen_linear_classifiers import STUDENTS as UNSEEN  # students written against the checks (issue "unseen")
from .unseen2_linear_classifiers import STUDENTS as UNSEEN2  # a second, independent round (issue "unseen2")

SVM_N, SVM_V = "svm_loss_naive_code", "svm_loss_vectorized_code"
SMX_N, SMX_V = "softmax_loss_naive_code", "softmax_loss_vectorized_code"
SAMPLE, TRAIN, PREDICT = "sample_batch_code", "train_linear_classifier_code", "predict_linear_classifier_code"

BUGS = [
    Entry("bug-svm-naive-reg-factor", ("svm_loss_naive",),
          ((SVM_N, "dW = dW / num_train + 2 * reg * W", "dW = dW / num_train + reg * W"),),
          note="L2 gradient missing its factor 2"),
    Entry("bug-svm-naive-counts-correct-class", ("svm_loss_naive",),
          ((SVM_N, "            if j == label:\n                continue\n", ""),),
          note="correct class counted in the margin sum (adds 1 per sample)"),
    Entry("bug-svm-naive-assigns-correct-column", ("svm_loss_naive",),
          ((SVM_N, "dW[:, label] -= X[i]", "dW[:, label] = -X[i]"),),
          note="correct-class column set with = instead of -="),
    Entry("bug-svm-naive-shape-crash", ("svm_loss_naive",),
          ((SVM_N, "scores = W.t().mv(X[i])", "scores = W.mv(X[i])"),), item_status="error",
          note="W instead of W.t(): a shape error inside the function"),
    Entry("bug-svm-vec-no-reg-in-loss", ("svm_loss_vectorized",),
          ((SVM_V, "loss = data_loss + reg * torch.sum(W * W)", "loss = data_loss"),),
          note="regularization left out of the vectorized loss"),
    Entry("bug-svm-vec-grad-missing-1-over-n", ("svm_loss_vectorized",),
          ((SVM_V, "torch.full_like(hinges, 1.0 / N)", "torch.full_like(hinges, 1.0)"),),
          note="1/N missing in the gradient"),
    Entry("bug-svm-vec-margin-zero", ("svm_loss_vectorized",),
          ((SVM_V, "margins = scores - correct_scores + 1", "margins = scores - correct_scores"),),
          note="margin 0 instead of 1: loss and gradient agree with each other, the loss is wrong"),
    Entry("bug-svm-vec-python-loop", ("svm_loss_vectorized",),
          ((SVM_V, "    N, C = X.shape[0], W.shape[1]\n",
            "    N, C = X.shape[0], W.shape[1]\n    _ = [int(label) for label in y]  # debugging\n"),),
          note="a list comprehension left in the vectorized version"),
    Entry("bug-softmax-naive-missing-minus-one", ("softmax_loss_naive",),
          ((SMX_N, "indicator = 1.0 if j == label else 0.0", "indicator = 0.0"),),
          note='the "-1" at the correct class missing'),
    Entry("bug-softmax-naive-scores-not-probs", ("softmax_loss_naive",),
          ((SMX_N, "dW[:, j] += (probs[j] - indicator) * X[i]", "dW[:, j] += (scores[j] - indicator) * X[i]"),),
          note="gradient uses scores instead of probabilities"),
    Entry("bug-softmax-naive-mean-twice", ("softmax_loss_naive",),
          ((SMX_N, "dW = dW / num_train + 2 * reg * W", "dW = dW / num_train / num_train + 2 * reg * W"),),
          note="1/N applied twice to the gradient"),
    Entry("bug-softmax-vec-numel", ("softmax_loss_vectorized",),
          ((SMX_V, "grad_log_probs = -is_correct / N", "grad_log_probs = -is_correct / (N * C)"),),
          note="gradient normalized by numel instead of N"),
    Entry("bug-softmax-vec-half-reg", ("softmax_loss_vectorized",),
          ((SMX_V, "loss = data_loss + reg * torch.sum(W * W)", "loss = data_loss + 0.5 * reg * torch.sum(W * W)"),
           (SMX_V, "dW = grad_scores.t().mm(X).t() + 2 * reg * W", "dW = grad_scores.t().mm(X).t() + reg * W")),
          note="the 1/2 reg convention mixed into a course that uses reg * sum(W^2)"),
    Entry("bug-softmax-vec-missing-correct-class-path", ("softmax_loss_vectorized",),
          ((SMX_V, "grad_shifted = grad_log_probs + grad_log_sum_exp * probs",
            "grad_shifted = grad_log_sum_exp * probs"),),
          note="one of the two paths into shifted dropped (the -1 at the correct class)"),
    # the other mistakes of the notebook's "Common mistakes" list (checks/causes.py)
    Entry("bug-svm-vec-counts-correct-class-in-grad", ("svm_loss_vectorized",),
          ((SVM_V, "grad_correct_scores = -grad_margins.sum(dim=1, keepdim=True)",
            "grad_correct_scores = -(grad_hinges * (margins > 0).to(W.dtype)).sum(dim=1, keepdim=True)"),),
          note="the correct class's own margin (always 1 > 0) counted in the gradient of the correct score"),
    Entry("bug-svm-vec-sign-flipped", ("svm_loss_vectorized",),
          ((SVM_V, "dW = grad_scores.t().mm(X).t() + 2 * reg * W", "dW = -grad_scores.t().mm(X).t() + 2 * reg * W"),),
          note="the data gradient with the wrong sign"),
    Entry("bug-svm-vec-reg-doubled", ("svm_loss_vectorized",),
          ((SVM_V, "dW = grad_scores.t().mm(X).t() + 2 * reg * W", "dW = grad_scores.t().mm(X).t() + 4 * reg * W"),),
          note="the regularization gradient doubled"),
    Entry("bug-svm-vec-transposed", ("svm_loss_vectorized",),
          ((SVM_V, "dW = grad_scores.t().mm(X).t() + 2 * reg * W", "dW = grad_scores.t().mm(X) + 2 * reg * W.t()"),),
          note="one transpose too few: dW has shape (C, D)"),
    Entry("bug-softmax-vec-no-reg-grad", ("softmax_loss_vectorized",),
          ((SMX_V, "dW = grad_scores.t().mm(X).t() + 2 * reg * W", "dW = grad_scores.t().mm(X).t()"),),
          note="no regularization gradient (the loss has the term)"),
    Entry("bug-sample-without-replacement", ("sample_batch",),
          ((SAMPLE, "indices = torch.randint(num_train, (batch_size,), device=X.device)",
            "indices = torch.randperm(num_train, device=X.device)[:batch_size]"),),
          note="sampling without replacement"),
    Entry("bug-sample-mismatched-labels", ("sample_batch",),
          ((SAMPLE, "y_batch = y[indices]", "y_batch = y[torch.randint(num_train, (batch_size,), device=X.device)]"),),
          note="labels drawn with other indices than the rows"),
    Entry("bug-train-gradient-ascent", ("train_linear_classifier",),
          ((TRAIN, "W -= learning_rate * grad", "W += learning_rate * grad"),),
          note="sign error in the SGD step"),
    Entry("bug-train-full-batch", ("train_linear_classifier",),
          ((TRAIN, "X_batch, y_batch = sample_batch(X, y, num_train, batch_size)", "X_batch, y_batch = X, y"),),
          note="the whole training set every step instead of a minibatch"),
    Entry("bug-predict-argmax-no-dim", ("predict_linear_classifier",),
          ((PREDICT, "torch.argmax(scores, dim=1)", "torch.argmax(scores)"),),
          note="argmax without a dim"),
    Entry("bug-svm-grid-too-big", ("svm_get_search_params",),
          (("svm_get_search_params_code", "learning_rates = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]",
            "learning_rates = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0]"),
           ("svm_get_search_params_code", "regularization_strengths = [1e-3, 1e-2, 1e-1]",
            "regularization_strengths = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]")),
          note="a 50-combination grid (too slow to search)"),
    Entry("bug-softmax-grid-one-point", ("softmax_get_search_params",),
          (("softmax_get_search_params_code", "learning_rates = [3e-3, 1e-2, 3e-2, 1e-1, 3e-1]",
            "learning_rates = [1e-2]"),
           ("softmax_get_search_params_code", "regularization_strengths = [1e-3, 1e-2, 1e-1]",
            "regularization_strengths = [1e-3]")),
          note="a grid of one combination: nothing is searched"),
]

SVM_GATHER = '''def svm_loss_vectorized(W, X, y, reg):
    """SVM loss with gather/scatter instead of a one-hot mask."""
    N = X.shape[0]
    scores = X @ W
    correct = scores.gather(1, y.view(-1, 1))
    margins = (scores - correct + 1).clamp(min=0).scatter(1, y.view(-1, 1), 0.0)
    loss = margins.sum() / N + reg * (W ** 2).sum()
    grad_scores = (margins > 0).to(W.dtype)
    grad_scores = grad_scores.scatter(1, y.view(-1, 1), -grad_scores.sum(1, keepdim=True))
    return loss, X.T @ grad_scores / N + 2 * reg * W
'''
SOFTMAX_FLOAT32 = '''def softmax_loss_vectorized(W, X, y, reg):
    """Softmax computed in float32 inside, returned in the caller's dtype."""
    W32, X32 = W.float(), X.float()
    N = X.shape[0]
    scores = X32 @ W32
    scores = scores - scores.max(dim=1, keepdim=True).values
    probs = scores.exp() / scores.exp().sum(dim=1, keepdim=True)
    loss = -probs[torch.arange(N, device=X.device), y].log().mean() + reg * (W32 * W32).sum()
    dscores = probs.clone()
    dscores[torch.arange(N, device=X.device), y] -= 1
    dW = X32.t() @ dscores / N + 2 * reg * W32
    return loss.to(W.dtype), dW.to(W.dtype)
'''
SOFTMAX_EYE = '''def softmax_loss_naive(W, X, y, reg):
    """Loops over samples only; one-hot rows from an identity matrix; prints and warns."""
    import warnings
    N, C = X.shape[0], W.shape[1]
    onehot = torch.eye(C, dtype=W.dtype, device=W.device)
    loss = 0.0
    dW = torch.zeros_like(W)
    for i in range(N):
        s = X[i] @ W
        p = torch.exp(s - s.max())
        p = p / p.sum()
        loss = loss - torch.log(p[y[i]])
        dW = dW + torch.outer(X[i], p - onehot[y[i]])
    print("debug: loss", float(loss))
    warnings.warn("this student left a warning in", UserWarning)
    return loss / N + reg * torch.sum(W * W), dW / N + 2 * reg * W
'''
SAMPLE_MULTINOMIAL = '''def sample_batch(X, y, num_train, batch_size):
    """Sampling with torch.multinomial, with replacement."""
    weights = torch.ones(num_train, device=X.device)
    idx = torch.multinomial(weights, batch_size, replacement=True)
    return X[idx], y[idx]
'''
TRAIN_OUT_OF_PLACE = '''def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100,
                            batch_size=200, verbose=False):
    """SGD without in-place updates; history stored as tensors."""
    if W is None:
        W = 1e-6 * torch.randn(X.shape[1], int(y.max().item()) + 1, dtype=X.dtype, device=X.device)
    history = []
    for _ in range(num_iters):
        Xb, yb = sample_batch(X, y, X.shape[0], batch_size)
        loss, dW = loss_func(W, Xb, yb, reg)
        history.append(loss.detach().clone())
        W = W - learning_rate * dW
    return W, history
'''

CORRECT = [
    Entry("ok-reference"),
    Entry("ok-svm-gather-scatter", replace={SVM_V: SVM_GATHER}),
    Entry("ok-softmax-float32-inside", replace={SMX_V: SOFTMAX_FLOAT32}),
    Entry("ok-softmax-eye-prints-warns", replace={SMX_N: SOFTMAX_EYE}),
    Entry("ok-multinomial-out-of-place", replace={SAMPLE: SAMPLE_MULTINOMIAL, TRAIN: TRAIN_OUT_OF_PLACE}),
]

ITEMS = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized",
         "sample_batch", "train_linear_classifier", "predict_linear_classifier",
         "svm_get_search_params", "softmax_get_search_params")

BROKEN = [
    Entry("blank-release", ITEMS, untouched=True, note="the untouched release: every stub raises"),
    Entry("crash-kernel-dies", ("svm_loss_vectorized",),
          edits=((SVM_V, "    N, C = X.shape[0], W.shape[1]\n", "    N, C = X.shape[0], W.shape[1]\n    import os; os._exit(1)\n"),),
          item_status="error", in_process=False,
          note="the process dies (os._exit) inside one function: only its item is lost"),
]

ENTRIES = BUGS + CORRECT + BROKEN + UNSEEN + UNSEEN2
DEMO = ["ok-reference", "blank-release", "bug-svm-vec-no-reg-in-loss",
        "bug-softmax-naive-missing-minus-one", "bug-sample-without-replacement", "crash-kernel-dies"]
