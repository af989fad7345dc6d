"""nbgrader's converters for one student id taken literally, not as a glob pattern.

nbgrader finds a submission by globbing `{step}/{student_id}/{assignment_id}`, then globs
the folder it found again for `*.ipynb`: a student id `glob[ab]` (folder names are the
student's or the LMS's choice) made it grade the folders `globa` and `globb` under that id.
Escaping the id is not enough (the second glob uses the folder's own path); here the folder
is the literal path and only the notebook name is a pattern.
"""
from __future__ import annotations

import glob
import os

from nbgrader import utils
from nbgrader.converters import GenerateFeedback
from nbgrader.converters.base import NbGraderException


class LiteralIds:
    """Mixin for an nbgrader converter run for one (assignment, student) pair."""

    def init_notebooks(self) -> None:
        self.assignments = {}
        self.notebooks = []
        folder = self._format_source(self.coursedir.assignment_id, self.coursedir.student_id)
        pattern = os.path.join(glob.escape(folder), self.coursedir.notebook_id + ".ipynb")
        found = sorted(glob.glob(pattern))
        if not found:
            msg = f"No notebooks were matched by '{pattern}'"
            self.log.error(msg)
            raise NbGraderException(msg)
        self.assignments[folder] = found


class LiteralGenerateFeedback(LiteralIds, GenerateFeedback):
    pass


def generate_feedback(api, assignment_id: str, student_id: str) -> dict:
    """What api.generate_feedback(assignment_id, student_id, force=True) does, id taken literally."""
    with utils.temp_attrs(api.coursedir, assignment_id=assignment_id, student_id=student_id):
        app = LiteralGenerateFeedback(coursedir=api.coursedir, parent=api)
        app.force = True
        return utils.capture_log(app)
