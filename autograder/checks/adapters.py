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
# What an adapter decides after the student's code ran (shares, grads) is read with these,
# taken before any student code runs: C functions a patched torch.Tensor method, a Tensor
# subclass or a torch function/dispatch mode left active cannot answer for, and autograd's
# own functions as they were (torch.autograd rebound later changes nothing here). A change to
# this module or to torch.autograd in the clean room is caught by cleanroom/seal.py.
_TENSOR, _STORAGE, _ADDRESS = torch._C.TensorBase, torch._C.TensorBase.untyped_storage, torch._C.StorageBase.data_ptr
_GRAD_OF, _DETACH, _CLONE = vars(torch._C.TensorBase)["grad"].__get__, torch._C.TensorBase.detach, torch._C.TensorBase.clone
_GRAD, _BACKWARD = torch.autograd.grad, torch.autograd.backward
_GRAD_FN, _FUNCTION_BASE = vars(torch._C.TensorBase)["grad_fn"].__get__, torch._C._FunctionBase
_SAVED = vars(torch._C._FunctionBase)["saved_tensors"].__get__
_ISINSTANCE = isinstance  # a call may replace builtins.isinstance; they are restored only after it


class _Plain:
    """No torch function (subclass or mode) and no dispatch mode: torch's own kernels only."""

    def __enter__(self):
        self.modes = (torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch())
        for mode in self.modes:
            mode.__enter__()

    def __exit__(self, *exc):
        for mode in reversed(self.modes):
            mode.__exit__(*exc)


def shipped(obj):
    """Mark a self-contained grader class/function to be sent as source when a check lends it."""
    setattr(obj, SHIPPED, True)
    return obj


def _saved(out) -> tuple:
    """What forward passed to ctx.save_for_backward, read with C getters (a subclass or a
    class attribute cannot answer for them)."""
    node = _GRAD_FN(out) if _ISINSTANCE(out, _TENSOR) else None
    if not _ISINSTANCE(node, _FUNCTION_BASE):
        return ()
    with _Plain():
        return tuple(_CLONE(_DETACH(t)) for t in _SAVED(node))


def _detached(value):
    return _DETACH(value) if _ISINSTANCE(value, _TENSOR) else value.detach()


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
            saved = _saved(out)
            grads = _GRAD(out, leaves, grad_out, allow_unused=True)
        return _detached(out), grads, saved
    return run


def modular_adapter(fn):
    """Call fn with leaf params, run loss.backward(), return (loss, grads)."""
    def run(params, X, y, reg):
        with torch.enable_grad():
            leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
            mine = tuple(leaves.items())  # fn gets the dict, and may put other objects in it
            value = fn(leaves, X, y, reg)
            _BACKWARD(value)
        return _detached(value), {k: _GRAD_OF(leaf) for k, leaf in mine}
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
        with _Plain():
            shares = _ISINSTANCE(out, _TENSOR) and _ADDRESS(_STORAGE(out)) == _ADDRESS(_STORAGE(x))
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
