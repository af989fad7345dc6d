"""`make gradescope A=<assignment>`: the zip Gradescope's autograder upload expects.

    setup.sh          installs Python packages (pinned, torch CPU) on Gradescope's image
    run_autograder    grades /autograder/submission/*.ipynb (autograder.gradescope.resultsjson)
    requirements.txt  the pins, from pyproject.toml
    autograder/       this kit's checks and clean room (no corpus, no nbgrader pipeline)
    assignment/       the source notebook (given cells, points) and its helper files

The zip holds the reference solutions (in the source notebook): it goes to Gradescope's
autograder settings, which students never see; the clean room cannot read it either.
"""
from __future__ import annotations

import re
import zipfile
from importlib import metadata
from pathlib import Path

from ..layout import REPO, SOURCE

LEFT_OUT = ("corpus", "grading", "__pycache__")
DATA = ("flatgrad_data.py", "digits.npz")
RUNTIME = ("torch", "numpy", "matplotlib", "tqdm")  # what grading and students' setup cells import

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q --upgrade pip
# the CPU build of torch: Gradescope's graders have no GPU, and it is GBs smaller
/autograder/venv/bin/pip install -q --index-url https://download.pytorch.org/whl/cpu "$(grep '^torch==' /autograder/source/requirements.txt)"
/autograder/venv/bin/pip install -q -r /autograder/source/requirements.txt
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this once per submission; AUTOGRADER_ROOT and PYTHON are for local tests.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{PYTHON:-$ROOT/venv/bin/python}}"
cd "$ROOT/source" && PYTHONPATH="$ROOT/source" "$PYTHON" -m autograder.gradescope.resultsjson \\
    --assignment {assignment} --root "$ROOT"
"""


def requirements() -> str:
    """The pinned runtime packages, as pyproject.toml pins them."""
    pins = re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', (REPO / "pyproject.toml").read_text())
    lines = [f"{name}=={version}" for name, version in pins if name.lower() in RUNTIME]
    lines.append(f"ipython=={metadata.version('ipython')}")  # %magics in answer cells (as tested here)
    return "\n".join(sorted(lines)) + "\n"


def build(assignment: str, dest: Path | None = None) -> Path:
    folder = SOURCE / assignment
    if not (folder / f"{assignment}.ipynb").exists():
        raise SystemExit(f"no assignment {assignment!r} in {SOURCE}")
    dest = dest or REPO / "build" / "gradescope" / f"{assignment}.zip"
    dest.parent.mkdir(parents=True, exist_ok=True)
    package = REPO / "autograder"
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text, mode in (("setup.sh", SETUP, 0o755), ("run_autograder", RUN.format(assignment=assignment), 0o755),
                                 ("requirements.txt", requirements(), 0o644)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, text)
        for path in sorted(package.rglob("*.py")):
            relative = path.relative_to(package)
            if not any(part in LEFT_OUT for part in relative.parts):
                zf.write(path, f"autograder/{relative}")
        for name in DATA:  # the grader's own copy of the offline set (search grids train on it)
            zf.write(REPO / "data" / name, f"data/{name}")
        for path in sorted(folder.iterdir()):
            if path.suffix in (".ipynb", ".py"):
                zf.writestr(f"assignment/{path.name}", path.read_bytes())  # links stored as files
    return dest
