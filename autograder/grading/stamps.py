"""Which submissions are unchanged since they were graded: a fingerprint of their files, stored
with their outcome, so that a re-run (or a run killed and started again) grades only the rest."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from pathlib import Path

from ..layout import SOURCE, Course
from ..verdict import GRADED, Status
from .records import Stamp

STAMPS = "build/graded"  # under the course root: <student>/<assignment>.json


@functools.lru_cache(maxsize=None)
def source_notebook(assignment: str) -> bytes:
    """The source notebook's bytes, read once per run (every submission's fingerprint uses them)."""
    return (SOURCE / assignment / f"{assignment}.ipynb").read_bytes()


def fingerprint(course: Course, student: str, assignment: str) -> str:
    """Hash of the submitted files and the source notebook they are graded against (a link
    counts by its target's name, a fifo or device by its kind: neither is ever read)."""
    digest = hashlib.sha256(source_notebook(assignment))
    folder = course.submitted / student / assignment
    for path in sorted(p for p in folder.rglob("*") if not p.is_dir() or p.is_symlink()):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            data = path.read_bytes()
        else:
            data = f"{stat.S_IFMT(info.st_mode)}:{os.readlink(path) if path.is_symlink() else ''}".encode()
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + data)
    return digest.hexdigest()


def _stamp_path(course: Course, student: str, assignment: str) -> Path:
    return course.root / STAMPS / student / f"{assignment}.json"


def read_stamp(course: Course, student: str, assignment: str) -> Stamp | None:
    """The stored outcome of an unchanged, already graded submission, else None."""
    try:
        stored = json.loads(_stamp_path(course, student, assignment).read_text())
        stamp = Stamp(stored["fingerprint"], Status(stored["status"]), str(stored["message"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if stamp.fingerprint != fingerprint(course, student, assignment):
        return None
    if stamp.status == GRADED and not course.autograded_notebook(student, assignment).exists():
        return None
    return stamp


def write_stamp(course: Course, student: str, assignment: str, status: Status, message: str) -> None:
    path = _stamp_path(course, student, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"fingerprint": fingerprint(course, student, assignment),
                                   "status": status, "message": message}))


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that a kill at any moment leaves the old or the new version, whole."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
