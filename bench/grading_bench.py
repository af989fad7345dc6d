"""Grading throughput: `make grade` against plain `nbgrader autograde`, on the same class.

    python -m bench.grading_bench [--students 100] [--baseline 2] [--jobs N] [--out FILE]
    python -m bench.grading_bench --build-class DIR [--students 300] [--assignments a b]
    python -m bench.grading_bench --class DIR --repo OLD --repo . [--rounds 2] [--keep DIR] --baseline 0

A synthetic class is built from the kit's corpus: student k hands in, for every assignment,
corpus entry k mod len(corpus) (the reference, correct variants, realistic bugs, the blank
release, crashing notebooks), so every kind of submission is in it. It is graded with
`make grade` (clean room, warm workers), timed end to end and per phase. Then `--baseline`
of the same notebooks are graded by nbgrader alone (its own Execute step: the notebook runs
in a Jupyter kernel with the hidden tests, as nbgrader does without this kit), one
`nbgrader autograde` process per assignment. Seconds per submission-notebook are printed for
both, and the ratio. Targets: >= 10x nbgrader's throughput; 300 students x 3 notebooks in
<= 5 minutes on 2 cores.

Comparing two versions of the grader fairly (same notebooks, same machine): write a class once
with --build-class (from any checkout's corpus), then grade that folder with --class by each
checkout given as --repo (its own `make grade` and .venv), alternating, --rounds times. Wall time
on a shared machine is noisy, so CPU time is measured too: user + sys of every process the run
waited for (RUSAGE_CHILDREN: make, the grader, its workers and their clean rooms), and, as
root, of every process of the run, waited for or not (a cpuacct cgroup of its own), and the
"time per step" line of each run. --keep DIR keeps each run's grades.csv and reports/*.csv.
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import re
import resource
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


def build_class(submitted: Path, students: int, only: list | None = None) -> int:
    """Write the synthetic class; returns the number of submission-notebooks.

    Per assignment the pool is its whole corpus (reference, variants, bugs, blank release,
    crashes) plus a notebook with corrupt JSON; student k gets entry k mod len(pool).
    """
    count = 0
    for assignment in only or assignments():
        pool = [e for e in entries(assignment) if e.in_process or e.name.startswith("crash")]
        pool.append(Entry("broken-json", raw=b'{"cells": [{"cell_type": "code", "sour', status="error"))
        for k in range(students):
            replace(pool[k % len(pool)], name=f"s{k:04d}").write(submitted, assignment)
            count += 1
    return count


def kit(course: Path, jobs: int | None, repo: Path = REPO, only: list | None = None) -> dict:
    """`make grade` of `repo` on the class: wall and CPU seconds, the autograde phase from its
    progress bar, its "time per step" line and the statuses it wrote."""
    group = CpuGroup()
    start, before = time.perf_counter(), _children_cpu()
    if only:  # make grade has no assignment option: the same command line, with --assignment
        args = [str(repo / ".venv" / "bin" / "python"), "-m", "autograder", "grade", "--course", str(course)]
        args += [f"--assignment={a}" for a in only] + ([f"--jobs={jobs}"] if jobs else [])
    else:
        args = ["make", "-s", "grade", f"COURSE={course}"] + ([f"JOBS={jobs}"] if jobs else [])
    env = dict(os.environ, PATH=str(repo / ".venv" / "bin") + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(args, cwd=repo, capture_output=True, text=True, env=env, preexec_fn=group.enter)
    total, cpu = time.perf_counter() - start, _children_cpu() - before
    cgroup_cpu = group.close()
    if proc.returncode not in (0, 1) or not (course / "reports" / "submissions.csv").exists():
        raise SystemExit(f"make grade failed:\n{proc.stderr[-3000:]}")
    bars = re.findall(r"autograde: 100%\|[^|]*\| (\d+)/(\d+) \[(\d+):(\d+)", proc.stderr)
    autograde = int(bars[-1][2]) * 60 + int(bars[-1][3]) if bars else None
    steps = dict((k, float(v)) for k, v in re.findall(r"(\w+) ([\d.]+) s", _last(proc.stderr, "time per step: ")))
    # a fast run is only a result if the notebooks were really graded: count their statuses
    with open(course / "reports" / "submissions.csv", newline="") as fh:
        statuses = collections.Counter(row["status"] for row in csv.DictReader(fh))
    return {"total_s": total, "cpu_s": cpu, "cgroup_cpu_s": cgroup_cpu, "autograde_s": autograde, "steps": steps,
            "statuses": dict(statuses), "exit": proc.returncode}


class CpuGroup:
    """A cgroup v1 cpuacct group of its own for the grading run, where the machine lets us make
    one (root): the CPU time of every process in it, waited for or not (sandboxes included)."""
    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self):
        self.path = self.ROOT / f"flatgrad-bench-{os.getpid()}-{time.monotonic_ns()}"
        try:
            self.path.mkdir()
        except OSError:
            self.path = None

    def enter(self) -> None:  # in the child, before exec: it and everything it starts count
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> float | None:
        if self.path is None:
            return None
        seconds = int((self.path / "cpuacct.usage").read_text()) / 1e9
        for _ in range(50):  # empty once the last clean-room process is gone
            try:
                self.path.rmdir()
                break
            except OSError:
                time.sleep(0.1)
        return seconds


def _children_cpu() -> float:
    """user + sys seconds of every descendant this process waited for (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _last(text: str, prefix: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return lines[-1][len(prefix):] if lines else ""


def compare(fixed: Path, repos: list, rounds: int, jobs: int | None, only: list | None, keep: Path | None) -> list:
    """Grade the class in `fixed` by each repo, alternating, `rounds` times; one row per run."""
    runs = []
    for round_ in range(1, rounds + 1):
        for repo in repos:
            work = Path(tempfile.mkdtemp(prefix="flatgrad-bench-"))
            try:
                shutil.copytree(fixed, work / "submitted", symlinks=True)
                result = {"repo": str(repo), "commit": _commit(repo), "round": round_,
                          **kit(work, jobs, repo, only)}
                if keep is not None:
                    out = keep / f"{repo.name}-{round_}"
                    out.mkdir(parents=True, exist_ok=True)
                    for name in ("grades.csv", "reports/checks.csv", "reports/submissions.csv"):
                        shutil.copy(work / name, out / Path(name).name)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            print(f"{repo.name:>12} @ {result['commit']} round {round_}: {result['total_s']:6.1f} s wall, "
                  f"{result['cpu_s']:6.1f} s CPU (cgroup: {result['cgroup_cpu_s'] or 0:.1f} s); {result['statuses']}\n{'':>14}steps: "
                  + ", ".join(f"{k} {v:.1f}" for k, v in result["steps"].items()), flush=True)
            runs.append(result)
    return runs


def _commit(repo: Path) -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                           capture_output=True, text=True).stdout.strip()
    return proc.stdout.strip() + ("+changes" if dirty else "")


def nbgrader_alone(course: Path, source: Path, per_assignment: int) -> dict:
    """Plain `nbgrader autograde A` (one process per assignment) on the first students."""
    Course(course).write_config()
    (course / "course_config.py").write_text(NBGRADER_ALONE)
    students = sorted(p.name for p in source.iterdir())[:per_assignment]
    handed_in = [a for a in assignments() if any(source.glob(f"*/{a}"))]
    for student in students:
        shutil.copytree(source / student, course / "submitted" / student)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    run = lambda *a: subprocess.run([sys.executable, "-m", "nbgrader", *a], cwd=course, env=env,  # noqa: E731 (nbgrader's command line in the course, with its env)
                                    capture_output=True, text=True)
    for assignment in handed_in:  # not timed: the gradebook entry both graders need first
        run("generate_assignment", assignment, "--force", "--CourseDirectory.release_directory=build/release")
    start = time.perf_counter()
    for assignment in handed_in:
        run("autograde", assignment, "--force")
    seconds = time.perf_counter() - start
    graded = len(list((course / "autograded").glob("*/*/*.ipynb")))
    return {"notebooks": len(students) * len(handed_in), "graded": graded, "total_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=2, help="students per assignment graded by nbgrader alone")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--assignments", nargs="+", default=None, help="only these assignments")
    parser.add_argument("--build-class", type=Path, help="only write the class to this folder (a submitted/)")
    parser.add_argument("--class", dest="fixed", type=Path, help="grade this submitted/ folder instead of a new class")
    parser.add_argument("--repo", type=Path, action="append", help="checkout whose make grade runs (repeatable)")
    parser.add_argument("--rounds", type=int, default=1, help="with --class: runs of each --repo, alternating")
    parser.add_argument("--keep", type=Path, help="with --class: keep each run's grades.csv and reports/*.csv here")
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "grading_bench.json"))
    args = parser.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.build_class:
        print(f"wrote {build_class(args.build_class, args.students, args.assignments)} notebooks to {args.build_class}")
        return
    if args.fixed:
        runs = compare(args.fixed.resolve(), [r.resolve() for r in args.repo or [REPO]], args.rounds, args.jobs,
                       args.assignments, args.keep)
        Path(args.out).write_text(json.dumps({"class": str(args.fixed), "cores": os.cpu_count(), "runs": runs}, indent=1))
        return
    work = Path(tempfile.mkdtemp(prefix="flatgrad-bench-"))
    try:
        notebooks = build_class(work / "kit" / "submitted", args.students, args.assignments)
        ours = kit(work / "kit", args.jobs, only=args.assignments)
        theirs = nbgrader_alone(work / "nbgrader", work / "kit" / "submitted", args.baseline) if args.baseline else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_ours = ours["total_s"] / notebooks
    result = {"students": args.students, "notebooks": notebooks, "cores": os.cpu_count(),
              "make_grade": ours, "make_grade_s_per_notebook": per_ours, "projected_300x3_s": per_ours * 900}
    print(f"class: {args.students} students, {notebooks} notebooks, {os.cpu_count()} cores")
    print(f"make grade:        {ours['total_s']:7.1f} s in all, {ours['cpu_s']:.1f} s CPU ({ours['cgroup_cpu_s'] or 0:.1f} s in its cgroup) (autograde phase "
          f"{ours['autograde_s']} s)  -> {per_ours:.3f} s per notebook")
    print(f"time per step:     {ours['steps']}")
    print(f"statuses:          {ours['statuses']}")
    if theirs:
        per_theirs = theirs["total_s"] / theirs["notebooks"]
        result.update(nbgrader_alone=theirs, nbgrader_s_per_notebook=per_theirs, speedup=per_theirs / per_ours)
        print(f"nbgrader alone:    {theirs['total_s']:7.1f} s for {theirs['notebooks']} notebooks"
              f"  -> {per_theirs:.3f} s per notebook")
        print(f"throughput ratio:  {result['speedup']:.1f}x  (target >= 10x: {'PASS' if result['speedup'] >= 10 else 'FAIL'})")
    print(f"300 x 3 notebooks: {result['projected_300x3_s'] / 60:.1f} min at this rate"
          f" (target <= 5 min: {'PASS' if result['projected_300x3_s'] <= 300 else 'FAIL'})")
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
