"""Per-assignment numbers: score spread, pass rate per item, status counts, slowest notebooks."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

from ..verdict import ERROR, GRADED, NOT_RUN, PASSED, TIMEOUT, UNRESOLVED
from .classdata import NOT_SUBMITTED, ClassData, Submission

# submission statuses in the order the page lists them (one vocabulary with grades.csv)
STATUS_ORDER = (GRADED, ERROR, TIMEOUT, UNRESOLVED, NOT_SUBMITTED)


@dataclass(frozen=True)
class Spread:
    """Scores of the students who have one: how many, middle, quartiles, range."""
    n: int
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class ItemRate:
    item: str
    passed: int
    total: int      # rows of this item: every submitted notebook has one
    max_score: float
    not_run: int = 0  # of them not run: a written answer not graded yet, a cell never run

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def spread(scores: list[float]) -> Spread:
    """Median, quartiles (inclusive method: they stay inside the range) and range."""
    if not scores:
        return Spread(0)
    xs = sorted(scores)
    q1, q3 = (statistics.quantiles(xs, n=4, method="inclusive")[::2] if len(xs) > 1 else (xs[0], xs[0]))
    return Spread(len(xs), statistics.median(xs), q1, q3, xs[0], xs[-1], statistics.fmean(xs))


def scores(data: ClassData, assignment: str) -> list[float]:
    """Scores recorded for the assignment (submitted notebooks; unresolved ones have none)."""
    return [s.score for s in data.of(assignment) if s.status != NOT_SUBMITTED and s.score is not None]


def item_rates(data: ClassData, assignment: str) -> list[ItemRate]:
    passed, total, unrun, top = Counter(), Counter(), Counter(), {}
    for r in data.rows:
        if r.assignment == assignment:
            total[r.item] += 1
            passed[r.item] += r.status == PASSED
            unrun[r.item] += r.status == NOT_RUN
            top[r.item] = r.max_score
    return [ItemRate(i, passed[i], total[i], top[i], unrun[i]) for i in data.items(assignment)]


def status_counts(data: ClassData, assignment: str) -> dict[str, int]:
    """Submissions per status, every status of STATUS_ORDER listed (zeros too), others after."""
    counts = Counter(s.status for s in data.of(assignment))
    return {**{k: counts.get(k, 0) for k in STATUS_ORDER}, **{k: v for k, v in counts.items() if k not in STATUS_ORDER}}


def slowest(data: ClassData, assignment: str, n: int = 5) -> list[Submission]:
    timed = [s for s in data.of(assignment) if s.seconds is not None]
    return sorted(timed, key=lambda s: (-s.seconds, s.student_id))[:n]
