"""Do the static checks find what a rule bans by what names resolve to, and only that?"""
import pytest

from autograder.checks.rules import AUTOGRAD_AND_NN, FLAT, NO_LOOPS
from autograder.static import function_source, loops, rule_uses

VECTORIZED = '''
def f(W, X):
    scores = X @ W
    return scores.sum(), torch.zeros_like(W)
'''
LOOPY = '''
def f(W, X):
    total = sum(x for x in X)
    for i in range(3):
        pass
    while False:
        pass
    return [w for w in W]
'''
AUTOGRAD = '''
def f(W, X):
    W.requires_grad_()
    loss = torch.relu(X @ W).sum()
    loss.backward()
    return loss, W.grad, torch.autograd.grad, torch.nn.functional.relu
'''


def whats(source, rules=FLAT, cells=()):
    return [u.what for u in rule_uses([*cells, source], "f", rules)]


def test_vectorized_source_has_no_loops_or_banned_uses():
    """Is plain tensor code accepted?"""
    assert loops(VECTORIZED) == [] and whats(VECTORIZED, FLAT + (NO_LOOPS,)) == []


def test_every_kind_of_loop_is_found_with_its_line():
    """Are for, while, generator and list comprehensions all reported with line numbers?"""
    found = loops(LOOPY)
    assert len(found) == 4
    assert found[0].startswith("line 3:") and "for x in X" in found[0]
    uses = rule_uses([LOOPY], "f", (NO_LOOPS,))
    assert [u.line for u in uses] == [3, 4, 6, 8] and uses[1].text == "for i in range(3):"


def test_autograd_nn_and_relu_are_found():
    """Are requires_grad_, torch.relu, backward, .grad, torch.autograd and torch.nn reported?"""
    text = " ".join(whats(AUTOGRAD))
    for what in (".requires_grad_()", "torch.relu", ".backward()", ".grad", "torch.autograd.grad",
                 "torch.nn.functional.relu"):
        assert what in text


# each spelling of the same banned function: all resolve to it
ALIASES = {
    "import torch.nn.functional as F": "F.relu(x)",
    "from torch import relu as r": "r(x)",
    "from torch.nn import functional": "functional.relu(x)",
    "from torch.nn import functional as fn": "fn.relu(x)",
    "import torch as T": "T.relu(x)",
    "import torch.nn": "torch.nn.functional.relu(x)",
    "M = torch.nn.functional": "M.relu(x)",
    "from torch import *": "relu(x)",
    "import sys": "sys.modules['torch'].relu(x)",
    "import importlib": "importlib.import_module('torch.nn.functional').relu(x)",
    "": "__import__('torch').relu(x)",
    "# nothing": "getattr(torch, 'relu')(x)",
    "# a method": "torch.Tensor.relu(x)",
    "# on a value": "(x * 1).relu()",
    "# local alias": "m = torch\n    return m.nn.functional.relu(x)",
    "# default argument": "x",
}


@pytest.mark.parametrize("imports,body", list(ALIASES.items()))
def test_each_alias_of_relu_is_found(imports, body):
    """Is torch.relu found however it is imported, aliased or reached?"""
    head = "def f(x, act=torch.relu):" if "default" in imports else "def f(x):"
    source = f"{imports}\n{head}\n    return {body}\n" if "return" not in body \
        else f"{imports}\n{head}\n    {body}\n"
    uses = rule_uses([source], "f", FLAT)
    assert uses, source
    assert all(u.line >= 2 for u in uses)


EVASIONS = {
    "computed getattr": "getattr(torch, 're' + 'lu')(x)",
    "computed import": "__import__('tor' + 'ch').relu(x)",
    "eval": "eval('torch.relu')(x)",
    "globals": "globals()['torch'].relu(x)",
    "dunder dict": "torch.__dict__['relu'](x)",
    "computed sys.modules": "sys.modules['tor' + 'ch'].autograd",
    "list of modules": "[torch][0].nn.functional.cross_entropy(x, x)",
    "requires_grad keyword": "torch.zeros(3, requires_grad=True)",
    "enable_grad": "torch.enable_grad()",
    "autograd via sys.modules": "sys.modules['torch'].autograd.grad(x, x)",
}


@pytest.mark.parametrize("name,body", list(EVASIONS.items()))
def test_each_evasion_is_found(name, body):
    """Does an attempt to hide a banned call still break a rule?"""
    source = f"import sys\ndef f(x):\n    return {body}\n"
    assert rule_uses([source], "f", FLAT), name


