"""linear_classifiers students of the second unseen round (issue "unseen2"), written the way
published EECS 498 / CS231n solutions are: right by another path (index_put_ with accumulate and
.mT, a naive softmax with torch.logsumexp per sample, SGD with sub_ and a float history) and
wrong ones a lazy test passes (no max shift, ten classes hard-coded, the bias row left out of
the L2 term, sampling from all N rows instead of the first num_train, C from the labels seen)."""
from __future__ import annotations

from .notebooks import Entry

SVM_N, SVM_V = "svm_loss_naive_code", "svm_loss_vectorized_code"
SMX_N, SMX_V = "softmax_loss_naive_code", "softmax_loss_vectorized_code"
SAMPLE, TRAIN = "sample_batch_code", "train_linear_classifier_code"

SVM_INDEX_PUT = '''def svm_loss_vectorized(W, X, y, reg):
    """.mT products; the correct-class column of the gradient by index_put_ with accumulate=True
    on the student's own mask (not on an input)."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    scores = (W.mT @ X.mT).mT
    margins = scores - scores[rows, y].reshape(-1, 1) + 1
    margins[rows, y] = 0
    positive = margins > 0
    loss = (margins * positive).sum() / N + reg * W.pow(2).sum()
    grad = positive.to(W.dtype)
    grad.index_put_((rows, y), -positive.sum(dim=1).to(W.dtype), accumulate=True)
    dW = X.mT @ grad / N
    dW += 2 * reg * W
    return loss, dW
'''
SOFTMAX_NAIVE_LOGSUMEXP = '''def softmax_loss_naive(W, X, y, reg):
    """torch.logsumexp per sample (stable without an explicit shift), a loop over classes for dW."""
    N, C = X.shape[0], W.shape[1]
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)
    for i in range(N):
        s = X[i] @ W
        lse = torch.logsumexp(s, dim=0)
        loss += lse - s[y[i]]
        for j in range(C):
            p = torch.exp(s[j] - lse)
            dW[:, j] += (p - float(j == y[i])) * X[i]
    return loss / N + reg * (W * W).sum(), dW / N + 2 * reg * W
'''
TRAIN_SUB = '''def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100,
                            batch_size=200, verbose=False):
    """W.sub_ for the step, float(loss) into the history, C from y.max() as stated."""
    N, D = X.shape
    if W is None:
        W = torch.randn(D, int(y.max().item()) + 1, dtype=X.dtype, device=X.device) * 1e-6
    loss_history = []
    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, N, batch_size)
        loss, dW = loss_func(W, X_batch, y_batch, reg)
        loss_history.append(float(loss))
        W.sub_(learning_rate * dW)
        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss))
    return W, loss_history
'''
SOFTMAX_NO_SHIFT = '''def softmax_loss_vectorized(W, X, y, reg):
    """The CS231n one-liner without the max shift: right until a score passes ~710 (float64)."""
    N = X.shape[0]
    exp_scores = torch.exp(X @ W)
    probs = exp_scores / exp_scores.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[torch.arange(N), y]).mean() + reg * torch.sum(W * W)
    probs[torch.arange(N), y] -= 1
    return loss, X.t() @ probs / N + 2 * reg * W
'''
SVM_TEN_CLASSES = '''def svm_loss_vectorized(W, X, y, reg):
    """A one-hot of ten columns: CIFAR-10 has ten classes."""
    N = X.shape[0]
    scores = X @ W
    is_correct = (y.view(-1, 1) == torch.arange(10, device=X.device)).to(W.dtype)
    correct = (scores * is_correct).sum(dim=1, keepdim=True)
    margins = (scores - correct + 1).clamp(min=0) * (1 - is_correct)
    loss = margins.sum() / N + reg * (W * W).sum()
    grad = (margins > 0).to(W.dtype)
    grad = grad - is_correct * grad.sum(dim=1, keepdim=True)
    return loss, X.t() @ grad / N + 2 * reg * W
'''
SVM_NAIVE_NO_BIAS_REG = ("loss = loss / num_train + reg * torch.sum(W * W)\n    dW = dW / num_train + 2 * reg * W",
                         "loss = loss / num_train + reg * torch.sum(W[:-1] * W[:-1])  # the bias row is not regularized\n"
                         "    dW = dW / num_train\n    dW[:-1] += 2 * reg * W[:-1]")
SAMPLE_ALL_ROWS = '''def sample_batch(X, y, num_train, batch_size):
    """Draws from all rows of X (num_train is 'the same as X.shape[0]' in the notebook's calls)."""
    idx = torch.randint(0, X.shape[0], (batch_size,), device=X.device)
    return X[idx], y[idx]
'''
TRAIN_C_FROM_UNIQUE = ("num_classes = int(y.max()) + 1", "num_classes = len(torch.unique(y))")

STUDENTS = [
    Entry("ok-svm-index-put-accumulate-mT", replace={SVM_V: SVM_INDEX_PUT}),
    Entry("ok-softmax-naive-logsumexp-per-sample", replace={SMX_N: SOFTMAX_NAIVE_LOGSUMEXP}),
    Entry("ok-train-sub-float-history", replace={TRAIN: TRAIN_SUB}),
    Entry("bug-softmax-vec-no-max-shift", ("softmax_loss_vectorized",), replace={SMX_V: SOFTMAX_NO_SHIFT},
          messages={"softmax_loss_vectorized": "1000"},
          note="no per-row max shift: exp overflows to inf at scores of ~710 (float64), ~89 (float32)"),
    Entry("bug-svm-vec-ten-classes", ("svm_loss_vectorized",), replace={SVM_V: SVM_TEN_CLASSES},
          messages={"svm_loss_vectorized": "tensor b (10)"},
          item_status="error", note="torch.arange(10) for the one-hot: C != 10 raises"),
    Entry("bug-svm-naive-bias-row-not-regularized", ("svm_loss_naive",), edits=((SVM_N,) + SVM_NAIVE_NO_BIAS_REG,),
          messages={"svm_loss_naive": "loss is"},
          note="reg * sum(W[:-1]^2): the notebook regularizes all of W, the bias row too"),
    Entry("bug-sample-ignores-num-train", ("sample_batch",), replace={SAMPLE: SAMPLE_ALL_ROWS},
          messages={"sample_batch": "num_train"},
          note="draws from all N rows, not the first num_train"),
    Entry("bug-train-classes-from-unique-labels", ("train_linear_classifier",), edits=((TRAIN,) + TRAIN_C_FROM_UNIQUE,),
          messages={"train_linear_classifier": "y.max() + 1"},
          note="C = len(torch.unique(y)): one column short when a label below the largest is absent"),
]
