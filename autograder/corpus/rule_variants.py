"""Corpus for the source rules and the way cells are compiled (issue 11): correct code in the
styles the rules must allow (relu where the notebook does not ban it, one-hot through torch.nn,
aliases, annotations, helpers in other cells) and the ways around a rule a student may try
(aliases, getattr, sys.modules, importlib, a helper in another cell, a loop hidden in a helper),
plus cells that fail in the student's own kernel and must fail here in the same way.

ENTRIES: assignment -> list of Entry (format of corpus.notebooks). tests/test_rule_variants.py
grades them through make grade.
"""
from __future__ import annotations

from .notebooks import Entry

SVM_N, SVM_V = "svm_loss_naive_code", "svm_loss_vectorized_code"
SMX_N, SMX_V = "softmax_loss_naive_code", "softmax_loss_vectorized_code"
PREDICT = "predict_linear_classifier_code"
FWD, FWD_BWD = "nn_forward_pass_code", "nn_forward_backward_code"
RELU_BWD, RELU_FN = "relu_backward_code", "ReLU_code"

SVM_HINGE = "hinges = margins.clamp(min=0) * (1 - is_correct)"
ONE_HOT = "is_correct = (y[:, None] == torch.arange(C, device=W.device)).to(W.dtype)"
NET_ONE_HOT = "is_correct = (y[:, None] == torch.arange(C, device=X.device)).to(scores.dtype)"
SMX_LOSS = "data_loss = -(log_probs * is_correct).sum() / N"
RELU = "hidden = pre.clamp(min=0)"
FWD_CALL = "scores, hidden = nn_forward_pass(params, X)"
RELU_MASK = "grad_x = torch.where(x > 0, grad_y, torch.zeros_like(grad_y))"
RELU_FORWARD = "return x.clamp(min=0)"


def first(cell, text):
    """An edit that puts text before the cell's first line (an import, a future import)."""
    return (cell, "def ", text + "def ")


LINEAR = [
    # correct: must get full marks
    Entry("rules-ok-svm-relu-in-loss", edits=((SVM_V, SVM_HINGE, "hinges = margins.relu() * (1 - is_correct)"),),
          note="x.relu() in the loss; the gradient is by hand and the linear notebook does not ban relu"),
    Entry("rules-ok-softmax-F-one-hot", edits=(first(SMX_V, "import torch.nn.functional as F\n\n\n"),
                                               (SMX_V, ONE_HOT, "is_correct = F.one_hot(y, C).to(W.dtype)")),
          note="F.one_hot: torch.nn's one_hot is allowed"),
    Entry("rules-ok-svm-full-one-hot", edits=((SVM_V, ONE_HOT, "is_correct = torch.nn.functional.one_hot(y, C).to(W.dtype)"),),
          note="the same one_hot spelled out (rejected by spelling before)"),
    Entry("rules-ok-softmax-naive-annotations", edits=(
        (SMX_N, "def softmax_loss_naive(W, X, y, reg):",
         "def softmax_loss_naive(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,\n"
         "                       reg: float) -> tuple[torch.Tensor, torch.Tensor]:"),),
          note="type annotations"),
    Entry("rules-ok-predict-future-annotations", edits=(
        first(PREDICT, "from __future__ import annotations\n\n\n"),
        (PREDICT, "def predict_linear_classifier(W, X):", "def predict_linear_classifier(W: Tensor, X: Tensor) -> Tensor:")),
          note="annotations naming an undefined type work after the student's own future import, as in their kernel"),
    Entry("rules-ok-svm-naive-helper-for-vectorized", edits=(
        (SVM_N, "    return loss, dW\n", "    return loss, dW\n\n\ndef hinge(m):\n    return m.clamp(min=0)\n"),
        (SVM_V, SVM_HINGE, "hinges = hinge(margins) * (1 - is_correct)")),
          note="a helper of another cell, itself allowed"),
    # evasions and kernel failures: must lose the item
    Entry("rules-bad-softmax-cross-entropy-alias", ("softmax_loss_vectorized",), edits=(
        first(SMX_V, "from torch.nn import functional as fn\n\n\n"),
        (SMX_V, SMX_LOSS, "data_loss = fn.cross_entropy(scores, y)")),
          messages={"softmax_loss_vectorized": "torch.nn.functional.cross_entropy"},
          note="torch.nn's loss through a from-import alias"),
    Entry("rules-bad-softmax-naive-sys-modules", ("softmax_loss_naive",), edits=(
        first(SMX_N, "import sys\n\n\n"),
        (SMX_N, "    return loss, dW\n", "    _ = sys.modules['torch'].autograd.grad\n    return loss, dW\n")),
          messages={"softmax_loss_naive": "torch.autograd.grad"}, note="autograd through sys.modules"),
    Entry("rules-bad-svm-getattr-computed", ("svm_loss_vectorized",), edits=(
        (SVM_V, SVM_HINGE, "hinges = getattr(margins, 'clamp' + '_min')(0) * (1 - is_correct)"),),
          messages={"svm_loss_vectorized": "computed name"}, note="getattr with a computed name hides what is called"),
    Entry("rules-bad-predict-undefined-annotation", ("predict_linear_classifier",), item_status="error", edits=(
        (PREDICT, "def predict_linear_classifier(W, X):", "def predict_linear_classifier(W: Tensor, X: Tensor) -> Tensor:"),),
          messages={"predict_linear_classifier": "NameError"},
          note="an annotation naming an undefined type fails in the student's kernel, so it fails here too"),
]

