"""A gradebook that answers nbgrader's per-cell lookups from rows read at once.

nbgrader's preprocessors ask the gradebook one four-table-join query per cell (find_grade,
find_comment, find_source_cell, ...), ~20-60 a notebook. The steps built on this module
(CachedOverwriteCells, BulkSaveAutoGrades, BulkGetGrades) read what a notebook needs in one
or two queries and hand nbgrader's own preprocess_cell a `GradebookView` that answers from it.
"""
from __future__ import annotations

import functools

from nbgrader.api import Comment, Grade, MissingEntry
from sqlalchemy.orm import joinedload

# find_grade looks among grade cells before task cells, find_comment among solution cells
# before task cells: the same precedence when two cells share a name
_PRECEDENCE = {"GradeCell": 0, "SolutionCell": 0, "TaskCell": 1}


class GradebookView:
    """A Gradebook whose named find_* methods answer from values read beforehand, by cell name
    (MissingEntry when absent, as nbgrader's do); every other attribute is the real gradebook's."""

    def __init__(self, gradebook, **tables: dict):
        self._gradebook, self._tables = gradebook, tables

    def __getattr__(self, name):
        if name in self._tables:
            return functools.partial(_find, self._tables[name])
        return getattr(self._gradebook, name)


def _find(table: dict, name: str, *where):
    if name not in table:
        raise MissingEntry()
    return table[name]


def read_ids(step, resources) -> None:
    """Set step.notebook_id, assignment_id, student_id and db_url from resources, as nbgrader's
    own gradebook steps do at the start of preprocess (student_id None where a step has none)."""
    meta = resources["nbgrader"]
    step.notebook_id, step.assignment_id = meta["notebook"], meta["assignment"]
    step.student_id, step.db_url = meta.get("student"), meta["db_url"]


class OneCommit:
    """A database session whose commit() waits: the caller commits once, at the end."""

    def __init__(self, session):
        self._session = session

    def commit(self) -> None:
        pass

    def __getattr__(self, name):
        return getattr(self._session, name)


def submission_rows(gradebook, notebook: str, assignment: str, student: str):
    """(submitted notebook, {cell name: Grade}, {cell name: Comment}) of one submission, each
    Grade and Comment with its cell loaded (two queries; the rows stay attached, so changes to
    them are saved by the gradebook's session)."""
    submitted = gradebook.find_submission_notebook(notebook, assignment, student)

    def by_name(model) -> dict:
        rows = gradebook.db.query(model).options(joinedload(model.cell)) \
            .filter(model.notebook_id == submitted.id).all()
        rows.sort(key=lambda row: _PRECEDENCE.get(row.cell.type, 2), reverse=True)
        return {row.cell.name: row for row in rows}  # the preferred cell type is written last

    return submitted, by_name(Grade), by_name(Comment)
