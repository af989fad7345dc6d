"""linear_classifiers students the first corpus did not have (issue "unseen"): right by
another path (torch.where and einsum, logsumexp with F.one_hot, numpy inside) and wrong ones a
lazy test passes (a sampler that reseeds, SGD that samples from the first batch_size rows only,
a one-hot mask made of float32 ones)."""
from __future__ import annotations

from .notebooks import Entry

SVM_V, SMX_V, SMX_N = "svm_loss_vectorized_code", "softmax_loss_vectorized_code", "softmax_loss_naive_code"
SAMPLE, TRAIN = "sample_batch_code", "train_linear_classifier_code"

SVM_WHERE_EINSUM = '''def svm_loss_vectorized(W, X, y, reg):
    """torch.where for the hinge and its mask, einsum for the products, .T not .t()."""
    N = X.shape[0]
    scores = torch.einsum("nd,dc->nc", X, W)
    rows = torch.arange(N, device=X.device)
    margins = scores - scores[rows, y].unsqueeze(1) + 1.0
    margins[rows, y] = 0.0
    hinge = torch.where(margins > 0, margins, torch.zeros_like(margins))
    loss = hinge.sum() / N + reg * (W * W).sum()
    mask = torch.where(margins > 0, 1.0, 0.0).to(W.dtype)
    mask[rows, y] = -mask.sum(dim=1)
    return loss, torch.einsum("nd,nc->dc", X, mask) / N + 2 * reg * W
'''
SOFTMAX_LOGSUMEXP = '''def softmax_loss_vectorized(W, X, y, reg):
    """torch.logsumexp (stable by itself) and F.one_hot, which the rules allow."""
    import torch.nn.functional as F
    N, C = X.shape[0], W.shape[1]
    scores = X @ W
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    one_hot = F.one_hot(y, C).to(W.dtype)
    loss = -(one_hot * log_probs).sum() / N + reg * (W ** 2).sum()
    return loss, X.T @ (log_probs.exp() - one_hot) / N + 2 * reg * W
'''
SOFTMAX_NAIVE_NUMPY = '''def softmax_loss_naive(W, X, y, reg):
    """numpy in float64 inside, one loop over the samples; torch again on the way out."""
    import numpy as np
    Wn = W.detach().cpu().numpy().astype(np.float64)
    Xn = X.detach().cpu().numpy().astype(np.float64)
    loss, dW = 0.0, np.zeros_like(Wn)
    for i in range(Xn.shape[0]):
        s = Xn[i] @ Wn
        p = np.exp(s - s.max())
        p /= p.sum()
        loss -= np.log(p[int(y[i])])
        p[int(y[i])] -= 1
        dW += np.outer(Xn[i], p)
    N = Xn.shape[0]
    loss = loss / N + reg * (Wn * Wn).sum()
    dW = dW / N + 2 * reg * Wn
    return torch.tensor(loss, dtype=W.dtype, device=W.device), torch.from_numpy(dW).to(W.device, W.dtype)
'''
SAMPLE_RESEEDS = '''def sample_batch(X, y, num_train, batch_size):
    """Seeds the generator on every call "for reproducibility": every call draws the same batch."""
    torch.manual_seed(0)
    idx = torch.randint(num_train, (batch_size,), device=X.device)
    return X[idx], y[idx]
'''
TRAIN_SWAPPED_ARGS = ("sample_batch(X, y, num_train, batch_size)", "sample_batch(X, y, batch_size, batch_size)")
SVM_DW_ALIASES_W = ("    dW = grad_scores.t().mm(X).t() + 2 * reg * W ",
                    "    dW = W  # then in place: this scales W itself\n    dW *= 2 * reg\n"
                    "    dW += grad_scores.t().mm(X).t() ")

STUDENTS = [
    Entry("ok-svm-where-einsum", replace={SVM_V: SVM_WHERE_EINSUM}),
    Entry("ok-softmax-logsumexp-one-hot", replace={SMX_V: SOFTMAX_LOGSUMEXP}),
    Entry("ok-softmax-naive-numpy-inside", replace={SMX_N: SOFTMAX_NAIVE_NUMPY}),
    Entry("bug-sample-reseeds-every-call", ("sample_batch",), replace={SAMPLE: SAMPLE_RESEEDS},
          messages={"sample_batch": "same batch"},
          note="torch.manual_seed(0) inside: every call returns the same batch, SGD sees one batch"),
    Entry("bug-train-samples-first-rows", ("train_linear_classifier",), edits=((TRAIN,) + TRAIN_SWAPPED_ARGS,),
          messages={"train_linear_classifier": "first 11 of 60 rows"},
          note="sample_batch(X, y, batch_size, batch_size): only the first batch_size rows are ever drawn"),
    Entry("bug-svm-dw-aliases-w", ("svm_loss_vectorized",), edits=((SVM_V,) + SVM_DW_ALIASES_W,),
          messages={"svm_loss_vectorized": "changed its input W in place"},
          note="dW = W, then dW *= 2 * reg: the right values, but W itself is scaled in place"),
]
