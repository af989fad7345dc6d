"""Compile a student's cells as their kernel does, and say where in them an error happened.

IPython compiles each cell with dont_inherit (never with the flags of the module that runs it)
and remembers the __future__ imports of earlier cells. It keeps the cell's text in linecache,
so that tracebacks show the line. The clean room does the same, so a cell fails here exactly
when it fails in the student's kernel.
"""
from __future__ import annotations

import __future__
import linecache
import platform
import re
import sys
import traceback

PREFIX = "<cell "
FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag


class CellCompiler:
    """compile() for notebook cells: no inherited flags, __future__ imports carried to later cells."""

    def __init__(self):
        self.flags = 0

    def __call__(self, source: str, cell: str):
        filename = f"{PREFIX}{cell}>"
        # registered before compiling: a SyntaxError's traceback shows the line too
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = compile(source, filename, "exec", self.flags, dont_inherit=True)
        self.flags |= code.co_flags & FUTURE_FLAGS
        return code


def cell_of(filename: str) -> str | None:
    """The cell id of a compiled cell's file name, None for other files."""
    if filename.startswith(PREFIX) and filename.endswith(">"):
        return filename[len(PREFIX):-1]
    return None


def describe_frame(frame) -> str:
    """'in f, cell svm_naive_code line 22: `margins[j] = ...`' for a traceback.FrameSummary."""
    cell = cell_of(frame.filename)
    place = f"cell {cell} line {frame.lineno}" if cell else f"{frame.filename} line {frame.lineno}"
    inside = f"in {frame.name}, " if frame.name != "<module>" else ""
    text = (frame.line or "").strip()
    return f"{inside}{place}" + (f": `{text}`" if text else "")


def student_frame(exc: BaseException, own=lambda filename: False) -> str:
    """The deepest frame of the traceback in the student's own code: a cell, else a file that
    `own` says is the student's (an in-process notebook); never torch's or the grader's."""
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        mine = [f for f in frames if cell_of(f.filename)] or [f for f in frames if own(f.filename)]
        return describe_frame(mine[-1]) if mine else ""
    except Exception:  # noqa: BLE001 (a forged traceback: no place rather than no verdict)
        return ""


# Syntax newer than the grader's Python, as Colab and recent Jupyter installs accept it.
NEWER = ((re.compile(r"^\s*type\s+[A-Za-z_]\w*\s*(\[.*\])?\s*="), "3.12",
          "a `type X = ...` alias (PEP 695)", "write `X = ...` (or `X: TypeAlias = ...`)"),
         (re.compile(r"^\s*(async\s+)?(def|class)\s+\w+\s*\["), "3.12",
          "generic parameters in brackets (PEP 695)", "drop the `[T]` and use `typing.TypeVar`"))


FSTRING = re.compile(r"""(?i)(?<!\w)(?:rf|fr|f)('''|\"\"\"|'|")""")


def _reuses_quotes(line: str) -> bool:
    """Does an f-string on this line hold its own quote, a backslash or a # inside {}? (PEP 701)"""
    for start in FSTRING.finditer(line):
        quote, i, depth = start.group(1), start.end(), 0
        while i < len(line) and not (depth == 0 and line.startswith(quote, i)):
            if depth == 0 and line.startswith("{{", i):
                i += 2
                continue
            if line[i] == "{":
                depth += 1
            elif line[i] == "}" and depth:
                depth -= 1
            elif depth and (line[i] == quote[0] or line[i] in "\\#"):
                return True
            i += 1
    return False


def newer_syntax(exc: SyntaxError) -> str:
    """A hint when a SyntaxError comes from syntax newer than this Python, else ''."""
    here = f"Python {platform.python_version()}"
    if sys.version_info >= (3, 12):
        return ""
    line, message = exc.text or "", str(exc.msg or "")
    if "f-string" in message and _reuses_quotes(line):
        return (f"this f-string needs Python 3.12 (quotes of the same kind, a backslash or a # inside "
                f"its braces); the notebook is graded with {here}: use the other kind of quote inside "
                "the braces, e.g. f\"{d['key']}\", and move backslashes out of them")
    for pattern, version, what, instead in NEWER:
        if pattern.search(line):
            return f"{what} needs Python {version}; the notebook is graded with {here}: {instead}"
    return ""
