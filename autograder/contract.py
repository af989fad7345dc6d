"""The assignment contract: what ties assignments/<a>/<a>.ipynb to its two modules.

An assignment is three files found by name: the notebook, autograder/checks/<a>.py (ITEMS: the
graded items; GIVEN: the trusted given cells) and autograder/corpus/<a>.py (ENTRIES, DEMO).
Nothing else lists it. The contract says they agree:

- cells: every auto-graded grade cell has a check, every check has a grade cell and an answer
  cell `<item>_code` (an nbgrader solution cell); every GIVEN id is a read-only code cell
  (nbgrader grades a grade cell that no check claims as full marks: it must never pass unseen);
- points: the grade cells' nbgrader metadata is the one truth (nbgrader scores with it; the
  checks hold no points). The text must agree with it: the grade cell's own line "(N points)",
  each "## Part k: ... (N points)" heading (the sum of the part's grade cells), the intro's
  "| Part | ... | Points |" table, and each "**Question (N points)**" (the answer cell after it);
- corpus: a reference ("ok-reference", fails nothing), the untouched release ("blank-release",
  fails every item), at least one realistic bug ("bug-...") failing each item, DEMO names entries.

`make grade` runs the cheap part (`refusal`: cells and points, one JSON read, no corpus import)
and refuses an assignment that breaks it, fail closed. The corpus part needs the corpus (and the
reference solutions); the tests and `python -m autograder contract` run it (`problems`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType

from . import checks, corpus
from .layout import SOURCE

REFERENCE, BLANK, BUG = "ok-reference", "blank-release", "bug-"

GRADER_LINE = re.compile(r"Grader check for `([^`]+)` \((\d+) points?\)")
PART = re.compile(r"^#+\s*Part (\w+)\b.*\((\d+)(?: bonus)? points?\)\s*$", re.M)
TABLE_ROW = re.compile(r"^\|\s*(\w+)\s*\|.*\|\s*(\d+)\s*\|\s*$", re.M)
QUESTION = re.compile(r"\*\*Question(?: [A-Z])? \((\d+) points?\)")


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _is_autograded(cell: dict) -> bool:
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def load(assignment: str, notebook: dict | Path | None = None) -> dict:
    """The assignment's source notebook (or a given one: a dict, or a path)."""
    if isinstance(notebook, dict):
        return notebook
    return json.loads(Path(notebook or SOURCE / assignment / f"{assignment}.ipynb").read_text())


def autograded_ids(notebook: dict) -> list[str]:
    """grade_ids of the auto-graded test cells: code cells with grade and no solution."""
    return [_meta(c).get("grade_id") for c in notebook.get("cells", []) if _is_autograded(c)]


def cell_problems(assignment: str, notebook: dict, items: dict, given: tuple) -> list[str]:
    """Grade cells, checks, answer cells and given cells pair up."""
    where = f"autograder/checks/{assignment}.py"
    graded = autograded_ids(notebook)
    cells = {_meta(c).get("grade_id"): c for c in notebook.get("cells", []) if _meta(c)}
    out = [f"grade cell {gid!r} has no check in {where}: it would give full marks unchecked"
           for gid in graded if gid not in items]
    for name, item in items.items():
        if name not in graded:
            out.append(f"check {name!r} ({where}) has no grade cell {name!r} in the notebook: "
                       "it could give no points")
        answer = cells.get(f"{name}_code")
        if answer is None or not _meta(answer).get("solution") or answer.get("cell_type") != "code":
            out.append(f"check {name!r} has no answer cell {name + '_code'!r} (an nbgrader solution "
                       "code cell) in the notebook: the clean room would find no student code for it")
        if getattr(item, "name", name) != name:
            out.append(f"check {name!r} is an Item named {item.name!r}: messages would name the wrong function")
    for gid in given:
        cell = cells.get(gid)
        if cell is None:
            out.append(f"given cell {gid!r} (GIVEN in {where}) is no cell of the notebook")
        elif cell.get("cell_type") != "code" or _meta(cell).get("solution") or not _meta(cell).get("locked"):
            out.append(f"given cell {gid!r} (GIVEN in {where}) is not a read-only code cell: "
                       "the clean room runs it as the grader's own, trusted code")
    return out


