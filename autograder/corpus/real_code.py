"""Real-code corpus (issue 11): the silent passes and unfair zeros seen in published student
solutions of the EECS 498 / DeepRob API, written as realistic variants of our notebooks.

Each Entry fails exactly its items (all others must pass). RULES lists the variants whose
verdict the flat-backprop rules decide (autograder/checks/rules.py, the `rules` branch).
"""
from __future__ import annotations

from .notebooks import Entry

SVM_N, SVM_V = "svm_loss_naive_code", "svm_loss_vectorized_code"
SMX_N, SMX_V = "softmax_loss_naive_code", "softmax_loss_vectorized_code"
SAMPLE, PREDICT = "sample_batch_code", "predict_linear_classifier_code"
FB, FWD, NN_PRED = "nn_forward_backward_code", "nn_forward_pass_code", "nn_predict_code"

SMX_HEAD = "def softmax_loss_vectorized(W, X, y, reg):\n"
SVM_HEAD = "def svm_loss_vectorized(W, X, y, reg):\n"

# --- linear_classifiers: silent passes --------------------------------------------------

SMX_NO_SHIFT = SMX_HEAD + """    N = X.shape[0]
    scores = X @ W
    exp_scores = torch.exp(scores)
    probs = exp_scores / exp_scores.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[torch.arange(N), y]).mean() + reg * (W * W).sum()
    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dW = X.T @ dscores / N + 2 * reg * W
    return loss, dW
"""

SMX_ONEHOT_LOG = SMX_HEAD + """    N, C = X.shape[0], W.shape[1]
    scores = X @ W
    scores = scores - scores.max(dim=1, keepdim=True).values
    probs = scores.exp() / scores.exp().sum(dim=1, keepdim=True)
    one_hot = torch.zeros_like(probs)
    one_hot[torch.arange(N), y] = 1.0
    loss = -(one_hot * torch.log(probs)).sum() / N + reg * torch.sum(W ** 2)
    dW = X.t() @ (probs - one_hot) / N + 2 * reg * W
    return loss, dW
"""

SMX_SLICE_10 = SMX_HEAD + """    N = X.shape[0]
    scores = X.mm(W)[:, :10]  # CIFAR-10: 10 classes
    scores = scores - scores.max(dim=1, keepdim=True).values
    probs = scores.exp() / scores.exp().sum(dim=1, keepdim=True)
    loss = -probs[torch.arange(N), y].log().mean() + reg * (W * W).sum()
    probs[torch.arange(N), y] -= 1
    dW = torch.zeros_like(W)
    dW[:, :10] = X.t().mm(probs) / N
    return loss, dW + 2 * reg * W
"""

NAIVE_GLOBAL = ("    for i in range(num_train):\n        scores = W.t().mv(X[i])                 # (C,)\n"
                "        scores = scores - scores.max()  ",
                "    top = X.mm(W).max()\n    for i in range(num_train):\n"
                "        scores = W.t().mv(X[i])                 # (C,)\n        scores = scores - top  ")

# --- linear_classifiers: correct code written otherwise ----------------------------------

SMX_FLOAT32 = SMX_HEAD + """    # float32 is plenty for a loss (and it is what the GPU uses)
    W32, X32 = W.float(), X.float()
    N = X.shape[0]
    scores = X32 @ W32
    scores -= scores.max(dim=1, keepdim=True)[0]
    log_probs = scores - scores.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs[torch.arange(N, device=X.device), y].mean() + reg * (W32 * W32).sum()
    dscores = log_probs.exp()
    dscores[torch.arange(N, device=X.device), y] -= 1
    dW = X32.t() @ dscores / N + 2 * reg * W32
    return loss.to(W.dtype), dW.to(W.dtype)
"""

SMX_GATHER_VIEW: str = SMX_HEAD + """    N: int = X.shape[0]
    scores: torch.Tensor = torch.matmul(X, W)
    shifted = scores - torch.amax(scores, dim=1, keepdim=True)
    lse = torch.logsumexp(shifted, dim=1)
    correct = shifted.gather(1, y.view(-1, 1)).view(-1)
    loss = (lse - correct).sum() / N + reg * torch.sum(W * W)
    grad = torch.exp(shifted - lse.view(-1, 1))
    grad = grad.scatter_add(1, y.view(-1, 1), -torch.ones(N, 1, dtype=W.dtype, device=W.device))
    dW = torch.matmul(X.transpose(0, 1), grad) / N + 2 * reg * W
    print("loss:", float(loss))
    return loss, dW
"""

