"""The grader code that runs next to the student's code, inside the clean room.

Everything here is imported into the student's process before their code runs, so it must
hold no reference solution: only ways of calling what was submitted (a Function class, a
graph object), the lecture's given gates, and plain test functions. Reference helpers that a
check lends to the student's code (e.g. the grader's MatMul while checking a loss built from
it) are marked @shipped and travel as source, to that one check only (how these objects cross
to the student's process: autograder.cleanroom.references).
"""
from __future__ import annotations

import math

import torch

SHIPPED = "__flatgrad_shipped__"
# taken before any student code runs, from C types that cannot be patched: a Tensor subclass
# that overrides untyped_storage() or lies in __torch_function__, or a patched torch.Tensor
# method, cannot claim another tensor's memory (a determined student could still patch this
# module in their process: see README, the clean room)
_TENSOR, _STORAGE, _ADDRESS = torch._C.TensorBase, torch._C.TensorBase.untyped_storage, torch._C.StorageBase.data_ptr
_PLAIN = torch._C.DisableTorchFunctionSubclass


def shipped(obj):
    """Mark a self-contained grader class/function to be sent as source when a check lends it."""
    setattr(obj, SHIPPED, True)
    return obj


# --- adapters: turn what was submitted into a function of the case's arguments ----------

def function_adapter(cls):
    """Call cls.apply on the inputs, backpropagate grad_out; return (output, input grads, the
    tensors forward saved with save_for_backward: a docstring may say which)."""
    def run(grad_out, *inputs):
        if not (isinstance(cls, type) and issubclass(cls, torch.autograd.Function)):
            raise TypeError(f"{getattr(cls, '__name__', cls)} must subclass torch.autograd.Function")
        with torch.enable_grad():
            leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
            out = cls.apply(*leaves)
            saved = tuple(t.detach().clone() for t in getattr(out.grad_fn, "saved_tensors", ()))
            grads = torch.autograd.grad(out, leaves, grad_out, allow_unused=True)
        return out.detach(), grads, saved
    return run


def modular_adapter(fn):
    """Call fn with leaf params, run loss.backward(), return (loss, grads)."""
    def run(params, X, y, reg):
        with torch.enable_grad():
            leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
            value = fn(leaves, X, y, reg)
            value.backward()
        return value.detach(), {k: leaves[k].grad for k in leaves}
    return run


def graph_adapter(cls):
    """Build the graph from the grader's gates, run forward then backward."""
    def run(gates, inputs):
        graph = cls(gates)
        return graph.forward(dict(inputs)), graph.backward()
    return run


def twice_adapter(fn):
    """Call fn twice on the same inputs: a sampler must draw a new batch on every call."""
    def run(*args):
        return fn(*args), fn(*args)
    return run


def layout_adapter(fn):
    """knn: call fn on x in the case's memory layout, made here (strides do not cross the clean
    room); return (what fn returned, whether it shares x's memory)."""
    def run(x, layout):
        view = {"contiguous": x, "transposed": x.transpose(-2, -1), "every_other": x[::2]}[layout]
        out = fn(view)
        with _PLAIN():
            shares = isinstance(out, _TENSOR) and _ADDRESS(_STORAGE(out)) == _ADDRESS(_STORAGE(x))
        return out, shares
    return run


def classifier_adapter(cls):
    """knn: build cls(x_train, y_train); return (predict(x_test, k=k), check_accuracy(...))."""
    def run(x_train, y_train, x_test, y_test, k):
        classifier = cls(x_train, y_train)
        return classifier.predict(x_test, k=k), classifier.check_accuracy(x_test, y_test, k=k, quiet=True)
    return run


# --- the lecture's gates, with the notebook's interface ------------------------------------

class Gate:
    def __init__(self, inputs, output):
        self.inputs, self.output = list(inputs), output


class AddGate(Gate):
    def forward(self, a, b):
        return a + b

    def backward(self, upstream):
        return upstream, upstream


class MulGate(Gate):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, upstream):
        return upstream * self.b, upstream * self.a


class SigmoidGate(Gate):
    def forward(self, a):
        self.out = 1 / (1 + math.exp(-a))
        return self.out

    def backward(self, upstream):
        return (upstream * self.out * (1 - self.out),)


# --- test functions for jvp_from_vjp ---------------------------------------------------------

def sin_times_sum(x):
    return torch.sin(x) * x.sum()


class TanhLayer:
    """f(x) = tanh(x @ A)."""

    def __init__(self, A):
        self.A = A

    def __call__(self, x):
        return torch.tanh(x @ self.A)
