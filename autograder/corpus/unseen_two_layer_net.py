"""two_layer_net students the first corpus did not have (issue "unseen"): right by another path
(float32 inside, torch.where and F.one_hot, numpy in the forward pass) and wrong ones a lazy test
passes (an epoch of N / batch_size or ceil iterations, validation accuracy of a training batch,
the best net chosen on the training data)."""
from __future__ import annotations

from .notebooks import Entry

FP, FB, TRAIN = "nn_forward_pass_code", "nn_forward_backward_code", "nn_train_code"

BACKWARD_FLOAT32_WHERE = '''def nn_forward_backward(params, X, y=None, reg=0.0):
    """float32 inside whatever the inputs; torch.where for the ReLU, F.one_hot for the labels,
    .T instead of .t(); the results go back to the inputs' dtype."""
    import torch.nn.functional as F
    W1, b1, W2, b2 = (params[k].float() for k in ("W1", "b1", "W2", "b2"))
    X32 = X.float()
    pre = X32 @ W1 + b1
    hidden = torch.where(pre > 0, pre, torch.zeros_like(pre))
    scores = hidden @ W2 + b2
    if y is None:
        return scores.to(X.dtype)
    N, C = scores.shape
    log_probs = scores - scores.max(dim=1, keepdim=True).values
    log_probs = log_probs - log_probs.exp().sum(dim=1, keepdim=True).log()
    one_hot = F.one_hot(y, C).float()
    loss = -(one_hot * log_probs).sum() / N + reg * ((W1 * W1).sum() + (W2 * W2).sum())
    d_scores = (log_probs.exp() - one_hot) / N
    d_hidden = d_scores @ W2.T
    d_pre = torch.where(pre > 0, d_hidden, torch.zeros_like(d_hidden))
    grads = {"W1": X32.T @ d_pre + 2 * reg * W1, "b1": d_pre.sum(0),
             "W2": hidden.T @ d_scores + 2 * reg * W2, "b2": d_scores.sum(0)}
    return loss.to(X.dtype), {k: g.to(X.dtype) for k, g in grads.items()}
'''
FORWARD_NUMPY = '''def nn_forward_pass(params, X):
    """numpy inside (np.maximum for the ReLU), torch on the way out in X's dtype and device."""
    import numpy as np
    P = {k: v.detach().cpu().numpy() for k, v in params.items()}
    pre = X.detach().cpu().numpy() @ P["W1"] + P["b1"]
    hidden = np.maximum(pre, 0)
    scores = hidden @ P["W2"] + P["b2"]
    back = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(X.device, X.dtype)
    return back(scores), back(hidden)
'''
EPOCH_FLOAT = ("iterations_per_epoch = max(num_train // batch_size, 1)",
               "iterations_per_epoch = max(num_train / batch_size, 1)")
EPOCH_CEIL = ("iterations_per_epoch = max(num_train // batch_size, 1)",
              "iterations_per_epoch = -(-num_train // batch_size)  # ceil: a last, partial batch is an epoch too")
TRAIN_ACC_FULL = ("train_acc = (pred_func(params, loss_func, X_batch) == y_batch)",
                  "train_acc = (pred_func(params, loss_func, X) == y)")
BEST_BY_TRAINING = ("        if val_acc > best_val_acc:\n",
                    "        train_acc = (nn_predict(params, nn_forward_backward, X_train) == y_train).float().mean().item()\n"
                    "        if best_params is None or train_acc > best_train_acc:\n"
                    "            best_train_acc = train_acc\n")
VAL_ACC_ON_BATCH = ("val_acc = (pred_func(params, loss_func, X_val) == y_val)",
                    "val_acc = (pred_func(params, loss_func, X_batch) == y_batch)")

STUDENTS = [
    Entry("ok-net-float32-inside-where-one-hot", replace={FB: BACKWARD_FLOAT32_WHERE}),
    Entry("ok-forward-numpy-inside", replace={FP: FORWARD_NUMPY}),
    Entry("ok-train-epoch-true-division-when-divisible", edits=(
        (TRAIN, "iterations_per_epoch = max(num_train // batch_size, 1)",
         "iterations_per_epoch = max(int(num_train / batch_size), 1)"),)),
    # the docstring names the minibatch; the accuracy of all of X is a fair reading, and accepted
    Entry("ok-train-acc-on-all-rows", edits=((TRAIN,) + TRAIN_ACC_FULL,)),
    Entry("bug-train-epoch-float-division", ("nn_train",), edits=((TRAIN,) + EPOCH_FLOAT,),
          messages={"nn_train": "once per epoch (2 iterations)"},
          note="num_train / batch_size: a float epoch; it % 2.5 == 0 decays at the wrong iterations"),
    Entry("bug-train-epoch-ceil", ("nn_train",), edits=((TRAIN,) + EPOCH_CEIL,),
          messages={"nn_train": "once per epoch (2 iterations)"},
          note="ceil(num_train / batch_size) iterations per epoch: one too many when it does not divide"),
    Entry("bug-val-acc-on-batch", ("nn_train",), edits=((TRAIN,) + VAL_ACC_ON_BATCH,),
          messages={"nn_train": "accuracy on X_val"},
          note="validation accuracy computed on the training minibatch"),
    Entry("bug-find-best-by-training-accuracy", ("find_best_net",), edits=(("find_best_net_code",) + BEST_BY_TRAINING,),
          messages={"find_best_net": "not the training set"},
          note="keeps the net with the best training accuracy, not the best on the validation set"),
]
