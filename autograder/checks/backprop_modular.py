"""Checks for the modular part of backprop_basics: autograd Functions, a loss built from them,
a computational-graph object, and forward mode from two reverse-mode calls."""
from __future__ import annotations

import math

import torch

from . import two_layer_reference as net
from ..gradcheck import central_difference
from .adapters import AddGate, MulGate, SigmoidGate, TanhLayer, function_adapter, shipped, sin_times_sum
from . import causes, gatecauses
from .item import Case, Item
from .rules import NO_HIDDEN_CALLS, NO_TORCH_RELU
from .elementwise import SEED, as64, scalars_problem
from .outputs import gradient_problem, scalar_problem, values_problem
from .samples import large_scores_net_point, relu_net_point, visible_reg_params


# --- 6. torch.autograd.Function subclasses and 7. the modular two-layer loss -----------

FUNCTIONS = {  # name -> (reference forward, shapes of its inputs)
    "Multiply": (lambda x, y: x * y, ((4, 3), (4, 3))),
    "MatMul": (lambda x, w: x @ w, ((4, 3), (3, 5))),
    "ReLU": (lambda x: x.clamp_min(0), ((6, 5),)),
    "Sigmoid": (lambda x: 1 / (1 + torch.exp(-x)), ((6, 5),)),
}


def function_cases(name):
    forward, shapes = FUNCTIONS[name]
    gen = torch.Generator().manual_seed(SEED)
    cases = []
    for k in range(2):
        inputs = [torch.randn(*s, dtype=torch.float64, generator=gen) for s in shapes]
        inputs = [t + 0.01 * torch.sign(t) for t in inputs]  # no ReLU input at its kink
        grad_out = torch.randn(forward(*inputs).shape, dtype=torch.float64, generator=gen)
        cases.append(Case(f"random float64 inputs #{k + 1}", ("grad_output",) + tuple(f"input{i}" for i in range(len(shapes))),
                          (grad_out, *inputs), {"forward": forward, "name": name}))
    return cases


def judge_function(case, outcome):
    out, grads, saved = outcome.value
    forward, grad_out, inputs = case.extra["forward"], case.args[0], case.args[1:]
    if problem := values_problem("forward output", out, forward(*inputs)):
        return problem
    if case.extra["name"] == "Sigmoid" and (problem := saved_problem(saved, out, inputs[0])):
        return problem
    if len(grads) != len(inputs):
        return f"backward should return {len(inputs)} gradient(s), one per forward input"
    for i, g in enumerate(grads):
        if g is None:
            return f"backward returned no gradient for input {i}"

        def L(t, i=i):
            args = list(inputs)
            args[i] = t
            return (grad_out * forward(*args)).sum()
        if problem := gradient_problem(f"gradient of input {i}", g, L, inputs[i], SEED + i):
            return problem.rstrip(".") + gatecauses.function(case.extra["name"], i, g, grad_out, inputs)
    return None


def saved_problem(saved, out, x) -> str | None:
    """Sigmoid's docstring (and its visible check): save the OUTPUT with ctx.save_for_backward and
    nothing else; backward is s * (1 - s) from the output alone."""
    if len(saved) == 1 and torch.is_tensor(saved[0]) and saved[0].shape == out.shape \
            and torch.allclose(saved[0].double(), out.double(), rtol=1e-6, atol=1e-12):
        return None
    if len(saved) == 1 and torch.is_tensor(saved[0]) and saved[0].shape == x.shape and torch.equal(saved[0].double(), x.double()):
        what = "its input x"
    else:
        what = f"{len(saved)} tensor(s), not exactly its output"
    return (f"forward saved {what} with ctx.save_for_backward; the docstring asks to save the OUTPUT "
            "sigmoid(x) and nothing else (backward needs only s * (1 - s))")


def function_item(name):
    return Item(name, lambda: function_cases(name), judge_function, adapter=function_adapter,
                rules=(NO_TORCH_RELU, NO_HIDDEN_CALLS) if name == "ReLU" else (),
                no_grad=False, passed="forward and backward match the grader's float64 numerics")


@shipped
class ReferenceMultiply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y, grad * x


@shipped
class ReferenceMatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad @ w.T, x.T @ grad


@shipped
class ReferenceReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0)


