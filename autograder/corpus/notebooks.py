"""Building student notebooks from the source (solutions) and the release (what students get)."""
from __future__ import annotations

import copy
import json
import linecache
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..layout import REPO, SOURCE, assignments

SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)
TODO_STUB = re.compile(r"^[ \t]*raise NotImplementedError\(\"TODO\(student\).*\n?", re.M)


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def answers(assignment: str) -> dict:
    """grade_id -> solved source of every solution cell (markers removed)."""
    nb = read(SOURCE / assignment / f"{assignment}.ipynb")
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = SOLUTION_MARKER.sub("", "".join(cell["source"]))
    return out


def release_notebook(assignment: str) -> dict:
    return read(REPO / "release" / assignment / f"{assignment}.ipynb")


def fill(release: dict, sources: dict) -> dict:
    """The release notebook with the given solution cells replaced (grade_id -> source)."""
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in sources:
            cell["source"] = sources[gid]
    return nb


@dataclass
class Entry:
    """One corpus submission.

    - name: student id used for it
    - fails: items it must not get full marks on (empty: a correct submission)
    - edits: (grade_id, old, new) text replacements in solved cells; `old` must occur
    - replace: grade_id -> whole new cell source (a differently written solution)
    - untouched: the release as is (nothing filled in)
    - extra_cells: code cells appended at the end of the notebook
    - raw: bytes written instead of a notebook (a corrupt file)
    - status: the submission status expected in reports/submissions.csv
    - statuses: item -> expected status, for items whose status differs from item_status
    - messages: item -> text its message must contain ("" key: the submission's message)
    - transform: a function changing the notebook JSON (delete, reorder, edit cells...)
    - filename / files / empty: the folder's notebook name, extra files, no notebook at all
    - in_process: False when it cannot be checked inside the test process (it kills it)
    """
    name: str
    fails: tuple = ()
    edits: tuple = ()
    replace: dict = field(default_factory=dict)
    untouched: bool = False
    extra_cells: tuple = ()
    raw: bytes | None = None
    status: str = "graded"
    item_status: str = "failed"
    note: str = ""
    statuses: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)
    transform: object = None
    filename: str | None = None
    files: dict = field(default_factory=dict)
    empty: bool = False
    in_process: bool = True

    def expected(self) -> dict:
        """item -> status this submission must get on it (items not listed must pass)."""
        return {item: self.statuses.get(item, self.item_status) for item in self.fails}

    def touched(self) -> set:
        """grade_ids of the cells this entry changes."""
        return {gid for gid, _, _ in self.edits} | set(self.replace)

    def sources(self, assignment: str) -> dict:
        solved = answers(assignment)
        for gid, old, new in self.edits:
            if old not in solved[gid]:
                raise ValueError(f"corpus entry {self.name}: {old!r} not found in cell {gid}")
            solved[gid] = solved[gid].replace(old, new)
        solved.update(self.replace)
        return solved

    def notebook(self, assignment: str) -> dict:
        release = release_notebook(assignment)
        if self.untouched:
            return release
        nb = fill(release, self.sources(assignment))
        for source in self.extra_cells:
            nb["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {},
                                "outputs": [], "source": source})
        return self.transform(nb) if self.transform else nb

    def write(self, submitted: Path, assignment: str) -> Path:
        folder = submitted / self.name / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (folder / name).write_bytes(data)
        path = folder / (self.filename or f"{assignment}.ipynb")
        if self.empty:
            return path
        if self.raw is not None:
            path.write_bytes(self.raw)
        else:
            path.write_text(json.dumps(self.notebook(assignment), indent=1))
        return path


@dataclass
class Pack(Entry):
    """Several corpus entries in one submission: they change different cells and must fail
    different items, so each one's verdict is still its own. Grading through make grade
    costs a notebook run per submission; packing keeps the end-to-end test short."""
    members: tuple = ()
    expect: dict = field(default_factory=dict)

    def expected(self) -> dict:
        return dict(self.expect)


def pack(entries, prefix: str = "pack") -> list:
    """Entries packed into as few submissions as possible; whole-notebook cases stay alone."""
    alone = [e for e in entries if e.status != "graded" or e.untouched or e.raw is not None
             or e.extra_cells or not e.touched() or not e.in_process or e.transform or e.files]
    packs: list = []
    for e in entries:
        if e in alone:
            continue
        for p in packs:
            if not (p.touched() & e.touched()) and not (set(p.expect) & set(e.fails)):
                break
        else:
            p = Pack(f"{prefix}-{len(packs) + 1}")
            packs.append(p)
        p.edits += tuple(e.edits)
        p.replace = {**p.replace, **e.replace}
        p.fails += tuple(e.fails)
        p.expect.update(e.expected())
        p.members += (e.name,)
    return alone + packs


def write_class(submitted: Path, assignment: str, entries) -> list:
    """Write every entry as a submission; returns the notebook paths."""
    return [e.write(submitted, assignment) for e in entries]


PRELUDE = "import math\nimport time\nimport numpy as np\nimport torch\n"


def functions(nb: dict) -> dict:
    """Namespace after running the notebook's given cells that grading runs (the setup cell, and
    the definitions of the others in each checks module's GIVEN) and its answer cells in-process,
    as under grading (NBGRADER_EXECUTION set).

    For tests and benchmarks of trusted corpus code only: it runs no other cell.
    """
    from .. import gradcheck
    sys.modules.setdefault("gradcheck", gradcheck)  # what the notebook imports from its folder
    if str(REPO / "data") not in sys.path:
        sys.path.append(str(REPO / "data"))
    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    from ..checks import given as given_cells
    from ..static import definitions_only
    given = {gid for a in assignments() for gid in given_cells(a)}  # what grading runs before the answers
    ns: dict = {}
    exec(PRELUDE, ns)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") in given or meta.get("solution"):
            source = "".join(cell["source"])
            if meta.get("grade_id") in given and meta.get("grade_id") != "setup":
                source = definitions_only(source)  # as the clean room runs them: no demos
            filename = f"<cell {meta.get('grade_id')}>"
            # as IPython does: keep the source where inspect.getsource can find it
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(source, filename, "exec"), ns)
    return ns
