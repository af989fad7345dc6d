"""nbgrader step: OverwriteCells, reading the gradebook's cells once per worker.

nbgrader's OverwriteCells restores each nbgrader cell of a submission (type, locked flag,
points, checksum, and the source of locked cells) from the gradebook, asking it one query per
cell (two for grade cells): ~60 queries a notebook, ~0.1 s. The answers are the same for
every student of an assignment, so this subclass reads the notebook's source and graded cells
once, as plain values, and keeps them for the worker's life (a worker serves one `make grade`,
after the gradebook was prepared). The restoring itself is nbgrader's preprocess_cell.
nbgrader's find_* calls are answered from those values (autograder.grading.gradebookview).
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells

from .gradebookview import GradebookView, read_ids


@functools.lru_cache(maxsize=64)
def notebook_cells(db_url: str, notebook_id: str, assignment_id: str) -> tuple[dict, dict]:
    """({name: source cell}, {name: graded cell}) of one notebook, detached from the database."""
    with Gradebook(db_url) as gb:
        notebook = gb.find_notebook(notebook_id, assignment_id)
        source = {c.name: SimpleNamespace(cell_type=c.cell_type, locked=c.locked, checksum=c.checksum,
                                          source=c.source) for c in notebook.source_cells}
        graded = {c.name: SimpleNamespace(max_score=c.max_score)
                  for c in [*notebook.grade_cells, *notebook.task_cells]}
    return source, graded


class CachedOverwriteCells(OverwriteCells):
    def preprocess(self, nb, resources):
        read_ids(self, resources)
        source, graded = notebook_cells(self.db_url, self.notebook_id, self.assignment_id)
        with Gradebook(self.db_url) as gradebook:
            self.gradebook = GradebookView(gradebook, find_source_cell=source, find_graded_cell=graded)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # preprocess_cell per cell
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources
