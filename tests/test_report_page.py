"""Is the page self-contained, escaped and under a strict CSP; does `make report` write it?"""
from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from autograder.report import page
from autograder.report.build import write_report
from autograder.report.classdata import load
from helpers import FORMULA, HOSTILE, REPO, write_class

EVIL_MESSAGE = "loss is 1.0 </code><script>alert(2)</script> expected 2.0"


def hostile_class(tmp_path):
    rows = [(HOSTILE, "A", "f", 0.0, 1.0, "failed", EVIL_MESSAGE),
            (FORMULA, "A", "f", 0.0, 1.0, "failed", "loss is 3.0 </code><script>alert(2)</script> expected 4.0"),
            ('"onmouseover="alert(3)', "A", "f", 1.0, 1.0, "passed", "ok")]
    subs = [(s, "A", "graded", "<b>note</b>") for s in (HOSTILE, FORMULA, '"onmouseover="alert(3)')]
    return write_class(tmp_path, rows, subs, feedback=[(HOSTILE, "A")])


def test_hostile_ids_and_messages_are_text(tmp_path):
    html = write_report(hostile_class(tmp_path)).read_text()
    assert "<img src=x" not in html and "<script>alert" not in html and "<b>note" not in html
    assert '"onmouseover="' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<script>") == 1  # ours only
    # the two failures differ only in numbers: one mistake, two students
    # (in "cover next class" and under the assignment)
    assert re.findall(r"<td class=num data-students>(\d+)</td>", html) == ["2", "2"]


def test_csp_allows_exactly_the_emitted_script_and_style(tmp_path):
    html = write_report(hostile_class(tmp_path)).read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    digest = lambda text: "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()  # noqa: E731 (the CSP hash, used twice in one assert)
    assert len(scripts) == len(styles) == 1
    assert f"script-src '{digest(scripts[0])}'" in policy and f"style-src '{digest(styles[0])}'" in policy
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    tags = Tags()
    tags.feed(html)
    assert not [a for a in tags.attributes if a.startswith("on") or a == "style"]  # no inline handlers
    assert tags.names <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "a", "span",
                          "code", "br", "section", "div", "details", "summary", "table", "thead", "tbody", "tr",
                          "th", "td", "button", "img", "script"}


class Tags(HTMLParser):
    """Tag and attribute names of a page as a browser's parser reads them."""

    def __init__(self):
        super().__init__()
        self.names, self.attributes = set(), set()

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.attributes |= {name for name, _ in attrs}


def test_page_fetches_nothing(tmp_path):
    """Every src is a data: URI; no link or script points off the file system."""
    html = page.render(load(hostile_class(tmp_path)), "now")
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r"src='([^']*)'", html))
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", html)


@pytest.mark.slow
def test_make_report_rebuilds_the_page_without_grading(tmp_path):
    course = hostile_class(tmp_path)
    proc = subprocess.run(["make", "-s", "report", f"COURSE={course}"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (course / "reports" / "index.html").exists()
    assert not (course / "gradebook.db").exists() and not (course / "autograded").exists()


@pytest.mark.slow
def test_report_without_checks_says_to_grade_first(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", "--course", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "make grade" in proc.stderr


def test_each_item_lists_its_three_most_common_mistakes_and_counts_the_rest(tmp_path):
    """Five kinds of failure of f (5, 4, 3, 2, 1 students): three listed, two counted."""
    rows, subs = [], []
    for kind in range(5):
        for k in range(5 - kind):
            student = f"k{kind}s{k}"
            rows.append((student, "A", "f", 0.0, 1.0, "failed", f"mistake{'x' * kind} at 1.5"))
            subs.append((student, "A", "graded", ""))
    html = page.render(load(write_class(tmp_path, rows, subs)), "now")
    section = html[html.index('<section id="a-A"'):]
    assert [f"mistake{'x' * k} at #" in section for k in range(5)] == [True, True, True, False, False]
    assert "2 less common kinds of failure of f" in section


def test_the_grading_step_reports_a_failure_and_leaves_the_grades(tmp_path):
    """make grade's class_report step: a page that cannot be built is a warning, not a crash."""
    from types import SimpleNamespace

    from autograder.layout import Course
    from autograder.report.build import class_report
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "checks.csv").write_text("not,the,columns\n1,2,3\n")
    logged = []
    class_report(SimpleNamespace(course=Course(tmp_path), log=logged.append))
    assert len(logged) == 1 and logged[0].startswith("warning: the class report was not written: KeyError")
    assert not (tmp_path / "reports" / "index.html").exists()
    hostile_class(tmp_path)
    class_report(SimpleNamespace(course=Course(tmp_path), log=logged.append))
    assert (tmp_path / "reports" / "index.html").exists() and logged[1].startswith("class report:")
