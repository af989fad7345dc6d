"""Feedback preprocessor: grade cells show the verdict, not the hidden test's traceback.

nbgrader's ClearHiddenTests removes the hidden source, but an error's traceback still
quotes those lines. Here each error output of a grade cell keeps only `Name: message`.
"""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class CleanGradeTracebacks(Preprocessor):
    """Replace the traceback of every error in a grade cell with its one-line summary."""

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
