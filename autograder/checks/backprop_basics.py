"""Checks for assignments/backprop_basics: the lecture's worked examples as exercises.

Every derivative is judged against central differences of the grader's own float64
functions; elementwise gates are differentiated entry by entry at once (they are diagonal).
"""
from __future__ import annotations

import torch

from .adapters import graph_adapter, modular_adapter
from .backprop_modular import (FUNCTIONS, ReferenceMatMul, ReferenceMultiply, ReferenceReLU,
                               ReferenceSigmoid, function_item, graph_cases, judge_graph, judge_jvp,
                               judge_modular, jvp_cases, modular_cases, uses_functions)
from .item import Case, Item
from . import gatecauses
from .rules import FLAT, NO_HIDDEN_CALLS, NO_LOOPS, NO_TORCH_NN
from .elementwise import SEED, as64, elementwise_derivative, scalars_problem
from .outputs import gradient_problem, tuple_problem, values_problem

# --- 1. the first circuit and 2. gate patterns ------------------------------------------

def circuit(x, y, z):
    return (x + y) * z


def circuit_cases():
    gen = torch.Generator().manual_seed(SEED)
    r = lambda *s: torch.randn(*s, dtype=torch.float64, generator=gen)  # noqa: E731 (a short maker for the cases below)
    return [Case("the lecture's x=-2, y=5, z=-4", ("x", "y", "z"), (-2.0, 5.0, -4.0)),
            Case("random (3, 4) float64 tensors", ("x", "y", "z"), (r(3, 4), r(3, 4), r(3, 4))),
            Case("random float32 tensors", ("x", "y", "z"), tuple(r(5).float() for _ in range(3)))]


def judge_circuit(case, outcome):
    names = ("f", "grad_x", "grad_y", "grad_z")
    if problem := tuple_problem(outcome.value, names):
        return problem
    expected = [as64(circuit(*[as64(a) for a in case.args]))]
    expected += [elementwise_derivative(circuit, case.args, i) for i in range(3)]
    if problem := scalars_problem(names, outcome.value, expected, rtol=1e-5):
        return problem + gatecauses.circuit(outcome.value[1:], *[as64(a) for a in case.args])
    return None


def gate_cases(arity: int, tie: bool = False):
    gen = torch.Generator().manual_seed(SEED + arity)
    cases = []
    for label, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        x = torch.randn(4, 3, dtype=torch.float64, generator=gen)
        y = x + torch.sign(torch.randn(4, 3, dtype=torch.float64, generator=gen)) * (0.1 + torch.rand(4, 3, dtype=torch.float64, generator=gen))
        g = torch.randn(4, 3, dtype=torch.float64, generator=gen)
        cases.append(Case(f"(4, 3) {label} tensors", ("x", "y", "grad_out"),
                          tuple(t.to(dtype) for t in (x, y, g))))
    if tie:
        x = torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64)
        cases.append(Case("ties x == y (all of grad_out goes to x)", ("x", "y", "grad_out"),
                          (x, x.clone(), torch.tensor([4.0, -1.0, 5.0], dtype=torch.float64))))
    return cases


def gate_judge(forward, cause=None):
    """Judge (grad_x, grad_y) = grad_out * d forward / d (x, y), entry by entry; cause(got, x, y, g)
    names the likely mistake (not on ties: their message states the convention)."""
    def judge(case, outcome):
        if problem := tuple_problem(outcome.value, ("grad_x", "grad_y")):
            return problem
        x, y, g = (as64(a) for a in case.args)
        if "ties" in case.label:  # the documented convention: x wins a tie
            expected = [g, torch.zeros_like(g)]
        else:
            expected = [g * elementwise_derivative(forward, (x, y), i) for i in range(2)]
        problem = (values_problem("grad_x", outcome.value[0], expected[0], case.args[2])
                   or values_problem("grad_y", outcome.value[1], expected[1], case.args[2]))
        if problem and cause and "ties" not in case.label:
            problem += cause(outcome.value, x, y, g)
        return problem
    return judge


def add_cases():
    return [Case(c.label, ("grad_out",), (c.args[2],), {"x": c.args[0], "y": c.args[1]}) for c in gate_cases(2)]


