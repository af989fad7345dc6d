"""Corpus for backprop_basics: the gate and Jacobian mistakes students make in lecture."""
from __future__ import annotations

from .notebooks import Entry
from .unseen_backprop_basics import STUDENTS as UNSEEN  # students written against the checks (issue "unseen")
from .unseen2_backprop_basics import STUDENTS as UNSEEN2  # a second, independent round (issue "unseen2")

BUGS = [
    Entry("bug-circuit-wrong-local-gradient", ("circuit_forward_backward",),
          (("circuit_forward_backward_code", "grad_z = grad_f * q", "grad_z = grad_f * x"),),
          note="local gradient of the mul gate taken from the wrong input"),
    Entry("bug-mul-gate-no-swap", ("mul_gate_backward",),
          (("mul_gate_backward_code", "grad_x = grad_out * y", "grad_x = grad_out * x"),),
          note="mul gate does not swap its inputs"),
    Entry("bug-copy-gate-overwrites", ("copy_gate_backward",),
          (("copy_gate_backward_code", "grad_x = grad_x + grad_branch", "grad_x = grad_branch"),),
          note="copy gate keeps the last branch instead of adding them"),
    Entry("bug-max-gate-distributes", ("max_gate_backward",),
          (("max_gate_backward_code", "grad_y = torch.where(x_wins, zeros, grad_out)", "grad_y = grad_out.clone()"),),
          note="max gate sends the gradient to both inputs"),
    Entry("bug-sigmoid-local-gradient", ("sigmoid_circuit",),
          (("sigmoid_circuit_code", "grad_s3 = grad_L * L * (1 - L)", "grad_s3 = grad_L * L"),),
          note="sigmoid local gradient sigma instead of sigma * (1 - sigma)"),
    Entry("bug-relu-mask-from-upstream", ("relu_backward",),
          (("relu_backward_code", "torch.where(x > 0, grad_y", "torch.where(grad_y > 0, grad_y"),),
          note="ReLU mask taken from the upstream gradient instead of the input"),
    Entry("bug-matmul-grad-w-transposed", ("matmul_backward",),
          (("matmul_backward_code", "grad_w = x.t().mm(grad_y)", "grad_w = grad_y.t().mm(x)"),),
          note="dL/dw with the factors swapped: the shapes do not work out"),
    Entry("bug-sigmoid-function-backward", ("Sigmoid",),
          (("Sigmoid_code", "return grad_output * sig * (1 - sig)", "return grad_output * sig"),),
          note="Sigmoid.backward forgets the (1 - sigma) factor"),
    Entry("bug-relu-function-no-mask", ("ReLU",),
          (("ReLU_code", "return torch.where(x > 0, grad_output, torch.zeros_like(grad_output))",
            "return grad_output"),),
          note="ReLU.backward passes the gradient through everywhere"),
    Entry("bug-graph-no-accumulation", ("ComputationalGraph",),
          (("ComputationalGraph_code", "grads[name] = grads[name] + grad ", "grads[name] = grad "),),
          note="a value feeding two gates keeps only one gradient"),
    Entry("bug-add-gate-splits", ("add_gate_backward",),
          (("add_gate_backward_code", "grad_x = grad_out.clone()", "grad_x = grad_out.clone() / 2"),),
          note="add gate splits the gradient between its inputs instead of copying it"),
    Entry("bug-multiply-function-no-swap", ("Multiply",),
          (("Multiply_code", "grad_x = grad_output * y", "grad_x = grad_output * x"),),
          note="Multiply.backward does not swap its inputs"),
    Entry("bug-matmul-function-averaged", ("MatMul",),
          (("MatMul_code", "grad_w = x.t().mm(grad_output)", "grad_w = x.t().mm(grad_output) / x.shape[0]"),),
          note="MatMul.backward averages dL/dw over the batch"),
    Entry("bug-modular-loss-summed", ("two_layer_loss_modular",),
          (("two_layer_loss_modular_code", "data_loss = -log_probs[rows, y].mean()",
            "data_loss = -log_probs[rows, y].sum()"),),
          note="the data loss summed over the batch instead of averaged"),
    Entry("bug-jvp-is-a-vjp", ("jvp_from_vjp",),
          (("jvp_from_vjp_code", "(jv,) = torch.autograd.grad(vjp, u, grad_outputs=v)",
            "(jv,) = torch.autograd.grad(out, x, grad_outputs=v)"),),
          note="one reverse pass: J^T v, not J v"),
]

RELU_MASK = '''def relu_backward(x, grad_y):
    """ReLU backward as a product with the 0/1 mask of positive inputs."""
    return grad_y * (x > 0).to(grad_y.dtype)
'''
MAX_GATE = '''def max_gate_backward(x, y, grad_out):
    """Max gate with a float mask; prints what it does."""
    x_wins = (x >= y).to(grad_out.dtype)
    print("routing", int(x_wins.sum()), "entries to x")
    return grad_out * x_wins, grad_out * (1 - x_wins)
'''

CORRECT = [
    Entry("ok-reference"),
    Entry("ok-relu-mask-and-printing-max", replace={"relu_backward_code": RELU_MASK, "max_gate_backward_code": MAX_GATE}),
    Entry("ok-relu-mask-only", replace={"relu_backward_code": RELU_MASK}),
]

ITEMS = ("circuit_forward_backward", "add_gate_backward", "mul_gate_backward", "copy_gate_backward",
         "max_gate_backward", "sigmoid_circuit", "relu_backward", "matmul_backward", "Multiply", "MatMul",
         "ReLU", "Sigmoid", "two_layer_loss_modular", "ComputationalGraph", "jvp_from_vjp")

BROKEN = [Entry("blank-release", ITEMS, untouched=True, note="the untouched release")]

ENTRIES = BUGS + CORRECT + BROKEN + UNSEEN + UNSEEN2
DEMO = ["ok-reference", "blank-release", "bug-relu-mask-from-upstream"]
