"""The class report in a real browser (Debian's chromium): a class graded by `make grade`.

The class is conftest's shared class; among others it holds helpers.report_class: four
linear_classifiers notebooks (one correct, two bugs, one of them under an id that is HTML, and
the blank release under an id that is a spreadsheet formula) and one backprop_basics notebook,
so the others count as not submitted.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from autograder.report.classdata import read_rows
from helpers import FORMULA, HOSTILE, REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # chromium, on a class graded by make grade
A = "linear_classifiers"


@pytest.fixture(scope="module")
def course(shared_class):
    """The shared class (conftest): it holds helpers.report_class among others."""
    return shared_class.course


def read_csv(path):
    return read_rows(path)  # the values as the grader meant them (a formula-like id unquoted)


@pytest.fixture(scope="module")
def shown(course, browser):
    """The page as chromium shows it: console messages, failed requests, dialogs (the page)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    seen = {"console": [], "errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: seen["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto((course / "reports" / "index.html").as_uri())
    page.wait_for_load_state("load")
    yield page, seen
    page.close()


def test_make_grade_writes_the_report(course):
    assert (course / "reports" / "index.html").stat().st_size > 0


def test_page_loads_without_console_errors_or_network(shown):
    page, seen = shown
    assert not seen["errors"], seen["errors"]
    assert not [m for m in seen["console"] if m[0] in ("error", "warning")], seen["console"]
    assert all(u.startswith(("file:", "data:")) for u in seen["requests"]), seen["requests"]


def test_plots_are_shown(course, shown):
    page, _ = shown
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.alt])")
    # a histogram and a pass-rate chart per assignment with scores
    scored = {r["assignment"] for r in read_csv(course / "reports" / "checks.csv")}
    assert len(scored) >= 2 and len(images) == 2 * len(scored) and all(done and width > 0 for done, width, _ in images), images


def test_numbers_match_checks_csv(course, shown):
    page, _ = shown
    rows = read_csv(course / "reports" / "checks.csv")
    totals, passed, total = defaultdict(float), defaultdict(int), defaultdict(int)
    for r in rows:
        totals[(r["student_id"], r["assignment"])] += float(r["score"] or 0)
        passed[(r["assignment"], r["item"])] += r["status"] == "passed"
        total[(r["assignment"], r["item"])] += 1
    assignments, totals = sorted({r["assignment"] for r in rows}), dict(totals)  # no new keys below
    table = page.eval_on_selector_all(
        "#students tbody tr",
        "trs => trs.map(tr => [tr.dataset.student, ...Array.from(tr.cells, c => c.dataset.sort)])")
    students = {r["student_id"] for r in rows}
    assert {t[0] for t in table} == students
    for student, _, overall, *cells in table:
        assert float(overall) == pytest.approx(sum(totals.get((student, a), 0.0) for a in assignments))
        for k, a in enumerate(assignments):
            score, status = cells[2 * k], cells[2 * k + 1]
            if (student, a) in totals:
                assert float(score) == pytest.approx(totals[(student, a)]) and status == "graded"
            else:
                assert status == "not_submitted"
    shown_rates = page.eval_on_selector_all(
        "section[data-assignment] table.rates tbody tr",
        "trs => trs.map(tr => [tr.closest('section').dataset.assignment, tr.dataset.item,"
        " +tr.cells[1].textContent, +tr.cells[2].textContent])")
    assert {(a, i): (p, n) for a, i, p, n in shown_rates} == {k: (passed[k], total[k]) for k in total}
    graded = page.eval_on_selector_all(
        "section[data-assignment]", "ss => ss.map(s => [s.dataset.assignment,"
        " +s.querySelector('[data-count=graded]').textContent,"
        " +s.querySelector('[data-count=not_submitted]').textContent])")
    subs = read_csv(course / "reports" / "submissions.csv")
    assert sorted(graded) == sorted([a, sum(s["assignment"] == a for s in subs), len(students) - sum(
        s["assignment"] == a for s in subs)] for a in assignments)


def test_slowest_notebooks_show_the_recorded_clean_room_times(course, shown):
    """make grade records each notebook's clean-room seconds; the page lists them, slowest first."""
    page, _ = shown
    slow = page.eval_on_selector_all(
        f"#a-{A} table.slowest tbody tr",
        "trs => trs.map(tr => [tr.cells[0].textContent, parseFloat(tr.cells[1].textContent)])")
    graded = {s["student_id"] for s in read_csv(course / "reports" / "submissions.csv")
              if s["assignment"] == A and s["status"] == "graded"}
    recorded = {}  # the seconds each graded notebook recorded
    for nb in (course / "autograded").glob(f"*/{A}/{A}.ipynb"):
        seconds = json.loads(nb.read_text())["metadata"].get("flatgrad", {}).get("seconds")
        if nb.parent.parent.name in graded and seconds is not None:
            recorded[nb.parent.parent.name] = float(seconds)
    assert len(recorded) > 5  # more than the table shows: it must pick the slowest
    assert sorted(s for s, _ in slow) == sorted(sorted(recorded, key=lambda s: (-recorded[s], s))[:5])
    assert all(t > 0 for _, t in slow) and [t for _, t in slow] == sorted((t for _, t in slow), reverse=True)


@pytest.mark.parametrize("student", [HOSTILE, FORMULA], ids=["html", "formula"])
def test_a_hostile_student_id_is_text_and_runs_nothing(course, shown, student):
    page, seen = shown
    assert not seen["dialogs"]
    assert page.locator("img[src=x]").count() == 0
    row = page.evaluate_handle("id => Array.from(document.querySelectorAll('#students tbody tr'))"
                               ".find(tr => tr.dataset.student === id)", student)
    assert row.evaluate("tr => tr.cells[0].innerText") == student
    # its feedback link leads to its own page, in the folder of that very id
    href = row.evaluate("tr => tr.querySelector('a').href")
    path = Path(unquote(urlparse(href).path))
    assert path.is_file() and path.parent.parent.name == student


def test_columns_sort_on_click(shown):
    page, _ = shown
    totals = lambda: page.eval_on_selector_all(  # noqa: E731 (read again after each click)
        "#students tbody tr", "trs => trs.map(tr => +tr.cells[1].dataset.sort)")
    page.click("#students thead th:nth-child(2) button")
    assert totals() == sorted(totals())
    page.click("#students thead th:nth-child(2) button")
    assert totals() == sorted(totals(), reverse=True)


def test_screenshot(shown):
    """build/report.png: the whole page (docs/report.png in the README is the demo class's)."""
    page, _ = shown
    out = REPO / "build" / "report.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000
