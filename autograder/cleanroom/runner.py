"""Grade one notebook in the clean room: its answer cells in a sandbox, verdicts here.

    given cells (trusted, from the gradebook) + the student's answer cells
        -> one sandbox process (autograder.cleanroom.session)
        -> every item of the assignment: the grader's cases in, values out, judged here

The student's code never runs in this process, and nothing of the grader's checks, reference
values or hidden tests runs in the student's.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..bytecache import bytes_cache
from ..checks import given as given_cells, items
from ..checks.item import Item, Submission, item_seed, run
from ..static import definition_source, definitions_only, top_level_names
from ..verdict import ERROR, TIMEOUT, Verdict
from .session import Limits, Session, Stopped
from .zygote import Zygote

class GraderError(Exception):
    """The grader itself could not finish (its own cells failed): the submission is unresolved."""


def answer_id(item: str) -> str:
    return f"{item}_code"


@functools.lru_cache(maxsize=1)
def _transformer():
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return None
    return TransformerManager()


@bytes_cache(4_000_000)  # the given cells are the same in every notebook
def ipython_to_python(source: str) -> str:
    """%magics and !commands as plain Python calls (they do nothing in the clean room)."""
    if (manager := _transformer()) is None:  # without IPython a magic is a syntax error, reported as such
        return source
    try:
        return manager.transform_cell(source)
    except Exception:  # noqa: BLE001 (leave it to the sandbox to report the syntax error)
        return source


@dataclass
class CellReport:
    status: str = "ok"        # ok, raised, timeout, crash, missing
    message: str = ""


@dataclass
class NotebookResult:
    verdicts: dict = field(default_factory=dict)   # item -> Verdict
    notes: list = field(default_factory=list)      # for the TA: what the grader saw
    landlock: bool | None = None


class RemoteSubmission(Submission):
    """The student's functions as they live in the sandbox (see checks.item.run)."""

    def __init__(self, session: Session, sources: list[str]):
        self.session, self.sources = session, sources
        self.kinds: dict = {}  # name -> type name in the sandbox, asked once

    def problem(self, name: str) -> str | None:
        if name not in self.kinds:
            self.kinds[name] = self.session.defined([name]).get(name)
        kind = self.kinds[name]
        if kind is None:
            return f"{name} is not defined."
        if kind in ("int", "float", "str", "list", "dict", "tuple", "NoneType", "module", "Tensor"):
            return f"{name} is not a function (got {kind})."
        return None

    def source(self, name: str) -> str | None:
        return definition_source(self.sources, name)

    def call(self, item: Item, case):
        return self.session.call(item.name, case, item.adapter.__name__ if item.adapter else None,
                                 dict(item.helpers), item.no_grad, item_seed(item))


def grade_notebook(assignment: str, answers: dict[str, str], given: dict[str, str],
                   files: dict[str, bytes], zygote: Zygote, limits: Limits | None = None,
                   landlock: bool = True) -> NotebookResult:
    """Verdicts for every item of an assignment.

    Inputs:
    - answers: answer-cell id -> the student's source (missing ids: deleted cells)
    - given: given-cell id -> trusted source (from the gradebook)
    - files: helper files to put beside the code (trusted copies from the source folder)
    """
    result = NotebookResult()
    session = Session(zygote, files, limits, landlock=landlock)
    try:
        for cell_id in given_cells(assignment):
            try:
                reply = session.exec_cell(cell_id, definitions_only(ipython_to_python(given[cell_id])))
            except (Stopped, KeyError) as exc:
                raise GraderError(f"the given cell {cell_id!r} could not run: {exc}") from exc
            if "error" in reply:
                raise GraderError(f"the given cell {cell_id!r} raised {reply['error']}")
        result.landlock = session.landlock
        cells = run_answers(session, assignment, answers, result)
        sources = [s for s in answers.values() if len(s) <= session.answer_limit]
        for name, item in items(assignment).items():
            report = cells.get(answer_id(name), CellReport("missing"))
            own = answers.get(answer_id(name), "")
            result.verdicts[name] = verdict_for(session, item, report, sources,
                                                own if len(own) <= session.answer_limit else "")
        fail_closed(session, result)
    finally:
        session.close()
    return result


def fail_closed(session: Session, result: NotebookResult) -> None:
    """A notebook whose process tampered with the grader's code at any point (seal.py, or a
    reply it forged beside the real one) keeps no verdict: each item is an error that says so."""
    if (tampered := session.settle()) is not None:
        result.verdicts = {name: Verdict(ERROR, f"{name} {tampered}.") for name in result.verdicts}
        result.notes.append(f"the notebook's process {tampered}")


def run_answers(session: Session, assignment: str, answers: dict, result: NotebookResult) -> dict:
    """Run each answer cell once, in the assignment's order; what happened to each."""
    reports = {}
    for name in items(assignment):
        cell_id = answer_id(name)
        if cell_id not in answers:
            result.notes.append(f"answer cell {cell_id} is missing")
            continue
        if (problem := oversized(answers[cell_id], session.answer_limit)) is not None:
            reports[cell_id] = CellReport("refused", problem)  # before any parsing: never cut
            result.notes.append(f"answer cell {cell_id} {problem}")
            continue
        try:
            reply = session.exec_cell(cell_id, ipython_to_python(answers[cell_id]))
        except Stopped as stop:
            reports[cell_id] = CellReport(stop.kind, stop.message)
            result.notes.append(f"answer cell {cell_id} {stop.message}")
            continue
        if "error" in reply:
            error, where = reply["error"], reply.get("where", "")
            reports[cell_id] = CellReport("raised", f"{error[0]}: {error[1]}" + (f" ({where})" if where else ""))
        else:
            reports[cell_id] = CellReport()
    return reports


def oversized(source: str, limit: int) -> str | None:
    """Why an answer cell is refused unread (too long to run, parse or show), or None."""
    if len(source) <= limit:
        return None
    return (f"has {len(source):,} characters, over the limit of {limit:,} for one answer cell: "
            "it was not run")


def verdict_for(session: Session, item: Item, report: CellReport, sources: list, own: str) -> Verdict:
    cell = answer_id(item.name)
    if report.status == "missing":
        return Verdict(ERROR, f"the answer cell for {item.name} ({cell}) is missing from the notebook "
                              "(deleted, or its metadata was changed), so there is nothing to grade.")
    if report.status in ("timeout", "crash"):
        status = TIMEOUT if report.status == "timeout" else ERROR
        return Verdict(status, f"the answer cell of {item.name} {report.message}; {item.name} could not be graded.")
    if report.status == "refused":
        return Verdict(ERROR, f"the answer cell of {item.name} {report.message}; shorten it (generated "
                              f"data or pasted output does not belong in an answer cell).")
    submission = RemoteSubmission(session, sources)
    try:
        problem = submission.problem(item.name)
    except Stopped as stop:  # e.g. the notebook's time was used up by earlier items
        return Verdict(TIMEOUT if stop.kind == "timeout" else ERROR, f"{item.name} {stop.message}.")
    if problem and "not defined" in problem:
        others = [n for n in top_level_names(own) if n != item.name]
        if report.status == "raised":
            return Verdict(ERROR, f"{item.name} is not defined: its answer cell raised {report.message}.")
        hint = f" The answer cell defines {', '.join(others)} instead: keep the name {item.name}." if others else ""
        return Verdict(ERROR, f"{item.name} is not defined.{hint}")
    return run(item, submission)
