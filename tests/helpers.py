"""Plain helpers shared by the test modules (not a test module: pytest collects test_*.py only).

Fixtures live in conftest.py; what a test module imports lives here, so no test module imports
another. wire_tasks.py stays apart: the watchdog pool's spawned workers import it, and they
must not import torch (their memory is what those tests measure).
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from unittest import mock

import torch
from hypothesis import strategies as st

from autograder.grading.itemrows import COLUMNS
from autograder.layout import REPO, SOURCE

HOSTILE = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("evil.example";"open")'


# --- points, read from the source notebook's nbgrader metadata ------------------------------

def grade_cells(assignment: str) -> list[dict]:
    nb = json.loads((SOURCE / assignment / f"{assignment}.ipynb").read_text())
    return [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]


def item_points(assignment: str) -> dict[str, float]:
    """grade_id -> points of every grade cell, as the notebook's metadata states them."""
    return {c["metadata"]["nbgrader"]["grade_id"]: float(c["metadata"]["nbgrader"]["points"])
            for c in grade_cells(assignment)}


def total_points(assignment: str, written: bool = True) -> float:
    """The notebook's total; written=False leaves out the written answers (graded by hand),
    i.e. what the autograder alone can give."""
    return sum(float(c["metadata"]["nbgrader"]["points"]) for c in grade_cells(assignment)
               if written or c["cell_type"] == "code")


def manual_items(assignment: str) -> set[str]:
    """grade_ids of the written answers (markdown grade cells) of an assignment."""
    return {c["metadata"]["nbgrader"]["grade_id"] for c in grade_cells(assignment) if c["cell_type"] == "markdown"}


# --- make grade and what it writes -----------------------------------------------------------