def judge_add(case, outcome):
    if problem := tuple_problem(outcome.value, ("grad_x", "grad_y")):
        return problem
    g = as64(case.args[0])
    d = elementwise_derivative(lambda x, y: x + y, (case.extra["x"], case.extra["y"]), 0)
    problem = (values_problem("grad_x", outcome.value[0], g * d, case.args[0])
               or values_problem("grad_y", outcome.value[1], g * d, case.args[0]))
    return problem and problem + gatecauses.add_gate(outcome.value, g)


def copy_cases():
    gen = torch.Generator().manual_seed(SEED)
    return [Case(f"{k} branches of shape (3, 2)", ("grad_outs",),
                 ([torch.randn(3, 2, dtype=torch.float64, generator=gen) for _ in range(k)],)) for k in (1, 2, 4)]


def judge_copy(case, outcome):
    # y_k = x for every branch k, so dL/dx = sum_k dL/dy_k * 1
    expected = sum(as64(g) for g in case.args[0])
    problem = values_problem("grad_x", outcome.value, expected, case.args[0][0])
    return problem and problem + gatecauses.copy_gate(outcome.value, case.args[0])


# --- 3. the sigmoid circuit, 4. ReLU and 5. matrix multiply ------------------------------

def sigmoid_circuit_value(w0, x0, w1, x1, w2):
    return 1 / (1 + torch.exp(-(w0 * x0 + w1 * x1 + w2)))


def sigmoid_cases():
    gen = torch.Generator().manual_seed(SEED)
    rand = [float(v) for v in torch.randn(5, dtype=torch.float64, generator=gen)]
    names = ("w0", "x0", "w1", "x1", "w2")
    return [Case("the lecture's w0=2, x0=-1, w1=-3, x1=-2, w2=-3", names, (2.0, -1.0, -3.0, -2.0, -3.0)),
            Case("random floats", names, tuple(rand)),
            Case("0-dim float64 tensors", names, tuple(torch.tensor(v, dtype=torch.float64) for v in rand[::-1]))]


def judge_sigmoid(case, outcome):
    if problem := tuple_problem(outcome.value, ("L", "grads")):
        return problem
    L, grads = outcome.value
    names = ("grad_w0", "grad_x0", "grad_w1", "grad_x1", "grad_w2")
    if not isinstance(grads, (tuple, list)) or len(grads) != 5:
        return "grads should be a tuple of 5 values: (grad_w0, grad_x0, grad_w1, grad_x1, grad_w2)"
    expected = [elementwise_derivative(sigmoid_circuit_value, case.args, i) for i in range(5)]
    value = as64(sigmoid_circuit_value(*[as64(a) for a in case.args]))
    if problem := scalars_problem(("L",), (L,), (value,)):
        return problem
    problem = scalars_problem(names, grads, expected, rtol=1e-6)
    return problem and problem + gatecauses.sigmoid_circuit(grads, expected, value)


def relu_cases():
    gen = torch.Generator().manual_seed(SEED)
    away = lambda *s: (lambda t: t + 0.01 * torch.sign(t))(torch.randn(*s, dtype=torch.float64, generator=gen))  # noqa: E731 (a short maker for the cases below)
    big = away(16, 4096).float()  # x has 65536 entries: far too many for a Jacobian, fast to send
    return [Case("the lecture's x=[1,-2,3,-1], dL/dy=[4,-1,5,9]", ("x", "grad_y"),
                 (torch.tensor([1.0, -2.0, 3.0, -1.0], dtype=torch.float64),
                  torch.tensor([4.0, -1.0, 5.0, 9.0], dtype=torch.float64))),
            Case("a (5, 7) float64 batch", ("x", "grad_y"), (away(5, 7), torch.randn(5, 7, dtype=torch.float64, generator=gen))),
            Case("zeros in x (the gradient there is 0)", ("x", "grad_y"),
                 (torch.tensor([0.0, 2.0, 0.0], dtype=torch.float64), torch.tensor([3.0, 3.0, 3.0], dtype=torch.float64))),
            Case("a (16, 4096) float32 batch (its Jacobian would need 16 GB)", ("x", "grad_y"),
                 (big, torch.randn(16, 4096, generator=gen)))]