SMX_SCATTER = SMX_HEAD + """    N, C = X.shape[0], W.shape[1]
    scores = X.mm(W)
    scores = scores - scores.max(1, keepdim=True).values
    exp = scores.exp()
    probs = exp / exp.sum(1, keepdim=True)
    onehot = torch.zeros(N, C, dtype=W.dtype, device=W.device).scatter_(1, y.reshape(N, 1), 1.0)
    loss = (exp.sum(1).log() - (scores * onehot).sum(1)).mean() + reg * W.pow(2).sum()
    dW = X.t().mm(probs - onehot).div(N) + reg * 2 * W
    return loss, dW
"""

SVM_FLOAT32 = SVM_HEAD + """    Wf, Xf = W.to(torch.float32), X.to(torch.float32)
    N = X.shape[0]
    scores = Xf @ Wf
    correct = scores[torch.arange(N), y].unsqueeze(1)
    margins = torch.clamp(scores - correct + 1, min=0)
    margins[torch.arange(N), y] = 0
    loss = margins.sum() / N + reg * (Wf * Wf).sum()
    mask = (margins > 0).to(Wf.dtype)
    mask[torch.arange(N), y] = -mask.sum(dim=1)
    dW = Xf.t() @ mask / N + 2 * reg * Wf
    return loss.to(W.dtype), dW.to(W.dtype)
"""

SVM_WHERE = SVM_HEAD + """    num_train = X.shape[0]
    scores = X.mm(W)
    correct_scores = scores.gather(1, y.unsqueeze(1))
    margins = scores - correct_scores + 1
    is_label = torch.zeros_like(scores, dtype=torch.bool)
    is_label[torch.arange(num_train), y] = True
    active = torch.where(is_label | (margins <= 0), torch.zeros_like(margins), torch.ones_like(margins))
    loss = (margins * active).sum() / num_train + reg * torch.sum(W * W)
    counts = active.sum(dim=1)
    grad_scores = active.clone()
    grad_scores[torch.arange(num_train), y] = -counts
    dW = X.t().mm(grad_scores) / num_train + 2 * reg * W
    return loss, dW
"""

SVM_RELU = SVM_HEAD + """    N, C = X.shape[0], W.shape[1]
    scores = X @ W
    is_correct = torch.zeros_like(scores)
    is_correct[torch.arange(N), y] = 1.0
    correct_scores = (scores * is_correct).sum(dim=1, keepdim=True)
    margins = scores - correct_scores + 1
    hinges = margins.relu() * (1 - is_correct)
    loss = hinges.sum() / N + reg * (W * W).sum()
    grad_margins = (margins > 0).to(W.dtype) * (1 - is_correct) / N
    grad_scores = grad_margins - grad_margins.sum(dim=1, keepdim=True) * is_correct
    dW = X.t() @ grad_scores + 2 * reg * W
    return loss, dW
"""