def make_grade(course, *extra):
    return subprocess.run(["make", "-s", "grade", f"COURSE={course}", *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=1800)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def assert_exact_outcome(entry, checks, assignment, manual=("not_run", "error")):
    """Its own items: the expected status, score 0 and the expected words; all others: full
    marks; written answers (graded by hand): one of `manual`."""
    mine = {item: row for (student, item), row in checks.items() if student == entry.name}
    assert mine, f"no rows for {entry.name}"
    for item, row in mine.items():
        if item in manual_items(assignment):
            assert row["status"] in manual, row
        elif item in entry.expected():
            assert row["status"] == entry.expected()[item] and float(row["score"]) == 0, row
            assert entry.messages.get(item, "").lower() in row["message"].lower(), row
        else:
            assert row["status"] == "passed" and row["score"] == row["max_score"], (entry.name, row)


def checkout_zygotes(own: bool = False) -> list[str]:
    """Clean-room zygotes run by this checkout's interpreter (REPO/.venv): a grading in another
    checkout on the same machine is none of our business. own=False leaves out the zygotes
    this test process started itself (the session's)."""
    venv = str(REPO / ".venv") + os.sep
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().decode(errors="replace").split("\0")
            with open(f"/proc/{pid}/stat") as fh:  # the field after the ")" of the name: state, ppid
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if "autograder.cleanroom.zygote" in argv and argv[0].startswith(venv) and (own or ppid != os.getpid()):
            found.append(f"{pid}: {' '.join(argv)[:200]}")
    return found


# --- the shared class: one make grade serves several modules (conftest's shared_class) ----

def real_code_class() -> tuple[list, list]:
    """test_real_code's students: (packs of real-code variants, rules variants), each a list of
    (assignment, entry)."""
    from autograder.corpus import real_code
    from autograder.corpus.notebooks import pack
    packs = [(a, p) for a in real_code.ENTRIES for p in pack(real_code.entries(a, rules=False), prefix=f"rc-{a[:3]}")]
    return packs, [(a, e) for a, entries in real_code.RULES.items() for e in entries]


def rule_variants_class() -> list:
    """test_rule_variants' students: the rule variants packed, (assignment, packed entry)."""
    from autograder.corpus.notebooks import pack
    from autograder.corpus.rule_variants import ENTRIES
    return [(a, e) for a, entries in ENTRIES.items() for e in pack(entries, prefix=f"rules-{a}")]


def pages_class() -> list:
    """test_pages_browser's students: the XSS payloads and an honest student."""
    from autograder.corpus import entries
    from autograder.corpus.attacks_intake import A, XSS
    return [(A, e) for e in XSS + [e for e in entries(A) if e.name == "ok-reference"]]


def report_class() -> list:
    """test_report_browser's students: four linear_classifiers notebooks (one correct, two bugs,
    one of them under an id that is HTML, the blank release under an id that is a spreadsheet
    formula) and one backprop_basics notebook, so its other assignments count as not submitted."""
    import dataclasses

    from autograder.corpus import entries

    def entry(assignment, name):
        return next(e for e in entries(assignment) if e.name == name)
    a = "linear_classifiers"
    return [(a, entry(a, "ok-reference")), (a, entry(a, "bug-svm-vec-no-reg-in-loss")),
            (a, dataclasses.replace(entry(a, "bug-softmax-naive-missing-minus-one"), name=HOSTILE)),
            (a, dataclasses.replace(entry(a, "blank-release"), name=FORMULA)),
            ("backprop_basics", entry("backprop_basics", "ok-reference"))]


def shared_class() -> list:
    """Every student of the shared class (all in the default configuration), each (assignment,
    student) once: the modules' lists may share an honest student."""
    packs, rules = real_code_class()
    students = {}
    for assignment, entry in packs + rules + rule_variants_class() + pages_class() + report_class():
        assert students.setdefault((assignment, entry.name), entry) == entry, (assignment, entry.name)
    return [(a, e) for (a, _), e in students.items()]


# --- a graded course folder written by hand, for the class-report tests ----------------------

def write_csv(path: Path, columns, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)


def gradebook(root: Path, students, assignments: dict) -> None:
    """A real nbgrader gradebook with these students and assignments (assignment -> max score
    through one grade cell each), stamped in-process instead of by an `alembic heads` subprocess."""
    import nbgrader.api
    from nbgrader.api import Gradebook

    from autograder.grading.warmdb import alembic_head
    with mock.patch.object(nbgrader.api, "get_alembic_version", alembic_head):
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            for s in students:
                gb.add_student(s)
            for a, points in assignments.items():
                gb.add_assignment(a)
                gb.add_notebook(a, a)
                gb.add_grade_cell("total", a, a, max_score=points, cell_type="code")


def write_class(root: Path, rows: list[tuple], submissions: list[tuple], *, enrolled=(),
                max_scores: dict | None = None, seconds: dict | None = None, feedback=()) -> Path:
    """Reports/checks.csv and submissions.csv, autograded notebooks' times, feedback pages and
    a gradebook roster. rows: (student, assignment, item, score, max, status, message);
    submissions: (student, assignment, status, message); seconds: (student, assignment) ->
    clean-room seconds."""
    write_csv(root / "reports" / "checks.csv", COLUMNS, [dict(zip(COLUMNS, r)) for r in rows])
    write_csv(root / "reports" / "submissions.csv", ("student_id", "assignment", "status", "message"),
              [dict(zip(("student_id", "assignment", "status", "message"), s)) for s in submissions])
    for (s, a), t in (seconds or {}).items():
        nb = root / "autograded" / s / a / f"{a}.ipynb"
        nb.parent.mkdir(parents=True, exist_ok=True)
        nb.write_text(json.dumps({"cells": [], "metadata": {"flatgrad": {"notes": [], "seconds": t}}}))
    for s, a in feedback:
        page = root / "feedback" / s / a / f"{a}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><body>feedback {a}</body></html>")
    if enrolled:
        gradebook(root, enrolled, max_scores or {})
    return root


# --- losses and gradients --------------------------------------------------------------------

@st.composite
def classification_problems(draw, max_n: int = 12, max_d: int = 8, max_c: int = 6):
    """(W, X, y, reg) in float64: any small shape (N=1 and C=2 included) and weight scale."""
    N = draw(st.integers(1, max_n))
    D = draw(st.integers(1, max_d))
    C = draw(st.integers(2, max_c))
    scale = draw(st.sampled_from([0.01, 0.1, 1.0, 3.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, dtype=torch.float64, generator=gen)
    W = scale * torch.randn(D, C, dtype=torch.float64, generator=gen)
    y = torch.randint(0, C, (N,), generator=gen)
    reg = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0]))
    return W, X, y, reg


def autograd_gradient(loss_fn, W, *args):
    """dL/dW by torch autograd in float64: the tests' independent second opinion."""
    W = W.detach().double().clone().requires_grad_(True)
    loss_fn(W, *args).backward()
    return W.grad


def start_autograder(bundle, tmp_path, write_submission):
    """Unpack a Gradescope bundle into a simulated /autograder tree and start its run_autograder
    on the submission write_submission(folder) writes; finish_autograder reads its results."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    write_submission(root / "submission")
    script = root / "source" / "run_autograder"
    script.chmod(0o755)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), PYTHON=sys.executable)
    proc = subprocess.Popen([str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, root


def finish_autograder(started) -> dict:
    proc, root = started
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


def run_autograder(bundle, tmp_path, write_submission):
    """One run_autograder to the end: its results.json."""
    return finish_autograder(start_autograder(bundle, tmp_path, write_submission))
