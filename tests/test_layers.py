"""Do imports between the autograder's layers run one way only (read from each module's source)?

The layers, bottom up: base modules (paths, verdicts, numeric gradients, source reading) import
no package; checks import base; the clean room and the corpus import checks; the contract reads
checks and corpus; grading drives the clean room and asks the contract; the report reads
grading's CSV records; the pipeline (grading's list of steps, report included) and the command
line sit on top. A module of any new package or top-level file must be placed here first.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"

BASE = {"__init__", "bytecache", "calls", "cells", "gradcheck", "layout", "names", "static",
        "submission", "verdict"}

# layer -> the layers its modules may import (its own layer always allowed)
ALLOWED = {
    "base": set(),
    "checks": {"base"},
    "kernel": {"base", "checks"},            # the hidden tests' entry point in nbgrader's kernel
    "release": {"base", "checks", "rulecheck"},  # writes the rules tables and the shipped rule table
    "rulecheck": {"base", "checks"},         # shipped: the grader's rule modules, beside the notebook
    "cleanroom": {"base", "checks"},
    "corpus": {"base", "checks"},
    "contract": {"base", "checks", "corpus"},
    "grading": {"base", "checks", "cleanroom", "contract"},
    "report": {"base", "grading"},           # reads grading's CSV records (csvcells, itemrows)
    "gradescope": {"base", "checks", "cleanroom"},
    "pipeline": {"base", "checks", "cleanroom", "contract", "grading", "report"},
    "main": {"base", "checks", "cleanroom", "corpus", "contract", "grading", "report", "gradescope", "rulecheck",
             "release", "pipeline"},
}


def layer(module: tuple[str, ...]) -> str:
    """The layer of a module named by its path below autograder/ (('grading', 'pipeline'))."""
    if module == ("grading", "pipeline"):
        return "pipeline"
    if module == ("__main__",):
        return "main"
    if len(module) == 1:
        return "base" if module[0] in BASE else module[0]
    return module[0]


def modules() -> dict[tuple[str, ...], Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts] = path
    return out


def imported(module: tuple[str, ...], path: Path) -> set[tuple[str, ...]]:
    """The autograder modules one module imports (anywhere in it, functions included)."""
    package = module if path.name == "__init__.py" else module[:-1]
    known, out = modules(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
            elif (node.module or "").split(".")[0] == "autograder":
                base = ()
            else:
                continue
            target = base + tuple((node.module or "").split(".")[int(not node.level):] if node.module else ())
            # `from . import x`: x is a module when there is one of that name
            subs = [target + (a.name,) for a in node.names if target + (a.name,) in known]
            out.update(subs or [target])
        elif isinstance(node, ast.Import):
            out.update(tuple(a.name.split(".")[1:]) for a in node.names
                       if a.name.split(".")[0] == "autograder")
    return {t for t in out if t and t != module}


def test_every_module_has_a_layer():
    """A new package or top-level module must be placed in the table first."""
    unknown = {".".join(m) for m in modules() if layer(m) not in ALLOWED}
    assert not unknown, f"place these in tests/test_layers.py ALLOWED: {sorted(unknown)}"


def test_the_table_has_no_cycle():
    """A layer never allows one that allows it back (directly or through others)."""
    def reach(start, seen=()):
        for nxt in ALLOWED[start] - {start}:
            if nxt in seen:
                continue
            yield nxt
            yield from reach(nxt, seen + (nxt,))
    for name in ALLOWED:
        assert name not in set(reach(name)), name


@pytest.mark.parametrize("module", sorted(modules()), ids=lambda m: ".".join(m))
def test_imports_run_down_only(module):
    path = modules()[module]
    mine = layer(module)
    wrong = sorted(".".join(t) for t in imported(module, path) if layer(t) not in ALLOWED[mine] | {mine})
    assert not wrong, f"autograder.{'.'.join(module)} ({mine}) imports {wrong}: allowed {sorted(ALLOWED[mine])}"


def test_the_scan_sees_a_wrong_import(tmp_path):
    """The scanner itself: an import that runs up is found, one that runs down is not."""
    (tmp_path / "x.py").write_text("from ..cleanroom.codec import ProtocolError\nfrom ..verdict import ERROR\n"
                                   "def f():\n    from autograder.report import build\n")
    found = imported(("checks", "x"), tmp_path / "x.py")
    assert ("cleanroom", "codec") in found and ("verdict",) in found and ("report", "build") in found