def point_problems(notebook: dict) -> list[str]:
    """The notebook's text states the points its grade cells' metadata gives."""
    out, parts, part, question = [], {}, None, None
    for cell in notebook.get("cells", []):
        meta, text = _meta(cell), _text(cell)
        if cell.get("cell_type") == "markdown" and (heading := PART.search(text)):
            part = heading.group(1)
            parts[part] = [int(heading.group(2)), 0]
        if cell.get("cell_type") == "markdown" and not meta.get("grade") and (asked := QUESTION.search(text)):
            question = int(asked.group(1))
        if not meta.get("grade"):
            continue
        gid, points = meta.get("grade_id"), meta.get("points")
        if not isinstance(points, (int, float)) or points <= 0:
            out.append(f"grade cell {gid!r} has points {points!r} in its metadata: a grade cell needs points > 0")
            continue
        if part is not None:
            parts[part][1] += points
        if _is_autograded(cell):
            line = GRADER_LINE.search(text)
            if line is None:
                out.append(f"grade cell {gid!r} does not start with 'Grader check for `{gid}` (N points)'")
            elif line.group(1) != gid or int(line.group(2)) != points:
                out.append(f"grade cell {gid!r} says {line.group(0)!r}, its metadata gives "
                           f"{_points(points)} to {gid!r}")
        elif question is not None:
            if question != points:
                out.append(f"the question before answer cell {gid!r} says {_points(question)}, "
                           f"its metadata gives {_points(points)}")
            question = None
    for number, (stated, total) in parts.items():
        if stated != total:
            out.append(f"Part {number}'s heading says {_points(stated)}, its grade cells give {_points(total)}")
    table = next((TABLE_ROW.findall(_text(c)) for c in notebook.get("cells", [])
                  if "| Part |" in _text(c)), [])
    for number, stated in table:
        if number not in parts:
            out.append(f"the points table has a row for Part {number}, the notebook has no such part")
        elif int(stated) != parts[number][1]:
            out.append(f"the points table gives Part {number} {_points(int(stated))}, "
                       f"its grade cells give {_points(parts[number][1])}")
    if table:
        missing = [n for n, (_, total) in parts.items() if total and n not in dict(table)]
        out += [f"the points table has no row for Part {n}" for n in missing]
    return out


def _points(n) -> str:
    return f"{n:g} point" + ("" if n == 1 else "s")


def corpus_problems(assignment: str, items: dict, module: ModuleType) -> list[str]:
    """The corpus has a reference, a blank release, a bug per item, and a demo of its entries."""
    where = f"autograder/corpus/{assignment}.py"
    entries = {e.name: e for e in getattr(module, "ENTRIES", [])}
    out = []
    if REFERENCE not in entries or entries[REFERENCE].fails:
        out.append(f"{where} has no entry {REFERENCE!r} that fails nothing (the reference solution)")
    blank = entries.get(BLANK)
    if blank is None or not blank.untouched or set(blank.fails) != set(items):
        out.append(f"{where} has no entry {BLANK!r}: the untouched release, failing every item")
    for name in items:
        if not any(n.startswith(BUG) and name in e.fails for n, e in entries.items()):
            out.append(f"{where} has no bug entry for {name!r} (an Entry named '{BUG}...' whose fails include it)")
    out += [f"{where}: entry {name!r} fails {bad!r}, which is no check"
            for name, e in entries.items() for bad in e.fails if bad not in items]
    out += [f"{where}: DEMO names {name!r}, which is no entry" for name in getattr(module, "DEMO", [])
            if name not in entries]
    return out


def _modules(assignment: str, checks_module=None) -> tuple[ModuleType | None, list[str]]:
    if checks_module is not None:
        return checks_module, []
    try:
        return checks.module(assignment), []
    except KeyError:
        return None, [f"{assignment} has no checks (autograder/checks/{assignment}.py defining ITEMS and GIVEN)"]


def notebook_problems(assignment: str, notebook=None, checks_module=None) -> list[str]:
    """The cheap part, run by `make grade`: cells and points."""
    found, out = _modules(assignment, checks_module)
    try:
        nb = load(assignment, notebook)
    except (OSError, ValueError) as exc:
        return out + [f"{assignment}'s notebook cannot be read ({type(exc).__name__}: {exc})"]
    if found is not None:
        out += cell_problems(assignment, nb, found.ITEMS, tuple(getattr(found, "GIVEN", ())))
    return out + point_problems(nb)


def problems(assignment: str, notebook=None, checks_module=None, corpus_module=None) -> list[str]:
    """Everything that breaks the contract (the tests and `python -m autograder contract`)."""
    out = notebook_problems(assignment, notebook, checks_module)
    found, _ = _modules(assignment, checks_module)
    if found is None:
        return out
    if corpus_module is None:
        try:
            corpus_module = corpus.module(assignment)
        except (KeyError, ModuleNotFoundError):
            return out + [f"{assignment} has no corpus (autograder/corpus/{assignment}.py defining ENTRIES and DEMO)"]
    return out + corpus_problems(assignment, found.ITEMS, corpus_module)


def refusal(assignment: str, notebook=None) -> str | None:
    """Why `make grade` refuses the assignment (None when its cells and points agree)."""
    found = notebook_problems(assignment, notebook)
    return f"the grader refuses to grade {assignment}: " + "; ".join(found) if found else None