def judge_relu(case, outcome):
    x, g = case.args
    if "zeros" in case.label:
        expected = as64(g) * (as64(x) > 0)
    else:
        expected = as64(g) * elementwise_derivative(lambda t: t.clamp_min(0), (x,), 0)
    problem = values_problem("grad_x", outcome.value, expected, x)
    return problem and problem + gatecauses.relu(outcome.value, as64(x), as64(g))


def matmul_cases():
    gen = torch.Generator().manual_seed(SEED)
    lecture = (torch.tensor([[2.0, 1, -3], [-3, 4, 2]], dtype=torch.float64),
               torch.tensor([[3.0, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]], dtype=torch.float64),
               torch.tensor([[2.0, 3, -3, 9], [-8, 1, 4, 6]], dtype=torch.float64))
    cases = [Case("the lecture's x (2, 3), w (3, 4)", ("x", "w", "grad_y"), lecture)]
    for N, D, M, dtype in ((5, 7, 3, torch.float64), (1, 4, 6, torch.float64), (8, 3, 5, torch.float32)):
        args = tuple(torch.randn(*s, dtype=torch.float64, generator=gen).to(dtype) for s in ((N, D), (D, M), (N, M)))
        cases.append(Case(f"x ({N}, {D}), w ({D}, {M}), {str(dtype)[6:]}", ("x", "w", "grad_y"), args))
    return cases


def judge_matmul(case, outcome):
    if problem := tuple_problem(outcome.value, ("grad_x", "grad_w")):
        return problem
    x, w, g = (as64(a) for a in case.args)
    # L = sum(grad_y * (x @ w)) has dL/dy = grad_y: its numeric gradients are dL/dx and dL/dw
    return (gradient_problem("grad_x", outcome.value[0], lambda X: (g * (X @ w)).sum(), case.args[0], SEED)
            or gradient_problem("grad_w", outcome.value[1], lambda W: (g * (x @ W)).sum(), case.args[1], SEED))


def flat(name, cases, judge, vectorized=True, **kw):
    return Item(name, cases, judge, rules=((NO_LOOPS,) if vectorized else ()) + FLAT,
                passed=kw.pop("passed", "matches the grader's float64 numeric derivatives"), **kw)


# The notebook's trusted given cells its functions rely on, run before the answers.
GIVEN = ("setup", "gates", "graph_drawing", "square_example")

ITEMS = {
    "circuit_forward_backward": flat("circuit_forward_backward", circuit_cases, judge_circuit),
    "add_gate_backward": flat("add_gate_backward", add_cases, judge_add),
    "mul_gate_backward": flat("mul_gate_backward", lambda: gate_cases(3), gate_judge(lambda x, y: x * y, gatecauses.mul_gate)),
    "copy_gate_backward": flat("copy_gate_backward", copy_cases, judge_copy, vectorized=False),
    "max_gate_backward": flat("max_gate_backward", lambda: gate_cases(4, tie=True), gate_judge(torch.maximum, gatecauses.max_gate)),
    "sigmoid_circuit": flat("sigmoid_circuit", sigmoid_cases, judge_sigmoid),
    "relu_backward": flat("relu_backward", relu_cases, judge_relu),
    "matmul_backward": flat("matmul_backward", matmul_cases, judge_matmul),
    **{name: function_item(name) for name in FUNCTIONS},
    "two_layer_loss_modular": Item("two_layer_loss_modular", modular_cases, judge_modular, no_grad=False,
                                   adapter=modular_adapter, static=uses_functions,
                                   rules=(NO_TORCH_NN, NO_HIDDEN_CALLS),
                                   helpers={"MatMul": ReferenceMatMul, "ReLU": ReferenceReLU,
                                            "Multiply": ReferenceMultiply, "Sigmoid": ReferenceSigmoid},
                                   passed="the loss and the gradients autograd gets through your Functions match"),
    # calling gate.backward() is the point here; autograd is off during the call anyway
    "ComputationalGraph": Item("ComputationalGraph", graph_cases, judge_graph, adapter=graph_adapter,
                               passed="forward and backward over the gates match numeric derivatives"),
    "jvp_from_vjp": Item("jvp_from_vjp", jvp_cases, judge_jvp, no_grad=False,
                         passed="J v matches the numeric directional derivative"),
}
