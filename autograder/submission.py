"""Which notebook of a submission folder to grade (make grade and the Gradescope bundle)."""
from __future__ import annotations

from pathlib import Path


def find_notebook(folder: Path, assignment: str) -> tuple[Path | None, str | None]:
    """(notebook to grade, None), or (None, why there is none).

    The notebook named after the assignment; else the only notebook in the folder, whatever
    its name (students rename files); else nothing, and the reason.
    """
    expected = folder / f"{assignment}.ipynb"
    if expected.is_file():
        return expected, None
    found = sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, f"no notebook in the submission (expected {assignment}.ipynb)"
    return None, f"several notebooks and none named {assignment}.ipynb: {', '.join(p.name for p in found)}"
