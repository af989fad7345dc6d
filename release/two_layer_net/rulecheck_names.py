"""What a name in a student's cells resolves to: `F.relu` after `import torch.nn.functional as F`
is torch.nn.functional.relu, and so are `functional.relu`, `getattr(torch.nn.functional, "relu")`
and `sys.modules["torch.nn.functional"].relu`. Read by the static rules (autograder.static).
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

from .bytecache import bytes_cache

FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
# Every notebook's setup cell imports torch; the answer cells may rely on it.
BASE = {"torch": "torch"}
# Ways to reach a name that no reader can resolve when the argument is computed.
IMPORTERS = {"builtins.__import__", "importlib.import_module", "importlib.__import__"}


@bytes_cache(2_000_000)  # parse trees of at most ~2M characters of source
def parse(source: str) -> ast.Module:
    """ast.parse, once per source text: every item of a notebook reads the same cells.
    The trees are shared: read them, never change them."""
    return ast.parse(source)


def const(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class Scope:
    """Names -> what they resolve to ('torch.nn.functional'), for one function and its module."""

    def __init__(self, env: dict, functions: dict, shadowed: set = frozenset()):
        self.env, self.functions, self.shadowed = env, functions, shadowed

    def resolve(self, node) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            if node.id in self.shadowed or node.id in self.functions:
                return None
            return f"builtins.{node.id}" if hasattr(builtins, node.id) else None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript):  # sys.modules["torch"]
            if self.resolve(node.value) == "sys.modules" and (key := const(node.slice)):
                return key
            return None
        if isinstance(node, ast.Call) and node.args:
            func = self.resolve(node.func)
            if func == "builtins.getattr" and len(node.args) >= 2 and (attr := const(node.args[1])):
                base = self.resolve(node.args[0])
                return f"{base}.{attr}" if base else None
            if func in IMPORTERS and (name := const(node.args[0])):
                return name
        return None


def _imports(node, env: dict, stars: list) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                env[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                env[root] = root
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            if alias.name == "*":
                stars.append(node.module)
            else:
                env[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _top_level(tree):
    """The statements of a module outside its functions and classes (imports under if/try too)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        yield node
        if not isinstance(node, (*FUNCTION_NODES, ast.ClassDef)):
            todo[:0] = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]


@dataclass
class Module:
    """What the student's cells define at top level: aliases, functions (their node and cell)."""
    env: dict
    functions: dict   # name -> (node, cell source) of functions, classes and other values


def module_of(sources) -> Module:
    env, stars, functions = dict(BASE), [], {}
    for source in sources:
        try:
            tree = parse(source)
        except SyntaxError:
            continue
        for node in _top_level(tree):
            _imports(node, env, stars)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                functions[node.name] = (node, source)
                env.pop(node.name, None)
            elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
                for target in node.targets:
                    env.pop(target.id, None)
                    functions.pop(target.id, None)
                    if isinstance(node.value, ast.Lambda):
                        functions[target.id] = (node.value, source)
                    elif value := Scope(env, functions).resolve(node.value):
                        env[target.id] = value
                    else:  # data a function may read: OPS = {"act": torch.relu}
                        functions[target.id] = (node, source)
    for star in stars:  # from torch import *: relu means torch.relu
        for name in ("relu", "relu_", "autograd", "nn", "func", "enable_grad", "set_grad_enabled"):
            env.setdefault(name, f"{star}.{name}")
    return Module(env, functions)


def local_scope(node, module: Module) -> Scope:
    """The module's names, less those the function rebinds, plus its own aliases (m = torch)."""
    env, shadowed, stars = dict(module.env), set(), []
    args = node.args if hasattr(node, "args") else None
    if args is not None:
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                shadowed.add(a.arg)
                env.pop(a.arg, None)
    assigns = []
    for child in ast.walk(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            _imports(child, env, stars)
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            shadowed.add(child.id)
            env.pop(child.id, None)
        if isinstance(child, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and child.value is not None:
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            assigns += [(t.id, child.value) for t in targets if isinstance(t, ast.Name)]
    for _ in range(3):  # chains: a = torch; b = a.nn; c = b.functional
        for name, value in assigns:
            if resolved := Scope(env, module.functions, shadowed).resolve(value):
                env[name] = resolved
    return Scope(env, module.functions, shadowed)