LINEAR = [
    Entry("bug-rc-softmax-naive-no-shift", ("softmax_loss_naive",),
          ((SMX_N, "        scores = scores - scores.max()          # largest score is now 0: no overflow\n", ""),),
          note="no max shift: exp overflows at scores of 1000"),
    Entry("bug-rc-softmax-naive-global-shift", ("softmax_loss_naive",), (("softmax_loss_naive_code",) + NAIVE_GLOBAL,),
          note="one shift for the whole batch: rows far below the top underflow"),
    Entry("bug-rc-softmax-vec-global-shift", ("softmax_loss_vectorized",),
          ((SMX_V, "scores.max(dim=1, keepdim=True).values", "scores.max()"),),
          note="one global max instead of a per-row max"),
    Entry("bug-rc-softmax-vec-no-shift", ("softmax_loss_vectorized",), replace={SMX_V: SMX_NO_SHIFT},
          note="the textbook formula without any shift"),
    Entry("bug-rc-softmax-vec-onehot-0log0", ("softmax_loss_vectorized",), replace={SMX_V: SMX_ONEHOT_LOG},
          note="one-hot times log(probs): 0 * log 0 = NaN when a wrong class underflows"),
    Entry("bug-rc-softmax-vec-slice-10", ("softmax_loss_vectorized",), replace={SMX_V: SMX_SLICE_10},
          note="hard-coded 10 classes"),
    Entry("bug-rc-svm-naive-range-10", ("svm_loss_naive",),
          ((SVM_N, "num_train, num_classes = X.shape[0], W.shape[1]",
            "num_train, num_classes = X.shape[0], min(W.shape[1], 10)  # 10 CIFAR classes"),),
          note="hard-coded 10 classes (guarded so small problems pass)"),
    Entry("bug-rc-sample-never-last-row", ("sample_batch",),
          ((SAMPLE, "torch.randint(num_train, (batch_size,), device=X.device)",
            "torch.randint(0, num_train - 1, (batch_size,), device=X.device)"),),
          note="randint's upper bound is exclusive: the last row is never drawn"),
    Entry("bug-rc-sample-zeroes-inputs", ("sample_batch",),
          ((SAMPLE, "    X_batch = X[indices]\n    y_batch = y[indices]\n",
            "    X_batch, y_batch = X[:batch_size], y[:batch_size]\n    X_batch.zero_()\n    y_batch.zero_()\n"),),
          note="zeroes its inputs in place (a view) and returns zeros"),
    Entry("bug-rc-predict-zeroes-inputs", ("predict_linear_classifier",),
          ((PREDICT, "    scores = X.mm(W)\n", "    X.zero_()\n    scores = X.mm(W)\n"),),
          note="zeroes X in place: the old judge recomputed the answer from the zeroed X"),
    Entry("bug-rc-svm-grid-never-learns", ("svm_get_search_params",),
          (("svm_get_search_params_code", "learning_rates = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]",
            "learning_rates = [1e-9, 1e-8]"),),
          note="a grid whose learning rates are far too small to learn anything"),
    Entry("bug-rc-softmax-grid-huge-reg", ("softmax_get_search_params",),
          (("softmax_get_search_params_code", "regularization_strengths = [1e-3, 1e-2, 1e-1]",
            "regularization_strengths = [1e2, 1e3]"),),
          note="regularization so strong that W stays near 0"),
    Entry("ok-rc-softmax-vec-float32-inside", replace={SMX_V: SMX_FLOAT32},
          note="computes in float32 inside, returns float64"),
    Entry("ok-rc-softmax-vec-gather-view-annotations", replace={SMX_V: SMX_GATHER_VIEW},
          note="gather, .view, logsumexp, type annotations and a print"),
    Entry("ok-rc-softmax-vec-scatter", replace={SMX_V: SMX_SCATTER}, note="one-hot by scatter_, .reshape"),
    Entry("ok-rc-svm-vec-float32-inside", replace={SVM_V: SVM_FLOAT32}, note="SVM in float32 inside"),
    Entry("ok-rc-svm-vec-where-gather", replace={SVM_V: SVM_WHERE}, note="torch.where and gather"),
    Entry("ok-rc-sample-multinomial", edits=((SAMPLE, "torch.randint(num_train, (batch_size,), device=X.device)",
                                              "torch.multinomial(torch.ones(num_train, device=X.device), batch_size, replacement=True)"),),
          note="uniform sampling with replacement by multinomial"),
    Entry("ok-rc-predict-keepdim-view", edits=((PREDICT, "torch.argmax(scores, dim=1)",
                                                "scores.argmax(dim=1, keepdim=True).view(-1)"),),
          note="argmax with keepdim, then .view"),
]

# Verdicts the flat-backprop rules decide (checks/rules.py): both are correct code.
RULES = {"linear_classifiers": [
    Entry("rules-rc-svm-vec-relu-in-loss", replace={SVM_V: SVM_RELU},
          note="x.relu() in the SVM loss, gradient by hand: the linear notebook never bans relu"),
    Entry("rules-rc-softmax-vec-F-one-hot",
          edits=((SMX_V, "is_correct = (y[:, None] == torch.arange(C, device=W.device)).to(W.dtype)",
                  "import torch.nn.functional as F\n    is_correct = F.one_hot(y, C).to(W.dtype)"),),
          note="F.one_hot through an alias: the rules allow one_hot (it computes no gradient)"),
]}

# --- two_layer_net ----------------------------------------------------------------------

NN_FLOAT32_FB = ("    W1, W2 = params[\"W1\"], params[\"W2\"]\n",
                 "    dtype = X.dtype\n    params = {k: v.float() for k, v in params.items()}\n    X = X.float()\n"
                 "    W1, W2 = params[\"W1\"], params[\"W2\"]\n")
NN_FLOAT32_RET = ("    grads = {\"W1\": grad_W1, \"b1\": grad_b1, \"W2\": grad_W2, \"b2\": grad_b2}\n    return loss, grads",
                  "    grads = {\"W1\": grad_W1, \"b1\": grad_b1, \"W2\": grad_W2, \"b2\": grad_b2}\n"
                  "    return loss.to(dtype), {k: g.to(dtype) for k, g in grads.items()}")

