"""Feedback preprocessor: grade cells show the verdict, not the hidden test's traceback.

nbgrader's ClearHiddenTests removes the hidden source, but an error's traceback still
quotes those lines. Here each error output of a grade cell keeps only `Name: message`.
Terminal control characters in any output's text (a student's message or print: clipboard,
title and hyperlink escapes) become visible escapes; colours stay (printable.py).
"""
from __future__ import annotations

from .printable import visible_keeping_colours

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
        for output in cell.get("outputs", []) if cell.cell_type == "code" else ():
            _visible(output)
        return cell, resources


def _visible(output) -> None:
    for key in ("ename", "evalue", "text"):
        if isinstance(output.get(key), str):
            output[key] = visible_keeping_colours(output[key])
    if isinstance(output.get("traceback"), list):
        output["traceback"] = [visible_keeping_colours(line) if isinstance(line, str) else line
                               for line in output["traceback"]]
    for mime, value in (output.get("data") or {}).items():
        if mime.startswith("text/") and mime != "text/html" and isinstance(value, str):
            output["data"][mime] = visible_keeping_colours(value)
