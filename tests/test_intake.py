"""Is what the grader reads before any code runs safe: files, folder names, CSVs, pages?

Unit tests of autograder/submission.py, csvcells.py, safehtml.py and the pipeline's intake
helpers; then the intake corpus (autograder/corpus/attacks_intake.py) graded through
`make grade` (with COURSE given as a relative path) together with honest students.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder import submission
from autograder.corpus import entries
from autograder.corpus.attacks_intake import (A, ATTACKS, FORGED_TIME, NAMES, PNG, XSS_MARKDOWN,
                                              deeply_nested_metadata)
from autograder.corpus.notebooks import release_notebook
from autograder.grading import pipeline, stamps, summary
from autograder.layout import REPO, Course, assignments
from autograder.grading.csvcells import TRIGGERS, plain_cell, plain_row, safe_cell
from autograder.grading.printable import visible
from autograder.grading.feedbackhtml import CSP, QuickHTMLExporter
from autograder.grading.safehtml import clean_html
from helpers import assert_exact_outcome, make_grade, read_csv, total_points

HONEST = [e for e in entries(A) if e.name in ("ok-reference", "bug-svm-vec-no-reg-in-loss")]
CLASS = ATTACKS + HONEST
FORMULA = ("=", "+", "-", "@", "\t", "\r")


# --- which files are read ------------------------------------------------------------------

def notebook_at(folder: Path, nb) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{A}.ipynb"
    path.write_bytes(nb if isinstance(nb, bytes) else json.dumps(nb).encode())
    return path


@pytest.mark.parametrize("raw, words", [
    (b'{"hello": "world"}', "not a notebook"),
    (b"[1, 2]", "not a notebook"),
    (b'"just a string"', "not a notebook"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "x"}).encode(), "not a valid notebook"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                 "cells": [{"cell_type": "code", "source": 3}]}).encode(), "not a valid notebook"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"nbformat": 2, "cells": []}', "notebook format 2"),
    (b"\xff\xfe{}", "not valid notebook JSON"),
    (b'{"nbformat": 4, "cells": [', "not valid notebook JSON"),
])
def test_json_that_is_no_notebook_is_refused_with_the_reason(tmp_path, raw, words):
    folder = notebook_at(tmp_path / "s" / A, raw).parent
    path, problem = submission.find_notebook(folder, A)
    assert path is None and words in problem, problem


def test_a_real_notebook_nested_too_deep_is_refused_but_every_release_is_accepted(tmp_path):
    deep = deeply_nested_metadata(release_notebook(A))
    _, problem = submission.find_notebook(notebook_at(tmp_path / "deep", deep).parent, A)
    assert f"more than {submission.MAX_DEPTH} levels" in problem
    for assignment in assignments():
        folder = tmp_path / assignment
        notebook_at(folder, release_notebook(assignment)).rename(folder / f"{assignment}.ipynb")
        assert submission.find_notebook(folder, assignment) == (folder / f"{assignment}.ipynb", None)


def test_depth_counts_containers_without_recursion():
    assert submission.depth(1) == 0 and submission.depth([]) == 1 and submission.depth({"a": [{}]}) == 3
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    assert submission.depth(deep) == 50_001


def test_links_fifos_and_devices_are_refused_without_being_read(tmp_path):
    """Is a notebook that is a link, a fifo or a device refused, and never opened for reading?"""
    root = tmp_path / "submitted"
    honest = notebook_at(root / "honest" / A, release_notebook(A))
    (root / "link" / A).mkdir(parents=True)
    os.symlink(REPO / "assignments" / A / f"{A}.ipynb", root / "link" / A / f"{A}.ipynb")
    (root / "renamed-link" / A).mkdir(parents=True)
    os.symlink(honest, root / "renamed-link" / A / "mine.ipynb")
    (root / "folder-link").mkdir()
    os.symlink(honest.parent, root / "folder-link" / A)
    os.symlink(root / "honest", root / "student-link")
    (root / "fifo" / A).mkdir(parents=True)
    os.mkfifo(root / "fifo" / A / f"{A}.ipynb")
    notebook_at(root / "extra-link" / A, release_notebook(A))
    os.symlink(REPO / "assignments" / A / f"{A}.ipynb", root / "extra-link" / A / "notes.txt")
    notebook_at(root / "extra-fifo" / A / "sub", release_notebook(A)).rename(root / "extra-fifo" / A / f"{A}.ipynb")
    os.mkfifo(root / "extra-fifo" / A / "sub" / "pipe")
    (root / "device" / A).mkdir(parents=True)
    os.symlink("/dev/zero", root / "device" / A / f"{A}.ipynb")
    signal.alarm(20)  # a fifo opened for reading would block this test forever
    try:
        for student, words in [("link", "symbolic link"), ("renamed-link", "symbolic link"),
                               ("folder-link", "symbolic link"), ("student-link", "symbolic link"),
                               ("fifo", "not a regular file"), ("device", "symbolic link"),
                               ("extra-link", "notes.txt is a symbolic link"), ("extra-fifo", "sub/pipe is not a regular")]:
            path, problem = submission.find_notebook(root / student / A, A, root=root)
            assert path is None and words in problem, (student, problem)
        assert "not a regular file" in submission.notebook_problem(Path("/dev/zero"))
        assert submission.find_notebook(root / "honest" / A, A, root=root) == (honest, None)
        os.symlink(root, tmp_path / "elsewhere")  # the TA's submitted/ may itself be a link
        assert submission.find_notebook(tmp_path / "elsewhere" / "honest" / A, A, root=tmp_path / "elsewhere")[1] is None
        assert stamps.fingerprint(Course(tmp_path), "fifo", A)  # hashes the fifo's kind, never reads it
    finally:
        signal.alarm(0)


def test_an_oversized_notebook_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(submission, "MAX_BYTES", 1000)
    path = notebook_at(tmp_path / "big" / A, release_notebook(A))
    assert "over the 0 MB limit" in submission.notebook_problem(path)


# --- when it was submitted ----------------------------------------------------------------------

def test_the_submission_time_is_the_collection_time_never_the_students_file(tmp_path):
    folder = tmp_path / A
    notebook = notebook_at(folder, release_notebook(A))
    os.utime(notebook, (1_700_000_000, 1_700_000_000))
    (folder / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
    submission.record_collection_time(folder, notebook)
    written = (folder / "timestamp.txt").read_text()
    assert written.startswith(datetime.fromtimestamp(1_700_000_000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))
    assert (folder / submission.SET_ASIDE).read_text() == "2000-01-01 00:00:00.000000 UTC"  # kept, not read
    submission.record_collection_time(folder, notebook)  # again: nothing changes
    assert (folder / "timestamp.txt").read_text() == written
    assert (folder / submission.SET_ASIDE).read_text() == "2000-01-01 00:00:00.000000 UTC"
    from nbgrader.utils import parse_utc
    assert parse_utc(written).year == 2023  # what nbgrader reads back


# --- CSV cells -------------------------------------------------------------------------------

@pytest.mark.slow
@given(st.text())
def test_csv_cells_never_start_a_formula_and_read_back_unchanged(value):
    safe = safe_cell(value)
    assert plain_cell(safe) == visible(value)  # control characters are written as escapes
    if safe.startswith(FORMULA):
        float(safe)  # only a plain number may start with + or -


@pytest.mark.parametrize("value", ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)",
                                   "\t=1", "\r=1", "'=1", "-cmd|' /C calc'!A0"])
def test_formula_cells_are_quoted(value):
    assert safe_cell(value).startswith("'") and plain_cell(safe_cell(value)) == visible(value)


def test_numbers_and_plain_text_are_written_as_they_are():
    for value in (-1.5, 3, "-1.5", "12", "passed", "", None):
        assert safe_cell(value) == value
    assert set(TRIGGERS) >= set(FORMULA)


def test_report_rows_are_written_safe_and_kept_rows_read_back_plain(tmp_path):
    path = tmp_path / "submissions.csv"
    columns = ("student_id", "assignment", "status", "message")
    row = {"student_id": "=HYPERLINK(1)", "assignment": A, "status": "graded", "message": "-1 point"}
    pipeline.write_rows(path, columns, [row], set())
    text = path.read_text()
    assert "'=HYPERLINK(1)" in text and "'-1 point" in text
    assert not any(cell.startswith(FORMULA) for r in csv.reader(io.StringIO(text)) for cell in r)
    other = {"student_id": "bob", "assignment": A, "status": "graded", "message": ""}
    pipeline.write_rows(path, columns, [other], {("bob", A)})  # keeps the first row, read back plain
    with path.open(newline="") as fh:
        rows = [plain_row(r) for r in csv.DictReader(fh)]
    assert {r["student_id"] for r in rows} == {"=HYPERLINK(1)", "bob"}
    assert path.read_text().count("'=HYPERLINK(1)") == 1  # not quoted twice


def test_the_summary_shows_control_characters_instead_of_sending_them():
    row = summary._printable({"student_id": "evil\x1b]0;pwned\x07\x1b[2J", "score": 1.0})
    assert "\x1b" not in row["student_id"] and "\\x1b" in row["student_id"] and row["score"] == 1.0


# --- HTML ------------------------------------------------------------------------------------------

def test_clean_html_keeps_honest_markup_and_drops_every_active_part():
    page = clean_html(QuickHTMLExporter().markdown2html({}, XSS_MARKDOWN))
    for honest in ("<h2", "<b>the kink</b>", "<table>", "HONEST-TEXT", f'src="data:image/png;base64,{PNG}"'):
        assert honest in page, honest
    assert not active_parts(page)
    assert "&lt;script&gt;" in page  # shown as text, so the reader sees what was tried


def active_parts(html: str) -> list:
    """Elements and attributes of a page that could run or load something."""
    from bs4 import BeautifulSoup
    found = []
    for tag in BeautifulSoup(html, "html.parser").find_all(True):
        if tag.name in ("script", "svg", "iframe", "style", "meta", "form", "math", "object", "embed", "base"):
            found.append(tag.name)
        for name, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            if name.startswith("on") or name in ("style", "action", "formaction") or (
                    name in ("href", "src") and re.sub(r"\s", "", value).lower().startswith(("javascript:", "vbscript:"))):
                found.append(f"{tag.name} {name}={value}")
    return found


def test_clean_html_refuses_data_urls_except_images():
    assert "href" not in clean_html('<a href="data:text/html,<script>alert(1)</script>">x</a>')
    assert "src" not in clean_html('<img src="data:text/html;base64,PHNjcmlwdD4=">')
    assert 'src="data:image/svg+xml;base64,' in clean_html('<img src="data:image/svg+xml;base64,PHN2Zz4=">')


def test_feedback_pages_carry_the_policy_before_anything_they_load():
    html, _ = QuickHTMLExporter().from_notebook_node(_notebook_node(release_notebook(A)))
    head = html[html.index("<head>"):]
    assert head.index("Content-Security-Policy") < min(head.index("<script"), head.index("<style"))
    assert f'content="{CSP}"' in html and "script-src 'none'" in CSP


def _notebook_node(nb: dict):
    import nbformat
    return nbformat.reads(json.dumps(nb), as_version=4)


# --- the corpus through make grade -----------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("intake")
    for entry in CLASS:
        entry.write(course / "submitted", A)
    relative = os.path.relpath(course, REPO)  # make grade COURSE=<relative path>
    assert not Path(relative).is_absolute()
    proc = make_grade(relative)
    checks = {(r["student_id"], r["item"]): r for r in map(plain_row, read_csv(course / "reports" / "checks.csv"))}
    return course, proc, checks


@pytest.mark.slow
def test_grading_finishes_with_nothing_unresolved(graded):
    course, proc, _ = graded
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = {r["student_id"]: r["status"] for r in map(plain_row, read_csv(course / "reports" / "submissions.csv"))}
    assert set(statuses) == {e.name for e in CLASS}
    assert "unresolved" not in statuses.values()


@pytest.mark.slow
@pytest.mark.parametrize("entry", CLASS, ids=lambda e: e.name)
def test_each_submission_gets_exactly_its_outcome(entry, graded):
    course, _, checks = graded
    # written answers are graded by hand; an unreadable notebook has nothing to grade
    assert_exact_outcome(entry, checks, A, manual=(("not_run" if entry.status == "graded" else "error"),))
    rows = {r["student_id"]: r for r in map(plain_row, read_csv(course / "reports" / "submissions.csv"))}
    assert rows[entry.name]["status"] == entry.status
    assert entry.messages.get("", "").lower() in rows[entry.name]["message"].lower(), rows[entry.name]


@pytest.mark.slow
def test_no_csv_cell_starts_a_formula(graded):
    course, _, _ = graded
    for path in (course / "grades.csv", course / "reports" / "checks.csv", course / "reports" / "submissions.csv"):
        cells = [cell for row in csv.reader(io.StringIO(path.read_text())) for cell in row]
        bad = [c for c in cells if c.startswith(FORMULA) and not _number(c)]
        assert not bad, (path.name, bad[:3])
        for entry in NAMES:  # each id is there, quoted where it is a formula
            assert safe_cell(entry.name) in cells, (path.name, entry.name)


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@pytest.mark.slow
def test_grades_csv_has_every_student_once_with_status_and_the_collection_time(graded):
    course, _, _ = graded
    rows = [plain_row(r) for r in read_csv(course / "grades.csv")]
    by_id = {r["student_id"]: r for r in rows}
    assert len(rows) == len(by_id) == len(CLASS)
    full = total_points(A, written=False)
    assert float(by_id["globa"]["score"]) == full and float(by_id["glob*"]["score"]) == full
    assert float(by_id["glob[ab]"]["score"]) < full
    forged = by_id["intake-forged-timestamp"]
    assert forged["timestamp"] and not forged["timestamp"].startswith(FORGED_TIME), forged
    notebook = course / "submitted" / "intake-forged-timestamp" / A / f"{A}.ipynb"
    collected = datetime.fromtimestamp(notebook.stat().st_mtime, timezone.utc)
    assert forged["timestamp"].startswith(collected.strftime("%Y-%m-%d %H:%M")), forged
    for entry in ATTACKS:
        if entry.status == "error":
            assert by_id[entry.name]["status"] == "error" and by_id[entry.name]["message"], entry.name


@pytest.mark.slow
def test_glob_ids_grade_their_own_folder_only(graded):
    from nbgrader.api import Gradebook
    course, _, _ = graded
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submissions = [s.student.id for s in gb.assignment_submissions(A)]
    assert len(submissions) == len(set(submissions))
    for student in ("glob[ab]", "globa", "glob*"):
        assert student in submissions
        assert (course / "feedback" / student / A / f"{A}.html").exists(), student
    assert not (course / "autograded" / "globb").exists()


@pytest.mark.slow
def test_a_linked_notebook_leaks_nothing(graded):
    course, _, _ = graded
    for student in ("intake-link-to-source", "intake-linked-folder", "intake-fifo", "intake-extra-link",
                    "intake-extra-fifo"):
        assert not (course / "feedback" / student).exists(), student
        assert not (course / "autograded" / student / A / f"{A}.ipynb").exists(), student


@pytest.mark.slow
def test_the_formgrader_copy_of_a_written_answer_is_the_students_text(graded):
    """The autograded notebook keeps the answer as written (formgrader sanitizes when it renders)."""
    course, _, _ = graded
    nb = json.loads((course / "autograded" / "intake-xss" / A / f"{A}.ipynb").read_text())
    text = json.dumps(nb)
    assert "HONEST-TEXT" in text
    assert "HONEST-OUTPUT" not in text  # the student's outputs were cleared by nbgrader


def test_a_glob_id_finds_its_own_folder_only_where_nbgrader_found_others(tmp_path):
    import logging
    from types import SimpleNamespace

    from nbgrader.converters.base import BaseConverter

    from autograder.grading.literalids import LiteralIds

    class Converter(LiteralIds):
        coursedir = SimpleNamespace(assignment_id=A, student_id="glob[ab]", notebook_id="*")
        log = logging.getLogger("test")

        def _format_source(self, assignment_id, student_id, escape=False):
            return str(tmp_path / "submitted" / student_id / assignment_id)

    for student in ("glob[ab]", "globa", "globb"):
        notebook_at(tmp_path / "submitted" / student / A, release_notebook(A))
    mine = Converter()
    mine.init_notebooks()
    assert [Path(p).parts[-3] for ps in mine.assignments.values() for p in ps] == ["glob[ab]"]
    nbgrader = Converter()
    BaseConverter.init_notebooks(nbgrader)  # the control: nbgrader's own lookup
    assert {Path(p).parts[-3] for ps in nbgrader.assignments.values() for p in ps} == {"globa", "globb"}
