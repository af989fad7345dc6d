"""nbgrader's Autograde in one conversion of each notebook instead of two.

nbgrader's Autograde converts a submission twice: its sanitizing steps, then the notebook is
written to autograded/, read back, and converted again by its autograding steps. Each
conversion copies, validates, serializes and parses the whole notebook (~25 ms a notebook
in a worker). OnePassAutograde registers the same steps, in the same order, in one
conversion (the autograding steps see the sanitized notebook in memory, not its copy from
disk), under the same NBGRADER_EXECUTION setting, and writes autograded/ once.
`autograde()` is NbGraderAPI.autograde with this converter.
"""
from __future__ import annotations

from nbgrader import utils
from nbgrader.converters import Autograde
from nbgrader.converters.base import BaseConverter

from .literalids import LiteralIds


class OnePassAutograde(LiteralIds, Autograde):  # LiteralIds: `glob[ab]` is one student
    def _init_preprocessors(self) -> None:
        self.exporter._preprocessors = []
        for pp in [*self.sanitize_preprocessors, *self.autograde_preprocessors]:
            self.exporter.register_preprocessor(pp)

    def convert_single_notebook(self, notebook_filename: str) -> None:
        self.log.info("Sanitizing and autograding %s", notebook_filename)
        self._init_preprocessors()
        with utils.setenv(NBGRADER_EXECUTION="autograde"):
            BaseConverter.convert_single_notebook(self, notebook_filename)


def autograde(api, assignment_id: str, student_id: str) -> dict:
    """What api.autograde(assignment_id, student_id, force=True, create=True) does, in one pass."""
    with utils.temp_attrs(api.coursedir, assignment_id=assignment_id, student_id=student_id):
        app = OnePassAutograde(coursedir=api.coursedir, parent=api)
        app.force = True
        app.create_student = True
        return utils.capture_log(app)
