"""Are the report's numbers right: spread, pass rates, statuses, slowest notebooks, roster?"""
from __future__ import annotations

from urllib.parse import unquote

from autograder.report import stats
from autograder.report.classdata import feedback_link, load
from helpers import HOSTILE, write_class


def test_spread_of_known_scores():
    sp = stats.spread([4.0, 0.0, 2.0, 1.0, 3.0])
    assert (sp.n, sp.median, sp.q1, sp.q3, sp.low, sp.high, sp.mean) == (5, 2.0, 1.0, 3.0, 0.0, 4.0, 2.0)
    assert stats.spread([7.0]) == stats.Spread(1, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0)
    assert stats.spread([]).n == 0 and stats.spread([]).median is None


def graded_class(tmp_path):
    """Three items of A; B for some. s4 is enrolled (gradebook) but submitted nothing."""
    rows = [("s1", "A", "f", 2.0, 2.0, "passed", "ok"), ("s1", "A", "g", 0.0, 3.0, "failed", "g is 1, expected 2"),
            ("s1", "A", "q", 1.0, 1.0, "passed", "graded by hand: 1 of 1"),
            ("s2", "A", "f", 0.0, 2.0, "error", "f raised ValueError"), ("s2", "A", "g", 3.0, 3.0, "passed", "ok"),
            ("s2", "A", "q", 0.0, 1.0, "not_run", "written answer: graded by hand in formgrader, not graded yet"),
            (HOSTILE, "A", "f", 0.0, 2.0, "timeout", "past the limit"),
            (HOSTILE, "A", "g", 0.0, 3.0, "timeout", "past the limit"),
            (HOSTILE, "A", "q", 0.0, 1.0, "timeout", "past the limit"),
            ("s3", "A", "f", "", 2.0, "error", "worker died"), ("s3", "A", "g", "", 3.0, "error", "worker died"),
            ("s3", "A", "q", "", 1.0, "error", "worker died"),
            ("s1", "B", "h", 5.0, 5.0, "passed", "ok")]
    subs = [("s1", "A", "graded", ""), ("s2", "A", "graded", ""), (HOSTILE, "A", "timeout", "past the limit"),
            ("s3", "A", "unresolved", "worker died"), ("s1", "B", "graded", "")]
    return load(write_class(tmp_path, rows, subs, enrolled=["s1", "s2", "s3", "s4", HOSTILE],
                            max_scores={"A": 6.0, "B": 5.0},
                            seconds={("s1", "A"): 1.25, ("s2", "A"): 7.5, ("s1", "B"): 0.5},
                            feedback=[("s1", "A"), (HOSTILE, "A")]))


def test_scores_statuses_and_roster(tmp_path):
    data = graded_class(tmp_path)
    assert data.students == sorted(["s1", "s2", "s3", "s4", HOSTILE])
    assert data.max_scores == {"A": 6.0, "B": 5.0}  # from the gradebook
    assert [data.submissions[(s, "A")].score for s in ("s1", "s2", HOSTILE, "s3", "s4")] == [3.0, 3.0, 0.0, None, None]
    # unresolved has no score (never a silent zero); s4 and the others did not submit B
    assert sorted(stats.scores(data, "A")) == [0.0, 3.0, 3.0]
    counts = {a: list(stats.status_counts(data, a).items()) for a in "AB"}
    assert counts["A"] == [("graded", 2), ("error", 0), ("timeout", 1), ("unresolved", 1), ("not_submitted", 1)]
    assert counts["B"] == [("graded", 1), ("error", 0), ("timeout", 0), ("unresolved", 0), ("not_submitted", 4)]


def test_item_pass_rates_count_every_submitted_notebook(tmp_path):
    rates = {r.item: (r.passed, r.total, r.not_run) for r in stats.item_rates(graded_class(tmp_path), "A")}
    assert rates == {"f": (1, 4, 0), "g": (1, 4, 0), "q": (1, 4, 1)}


def test_slowest_notebooks_from_the_autograded_metadata(tmp_path):
    data = graded_class(tmp_path)
    assert [(s.student_id, s.seconds) for s in stats.slowest(data, "A")] == [("s2", 7.5), ("s1", 1.25)]


def test_feedback_links_exist_and_are_percent_encoded(tmp_path):
    data = graded_class(tmp_path)
    assert data.submissions[("s1", "A")].feedback == "../feedback/s1/A/A.html"
    assert data.submissions[("s2", "A")].feedback is None  # no page written: no dead link
    link = data.submissions[(HOSTILE, "A")].feedback
    assert link == feedback_link(HOSTILE, "A") and "<" not in link and " " not in link
    assert (tmp_path / "reports" / unquote(link)).resolve().exists()


def test_a_class_without_gradebook_still_loads(tmp_path):
    data = load(write_class(tmp_path, [("s1", "A", "f", 1.0, 2.0, "failed", "x")], [("s1", "A", "graded", "")]))
    assert data.students == ["s1"] and data.max_scores == {"A": 2.0}
