"""Corpus for two_layer_net: the backward-pass bugs of course forums and write-ups."""
from __future__ import annotations

from .notebooks import Entry
from .unseen_two_layer_net import STUDENTS as UNSEEN  # students written against the checks (issue "unseen")
from .unseen2_two_layer_net import STUDENTS as UNSEEN2  # a second, independent round (issue "unseen2")

FB, FWD, TRAIN = "nn_forward_backward_code", "nn_forward_pass_code", "nn_train_code"

BUGS = [
    Entry("bug-relu-mask-from-upstream", ("nn_forward_backward",),
          ((FB, "grad_pre = grad_hidden * (hidden > 0)", "grad_pre = grad_hidden * (grad_hidden > 0)"),),
          note="ReLU backward masked by the sign of the upstream gradient"),
    Entry("bug-no-relu-backward", ("nn_forward_backward",),
          ((FB, "grad_pre = grad_hidden * (hidden > 0).to(hidden.dtype)", "grad_pre = grad_hidden"),),
          note="no ReLU backward at all"),
    Entry("bug-w2-from-pre-activation", ("nn_forward_backward",),
          ((FB, "torch.addmm(W2, hidden.t(), grad_scores", "torch.addmm(W2, (X.mm(W1) + params[\"b1\"]).t(), grad_scores"),),
          note="W2 gradient from the pre-activation instead of the hidden output"),
    Entry("bug-b2-wrong-axis", ("nn_forward_backward",),
          ((FB, "grad_b2 = grad_scores.sum(dim=0)", "grad_b2 = grad_scores.sum(dim=1)"),),
          note="bias gradient summed over the wrong axis"),
    Entry("bug-b1-averaged", ("nn_forward_backward",),
          ((FB, "grad_b1 = grad_pre.sum(dim=0)", "grad_b1 = grad_pre.mean(dim=0)"),),
          note="bias gradient averaged instead of summed"),
    Entry("bug-b1-broadcast-shape", ("nn_forward_backward",),
          ((FB, "grad_b1 = grad_pre.sum(dim=0)", "grad_b1 = grad_pre.sum(dim=0, keepdim=True)"),),
          note="bias gradient left in broadcast shape (1, H)"),
    Entry("bug-l2-factor", ("nn_forward_backward",),
          ((FB, "torch.addmm(W1, X.t(), grad_pre, beta=2 * reg)", "torch.addmm(W1, X.t(), grad_pre, beta=reg)"),),
          note="L2 gradient of W1 missing its factor 2"),
    Entry("bug-w1-regularized-twice", ("nn_forward_backward",),
          ((FB, "reg * (torch.sum(W1 * W1) + torch.sum(W2 * W2))", "reg * (torch.sum(W1 * W1) + torch.sum(W1 * W1))"),),
          note="one weight used twice in the L2 term"),
    Entry("bug-missing-1-over-n", ("nn_forward_backward",),
          ((FB, "grad_log_probs = -is_correct / N", "grad_log_probs = -is_correct"),),
          note="1/N missing in the gradient"),
    Entry("bug-missing-minus-one", ("nn_forward_backward",),
          ((FB, "grad_shifted = grad_log_probs + grad_log_sum_exp * probs", "grad_shifted = grad_log_sum_exp * probs"),),
          note='the "-1" at the correct class missing'),
    Entry("bug-b2-averaged", ("nn_forward_backward",),
          ((FB, "grad_b2 = grad_scores.sum(dim=0)", "grad_b2 = grad_scores.mean(dim=0)"),),
          note="output bias gradient averaged instead of summed"),
    Entry("bug-w2-no-reg-gradient", ("nn_forward_backward",),
          ((FB, "torch.addmm(W2, hidden.t(), grad_scores, beta=2 * reg)", "torch.addmm(W2, hidden.t(), grad_scores, beta=0)"),),
          note="no regularization gradient on W2"),
    Entry("bug-forward-no-relu", ("nn_forward_pass",),
          ((FWD, "hidden = pre.clamp(min=0)", "hidden = pre"),),
          note="the forward pass forgets the ReLU"),
    Entry("bug-train-no-decay", ("nn_train",),
          ((TRAIN, "            learning_rate *= learning_rate_decay\n", ""),),
          note="the learning rate never decays"),
    Entry("bug-train-biases-frozen", ("nn_train",),
          ((TRAIN, "for name in params:", "for name in (\"W1\", \"W2\"):"),),
          note="only the weights are updated, never the biases"),
    Entry("bug-predict-argmax-no-dim", ("nn_predict",),
          (("nn_predict_code", "scores.argmax(dim=1)", "scores.argmax()"),),
          note="argmax without a dim"),
    Entry("bug-find-best-keeps-last", ("find_best_net",),
          (("find_best_net_code", "if val_acc > best_val_acc:", "if True:"),),
          note="keeps the last network trained instead of the best one"),
    Entry("bug-nn-grid-huge-hidden", ("nn_get_search_params",),
          (("nn_get_search_params_code", "hidden_sizes = [64, 128]", "hidden_sizes = [1024, 4096]"),),
          note="hidden layers far bigger than a search can train"),
]

ONE_HOT_BACKWARD = '''def nn_forward_backward(params, X, y=None, reg=0.0):
    """Probabilities minus one-hot, written with an identity matrix; prints and warns."""
    import warnings
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores
    N, C = scores.shape
    shifted = scores - scores.max(1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(1, keepdim=True).log()  # never log(0)
    probs = log_probs.exp()
    onehot = torch.eye(C, dtype=scores.dtype, device=scores.device)[y]
    loss = -(onehot * log_probs).sum() / N + reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
    dscores = (probs - onehot) / N
    dhidden = dscores @ params["W2"].T
    dhidden[hidden <= 0] = 0
    grads = {"W2": hidden.T @ dscores + 2 * reg * params["W2"], "b2": dscores.sum(0),
             "W1": X.T @ dhidden + 2 * reg * params["W1"], "b1": dhidden.sum(0)}
    print("loss", float(loss))
    warnings.warn("debug output left in", RuntimeWarning)
    return loss, grads
'''

CORRECT = [
    Entry("ok-reference"),
    Entry("ok-one-hot-prints-warns", replace={FB: ONE_HOT_BACKWARD}),
    Entry("ok-train-out-of-place", edits=((TRAIN, "params[name] -= learning_rate * grads[name]",
                                           "params[name] = params[name] - learning_rate * grads[name]"),)),
]

ITEMS = ("nn_forward_pass", "nn_forward_backward", "nn_train", "nn_predict", "nn_get_search_params", "find_best_net")

BROKEN = [Entry("blank-release", ITEMS, untouched=True, note="the untouched release")]

ENTRIES = BUGS + CORRECT + BROKEN + UNSEEN + UNSEEN2
DEMO = ["ok-reference", "blank-release", "bug-relu-mask-from-upstream"]