ALLOWED = {
    "clamp": "x.clamp(min=0)",
    "clamp_min": "torch.clamp_min(x, 0)",
    "maximum": "torch.maximum(x, torch.zeros_like(x))",
    "mask": "x * (x > 0)",
    "where": "torch.where(x > 0, x, 0.0)",
    "one_hot": "F.one_hot(y, 10)",
    "one_hot full": "torch.nn.functional.one_hot(y, 10)",
    "one_hot import": "one_hot(y, 10)",
    "getattr constant harmless": "getattr(x, 'shape')",
    "requires_grad False": "torch.zeros(3, requires_grad=False)",
    "gather": "x.gather(1, y[:, None])",
    "scatter_": "torch.zeros(3, 4).scatter_(1, y[:, None], 1.0)",
    "gradient-named variables": "grad_out = x; grads = {'W': x}; grads['W']",
}


@pytest.mark.parametrize("name,body", list(ALLOWED.items()))
def test_each_allowed_style_passes(name, body):
    """Is every hand-written ReLU, one-hot and index style accepted under the strictest rules?"""
    source = ("import torch.nn.functional as F\nfrom torch.nn.functional import one_hot\n"
              f"def f(x, y):\n    {body}\n    return x\n")
    assert rule_uses([source], "f", FLAT + (NO_LOOPS,)) == [], name


def test_relu_is_allowed_where_the_notebook_does_not_ban_it():
    """The linear notebook bans autograd and torch.nn, not relu: is x.relu() fine there?"""
    source = "def f(x):\n    return x.relu(), torch.relu(x)\n"
    assert rule_uses([source], "f", AUTOGRAD_AND_NN) == []
    assert rule_uses([source], "f", FLAT)


def test_a_helper_in_another_cell_is_followed():
    """Is F.relu inside a helper of another cell found, naming the helper and where it is used?"""
    helper = "import torch.nn.functional as F\n\ndef act(t):\n    return F.relu(t)\n"
    graded = "def f(x):\n    h = x @ x\n    return act(h)\n"
    use, *same = rule_uses([helper, graded], "f", FLAT)
    assert use.rule.key == "no_torch_relu" and [u.what for u in same] == ["torch.nn.functional.relu"]
    assert use.what == "torch.nn.functional.relu" and use.line == 4
    assert use.via == "in `act`, which `f` uses at line 3"
    assert rule_uses([helper, graded], "f", FLAT, skip={"act"}) == []  # a function the grader lends


def test_a_banned_function_kept_in_a_global_is_found():
    """OPS = {"act": torch.relu} in another cell, then OPS["act"](x): the value is read too."""
    cells = ["OPS = {'act': torch.relu}\nSCALE = 2.0\n", "def f(x):\n    return OPS['act'](x) * SCALE\n"]
    (use,) = [u for u in rule_uses(cells, "f", FLAT) if u.rule.key == "no_torch_relu"]
    assert use.what == "torch.relu" and "`OPS`" in use.via
    assert rule_uses(["SCALE = 2.0\n", "def f(x):\n    return x * SCALE\n"], "f", FLAT) == []


def test_a_helper_class_is_read_too():
    """A staticmethod holding torch.relu on a class of another cell."""
    cells = ["class H:\n    act = staticmethod(torch.relu)\n", "def f(x):\n    return H.act(x)\n"]
    assert "torch.relu" in [u.what for u in rule_uses(cells, "f", FLAT)]


def test_a_helper_made_by_exec_in_another_cell_is_found():
    """exec("def act(t): return torch.relu(t)") hides act from a reader: the exec is reported."""
    cells = ["exec('def act(t):\\n    return torch.re' + 'lu(t)')\n", "def f(x):\n    return act(x)\n"]
    (use,) = rule_uses(cells, "f", FLAT)
    assert use.what == "exec()" and use.line == 1 and "`act`" in use.via
    honest = ["print(globals().keys())\n", "def f(x):\n    return x.clamp(min=0)\n"]
    assert rule_uses(honest, "f", FLAT) == []  # the function reads nothing it could have defined


def test_a_loop_in_a_helper_breaks_vectorized():
    """Is calling the loop version from the vectorized one caught?"""
    naive = "def naive(x):\n    for i in range(3):\n        pass\n    return x\n"
    vec = "def f(x):\n    return naive(x)\n"
    (use,) = rule_uses([naive, vec], "f", (NO_LOOPS,))
    assert use.line == 2 and "naive" in use.via


def test_a_local_name_shadows_a_module_alias():
    """A parameter called F is not torch.nn.functional."""
    source = "import torch.nn.functional as F\ndef f(F, x):\n    return F.one(x), F.cross_entropy(x)\n"
    assert rule_uses([source], "f", FLAT) == []


def test_function_source_of_builtin_is_none():
    """Is an unreadable source None rather than a crash?"""
    assert function_source(len) is None
    assert "def test_function_source_of_builtin_is_none" in function_source(test_function_source_of_builtin_is_none)
