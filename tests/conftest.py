"""Shared fixtures (plain helpers are in helpers.py): a browser, a clean-room zygote, a generator."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data"))


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)


class LiveZygote:
    """The session's one zygote, started on first use and again if a test killed it."""

    def __init__(self):
        self.current = None

    def __call__(self):
        from autograder.cleanroom.zygote import Zygote
        if self.current is None or not self.current.alive():
            self.close()
            self.current = Zygote()
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


@pytest.fixture(scope="session")
def zygote():
    """zygote() is a live Zygote (torch imported once for the session); it is closed when the
    session ends, so nothing the tests started outlives them."""
    live = LiveZygote()
    yield live
    live.close()


@pytest.fixture(scope="session")
def grade_source(zygote):
    """grade_source(assignment, replace=None, limits=None): the source notebook's solutions, some
    answer cells replaced ({grade_id: code}), graded in the clean room."""
    from autograder.checks import given as given_cells
    from autograder.cleanroom.runner import grade_notebook
    from autograder.corpus.notebooks import answers, read
    from autograder.layout import SOURCE

    def grade(assignment, replace=None, limits=None):
        nb = read(SOURCE / assignment / f"{assignment}.ipynb")
        given = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
                 if c["metadata"].get("nbgrader", {}).get("grade_id") in given_cells(assignment)}
        files = {p.name: p.read_bytes() for p in (SOURCE / assignment).iterdir() if p.suffix == ".py"}
        return grade_notebook(assignment, {**answers(assignment), **(replace or {})}, given, files,
                              zygote(), limits)
    return grade


@pytest.fixture(scope="session")
def shared_class(tmp_path_factory):
    """One class in the default configuration, graded once by `make grade` for the modules whose
    students it holds (helpers.shared_class: test_real_code, test_rule_variants,
    test_pages_browser, test_report_browser): each make grade pays its start-up, report and class report whatever
    the class size, so one class is cheaper than three. The course, make grade's result and
    checks.csv's rows by (student, assignment, item)."""
    from helpers import make_grade, read_csv, shared_class as students
    course = tmp_path_factory.mktemp("shared-class")
    for assignment, entry in students():
        entry.write(course / "submitted", assignment)
    proc = make_grade(course)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_csv(course / "reports" / "checks.csv")
    return SimpleNamespace(course=course, proc=proc,
                           checks={(r["student_id"], r["assignment"], r["item"]): r for r in rows})


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium through Playwright. Skipped where `make browser` was not run,
    except in CI, where a missing browser is a failure (a skipped page test proves nothing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("the browser tests need Playwright and chromium: run `make browser`")
        pytest.skip("no browser: `make browser` installs Playwright and Debian's chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