@shipped
class ReferenceSigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = 1 / (1 + torch.exp(-x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


def modular_cases():
    cases = []
    for k, (N, D, Hd, C) in enumerate(((20, 8, 6, 4), (1, 5, 3, 2))):
        params, X, y = relu_net_point(N, D, Hd, C, SEED + k)
        reg = visible_reg_params(net.loss, params, X, y)
        cases.append(Case(f"N={N}, D={D}, H={Hd}, C={C}, reg={reg}", ("params", "X", "y", "reg"), (params, X, y, reg)))
    # the stated per-row max shift: without it exp overflows (float64 at ~710); reg keeps L2 ~1
    params, X, y = large_scores_net_point(8, 10, 24, 12, SEED + 2)
    reg = float(f"{1 / sum((params[k] ** 2).sum().item() for k in ('W1', 'W2')):.3g}")
    cases.append(Case(f"scores around +-1000 (N=8, C=12, reg={reg})", ("params", "X", "y", "reg"), (params, X, y, reg),
                      {"loss_only": True}))  # the overflow shows in the loss; its gradients cost 4 checks
    return cases


def judge_modular(case, outcome):
    value, grads = outcome.value
    params, X, y, reg = case.args
    if problem := scalar_problem("loss", value, net.loss(params, X, y, reg).item(), X.dtype, X.device):
        if torch.is_tensor(value) and not torch.isfinite(value).all():
            return f"{problem}; {causes.hint('unstable')}"
        return problem + gatecauses.modular_loss(value, net.loss, params, X, y, reg)
    if case.extra.get("loss_only"):
        return None
    for k, name in enumerate(net.PARAMS):
        f = lambda P, name=name: net.loss({**params, name: P}, X, y, reg)  # noqa: E731 (the loss as a function of one parameter; binds name)
        if grads.get(name) is None:
            return f"loss.backward() gave no gradient for params['{name}']: build the loss from it"
        if problem := gradient_problem(f"params['{name}'].grad", grads[name], f, params[name], SEED + k):
            return problem
    return None


def uses_functions(source):
    """two_layer_loss_modular must be built from the MatMul and ReLU Functions."""
    if source and not ("MatMul.apply" in source and "ReLU.apply" in source):
        return "two_layer_loss_modular must use MatMul.apply and ReLU.apply for the layers"
    return None


# --- 8. the computational-graph object and 9. forward mode from reverse mode -------------

def graph_cases():
    sigmoid = [MulGate(["w0", "x0"], "s0"), MulGate(["w1", "x1"], "s1"), AddGate(["s0", "s1"], "s2"),
               AddGate(["s2", "w2"], "s3"), SigmoidGate(["s3"], "L")]
    shared = [MulGate(["x", "y"], "p"), AddGate(["p", "x"], "f")]  # x feeds two gates
    return [Case("the sigmoid circuit at the lecture's point", ("gates", "inputs"),
                 (sigmoid, {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}),
                 {"f": lambda w0, x0, w1, x1, w2: 1 / (1 + math.exp(-(w0 * x0 + w1 * x1 + w2)))}),
            Case("f = x*y + x, where x feeds two gates (gradients add)", ("gates", "inputs"),
                 (shared, {"x": 1.5, "y": -2.5}), {"f": lambda x, y: x * y + x,
                                                   "branches": {"x": (-2.5, 1.0)}})]  # dp/dx = y, df/dx via add = 1


def judge_graph(case, outcome):
    value, grads = outcome.value
    inputs, f = case.args[1], case.extra["f"]
    names = list(inputs)
    point = [inputs[n] for n in names]
    if problem := scalars_problem(("forward output",), (value,), (as64(f(*point)),)):
        return problem
    if not isinstance(grads, dict):
        return f"backward() should return a dict name -> gradient, got {type(grads).__name__}"
    for i, name in enumerate(names):
        if name not in grads:
            return f"backward() has no gradient for the input {name!r}"
        along = lambda t, i=i: f(*point[:i], t.item(), *point[i + 1:])  # noqa: E731 (f takes floats)
        numeric = central_difference(along, torch.tensor(float(point[i]), dtype=torch.float64), torch.tensor(1.0))
        if problem := scalars_problem((f"gradient of {name}",), (grads[name],), (numeric,), rtol=1e-6):
            return problem + gatecauses.branches(grads[name], case.extra.get("branches", {}).get(name, ()))
    return None


def jvp_cases():
    gen = torch.Generator().manual_seed(SEED)
    A = torch.randn(4, 3, dtype=torch.float64, generator=gen)
    functions = [("f(x) = sin(x) * sum(x)", sin_times_sum, (5,)),
                 ("f(x) = tanh(x @ A) (4 -> 3)", TanhLayer(A), (2, 4))]
    return [Case(label, ("f", "x", "v"), (f, torch.randn(*s, dtype=torch.float64, generator=gen),
                                           torch.randn(*s, dtype=torch.float64, generator=gen)))
            for label, f, s in functions]


def judge_jvp(case, outcome):
    f, x, v = case.args
    expected = central_difference(f, x, v)  # J v: the derivative of f at x along v
    return values_problem("J v", outcome.value, expected, f(x)) if torch.is_tensor(outcome.value) else \
        f"should return a tensor of f(x)'s shape, got {type(outcome.value).__name__}"