LINEAR_ALONE = [  # each changes a cell another entry changes too
    Entry("rules-ok-svm-torch-relu-in-loss", edits=((SVM_V, SVM_HINGE, "hinges = torch.relu(margins) * (1 - is_correct)"),),
          note="torch.relu in the loss of the linear notebook, which does not ban it"),
    Entry("rules-bad-svm-vectorized-calls-naive", ("svm_loss_vectorized",), replace={
        SVM_V: "def svm_loss_vectorized(W, X, y, reg):\n    return svm_loss_naive(W, X, y, reg)\n"},
          messages={"svm_loss_vectorized": "svm_loss_naive"}, note="the loop version called from the vectorized one"),
    Entry("rules-bad-softmax-importlib", ("softmax_loss_vectorized",), edits=(
        first(SMX_V, "import importlib\n\n\n"),
        (SMX_V, SMX_LOSS, "data_loss = importlib.import_module('torch.nn.functional').nll_loss(log_probs, y)")),
          messages={"softmax_loss_vectorized": "torch.nn.functional.nll_loss"}, note="torch.nn through importlib"),
    Entry("rules-bad-svm-naive-crash", ("svm_loss_naive",), item_status="error", edits=(
        (SVM_N, "for j in range(num_classes):", "for j in range(num_classes + 1):"),),
          messages={"svm_loss_naive": "cell svm_loss_naive_code line"},
          note="an IndexError: the message shows the student's line and its text"),
    Entry("rules-bad-softmax-naive-py312-fstring", ("softmax_loss_naive",), item_status="error", edits=(
        (SMX_N, "    return loss, dW\n", "    return loss, dW\n\n\nd = {'k': 1}\nprint(f\"{d[\"k\"]}\")\n"),),
          messages={"softmax_loss_naive": "Python 3.12"}, note="Colab's Python 3.12 f-string"),
]

TWO_LAYER = [
    Entry("rules-ok-forward-maximum", edits=((FWD, RELU, "hidden = torch.maximum(pre, torch.zeros_like(pre))"),),
          note="a hand-written ReLU with torch.maximum"),
    Entry("rules-ok-backward-one-hot-alias", edits=(
        first(FWD_BWD, "from torch.nn import functional as fn\n\n\n"),
        (FWD_BWD, NET_ONE_HOT, "is_correct = fn.one_hot(y, C).to(scores.dtype)")),
          note="one_hot through `from torch.nn import functional as fn`"),
    Entry("rules-bad-backward-relu-helper", ("nn_forward_backward",), edits=(
        (FWD, "    return scores, hidden\n",
         "    return scores, hidden\n\n\nimport torch.nn.functional as F\n\n\ndef act(t):\n    return F.relu(t)\n"),
        (FWD_BWD, FWD_CALL, "hidden = act(X.mm(params['W1']) + params['b1'])\n"
                            "    scores = hidden.mm(W2) + params['b2']")),
          messages={"nn_forward_backward": "`act`"}, note="F.relu in a helper defined in another cell"),
]

