"""nbgrader feedback step: GetGrades, with a submission's grades and comments read at once.

nbgrader's GetGrades asks the gradebook for each grade and comment of a notebook with its own
query (a four-table join each, ~22 a notebook, ~35 ms). This subclass reads the submitted
notebook's grades and comments at once (autograder.grading.gradebookview) and answers those
lookups from them; copying the values into the cells and the totals are nbgrader's code.
"""
from __future__ import annotations

from types import SimpleNamespace

from nbgrader.api import Gradebook
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

from .gradebookview import GradebookView, read_ids, submission_rows


class BulkGetGrades(GetGrades):
    def preprocess(self, nb, resources):
        read_ids(self, resources)
        with Gradebook(self.db_url) as gradebook:
            notebook, grades, comments = submission_rows(gradebook, self.notebook_id, self.assignment_id,
                                                         self.student_id)
            self.gradebook = GradebookView(
                gradebook,
                find_grade={k: SimpleNamespace(score=g.score, max_score=g.max_score) for k, g in grades.items()},
                find_comment={k: SimpleNamespace(comment=c.comment) for k, c in comments.items()})
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # nbgrader's preprocess_cell
            late_penalty = notebook.late_submission_penalty
            if late_penalty is None:
                late_penalty = 0
            else:
                self.log.warning("Late submission penalty: {}".format(late_penalty))
            resources["nbgrader"]["score"] = notebook.score - late_penalty
            resources["nbgrader"]["max_score"] = notebook.max_score
            resources["nbgrader"]["late_penalty"] = late_penalty
        return nb, resources
