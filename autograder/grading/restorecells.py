"""nbgrader step: put deleted test cells back, from the gradebook.

nbgrader's own `OverwriteCells.add_missing_cells` fails on exactly the notebooks that need
it (a KeyError when the cell before the deleted one is not a grade cell, another when a
duplicated cell lost its id), and a failed notebook would be a grading failure. This step runs
after OverwriteCells: every auto-graded test cell the gradebook knows and the notebook lacks
is re-inserted after its answer cell (or at the end), with the gradebook's source and points.
A duplicated cell that nbgrader's DeduplicateIds left with half its metadata becomes a plain cell.
"""
from __future__ import annotations

from nbformat.v4 import new_code_cell
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor


class RestoreGradeCells(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        for cell in nb.cells:
            if "nbgrader" in cell.metadata and not cell.metadata.nbgrader.get("grade_id"):
                del cell.metadata["nbgrader"]  # a duplicate: the first copy is the one graded
        present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
        with Gradebook(meta["db_url"]) as gb:
            notebook = gb.find_notebook(meta["notebook"], meta["assignment"])
            for grade_cell in notebook.grade_cells:
                if grade_cell.name in present or grade_cell.cell_type != "code":
                    continue
                source = gb.find_source_cell(grade_cell.name, meta["notebook"], meta["assignment"])
                cell = new_code_cell(source.source, metadata={"nbgrader": {
                    "grade": True, "solution": False, "locked": True, "task": False, "schema_version": 3,
                    "grade_id": grade_cell.name, "points": grade_cell.max_score, "checksum": source.checksum}})
                self.log.warning("Grade cell %s was deleted: put back from the gradebook", grade_cell.name)
                nb.cells.insert(self._position(nb, grade_cell.name), cell)
        return nb, resources

    @staticmethod
    def _position(nb, name: str) -> int:
        for index, cell in enumerate(nb.cells):
            if cell.metadata.get("nbgrader", {}).get("grade_id") == f"{name}_code":
                return index + 1
        return len(nb.cells)
