"""Is release/ what `make release` generates, free of solutions and hidden tests, and are
the source notebooks stored without outputs?"""
from __future__ import annotations

import json

import pytest

from autograder import release
from autograder.checks import items
from autograder.layout import SOURCE, assignments


@pytest.mark.slow
def test_release_is_in_sync_and_leaks_nothing():
    """Does regenerating release/ give the committed files, with no secret line in them?"""
    assert release.check_release() == []


def test_secret_lines_cover_solutions_hidden_tests_and_model_answers():
    """Would the leak scan see a planted solution line, hidden test or model answer?"""
    for a in assignments():
        secret = release.secret_lines(SOURCE / a / f"{a}.ipynb")
        assert any("grade(" in line for line in secret)           # hidden tests
        assert any("grad" in line for line in secret)             # solution code
        assert len(secret) > 50


def test_leak_scan_flags_a_planted_leak(tmp_path, monkeypatch):
    """If a solution line were shipped, would leaks() report it?"""
    a = assignments()[0]
    secret = sorted(release.secret_lines(SOURCE / a / f"{a}.ipynb"))[0]
    fake = tmp_path / "release" / a
    fake.mkdir(parents=True)
    (fake / "helper.py").write_text(f"x = 1\n    {secret}\n")
    monkeypatch.setattr(release, "RELEASE", tmp_path / "release")
    monkeypatch.setattr(release, "REPO", tmp_path)
    assert any(secret in problem for problem in release.leaks())


def test_every_graded_function_has_one_grade_cell_and_one_todo():
    """Does each checked item have exactly one grade cell and one answer cell with a TODO?"""
    for a in assignments():
        nb = json.loads((SOURCE / a / f"{a}.ipynb").read_text())
        meta = [c["metadata"].get("nbgrader", {}) for c in nb["cells"]]
        ids = [m["grade_id"] for m in meta if "grade_id" in m]
        assert len(ids) == len(set(ids)), "grade_ids must be unique"
        graded_code = {m["grade_id"] for m, c in zip(meta, nb["cells"])
                       if m.get("grade") and c["cell_type"] == "code"}
        assert graded_code == set(items(a))
        for item in items(a):
            cell = next(c for c, m in zip(nb["cells"], meta) if m.get("grade_id") == f"{item}_code")
            text = "".join(cell["source"])
            assert text.count("TODO(student)") == 1 and "\"\"\"" in text and "Returns" in text


def test_every_release_folder_has_pinned_requirements_from_pyproject():
    pinned = release.pins()
    assert pinned["torch"] == "torch==2.13.0"
    for a in assignments():
        path = release.RELEASE / a / "requirements.txt"
        lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
        assert lines and all("==" in line for line in lines), f"{a}: {lines}"
        assert all(pinned[line.split("==")[0]] == line for line in lines), f"{a}: {lines} vs pyproject"
        assert {"torch==2.13.0", "matplotlib==3.11.2"} <= set(lines)
        assert lines == release.requirements(release.RELEASE / a)


def test_requirements_follow_what_a_folder_imports(tmp_path):
    (tmp_path / "a.ipynb").write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": ["import torch\n", "from tqdm.std import tqdm\n"]},
        {"cell_type": "markdown", "source": ["import numpy\n"]}]}))
    (tmp_path / "helper.py").write_text("import os\nimport matplotlib.pyplot as plt\n")
    assert release.requirements(tmp_path) == ["matplotlib==3.11.2", "torch==2.13.0", "tqdm==4.70.1"]


def test_bare_keywords_are_not_secrets_but_solution_lines_are(tmp_path):
    """A `continue` of a solution says nothing of it (and the shipped rulecheck_*.py modules hold
    some); a real solution line is still a secret."""
    cell = {"cell_type": "code", "metadata": {"nbgrader": {"solution": True}}, "source":
            "### BEGIN SOLUTION\nfor i in range(3):\n    continue\nreturn loss, dW\n)\n### END SOLUTION\n"}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [cell]}))
    assert release.secret_lines(path) == {"for i in range(3):", "return loss, dW"}
