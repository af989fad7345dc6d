"""Static checks on a student's function source, by meaning: what each name resolves to.

`import torch.nn.functional as F; F.relu`, `from torch import relu as r`, `m = torch; m.relu`,
`getattr(torch, "relu")` and `sys.modules["torch"].relu` all resolve to torch.relu; a rule
(autograder.checks.rules) bans resolved names, never spellings. Functions of the student's
other cells that the graded function uses are read too.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass

from .bytecache import bytes_cache
from .names import IMPORTERS, Module, Scope, const, local_scope, module_of, parse

LOOP_NODES = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
              ast.GeneratorExp)
HIDING = {"builtins.eval", "builtins.exec", "builtins.compile", "builtins.globals",
          "builtins.vars", "builtins.locals", "operator.attrgetter", "operator.methodcaller",
          "importlib.reload"}
HIDING_ATTRS = {"__dict__", "__getattribute__", "__getattr__", "__globals__", "__builtins__"}


def function_source(fn) -> str | None:
    """The source text of fn, or None when it cannot be read."""
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None


@dataclass(frozen=True)
class Use:
    """One use of something a rule bans: what, where (line of its cell), and through which helper."""
    rule: object
    what: str
    line: int
    text: str
    call: bool = False
    via: str = ""


def _banned(rule, qualified: str) -> bool:
    if any(qualified == a or qualified.startswith(a + ".") for a in rule.allowed):
        return False
    if any(qualified == n or qualified.startswith(n + ".") for n in rule.names):
        return True
    return qualified.startswith("torch.") and bool(set(qualified.split(".")[1:]) & set(rule.parts))


def _line(source: str, lineno: int) -> str:
    lines = source.splitlines()
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def _uses_in(node, source: str, module: Module, rules) -> tuple[list, list, set]:
    """Uses of banned things in one function (or class) node; the student's functions it names;
    and the functions it calls that no cell of theirs defines where the grader can see it."""
    scope = local_scope(node, module)
    parents = {id(c): p for p in ast.walk(node) for c in ast.iter_child_nodes(p)}
    found, called, free = [], [], set()

    def add(rule, what, at, is_call=False):
        found.append(Use(rule, what, at.lineno, _line(source, at.lineno), is_call))

    for child in ast.walk(node):
        parent = parents.get(id(child))
        is_call = isinstance(parent, ast.Call) and parent.func is child
        if isinstance(child, LOOP_NODES):
            for rule in rules:
                if rule.loops:
                    add(rule, "a Python loop or comprehension", child)
        if isinstance(child, ast.Name) and child.id in module.functions and child.id not in scope.env \
                and child.id not in scope.shadowed:
            called.append((child.id, child.lineno))
        elif is_call and isinstance(child, ast.Name) and scope.resolve(child) is None \
                and child.id not in scope.shadowed and child.id not in module.functions:
            free.add(child.id)  # a function no cell of theirs defines (the notebook's own, or exec's)
        if isinstance(child, ast.keyword) and child.arg:
            literal_false = isinstance(child.value, ast.Constant) and child.value.value is False
            for rule in rules:
                if child.arg in rule.keywords and not literal_false:
                    add(rule, f"{child.arg}=", child.value)
        if not isinstance(child, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
            continue
        qualified = scope.resolve(child)
        inner = isinstance(parent, ast.Attribute) and parent.value is child and qualified is not None
        if qualified and not inner:
            for rule in rules:
                if _banned(rule, qualified):
                    add(rule, qualified, child, is_call)
        if isinstance(child, ast.Attribute) and scope.resolve(child.value) is None:
            for rule in rules:  # a method of a value the grader cannot name: x.relu(), loss.backward()
                if child.attr in rule.parts:
                    add(rule, f".{child.attr}" + ("()" if is_call else ""), child, is_call)
        if isinstance(child, ast.Attribute) and child.attr in HIDING_ATTRS:
            for rule in rules:
                if rule.hidden:
                    add(rule, child.attr, child)
        if isinstance(child, ast.Call):
            func = scope.resolve(child.func)
            computed = (func == "builtins.getattr" and not (len(child.args) >= 2 and const(child.args[1]))) \
                or (func in IMPORTERS and not (child.args and const(child.args[0])))
            if computed or func in HIDING:
                for rule in rules:
                    if rule.hidden:
                        add(rule, f"{func.split('.')[-1]}()" + (" with a computed name" if computed else ""), child)
        if isinstance(child, ast.Subscript) and scope.resolve(child.value) == "sys.modules" \
                and not const(child.slice):
            for rule in rules:
                if rule.hidden:
                    add(rule, "sys.modules[...] with a computed name", child)
    return found, called, free


def _hidden_definitions(sources, module: Module) -> list[tuple]:
    """(line, text, what) of top-level statements that may define names unseen: exec("def act..."),
    globals()["act"] = ..., setattr(module, ...)."""
    scope, out = Scope(module.env, module.functions), []
    for source in sources:
        try:
            tree = parse(source)
        except SyntaxError:
            continue
        for stmt in tree.body:
            if isinstance(stmt, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for c in ast.walk(stmt):
                    if isinstance(c, ast.Call) and (f := scope.resolve(c.func)) in HIDING | {"builtins.setattr"}:
                        out.append((stmt.lineno, _line(source, stmt.lineno), f"{f.split('.')[-1]}()"))
    return out


def rule_uses(sources, name: str, rules, skip=(), source: str | None = None) -> list[Use]:
    """Every use that breaks one of `rules` in function `name` and the student's functions it uses.

    sources: the student's cells (the last top-level definition of a name wins); source: the
    function's own text when it is not in them (a function in this process). skip: names whose
    student version is not what runs (the grader lends its own during the call).
    """
    rules = tuple(rules)
    if not rules:
        return []
    module = module_of(list(sources))
    if name in module.functions:
        node, text = module.functions[name]
    elif source is not None:
        try:
            tree = parse(source)
        except SyntaxError:
            return []
        defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if not defs:
            return []
        node, text = defs[0], source
        module = module_of([*sources, source])
    else:
        return []
    found, seen, todo, free = [], {name, *skip}, [(node, text, name, "")], set()
    while todo:
        node, text, owner, via = todo.pop(0)
        uses, called, unseen = _uses_in(node, text, module, rules)
        found += [Use(u.rule, u.what, u.line, u.text, u.call, via) for u in uses]
        free |= unseen
        for helper, at in called:
            if helper not in seen and len(seen) < 50:
                seen.add(helper)
                hnode, htext = module.functions[helper]
                todo.append((hnode, htext, helper, f"in `{helper}`, which `{owner}` uses at line {at}"))
    for rule in [r for r in rules if r.hidden and free]:  # a name it reads may come from exec(...)
        names = ", ".join(f"`{n}`" for n in sorted(free)[:3])
        found += [Use(rule, what, line, text, via=f"at the top of a cell, where {names} may come from")
                  for line, text, what in _hidden_definitions(sources, module)]
    unique = {(u.rule.key, u.what, u.line, u.via): u for u in found}
    return sorted(unique.values(), key=lambda u: (bool(u.via), u.line))


def rules_message(name: str, rules, uses) -> str | None:
    """The grader's message for the uses found (rule_uses), or None: the first rule broken in
    `rules` order (the most specific first), up to three of its uses, how many other rules.
    The notebooks' check_rules (rulecheck.py) prints this same message."""
    if not uses:
        return None
    rule = next(r for r in rules if any(u.rule is r for u in uses))
    same = [u for u in uses if u.rule is rule][:3]
    verb = "call" if all(u.call for u in same) else "use"
    whats = [w if " " in w else f"`{w}`" for w in dict.fromkeys(u.what for u in same)]  # code in backticks
    where = "; ".join(f"line {u.line}" + (f" `{u.text}`" if u.text else "") + (f" ({u.via})" if u.via else "")
                      for u in same)
    shown = {(s.line, s.what, s.via) for s in same}
    more = len({u.rule.key for u in uses if (u.line, u.what, u.via) not in shown} - {rule.key})
    return (f"`{name}` may not {verb} " + ", ".join(whats)
            + f" ({rule.reason}): {where}" + (f" (and breaks {more} more rule{'s' * (more > 1)})" if more else ""))


def loops(source: str) -> list[str]:
    """Descriptions of every Python loop or comprehension in the function, e.g. 'line 5: for'."""
    nodes = [n for n in ast.walk(_function_node(source)) if isinstance(n, LOOP_NODES)]
    found = []
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
        text = ast.get_source_segment(source, node) or type(node).__name__
        found.append(f"line {node.lineno}: {text.splitlines()[0].strip()}")
    return found


def _function_node(source: str):
    """The first function or class defined in source (all of it, methods included)."""
    tree = parse(source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node
    return tree


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
