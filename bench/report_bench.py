"""Class-report generation time on a synthetic graded class (no grading).

    python -m bench.report_bench [--students 300] [--repeat 3] [--keep DIR]

Grading 900 notebooks takes minutes; the report only reads what grading left. So this writes
what `make grade` would have for a class of N students x every assignment: a real nbgrader
gradebook (roster, assignments, grade cells with their points from the source notebooks),
reports/checks.csv and submissions.csv (statuses and failure messages drawn at random, numbers
varying from student to student, some with a cause hint), an autograded notebook per graded
submission (the solved notebook from the corpus, with a clean-room time in its metadata) and
feedback pages. Then it times `make report` on it (wall and CPU of the whole process).
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from autograder.corpus.notebooks import fill, release_notebook, answers
from autograder.layout import REPO, SOURCE, assignments

TEMPLATES = [
    "{item}: {t} is {x:.6g}, expected {y:.6g} (difference {d:.3g})",
    "{item}: d{t} does not match the numeric gradient; worst: d{t}[{i}, {j}] = {x:.6g} (expected {y:.6g})",
    "{item} returned shape ({i}, {j}), expected ({j}, {i})",
    "{item} raised IndexError: index {i} is out of bounds for dimension 0 with size {j}",
    "{item}: loss is {x:.4g}, expected {y:.4g} (likely: the scores were not shifted by their max)",
    "{item}: d{t}[{i}] is {x:.4g}, expected {y:.4g}; likely cause: the ReLU mask was taken from the upstream gradient",
]


def items_of(assignment: str) -> list[tuple[str, float]]:
    """(grade id, points) of every grade cell of the source notebook, in order."""
    nb = json.loads((SOURCE / assignment / f"{assignment}.ipynb").read_text())
    return [(c["metadata"]["nbgrader"]["grade_id"], float(c["metadata"]["nbgrader"].get("points", 0)))
            for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]


def synthesize(root: Path, students: int, seed: int = 0) -> None:
    import sys
    sys.path.insert(0, str(REPO / "tests"))
    from reportclass import gradebook, write_csv
    from autograder.grading.itemrows import COLUMNS
    rng = random.Random(seed)
    ids = [f"s{k:04d}" for k in range(students)]
    rows, subs = [], []
    for a in assignments():
        items = items_of(a)
        solved = json.dumps(fill(release_notebook(a), answers(a)))
        hard = {item: rng.uniform(0.05, 0.5) for item, _ in items}  # each item's failure rate
        for s in ids:
            status = rng.choices(["graded", "error", "timeout", "not_submitted"], [90, 3, 2, 5])[0]
            if status == "not_submitted":
                continue
            subs.append((s, a, status, "" if status == "graded" else f"the notebook {status}"))
            for item, points in items:
                if status != "graded":
                    rows.append((s, a, item, 0.0, points, status, f"the notebook {status}"))
                elif rng.random() > hard[item]:
                    rows.append((s, a, item, points, points, "passed", "all hidden tests passed"))
                else:
                    text = rng.choice(TEMPLATES[:4] if rng.random() < 0.7 else TEMPLATES[4:]).format(
                        item=item, t=rng.choice("WXb"), x=rng.gauss(0, 10), y=rng.gauss(0, 10),
                        d=rng.random(), i=rng.randint(0, 99), j=rng.randint(1, 99))
                    rows.append((s, a, item, 0.0, points, rng.choice(["failed"] * 5 + ["error"]), text))
            if status == "graded":
                nb = json.loads(solved)
                nb["metadata"]["flatgrad"] = {"notes": [], "seconds": round(rng.uniform(0.5, 12), 3)}
                path = root / "autograded" / s / a / f"{a}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(nb))
                page = root / "feedback" / s / a / f"{a}.html"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text("<html><body>feedback</body></html>")
    from autograder.report.classdata import NOT_SUBMITTED  # noqa: F401 (same vocabulary)
    write_csv(root / "reports" / "checks.csv", COLUMNS, [dict(zip(COLUMNS, r)) for r in rows])
    write_csv(root / "reports" / "submissions.csv", ("student_id", "assignment", "status", "message"),
              [dict(zip(("student_id", "assignment", "status", "message"), r)) for r in subs])
    gradebook(root, ids, {a: sum(p for _, p in items_of(a)) for a in assignments()})


def time_make_report(root: Path) -> tuple[float, float]:
    """(wall, CPU seconds) of `make -s report COURSE=root`, the make and python processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["make", "-s", "report", f"COURSE={root}"], cwd=REPO, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="write the class here (kept) instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        start = time.perf_counter()
        synthesize(root, args.students)
        print(f"synthetic class: {args.students} students x {len(assignments())} assignments "
              f"({time.perf_counter() - start:.1f} s to write)")
        times = [time_make_report(root) for _ in range(args.repeat)]
        page = root / "reports" / "index.html"
        print(f"make report: best wall {min(w for w, _ in times):.2f} s, best CPU {min(c for _, c in times):.2f} s "
              f"over {args.repeat} runs; page {page.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
