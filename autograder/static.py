"""Static checks on a student's function source: loops, autograd, torch.nn."""
from __future__ import annotations

import ast
import inspect
import textwrap

LOOP_NODES = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
              ast.GeneratorExp)
# Flat backprop means writing the backward pass by hand.
BANNED_ATTRIBUTES = {"backward": "autograd (.backward())", "autograd": "torch.autograd",
                     "requires_grad": "autograd (requires_grad)",
                     "requires_grad_": "autograd (requires_grad_)", "grad": "autograd (.grad)",
                     "nn": "torch.nn", "func": "torch.func"}
BANNED_CALLS = {"relu": "torch.relu"}


def function_source(fn) -> str | None:
    """The source text of fn, or None when it cannot be read."""
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None


def _function_node(source: str):
    """The first function or class defined in source (all of it, methods included)."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node
    return tree


def loops(source: str) -> list[str]:
    """Descriptions of every Python loop or comprehension in the function, e.g. 'line 5: for'."""
    nodes = [n for n in ast.walk(_function_node(source)) if isinstance(n, LOOP_NODES)]
    found = []
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
        text = ast.get_source_segment(source, node) or type(node).__name__
        found.append(f"line {node.lineno}: {text.splitlines()[0].strip()}")
    return found


def banned_uses(source: str) -> list[str]:
    """Descriptions of autograd / torch.nn / torch.relu uses in the function."""
    found = []
    for node in ast.walk(_function_node(source)):
        if isinstance(node, ast.Attribute) and node.attr in BANNED_ATTRIBUTES:
            found.append(f"line {node.lineno}: {BANNED_ATTRIBUTES[node.attr]}")
        elif isinstance(node, ast.Attribute) and node.attr in BANNED_CALLS:
            found.append(f"line {node.lineno}: {BANNED_CALLS[node.attr]}")
    return found
