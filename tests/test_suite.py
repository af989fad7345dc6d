"""Is the suite laid out as README's Tests section says: no test module imports another (or
conftest), and every test that runs `make grade` is marked slow, so make test-fast never does?"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MODULES = sorted(TESTS.glob("test_*.py"))


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def marked_slow(decorators) -> bool:
    return any("slow" in ast.unparse(d) for d in decorators)


def calls_make_grade(fn) -> bool:
    return any(isinstance(n, ast.Call) and ast.unparse(n.func).startswith("make_grade") for n in ast.walk(fn))


def conftest_grading_fixtures() -> set[str]:
    """conftest's fixtures that run make grade (the shared class)."""
    tree = ast.parse((TESTS / "conftest.py").read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and calls_make_grade(n)}


def grading_tests(tree: ast.Module, shared: set[str] = frozenset()) -> list[str]:
    """Tests that call make_grade, directly or through a fixture (of this module, or one of
    `shared`, conftest's) that does."""
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    grading = {f.name for f in functions if calls_make_grade(f)} | set(shared)
    changed = True
    while changed:  # fixtures that use a grading fixture grade too
        changed = False
        for f in functions:
            if f.name not in grading and {a.arg for a in f.args.args} & grading:
                grading.add(f.name)
                changed = True
    return [f.name for f in functions if f.name.startswith("test_") and f.name in grading]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_test_module_imports_another_or_conftest(path):
    tree = ast.parse(path.read_text())
    wrong = {n for n in imported(tree) if n.startswith("test_") or n == "conftest"}
    assert not wrong, f"{path.name} imports {wrong}: shared helpers belong in helpers.py, fixtures in conftest.py"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_every_test_that_runs_make_grade_is_marked_slow(path):
    tree = ast.parse(path.read_text())
    module_slow = any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
                      and "slow" in ast.unparse(n.value) for n in tree.body)
    tests = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    unmarked = [t for t in grading_tests(tree, conftest_grading_fixtures()) if not module_slow and not marked_slow(tests[t].decorator_list)]
    assert not unmarked, f"{path.name}: these run make grade but are not marked slow: {unmarked}"


def test_the_grading_test_finder_can_fail():
    tree = ast.parse("def graded():\n    return make_grade('c')\n\n\ndef test_x(graded):\n    pass\n\n\n"
                     "def test_y():\n    pass\n")
    assert grading_tests(tree) == ["test_x"]
    tree = ast.parse("def rows(shared_class):\n    return 1\n\n\ndef test_z(rows):\n    pass\n")
    assert grading_tests(tree, {"shared_class"}) == ["test_z"] and "shared_class" in conftest_grading_fixtures()


def bare_noqa(source: str) -> list[int]:
    """Lines whose `# noqa: CODES` comment gives no reason after the codes (comments only:
    a noqa inside a string, e.g. a config file the code writes, is that file's business)."""
    import io
    import re
    import tokenize
    if "noqa" not in source:  # most files: no need to tokenize
        return []
    return [tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT and re.search(r"noqa(:\s*[A-Z]+[0-9]+(,\s*[A-Z]+[0-9]+)*)?\s*$", tok.string)]


@pytest.mark.parametrize("folder", ["autograder", "bench", "tests", "data"])
def test_every_noqa_says_why(folder):
    """ruff's noqa is allowed where a comment says why (issue 14): `# noqa: E402 (sys.path set above)`."""
    bare = [f"{p.relative_to(TESTS.parent)}:{n}" for p in sorted((TESTS.parent / folder).rglob("*.py"))
            for n in bare_noqa(p.read_text())]
    assert not bare, f"a noqa without a reason: {bare}"


def test_the_noqa_finder_can_fail():
    assert bare_noqa("x = 1  # noqa: E731\ny = 2  # noqa: E731  (why)\nz = '# noqa: F821'\nw = 3  # noqa\n") == [1, 4]
