"""Grade one Gradescope submission: /autograder/submission/*.ipynb -> /autograder/results/results.json.

    python -m autograder.gradescope.resultsjson --assignment A [--root /autograder]

The answer cells of the submitted notebook run in the clean room (autograder.cleanroom); the
given cells, helper files and points come from the bundle's own copy of the source notebook,
never from the submission. Every item is one Gradescope test, hidden until the due date
(its message says what is wrong); a notebook that cannot be read still gets a results file
that says why. Nothing here needs nbgrader.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from ..checks import items
from ..checks import given as given_cells
from ..cleanroom.runner import grade_notebook
from ..cleanroom.session import Limits
from ..cleanroom.zygote import Zygote
from ..submission import find_notebook
from ..verdict import PASSED

ITEM_VISIBILITY = "after_due_date"  # the hidden tests' verdicts: shown after the deadline


def nbgrader_cells(nb: dict) -> dict:
    """grade_id -> cell, for the cells nbgrader marked (first copy of a duplicated id)."""
    cells = {}
    for cell in nb.get("cells", []):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid and gid not in cells and cell.get("cell_type") == "code":
            cells[gid] = cell
    return cells


def text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def grade(root: Path, assignment: str, bundle: Path, limits: Limits | None = None) -> dict:
    """The results.json content for the submission under root."""
    source = json.loads((bundle / f"{assignment}.ipynb").read_text())
    trusted = nbgrader_cells(source)
    points = {name: float(trusted[name]["metadata"]["nbgrader"]["points"]) for name in items(assignment)}
    path, problem = find_notebook(root / "submission", assignment)
    if path is None:
        return failed(points, problem)
    note = f"graded {path.name} (expected the name {assignment}.ipynb)" if path.name != f"{assignment}.ipynb" else ""
    try:
        submitted = json.loads(path.read_text())
        answers = {gid: text(c) for gid, c in nbgrader_cells(submitted).items()
                   if c["metadata"]["nbgrader"].get("solution")}
    except (ValueError, OSError, KeyError, TypeError, AttributeError) as exc:
        return failed(points, f"the notebook could not be read ({type(exc).__name__}: {exc}); "
                              "is it a valid .ipynb file?")
    given = {gid: text(trusted[gid]) for gid in given_cells(assignment)}
    files = {p.name: p.read_bytes() for p in sorted(bundle.iterdir()) if p.suffix == ".py"}
    zygote = Zygote()
    try:
        result = grade_notebook(assignment, answers, given, files, zygote, limits)
    finally:
        zygote.close()
    tests = [{"name": name, "score": points[name] if v.status == PASSED else 0.0, "max_score": points[name],
              "status": "passed" if v.status == PASSED else "failed", "output": f"[{v.status}] {v.message}",
              "visibility": ITEM_VISIBILITY} for name, v in result.verdicts.items()]
    notes = [note] if note else []
    notes += result.notes
    return {"score": sum(t["score"] for t in tests), "tests": tests, "visibility": "visible",
            "stdout_visibility": "hidden",
            "output": "Your functions were run on the grader's own inputs and compared with its float64 "
                      "numerics. Per-function results appear after the due date; written answers are "
                      "graded by hand." + ("\n" + "\n".join(notes) if notes else "")}


def failed(points: dict, reason: str) -> dict:
    """Every item at 0 with the reason: what a student sees instead of an autograder error."""
    tests = [{"name": name, "score": 0.0, "max_score": p, "status": "failed", "output": f"[error] {reason}",
              "visibility": "visible"} for name, p in points.items()]
    return {"score": 0.0, "tests": tests, "visibility": "visible", "output": f"Not graded: {reason}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--root", default="/autograder", help="Gradescope's /autograder (a folder in tests)")
    parser.add_argument("--bundle", default=None, help="the bundle's assignment folder (default ROOT/source/assignment)")
    args = parser.parse_args()
    root = Path(args.root)
    bundle = Path(args.bundle) if args.bundle else root / "source" / "assignment"
    start = time.monotonic()
    try:
        results = grade(root, args.assignment, bundle)
    except Exception:  # noqa: BLE001 (always leave a results file that says what happened)
        traceback.print_exc()
        results = {"tests": [], "visibility": "visible",  # no score: a failure is not a zero
                   "output": "The autograder itself failed on this submission; your instructor has been "
                             "told (this is not a grade). " + traceback.format_exc(limit=1).strip().splitlines()[-1]}
    results["execution_time"] = round(time.monotonic() - start, 2)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
