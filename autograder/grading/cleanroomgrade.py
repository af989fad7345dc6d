"""nbgrader step: grade a submission in the clean room instead of executing it in a kernel.

It takes the place of nbgrader's Execute in `Autograde.autograde_preprocessors` (see
nbgrader_config.py), after nbgrader's own sanitizing (outputs cleared, grade and read-only
cells restored from the gradebook, deleted grade cells put back). It writes each item's
verdict into the item's grade cell as nbgrader reads a test result: printed message, plus an
error output when the item did not pass (nbgrader's SaveAutoGrades then records the scores;
the student's feedback shows them); and the verdict itself in the cell's metadata
(flatgrad.status, flatgrad.message), which is what autograder.grading.itemrows reads.
Any flatgrad metadata a submission brought is removed first: only this step writes it.
"""
from __future__ import annotations

import atexit
import functools
import pathlib
import sys
import time

from nbgrader.coursedir import CourseDirectory
from tqdm import tqdm
from nbgrader.preprocessors import NbGraderPreprocessor
from nbformat import from_dict
from traitlets import Bool, Float, Integer

from ..cleanroom.confinement import describe
from ..checks import given as given_cells
from ..cleanroom.runner import GraderError, grade_notebook
from ..cleanroom.session import Limits
from ..cleanroom.zygote import Zygote
from ..verdict import ERROR, FAILED, PASSED, TIMEOUT, Verdict
from .overwritecells import notebook_cells

ENAMES = {FAILED: "ItemFailed", ERROR: "ItemError", TIMEOUT: "TimeoutError"}
_zygote: Zygote | None = None
_described = False


def zygote(wait: bool = True) -> Zygote:
    """This process's warm fork server (started once, restarted if it died); wait=False starts
    it without waiting for its imports (a grading worker does so first thing)."""
    global _zygote
    if _zygote is None or not _zygote.alive():
        _zygote = Zygote(wait=wait)
        atexit.register(_zygote.close)
    if wait:
        _zygote.wait_ready()
    return _zygote


class CleanRoomGrade(NbGraderPreprocessor):
    """Verdicts from autograder.cleanroom written into the grade cells."""

    cell_timeout = Float(30.0, help="Seconds one cell of the student's may run.").tag(config=True)
    call_timeout = Float(60.0, help="Seconds one call of a student's function may run.").tag(config=True)
    notebook_timeout = Float(600.0, help="Seconds for everything of one notebook.").tag(config=True)
    memory_limit_mb = Integer(2048, help="Memory (MiB) a student's process may allocate.").tag(config=True)
    file_limit_mb = Integer(64, help="Largest file (MiB) a student's process may write.").tag(config=True)
    output_limit = Integer(20_000, help="Printed characters kept from a student's code.").tag(config=True)
    answer_cell_limit = Integer(100_000, help="Characters of one answer cell: a longer cell is not run, parsed "
                                              "or shown in feedback, and its item says so.").tag(config=True)
    landlock = Bool(True, help="Confine the student's process with Linux Landlock where the kernel has it "
                               "(no reading outside its folder and Python's, no network).").tag(config=True)

    def limits(self) -> Limits:
        return Limits(cell=self.cell_timeout, call=self.call_timeout, submission=self.notebook_timeout,
                      memory_mb=self.memory_limit_mb, file_mb=self.file_limit_mb, output_chars=self.output_limit,
                      answer_chars=self.answer_cell_limit)

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        assignment, notebook = meta["assignment"], meta["notebook"]
        try:
            given_cells(assignment)
        except KeyError as exc:
            raise GraderError(f"no clean-room checks for assignment {assignment!r}") from exc
        answers = {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
                   if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
        for cell in nb.cells:  # a forged verdict in the submission never reaches the rows
            cell.metadata.pop("flatgrad", None)
        nb.metadata.pop("flatgrad", None)
        given = self.given_cells(meta["db_url"], assignment, notebook)
        start = time.perf_counter()
        result = grade_notebook(assignment, answers, given, self.helper_files(assignment), zygote(),
                                self.limits(), landlock=self.landlock)
        self.describe_protections()
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            item = meta.get("grade_id")
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                # fail closed: a grade cell no check claims gets an error, never nbgrader's full marks
                write_verdict(cell, result.verdicts.get(item) or Verdict(
                    ERROR, f"the grader has no check for grade cell {item!r}: no points without a check"))
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                shorten(cell, self.answer_cell_limit)
        nb.metadata["flatgrad"] = {"notes": result.notes, "landlock": result.landlock}
        # for the class report's slowest notebooks (two clock reads a notebook: no measurable cost)
        nb.metadata["flatgrad"]["seconds"] = round(time.perf_counter() - start, 3)
        return nb, resources

    def describe_protections(self) -> None:
        """Once per grading process, on the TA's screen (nbgrader's log of a worker is not shown):
        what confines the student's code on this machine, and what fell back."""
        global _described
        if _described:
            return
        _described = True
        text, weak = describe(zygote().protections, self.landlock)
        tqdm.write(f"{'warning: ' if weak else ''}Clean room: {text}", file=sys.__stderr__)

    def given_cells(self, db_url: str, assignment: str, notebook: str) -> dict:
        """The trusted source of the given cells, as the gradebook stored it (read once per worker)."""
        source, _ = notebook_cells(db_url, notebook, assignment)
        missing = [cell_id for cell_id in given_cells(assignment) if cell_id not in source]
        if missing:
            raise GraderError(f"the gradebook has no cell {missing[0]!r} for {assignment}")
        return {cell_id: source[cell_id].source for cell_id in given_cells(assignment)}

    def helper_files(self, assignment: str) -> dict:
        """The .py helpers from the source folder (never the student's copies)."""
        coursedir = CourseDirectory(config=self.config)
        return _read_helpers(coursedir.format_path(coursedir.source_directory, ".", assignment))


@functools.lru_cache(maxsize=8)
def _read_helpers(folder: str) -> dict:
    """Read once per worker: the source folder does not change during a grading run."""
    return {p.name: p.read_bytes() for p in sorted(pathlib.Path(folder).iterdir()) if p.suffix == ".py"}


SHOWN = 2000  # characters of a refused answer cell kept in the graded notebook and feedback


def shorten(cell, limit: int) -> None:
    """An answer cell over the limit keeps only its start (feedback would highlight megabytes);
    the submitted file keeps all of it."""
    if len(cell.source) > limit:
        cut = "#" if cell.cell_type == "code" else ""
        cell.source = (f"{cut} [flatgrad: this answer cell had {len(cell.source):,} characters, over the limit of "
                       f"{limit:,}; it was not run. Its first {SHOWN:,} characters:]\n" + cell.source[:SHOWN])


def write_verdict(cell, verdict) -> None:
    """The verdict in the grade cell's metadata, and as its outputs: a message, and an error
    unless it passed (the nodes nbformat's new_output makes, without validating each one: the
    notebook is validated whole)."""
    cell.metadata["flatgrad"] = {"status": str(verdict.status), "message": verdict.message}
    cell.outputs = [from_dict({"output_type": "stream", "name": "stdout", "text": verdict.message + "\n"})]
    cell.execution_count = 1
    if verdict.status != PASSED:
        cell.outputs.append(from_dict({"output_type": "error", "ename": ENAMES.get(verdict.status, "ItemError"),
                                       "evalue": verdict.message, "traceback": []}))
