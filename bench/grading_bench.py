"""Grading throughput: `make grade` against plain `nbgrader autograde`, on the same class.

    python -m bench.grading_bench [--students 100] [--baseline 2] [--jobs N] [--out FILE]

A synthetic class is built from the kit's corpus: student k hands in, for every assignment,
corpus entry k mod len(corpus) (the reference, correct variants, realistic bugs, the blank
release, crashing notebooks), so every kind of submission is in it. It is graded with
`make grade` (clean room, warm workers), timed end to end and per phase. Then `--baseline`
of the same notebooks are graded by nbgrader alone (its own Execute step: the notebook runs
in a Jupyter kernel with the hidden tests, as nbgrader does without this kit), one
`nbgrader autograde` process per assignment. Seconds per submission-notebook are printed for
both, and the ratio. Targets: >= 10x nbgrader's throughput; 300 students x 3 notebooks in
<= 5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from autograder.corpus import entries
from autograder.corpus.notebooks import Entry
from autograder.layout import REPO, Course, assignments

NBGRADER_ALONE = """c = get_config()  # noqa: F821
# nbgrader's own autograde steps: the notebook and its hidden tests run in a Jupyter kernel.
c.Autograde.sanitize_preprocessors = ["nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec", "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata"]
c.Autograde.autograde_preprocessors = ["nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata"]
"""


def build_class(submitted: Path, students: int) -> int:
    """Write the synthetic class; returns the number of submission-notebooks.

    Per assignment the pool is its whole corpus (reference, variants, bugs, blank release,
    crashes) plus a notebook with corrupt JSON; student k gets entry k mod len(pool).
    """
    count = 0
    for assignment in assignments():
        pool = [e for e in entries(assignment) if e.in_process or e.name.startswith("crash")]
        pool.append(Entry("broken-json", raw=b'{"cells": [{"cell_type": "code", "sour', status="error"))
        for k in range(students):
            replace(pool[k % len(pool)], name=f"s{k:04d}").write(submitted, assignment)
            count += 1
    return count


def kit(course: Path, jobs: int | None) -> dict:
    """`make grade` on the class: total seconds and the autograde phase from its progress bar."""
    start = time.perf_counter()
    args = ["make", "-s", "grade", f"COURSE={course}"] + ([f"JOBS={jobs}"] if jobs else [])
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"make grade failed:\n{proc.stderr[-3000:]}")
    bars = re.findall(r"autograde: 100%\|[^|]*\| (\d+)/(\d+) \[(\d+):(\d+)", proc.stderr)
    autograde = int(bars[-1][2]) * 60 + int(bars[-1][3]) if bars else None
    # a fast run is only a result if the notebooks were really graded: count their statuses
    with open(course / "reports" / "submissions.csv", newline="") as fh:
        statuses = collections.Counter(row["status"] for row in csv.DictReader(fh))
    return {"total_s": total, "autograde_s": autograde, "statuses": dict(statuses)}


def nbgrader_alone(course: Path, source: Path, per_assignment: int) -> dict:
    """Plain `nbgrader autograde A` (one process per assignment) on the first students."""
    Course(course).write_config()
    (course / "course_config.py").write_text(NBGRADER_ALONE)
    students = sorted(p.name for p in source.iterdir())[:per_assignment]
    for student in students:
        shutil.copytree(source / student, course / "submitted" / student)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    run = lambda *a: subprocess.run([sys.executable, "-m", "nbgrader", *a], cwd=course, env=env,  # noqa: E731 (nbgrader's command line in the course, with its env)
                                    capture_output=True, text=True)
    for assignment in assignments():  # not timed: the gradebook entry both graders need first
        run("generate_assignment", assignment, "--force", "--CourseDirectory.release_directory=build/release")
    start = time.perf_counter()
    for assignment in assignments():
        run("autograde", assignment, "--force")
    seconds = time.perf_counter() - start
    graded = len(list((course / "autograded").glob("*/*/*.ipynb")))
    return {"notebooks": len(students) * len(assignments()), "graded": graded, "total_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=2, help="students per assignment graded by nbgrader alone")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "grading_bench.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flatgrad-bench-"))
    try:
        notebooks = build_class(work / "kit" / "submitted", args.students)
        ours = kit(work / "kit", args.jobs)
        theirs = nbgrader_alone(work / "nbgrader", work / "kit" / "submitted", args.baseline)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_ours = ours["total_s"] / notebooks
    per_theirs = theirs["total_s"] / theirs["notebooks"]
    result = {"students": args.students, "notebooks": notebooks, "cores": os.cpu_count(),
              "make_grade": ours, "make_grade_s_per_notebook": per_ours,
              "nbgrader_alone": theirs, "nbgrader_s_per_notebook": per_theirs,
              "speedup": per_theirs / per_ours,
              "projected_300x3_s": per_ours * 900}
    print(f"class: {args.students} students x {len(assignments())} notebooks = {notebooks} notebooks, {os.cpu_count()} cores")
    print(f"make grade:        {ours['total_s']:7.1f} s in all (autograde phase {ours['autograde_s']} s)"
          f"  -> {per_ours:.3f} s per notebook")
    print(f"statuses:          {ours['statuses']}")
    print(f"nbgrader alone:    {theirs['total_s']:7.1f} s for {theirs['notebooks']} notebooks"
          f"  -> {per_theirs:.3f} s per notebook")
    print(f"throughput ratio:  {result['speedup']:.1f}x  (target >= 10x: {'PASS' if result['speedup'] >= 10 else 'FAIL'})")
    print(f"300 x 3 notebooks: {result['projected_300x3_s'] / 60:.1f} min at this rate"
          f" (target <= 5 min: {'PASS' if result['projected_300x3_s'] <= 300 else 'FAIL'})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
