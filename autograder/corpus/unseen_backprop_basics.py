"""backprop_basics students the first corpus did not have (issue "unseen"): right by another
path (torch.heaviside, einsum, torch.stack, math on floats) and wrong ones a lazy test passes
(the upstream gradient masked in place, two branches hard-coded, ties to y)."""
from __future__ import annotations

from .notebooks import Entry

RELU, MATMUL, COPY, MAX = "relu_backward_code", "matmul_backward_code", "copy_gate_backward_code", "max_gate_backward_code"

RELU_HEAVISIDE = '''def relu_backward(x, grad_y):
    """The step function by torch.heaviside, 0 at x == 0."""
    return grad_y * torch.heaviside(x, torch.zeros_like(x))
'''
MATMUL_EINSUM = '''def matmul_backward(x, w, grad_y):
    """einsum for both products."""
    return torch.einsum("nm,dm->nd", grad_y, w), torch.einsum("nd,nm->dm", x, grad_y)
'''
COPY_STACK = '''def copy_gate_backward(grad_outs):
    """All branches stacked, summed over the new axis."""
    return torch.stack(list(grad_outs)).sum(dim=0)
'''
MAX_MASKS = '''def max_gate_backward(x, y, grad_out):
    """Masks as numbers: x gets grad_out where x >= y (ties), y the rest."""
    x_wins = (x >= y).to(grad_out.dtype)
    return grad_out * x_wins, grad_out * (1 - x_wins)
'''
RELU_ON_A_CLONE = '''def relu_backward(x, grad_y):
    """In place, but on a clone: the caller's grad_y stays as it was."""
    grad_x = grad_y.clone()
    grad_x[x <= 0] = 0
    return grad_x
'''
RELU_IN_PLACE = '''def relu_backward(x, grad_y):
    """Zeroes the upstream gradient in place and returns it: the caller's grad_y is changed."""
    grad_y[x <= 0] = 0
    return grad_y
'''
COPY_TWO_BRANCHES = '''def copy_gate_backward(grad_outs):
    """The lecture's picture has two branches, so two are added."""
    return grad_outs[0] + grad_outs[1]
'''
MAX_TIES_TO_Y = '''def max_gate_backward(x, y, grad_out):
    """x wins only when strictly larger: a tie goes to y (the notebook says x)."""
    x_wins = x > y
    return torch.where(x_wins, grad_out, 0.0), torch.where(x_wins, 0.0, grad_out)
'''

STUDENTS = [
    Entry("ok-relu-heaviside", replace={RELU: RELU_HEAVISIDE}),
    Entry("ok-matmul-einsum-relu-on-a-clone", replace={MATMUL: MATMUL_EINSUM, RELU: RELU_ON_A_CLONE}),
    Entry("ok-copy-stack-max-masks", replace={COPY: COPY_STACK, MAX: MAX_MASKS}),
    Entry("bug-relu-masks-grad-y-in-place", ("relu_backward",), replace={RELU: RELU_IN_PLACE},
          messages={"relu_backward": "changed its input grad_y in place"},
          note="grad_y zeroed in place and returned: the caller's upstream gradient is changed"),
    Entry("bug-copy-two-branches", ("copy_gate_backward",), replace={COPY: COPY_TWO_BRANCHES},
          messages={"copy_gate_backward": "IndexError"},
          item_status="error", note="two branches hard-coded: one branch raises, four lose two"),
    Entry("bug-max-ties-to-y", ("max_gate_backward",), replace={MAX: MAX_TIES_TO_Y},
          messages={"max_gate_backward": "ties x == y"},
          note="a tie goes to y; the notebook's convention gives it to x"),
]