TWO_LAYER_ALONE = [
    Entry("rules-bad-forward-relu-from-import", ("nn_forward_pass",), edits=(
        first(FWD, "from torch import relu as r\n\n\n"), (FWD, RELU, "hidden = r(pre)")),
          messages={"nn_forward_pass": "may not call `torch.relu` (the notebook asks you to write the ReLU"},
          note="torch.relu imported under another name"),
    Entry("rules-bad-forward-enable-grad", ("nn_forward_pass",), edits=(
        (FWD, RELU, RELU + "\n    with torch.enable_grad():\n        pass"),),
          messages={"nn_forward_pass": "torch.enable_grad"}, note="autograd switched back on"),
    Entry("rules-bad-backward-relu-in-a-dict", ("nn_forward_backward",), edits=(
        (FWD, "    return scores, hidden\n", "    return scores, hidden\n\n\nOPS = {'act': torch.relu}\n"),
        (FWD_BWD, FWD_CALL, "hidden = OPS['act'](X.mm(params['W1']) + params['b1'])\n"
                            "    scores = hidden.mm(W2) + params['b2']")),
          messages={"nn_forward_backward": "in `OPS`"}, note="torch.relu kept in a dict of another cell"),
    Entry("rules-bad-forward-tensor-relu", ("nn_forward_pass",), edits=((FWD, RELU, "hidden = torch.Tensor.relu(pre)"),),
          messages={"nn_forward_pass": "torch.Tensor.relu"}, note="the unbound method"),
    Entry("rules-bad-backward-relu-method", ("nn_forward_backward",), edits=(
        (FWD_BWD, FWD_CALL, "hidden = (X.mm(params['W1']) + params['b1']).relu()\n"
                            "    scores = hidden.mm(W2) + params['b2']"),),
          messages={"nn_forward_backward": ".relu()"}, note="x.relu() where the notebook bans relu"),
]

BASICS = [
    Entry("rules-ok-relu-backward-mask", edits=((RELU_BWD, RELU_MASK, "grad_x = grad_y * (x > 0)"),),
          note="a mask instead of torch.where"),
    Entry("rules-ok-relu-function-maximum", edits=(
        (RELU_FN, RELU_FORWARD, "return torch.maximum(x, torch.zeros_like(x))"),), note="torch.maximum"),
]

BASICS_ALONE = [
    Entry("rules-bad-relu-backward-dunder-import", ("relu_backward",), edits=(
        (RELU_BWD, RELU_MASK, "grad_x = grad_y * (__import__('torch').relu(x) > 0)"),),
          messages={"relu_backward": "torch.relu"}, note="torch.relu through __import__"),
    Entry("rules-bad-relu-backward-computed-getattr", ("relu_backward",), edits=(
        (RELU_BWD, RELU_MASK, "grad_x = getattr(torch, 'wh' + 'ere')(x > 0, grad_y, torch.zeros_like(grad_y))"),),
          messages={"relu_backward": "computed name"}, note="a harmless call, hidden: the grader cannot read it"),
    Entry("rules-bad-relu-backward-exec-helper", ("relu_backward",), edits=(
        (RELU_BWD, "def relu_backward(", "exec('def _open(x):\\n    return torch.re' + 'lu(x) > 0')\n\n\ndef relu_backward("),
        (RELU_BWD, RELU_MASK, "grad_x = grad_y * _open(x)")),
          messages={"relu_backward": "exec()"}, note="a helper defined by exec, out of a reader's sight"),
    Entry("rules-bad-relu-function-F-relu", ("ReLU",), edits=(
        (RELU_FN, RELU_FORWARD, "return torch.nn.functional.relu(x)"),),
          messages={"ReLU": "torch.nn.functional.relu"}, note="F.relu in the ReLU Function"),
]

ENTRIES = {"linear_classifiers": LINEAR + LINEAR_ALONE, "two_layer_net": TWO_LAYER + TWO_LAYER_ALONE,
           "backprop_basics": BASICS + BASICS_ALONE}
