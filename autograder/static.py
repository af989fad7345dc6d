"""Static checks on a student's function source: loops, autograd, torch.nn."""
from __future__ import annotations

import ast
import inspect
import textwrap

from .bytecache import bytes_cache

LOOP_NODES = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
              ast.GeneratorExp)
# Flat backprop means writing the backward pass by hand.
BANNED_ATTRIBUTES = {"backward": "autograd (.backward())", "autograd": "torch.autograd",
                     "requires_grad": "autograd (requires_grad)",
                     "requires_grad_": "autograd (requires_grad_)", "grad": "autograd (.grad)",
                     "nn": "torch.nn", "func": "torch.func"}
BANNED_CALLS = {"relu": "torch.relu"}
# Names that can reach autograd without spelling it (getattr(torch, "auto" + "grad")).
DYNAMIC = {"getattr", "setattr", "eval", "exec", "compile", "__import__", "globals", "vars",
           "importlib", "__dict__", "__getattribute__", "autograd"}


@bytes_cache(2_000_000)  # parse trees of at most ~2M characters of source
def parse(source: str) -> ast.Module:
    """ast.parse, once per source text: every item of a notebook reads the same cells.
    The trees are shared: read them, never change them."""
    return ast.parse(source)


def function_source(fn) -> str | None:
    """The source text of fn, or None when it cannot be read."""
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None


def _function_node(source: str):
    """The first function or class defined in source (all of it, methods included)."""
    tree = parse(source)
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
        elif isinstance(node, (ast.Name, ast.Attribute)) and getattr(node, "id", getattr(node, "attr", "")) in DYNAMIC:
            name = getattr(node, "id", None) or node.attr
            found.append(f"line {node.lineno}: {name} (dynamic access hides what is called; not allowed here)")
    return found


def definition_source(sources: list[str], name: str) -> str | None:
    """Source of the last top-level def/class `name` in the given cell sources, else None."""
    found = None
    for source in sources:
        try:
            found = _definitions(source).get(name, found)
        except SyntaxError:
            continue
    return textwrap.dedent(found) if found else None


@bytes_cache(4_000_000)
def _definitions(source: str) -> dict[str, str]:
    """name -> source text (decorators included) of each top-level def/class; the last wins."""
    out = {}
    for node in parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = ast.get_source_segment(source, node, padded=True)
            if node.decorator_list:
                first = min(d.lineno for d in node.decorator_list)
                text = "\n".join(source.splitlines()[first - 1:node.end_lineno])
            out[node.name] = text
    return out


DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
               ast.Assign, ast.AnnAssign)


def definitions_only(source: str) -> str:
    """The imports, functions, classes and assignments of a cell, without its demos and prints."""
    lines = source.splitlines()
    kept = []
    for node in parse(source).body:
        if isinstance(node, DEFINITIONS):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            kept.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n".join(kept) + "\n"


def top_level_names(source: str) -> list[str]:
    """Names of the functions and classes a cell defines at top level."""
    try:
        tree = parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