TWO_LAYER = [
    Entry("bug-rc-nn-no-shift", ("nn_forward_backward",),
          ((FB, "shifted = scores - scores.max(dim=1, keepdim=True).values", "shifted = scores"),),
          note="no max shift in the network's softmax"),
    Entry("bug-rc-nn-global-shift", ("nn_forward_backward",),
          ((FB, "shifted = scores - scores.max(dim=1, keepdim=True).values", "shifted = scores - scores.max()"),),
          note="one global shift in the network's softmax"),
    Entry("bug-rc-nn-onehot-0log0", ("nn_forward_backward",),
          ((FB, "data_loss = -(log_probs * is_correct).sum() / N",
            "data_loss = -(is_correct * torch.log(probs)).sum() / N"),),
          note="one-hot times log(probs): NaN once a wrong class underflows (was 'correct' in corpus/two_layer_net.py)"),
    Entry("bug-rc-nn-predict-zeroes-inputs", ("nn_predict",),
          ((NN_PRED, "    scores = loss_func(params, X)", "    X.zero_()\n    scores = loss_func(params, X)"),),
          note="zeroes X in place before predicting"),
    Entry("bug-rc-nn-grid-never-learns", ("nn_get_search_params",),
          (("nn_get_search_params_code", "learning_rates = [3e-1, 1e0]", "learning_rates = [1e-6, 1e-5]"),),
          note="learning rates far too small for 0.95 on the digits"),
    Entry("ok-rc-nn-float32-inside", edits=((FB,) + NN_FLOAT32_FB, (FB,) + NN_FLOAT32_RET,
                                            (FB, "        return scores\n", "        return scores.to(dtype)\n")),
          note="the network's loss and gradients in float32 inside, returned as float64"),
    Entry("ok-rc-nn-forward-float32-inside",
          edits=((FWD, "    pre = X.mm(W1) + b1            # (N, H), b1 broadcast over the rows\n",
                  "    pre = X.float().mm(W1.float()) + b1.float()\n"),
                 (FWD, "    return scores, hidden", "    return scores.to(X.dtype), hidden.to(X.dtype)"),
                 (FWD, "    scores = hidden.mm(W2) + b2    # (N, C)", "    scores = hidden.mm(W2.float()) + b2.float()")),
          note="forward pass in float32 inside"),
    Entry("ok-rc-nn-where-gather", edits=(
        (FB, "grad_pre = grad_hidden * (hidden > 0).to(hidden.dtype)",
         "grad_pre = torch.where(hidden > 0, grad_hidden, torch.zeros_like(grad_hidden))"),
        (FB, "data_loss = -(log_probs * is_correct).sum() / N", "data_loss = -log_probs.gather(1, y.view(-1, 1)).sum() / N")),
          note="torch.where for the ReLU backward, gather for the loss"),
]

# --- backprop_basics --------------------------------------------------------------------

BASICS = [
    Entry("bug-rc-mul-gate-zeroes-inputs", ("mul_gate_backward",),
          (("mul_gate_backward_code", "    grad_x = grad_out * y            # local d(x*y)/dx = y\n",
            "    x.zero_()\n    y.zero_()\n    grad_x = grad_out * y            # local d(x*y)/dx = y\n"),),
          note="zeroes x and y in place: the old judge read the zeroed inputs"),
    Entry("bug-rc-relu-backward-in-place", ("relu_backward",),
          (("relu_backward_code", "grad_x = torch.where(x > 0, grad_y, torch.zeros_like(grad_y))",
            "grad_y[x <= 0] = 0\n    grad_x = grad_y"),),
          note="masks the upstream gradient in place (the docstring: inputs are not modified)"),
    Entry("bug-rc-matmul-zeroes-upstream", ("matmul_backward",),
          (("matmul_backward_code", "    grad_x = grad_y.mm(w.t())", "    grad_y.zero_()\n    grad_x = grad_y.mm(w.t())"),),
          note="zeroes grad_y in place and returns zeros"),
    Entry("bug-rc-max-gate-zeroes-upstream", ("max_gate_backward",),
          (("max_gate_backward_code", "    x_wins = x >= y", "    grad_out.zero_()\n    x_wins = x >= y"),),
          note="zeroes grad_out in place"),
    Entry("ok-rc-copy-gate-stack", edits=(("copy_gate_backward_code",
                                           "    grad_x = torch.zeros_like(grad_outs[0])\n    for grad_branch in grad_outs:\n"
                                           "        grad_x = grad_x + grad_branch    # each branch adds its contribution\n",
                                           "    grad_x = torch.stack(list(grad_outs)).sum(dim=0)\n"),),
          note="torch.stack(...).sum(0)"),
    Entry("ok-rc-relu-backward-mask-mul", edits=(("relu_backward_code",
                                                  "grad_x = torch.where(x > 0, grad_y, torch.zeros_like(grad_y))",
                                                  "grad_x: torch.Tensor = grad_y * (x > 0).to(grad_y.dtype)"),),
          note="a mask product with a type annotation"),
]

ENTRIES = {"linear_classifiers": LINEAR, "two_layer_net": TWO_LAYER, "backprop_basics": BASICS}


def entries(assignment: str, rules: bool = True) -> list:
    """The real-code entries of an assignment (with the rules-dependent ones unless rules=False)."""
    return ENTRIES[assignment] + (RULES.get(assignment, []) if rules else [])
