"""The source rules an item can state, declared once: the grader checks them (autograder.static)
and the notebooks state them (statement(), written into each notebook's rules block).

A rule bans what a name *resolves to* (torch.nn.functional.relu, however it was imported or
aliased), never a spelling. A rule costs points only on the items that list it, and an item
lists it only where its notebook says so: the rules block is generated from these lists.
"""
from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A rule on a function's source.

    - key: short id; title: its name in the notebook; stated: what it bans, in the notebook;
      reason: why, in the grader's message
    - names: qualified names banned with everything under them (torch.autograd bans torch.autograd.grad)
    - parts: attribute names banned wherever they occur in a name the grader cannot resolve
      (x.relu(), (a @ b).backward(): a tensor's methods) or in a qualified one
    - allowed: qualified names under `names` that stay allowed
    - keywords: keyword arguments banned unless given a literal False (requires_grad=True)
    - loops / hidden: the rule bans Python loops and comprehensions / dynamic access that hides
      what is called (getattr with a computed name, __import__, eval, globals())
    """
    key: str
    title: str
    stated: str
    reason: str
    names: tuple = ()
    parts: tuple = ()
    allowed: tuple = ()
    keywords: tuple = ()
    loops: bool = False
    hidden: bool = False


NO_AUTOGRAD = Rule(
    "no_autograd", "no autograd", "`torch.autograd`, `torch.func`, `.backward()`, `.grad`, "
    "`requires_grad`, `torch.enable_grad`",
    "flat backprop: the notebook asks you to compute every gradient by hand, without autograd",
    names=("torch.autograd", "torch.func", "torch.enable_grad", "torch.set_grad_enabled"),
    parts=("backward", "grad", "requires_grad", "requires_grad_", "retain_grad", "register_hook",
           "grad_fn", "autograd"),
    keywords=("requires_grad",))
NO_TORCH_NN = Rule(
    "no_torch_nn", "no torch.nn", "its layers, losses and activations, e.g. `F.cross_entropy`, "
    "`F.softmax`, `F.relu`, `nn.Linear`; `F.one_hot` is fine",
    "the notebook asks you to write the loss and the layers yourself",
    names=("torch.nn",), parts=("nn",), allowed=("torch.nn.functional.one_hot",))
NO_TORCH_RELU = Rule(
    "no_torch_relu", "no torch.relu", "`torch.relu`, `x.relu()`, `F.relu`, `nn.ReLU`: write the "
    "ReLU as `clamp(min=0)`, `torch.maximum` or a mask",
    "the notebook asks you to write the ReLU and its backward yourself",
    names=("torch.relu", "torch.relu_", "torch.Tensor.relu", "torch.Tensor.relu_",
           "torch.nn.functional.relu", "torch.nn.functional.relu_", "torch.nn.ReLU"),
    parts=("relu", "relu_", "ReLU"))
NO_HIDDEN_CALLS = Rule(
    "no_hidden_calls", "no hidden calls", "dynamic access that hides what is called: `getattr` "
    "with a computed name, `__import__`, `importlib`, `eval`, `globals()`",
    "the grader must be able to read what a flat function calls", hidden=True)
NO_LOOPS = Rule(
    "no_loops", "vectorized", "no Python loops or comprehensions",
    "the notebook asks for a vectorized version", loops=True)

# the usual sets
AUTOGRAD_AND_NN = (NO_AUTOGRAD, NO_TORCH_NN, NO_HIDDEN_CALLS)
FLAT = (NO_TORCH_RELU, NO_AUTOGRAD, NO_TORCH_NN, NO_HIDDEN_CALLS)  # relu first: the most specific
# the order rules are stated in; an assignment's own rules (in its checks module) come after these
RULES = (NO_AUTOGRAD, NO_TORCH_NN, NO_TORCH_RELU, NO_HIDDEN_CALLS, NO_LOOPS)

BEGIN = "<!-- BEGIN RULES: generated from autograder/checks/rules.py by `make release`; do not edit -->"
END = "<!-- END RULES -->"


def statement(items: dict) -> str:
    """The rules block of a notebook: each rule its graded items use, then which function
    follows which. Returns markdown between the BEGIN and END markers."""
    own = [r for item in items.values() for r in item.rules if r not in RULES]
    order = RULES + tuple(dict.fromkeys(own))  # an assignment's own rules, in first-use order
    used = [r for r in order if any(r in item.rules for item in items.values())]
    lines = [BEGIN, "**Rules the grader checks** on the source of a function and of the functions of "
             "yours it uses (breaking one costs that function's points):", ""]
    lines += [f"* **{r.title}**: {r.stated}." for r in used]
    groups: dict = {}
    for name, item in items.items():
        if item.rules:
            groups.setdefault(tuple(r for r in order if r in item.rules), []).append(name)
    lines += ["", "| function | rules |", "|---|---|"]
    lines += [f"| {', '.join(f'`{n}`' for n in names)} | {', '.join(r.title for r in rules)} |"
              for rules, names in groups.items()]
    lines += ["", "Everything else is allowed, e.g. `torch.where`, `torch.maximum`, `clamp`, `gather`, "
              "`scatter_`, one-hot masks, type annotations and prints.", END]
    return "\n".join(lines)


def _notebook(assignment: str):
    from ..layout import SOURCE
    return SOURCE / assignment / f"{assignment}.ipynb"


def _with_statement(assignment: str) -> tuple[str, str]:
    """(the source notebook's text, the same with its rules block regenerated)."""
    from . import items
    path = _notebook(assignment)
    text = path.read_text()
    nb = json.loads(text)
    block = statement(items(assignment))
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if BEGIN in source and END in source:
            head, rest = source.split(BEGIN, 1)
            cell["source"] = (head + block + rest.split(END, 1)[1]).splitlines(keepends=True)
            return text, json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    raise ValueError(f"{path}: no rules block ({BEGIN} ... {END}) in any cell")


def write_statements(assignments) -> None:
    """Regenerate the rules block of each source notebook (make release runs this first)."""
    for assignment in assignments:
        old, new = _with_statement(assignment)
        if new != old:
            _notebook(assignment).write_text(new)


def stale_statements(assignments) -> list[str]:
    """Source notebooks whose rules block is not what the grader checks (make check-release)."""
    return [f"assignments/{a}: its rules block differs from autograder/checks/rules.py (run make release)"
            for a in assignments if len(set(_with_statement(a))) > 1]
