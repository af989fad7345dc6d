"""A course directory in nbgrader's layout, and running nbgrader commands in it."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "assignments"


@dataclass
class Course:
    """nbgrader course root: submitted/, autograded/, feedback/, gradebook.db, reports/."""
    root: Path

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    def autograded_notebook(self, student: str, assignment: str) -> Path:
        return self.root / "autograded" / student / assignment / f"{assignment}.ipynb"

    def students(self, assignment: str) -> list[str]:
        """Student ids with a folder for this assignment in submitted/."""
        if not self.submitted.is_dir():
            return []
        return sorted(p.parent.name for p in self.submitted.glob(f"*/{assignment}") if p.is_dir())

    def write_config(self) -> None:
        """Point a course root other than the repo at the repo's config and source notebooks."""
        if self.root.resolve() == REPO:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nbgrader_config.py").write_text(
            "# Written by flatgrad: the repo's settings, with this folder as the course root.\n"
            "c = get_config()  # noqa: F821\n"
            f"load_subconfig({str(REPO / 'nbgrader_config.py')!r})  # noqa: F821\n"
            f"c.CourseDirectory.root = {str(self.root.resolve())!r}\n"
            f"c.CourseDirectory.source_directory = {str(SOURCE)!r}\n"
            "c.CourseDirectory.release_directory = 'build/release'\n"
            "# This course's own settings (e.g. c.CleanRoomGrade.call_timeout), if it has any:\n"
            "load_subconfig('course_config.py')  # noqa: F821\n")

    def nbgrader(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run `nbgrader ARGS` in the course root with the venv's bin first on PATH.

        nbgrader shells out to `alembic` when it creates a gradebook, so the bin folder of
        the interpreter running us must be on PATH.
        """
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        # Notebooks are graded side by side: one thread each avoids oversubscribing cores.
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--db={self.db_url}"],
                              cwd=self.root, env=env, capture_output=True, text=True,
                              timeout=timeout)


def assignments() -> list[str]:
    """Assignment ids: folders of assignments/ holding a notebook of the same name."""
    return sorted(p.parent.name for p in SOURCE.glob("*/*.ipynb") if p.stem == p.parent.name)
