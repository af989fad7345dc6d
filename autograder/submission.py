"""Which notebook of a submission folder to grade, and whether it can be read at all
(make grade and the Gradescope bundle).

Everything in the folder is the student's: a notebook may be a link to someone else's file
(the source notebook, with its solutions), a fifo that blocks the reader, a device, JSON that
is no notebook or is nested deeper than any parser's stack. Those are refused here, with the
reason, before nbgrader reads them (it would fail with a traceback, or follow the link).
The submission time is the TA's too: when the notebook was collected, not a file of the student's.
"""
from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

MAX_BYTES = 50 * 2**20  # a notebook with plots is a few MB; this is read and parsed before grading
MAX_DEPTH = 64  # nesting of JSON containers; a notebook needs ~8
SET_ASIDE = ".flatgrad-student-timestamp.txt"  # a timestamp.txt the student put in the folder


def find_notebook(folder: Path, assignment: str, root: Path | None = None) -> tuple[Path | None, str | None]:
    """(notebook to grade, None), or (None, why there is none or why it can't be graded).

    The notebook named after the assignment; else the only notebook in the folder, whatever
    its name (students rename files); else nothing, and the reason. No link may lie on the
    path below `root` (default: the folder) down to it, the folder may hold nothing but
    regular files and folders (nbgrader copies them all), and the notebook must be readable
    (`notebook_problem`).
    """
    if (problem := _links_on_path(Path(root or folder), Path(folder)) or _special_files(Path(folder))) is not None:
        return None, problem
    expected = folder / f"{assignment}.ipynb"
    if os.path.lexists(expected):
        found = [expected]
    else:
        found = sorted(p for p in _walk(folder) if p.suffix == ".ipynb" and ".ipynb_checkpoints" not in p.parts)
        if not found:
            return None, f"no notebook in the submission (expected {assignment}.ipynb)"
        if len(found) > 1:
            return None, f"several notebooks and none named {assignment}.ipynb: {', '.join(p.name for p in found)}"
    problem = notebook_problem(found[0])
    return (None, problem) if problem else (found[0], None)


def _walk(folder: Path):
    """Every entry under folder, without entering linked folders."""
    for path, dirs, files in os.walk(folder):  # os.walk never follows links into folders
        yield from (Path(path) / name for name in files + [d for d in dirs if os.path.islink(Path(path) / d)])


def _special_files(folder: Path) -> str | None:
    """nbgrader copies every other file of the folder (following links) into autograded/ and
    from there into the feedback it releases: a link to the source notebook would hand the
    student its solutions, a link to /dev/zero never ends, a fifo fails the copy."""
    for path in _walk(folder):
        if path.is_symlink():
            return f"{path.relative_to(folder)} is a symbolic link: the grader reads only regular files " \
                   "inside the submission folder (remove it and grade again)"
        if not path.is_file():
            return f"{path.relative_to(folder)} is not a regular file (a fifo or device): remove it and grade again"
    return None


def _links_on_path(root: Path, path: Path) -> str | None:
    """Why path can't be trusted to stay inside root (a link on the way), or None."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return f"{path.name} is outside the submission folder"
    current = root  # root itself is the TA's (submitted/ may well be a link to another disk)
    for part in parts:
        current = current / part
        if current.is_symlink():
            return (f"{current.name} is a symbolic link: the grader reads only regular files "
                    "inside the submission folder")
    return None


def notebook_problem(path: Path) -> str | None:
    """Why this file can't be graded as a notebook (not a regular file, too big, not JSON,
    nested too deeply, not a valid notebook), or None. Reads it without following a link and
    without blocking on a fifo."""
    why = _unreadable(path)
    return None if why is None else f"{path.name} could not be read: {why}"


def _unreadable(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return f"it cannot be opened ({exc.strerror}); the grader reads only regular files"
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "it is not a regular file (a fifo, device or folder), so it was not read"
        if info.st_size > MAX_BYTES:
            return f"it is {info.st_size / 2**20:.0f} MB, over the {MAX_BYTES // 2**20} MB limit for a notebook"
        raw = fh.read(MAX_BYTES + 1)
    try:
        nb = json.loads(raw)
    except RecursionError:
        return "it is JSON nested too deeply to be a notebook"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return f"it is not valid notebook JSON (corrupt or truncated file: {str(exc)[:80]})"
    if not isinstance(nb, dict) or not isinstance(nb.get("nbformat"), int):
        return "it is JSON but not a notebook (no nbformat version at the top)"
    if depth(nb) > MAX_DEPTH:
        return f"it is JSON nested more than {MAX_DEPTH} levels deep, not a notebook the grader reads"
    return _schema_problem(nb)


def _schema_problem(nb: dict) -> str | None:
    """nbformat's schema, checked on this parsed copy (nbgrader's reader only logs a schema
    error, then fails somewhere later). Missing cell ids are filled first, as its reader does."""
    from nbformat.validator import get_validator
    major, minor = nb["nbformat"], nb.get("nbformat_minor", 0)
    if major not in (3, 4) or not isinstance(minor, int):  # older formats are other structures
        return f"it has notebook format {major}.{minor}; the grader reads formats 3 and 4"
    validator = get_validator(version=major, version_minor=minor) or get_validator(version=major)
    if major == 4 and minor >= 5 and isinstance(nb.get("cells"), list):
        for k, cell in enumerate(nb["cells"]):
            if isinstance(cell, dict) and "id" not in cell:
                cell["id"] = f"cell-{k}"
    error = next(iter(validator.iter_errors(nb)), None)
    return None if error is None else f"it is JSON but not a valid notebook ({str(error.message)[:200]})"


def depth(value) -> int:
    """Nesting depth of parsed JSON (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def record_collection_time(folder, notebook) -> None:
    """timestamp.txt, which nbgrader reads as the submission time, from the TA's side: when
    the notebook was written into submitted/ (its modification time). A timestamp.txt the
    student put there decides nothing: it is set aside (kept, never read)."""
    when = datetime.fromtimestamp(notebook.lstat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    stamp = folder / "timestamp.txt"
    if os.path.lexists(stamp) and not _is_text(stamp, when):
        if not os.path.lexists(folder / SET_ASIDE):
            os.replace(stamp, folder / SET_ASIDE)
        else:
            stamp.unlink()
    if not os.path.lexists(stamp):
        tmp = stamp.with_name(stamp.name + ".tmp")
        tmp.write_text(when)
        os.replace(tmp, stamp)


def _is_text(path, text: str) -> bool:
    return path.is_file() and not path.is_symlink() and path.stat().st_size < 100 and path.read_text(errors="replace") == text
