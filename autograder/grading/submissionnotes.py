"""A submission's folder before grading: its notebook put in place, and what the TA should know
about it (a notebook under another name, extra files, a timestamp.txt that was set aside)."""
from __future__ import annotations

import shutil

from ..layout import SOURCE, Course
from ..submission import SET_ASIDE, find_notebook, record_collection_time

RENAMED = ".flatgrad-renamed-from"  # which file a renamed submission was graded from


def submission_problem(course: Course, student: str, assignment: str) -> str | None:
    """Put a notebook submitted under another name in place and record when it was collected;
    say why a folder can't be graded (no notebook, a link, a file that is no notebook)."""
    folder = course.submitted / student / assignment
    path, problem = find_notebook(folder, assignment, root=course.submitted)
    if path is None:
        return problem
    record_collection_time(folder, path)
    if path != folder / f"{assignment}.ipynb":
        shutil.copyfile(path, folder / f"{assignment}.ipynb")
        (folder / RENAMED).write_text(path.name)
    return None


def submission_notes(course: Course, student: str, assignment: str) -> list[str]:
    """What the TA should know about the folder: a renamed notebook, extra files."""
    folder = course.submitted / student / assignment
    if not folder.is_dir():
        return []
    notes = []
    renamed = (folder / RENAMED).read_text() if (folder / RENAMED).exists() else None
    if renamed:
        notes.append(f"notebook submitted as {renamed}, graded as {assignment}.ipynb")
    shipped = {p.name for p in (SOURCE / assignment).iterdir()} | {RENAMED, "timestamp.txt", SET_ASIDE}
    extra = sorted(p.name for p in folder.iterdir() if p.name not in shipped and p.name != renamed)
    if (folder / SET_ASIDE).exists():
        notes.append("the submission's own timestamp.txt was not used (the submission time is when "
                     "the notebook was collected)")
    if extra:
        notes.append(f"extra files not used by the grader: {', '.join(extra[:5])}")
    return notes
