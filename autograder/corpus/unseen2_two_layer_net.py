"""two_layer_net students of the second unseen round (issue "unseen2"): right by another path
(einsum and index_add_ for the biases, torch.maximum with .mT, parameters stepped with sub_
over items()) and wrong ones a lazy test passes (no max shift, biases regularized, the
learning rate decayed every iteration, the training set shuffled in place, predictions that
ignore loss_func)."""
from __future__ import annotations

from .notebooks import Entry

FP, FB, TRAIN, PRED = "nn_forward_pass_code", "nn_forward_backward_code", "nn_train_code", "nn_predict_code"

BACKWARD_EINSUM = '''def nn_forward_backward(params, X, y=None, reg=0.0):
    """einsum for every product; the bias gradients by index_add_ into zeros (all rows to index 0);
    the ReLU mask from the hidden output; log-softmax via torch.logsumexp."""
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores
    N, C = scores.shape
    W1, W2 = params["W1"], params["W2"]
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    rows = torch.arange(N, device=X.device)
    loss = -log_probs[rows, y].mean() + reg * (torch.einsum("dh,dh->", W1, W1) + torch.einsum("hc,hc->", W2, W2))
    d_scores = log_probs.exp()
    d_scores[rows, y] -= 1
    d_scores /= N
    zero = torch.zeros(N, dtype=torch.int64, device=X.device)
    d_hidden = torch.einsum("nc,hc->nh", d_scores, W2)
    d_pre = d_hidden * (hidden > 0)
    grads = {
        "W1": torch.einsum("nd,nh->dh", X, d_pre) + 2 * reg * W1,
        "b1": torch.zeros(1, d_pre.shape[1], dtype=X.dtype, device=X.device).index_add_(0, zero, d_pre)[0],
        "W2": torch.einsum("nh,nc->hc", hidden, d_scores) + 2 * reg * W2,
        "b2": torch.zeros(1, C, dtype=X.dtype, device=X.device).index_add_(0, zero, d_scores)[0],
    }
    return loss, grads
'''
FORWARD_MAXIMUM = '''def nn_forward_pass(params, X):
    """torch.maximum against a zero scalar, .mT twice (scores^T = W2^T hidden^T)."""
    pre = torch.addmm(params["b1"], X, params["W1"])
    hidden = torch.maximum(pre, torch.zeros((), dtype=pre.dtype, device=pre.device))
    scores = (params["W2"].mT @ hidden.mT).mT + params["b2"]
    return scores, hidden
'''
TRAIN_ITEMS_SUB = ("        for name in params:\n            params[name] -= learning_rate * grads[name]\n",
                   "        for name, value in params.items():\n            value.sub_(grads[name], alpha=learning_rate)\n")
NO_SHIFT = ("shifted = scores - scores.max(dim=1, keepdim=True).values", "shifted = scores  # no shift: exp is fine")
BIASES_REGULARIZED = (
    ("reg_loss = reg * (torch.sum(W1 * W1) + torch.sum(W2 * W2))",
     "reg_loss = reg * sum(torch.sum(p * p) for p in params.values())  # all parameters"),
    ("grad_b2 = grad_scores.sum(dim=0)", "grad_b2 = grad_scores.sum(dim=0) + 2 * reg * params['b2']"),
    ("grad_b1 = grad_pre.sum(dim=0)", "grad_b1 = grad_pre.sum(dim=0) + 2 * reg * params['b1']"))
DECAY_EVERY_ITERATION = (
    "            val_acc_history.append(val_acc)\n            learning_rate *= learning_rate_decay\n",
    "            val_acc_history.append(val_acc)\n        learning_rate *= learning_rate_decay  # every step\n")
SHUFFLES_IN_PLACE = (
    "        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)\n",
    "        if it % iterations_per_epoch == 0:  # a new epoch: shuffle the training set\n"
    "            order = torch.randperm(num_train, device=X.device)\n"
    "            X[:] = X[order]\n            y[:] = y[order]\n"
    "        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)\n")
PREDICT_IGNORES_LOSS_FUNC = '''def nn_predict(params, loss_func, X):
    """The scores straight from nn_forward_pass: loss_func is not called."""
    scores, _ = nn_forward_pass(params, X)
    return scores.argmax(dim=1)
'''

STUDENTS = [
    Entry("ok-backward-einsum-index-add-logsumexp", replace={FB: BACKWARD_EINSUM}),
    Entry("ok-forward-maximum-mT-addmm", replace={FP: FORWARD_MAXIMUM}),
    Entry("ok-train-sub-over-items", edits=((TRAIN,) + TRAIN_ITEMS_SUB,)),
    Entry("bug-backward-no-max-shift", ("nn_forward_backward",), edits=((FB,) + NO_SHIFT,),
          messages={"nn_forward_backward": "overflow"},
          note="no per-row max shift: exp overflows at large scores (the docstring asks for the shift)"),
    Entry("bug-backward-biases-regularized", ("nn_forward_backward",), edits=tuple((FB,) + e for e in BIASES_REGULARIZED),
          messages={"nn_forward_backward": "regularizes the biases too"},
          note="reg over every parameter: the docstring says the biases are not regularized"),
    Entry("bug-train-decay-every-iteration", ("nn_train",), edits=((TRAIN,) + DECAY_EVERY_ITERATION,),
          messages={"nn_train": "once per epoch"},
          note="the learning rate decays after every iteration, not once per epoch"),
    Entry("bug-train-shuffles-x-in-place", ("nn_train",), edits=((TRAIN,) + SHUFFLES_IN_PLACE,),
          messages={"nn_train": "changed its input"},
          note="shuffles X and y in place each epoch: the caller's data are reordered"),
    Entry("bug-predict-ignores-loss-func", ("nn_predict",), replace={PRED: PREDICT_IGNORES_LOSS_FUNC},
          messages={"nn_predict": "loss_func"},
          note="scores from nn_forward_pass, not from loss_func(params, X) as the docstring says"),
]
