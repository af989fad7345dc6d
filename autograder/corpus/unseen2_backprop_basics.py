"""backprop_basics students of the second unseen round (issue "unseen2"): right by another path
(the sigmoid as tanh, .mT products in float32 inside, a numerically stable Sigmoid Function,
a ReLU Function that saves its output) and wrong ones a lazy test passes (the lecture's rounded
local gradient 0.2 hard-coded, x >= 0 as the ReLU mask, the Sigmoid saving its input, a modular
loss without the max shift)."""
from __future__ import annotations

from .notebooks import Entry

SIG, RELU, MATMUL = "sigmoid_circuit_code", "relu_backward_code", "matmul_backward_code"
RELU_F, SIG_F, MODULAR = "ReLU_code", "Sigmoid_code", "two_layer_loss_modular_code"

SIGMOID_TANH = '''def sigmoid_circuit(w0, x0, w1, x1, w2):
    """sigmoid(s) = (1 + tanh(s / 2)) / 2: math.tanh for floats, torch.tanh for tensors."""
    s3 = w0 * x0 + w1 * x1 + w2
    tanh = torch.tanh if torch.is_tensor(s3) else math.tanh
    L = 0.5 * (1 + tanh(s3 / 2))
    grad_s3 = L * (1 - L)
    return L, (grad_s3 * x0, grad_s3 * w0, grad_s3 * x1, grad_s3 * w1, grad_s3)
'''
MATMUL_FLOAT32_MT = '''def matmul_backward(x, w, grad_y):
    """float32 inside (a GPU habit), .mT, back to grad_y's dtype."""
    g = grad_y.float()
    return (g @ w.float().mT).to(grad_y.dtype), (x.float().mT @ g).to(grad_y.dtype)
'''
SIGMOID_STABLE = '''class Sigmoid(torch.autograd.Function):
    """The two-branch stable sigmoid (never exp of a large positive number)."""

    @staticmethod
    def forward(ctx, x):
        e = torch.exp(-x.abs())
        out = torch.where(x >= 0, 1 / (1 + e), e / (1 + e))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out * (1 - out)
'''
RELU_SAVES_OUTPUT = '''class ReLU(torch.autograd.Function):
    """Saves the output: out > 0 exactly where x > 0."""

    @staticmethod
    def forward(ctx, x):
        out = x.clamp(min=0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (out > 0)
'''
SIGMOID_POINT_TWO = ("grad_s3 = grad_L * L * (1 - L)     # sigmoid gate: local gradient sigma * (1 - sigma)",
                     "grad_s3 = grad_L * 0.2              # the lecture: (1 - 0.73) * 0.73 = 0.2")
RELU_GE = '''def relu_backward(x, grad_y):
    """x >= 0 as the mask: the gradient at x == 0 becomes grad_y, the notebook says 0."""
    return grad_y * (x >= 0).to(grad_y.dtype)
'''
SIGMOID_SAVES_INPUT = '''class Sigmoid(torch.autograd.Function):
    """Saves the input and recomputes the sigmoid in backward (the docstring: save the output)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 1.0 / (1.0 + torch.exp(-x))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        s = 1.0 / (1.0 + torch.exp(-x))
        return grad_output * s * (1 - s)
'''
MODULAR_NO_SHIFT = ("    row_max = scores.max(dim=1, keepdim=True).values.detach()             # a constant shift\n"
                    "    shifted = scores - row_max                                             # (N, C)\n",
                    "    shifted = scores\n")

STUDENTS = [
    Entry("ok-sigmoid-circuit-tanh", replace={SIG: SIGMOID_TANH}),
    Entry("ok-matmul-float32-inside-mT", replace={MATMUL: MATMUL_FLOAT32_MT}),
    Entry("ok-sigmoid-stable-relu-saves-output", replace={SIG_F: SIGMOID_STABLE, RELU_F: RELU_SAVES_OUTPUT}),
    Entry("bug-sigmoid-circuit-point-two", ("sigmoid_circuit",), edits=((SIG,) + SIGMOID_POINT_TWO,),
          messages={"sigmoid_circuit": "grad_w0"},
          note="the lecture's rounded local gradient 0.2 hard-coded: right to 2 digits at the lecture's point only"),
    Entry("bug-relu-backward-mask-ge", ("relu_backward",), replace={RELU: RELU_GE},
          messages={"relu_backward": "not x >= 0"},
          note="x >= 0: the gradient at x == 0 is passed on; the notebook takes it to be 0"),
    Entry("bug-sigmoid-function-saves-input", ("Sigmoid",), replace={SIG_F: SIGMOID_SAVES_INPUT},
          messages={"Sigmoid": "output"},
          note="saves x, not the output, and recomputes: the docstring says save the OUTPUT (and nothing else)"),
    Entry("bug-modular-loss-no-max-shift", ("two_layer_loss_modular",), edits=((MODULAR,) + MODULAR_NO_SHIFT,),
          messages={"two_layer_loss_modular": "overflow"},
          note="no per-row max shift: inf/nan at large scores (the docstring asks for the shift)"),
]
