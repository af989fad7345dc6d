"""nbgrader step: SaveAutoGrades, with a submission's grades and comments read at once.

nbgrader's SaveAutoGrades finds each grade and comment of a notebook with its own query and
commits after each cell (~22 queries and ~26 commits a notebook). This subclass reads the
submission's grades and comments in two queries and commits once, after the last cell;
deciding the scores and comments is nbgrader's own _add_score and _add_comment.
"""
from __future__ import annotations

from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades

from .gradebookview import GradebookView, OneCommit, read_ids, submission_rows


class BulkSaveAutoGrades(SaveAutoGrades):
    def preprocess(self, nb, resources):
        read_ids(self, resources)
        with Gradebook(self.db_url) as gradebook:
            _, grades, comments = submission_rows(gradebook, self.notebook_id, self.assignment_id,
                                                  self.student_id)
            self.gradebook = GradebookView(gradebook, find_grade=grades, find_comment=comments)
            self.gradebook.db = OneCommit(gradebook.db)  # nbgrader commits after every cell
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # preprocess_cell per cell
            gradebook.db.commit()
        return nb, resources
