"""Command line: python -m autograder {grade,report,release,gradescope,contract} (see README.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .layout import REPO, Course


def cmd_grade(args) -> int:
    from .grading import pipeline
    from .verdict import UNRESOLVED
    # resolved: the workers change directory to the course root, relative paths would break
    course = Course(Path(args.course).resolve() if args.course else REPO)
    empty = not args.course and not any(course.students(a) for a in pipeline.assignments())
    if args.demo or empty:
        from .corpus.demo import build_demo_class
        course = Course(Path(args.course).resolve() if args.course else REPO / "demo")
        if empty:
            print(f"No submissions in {REPO / 'submitted'}: grading the demo class instead", file=sys.stderr)
        print(f"Demo class: writing its submissions to {course.submitted}/", file=sys.stderr)
        build_demo_class(course.submitted)
    run = pipeline.grade(course, args.student, args.assignment, args.jobs)  # its last step prints the table
    if not run.submissions:
        print(f"Nothing to grade: put notebooks in {course.submitted}/<student_id>/<assignment>/", file=sys.stderr)
        return 1
    return 1 if any(o.status == UNRESOLVED for o in run.submissions) else 0


def cmd_report(args) -> int:
    from .report.build import write_report
    root = Path(args.course) if args.course else REPO
    if not args.course and not (root / "reports" / "checks.csv").exists() and (REPO / "demo" / "reports").is_dir():
        root = REPO / "demo"  # `make grade` graded the demo class there
    if not (root / "reports" / "checks.csv").exists():
        print(f"No {root / 'reports' / 'checks.csv'}: run `make grade` first", file=sys.stderr)
        return 1
    print(f"Wrote {write_report(root)}")
    return 0


def cmd_release(args) -> int:
    from .release import check_release, write_release
    if args.check:
        problems = check_release()
        for p in problems:
            print(p, file=sys.stderr)
        print("release/ is in sync and leaks nothing" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    write_release()
    print(f"wrote {REPO / 'release'}/")
    return 0


def cmd_gradescope(args) -> int:
    from .gradescope.bundle import build
    path = build(args.assignment, Path(args.out) if args.out else None)
    print(f"Wrote {path}: upload it as the autograder of the Gradescope assignment")
    return 0


def cmd_contract(args) -> int:
    from .contract import problems
    from .layout import assignments
    broken = 0
    for a in args.assignment or assignments():
        found = problems(a)
        broken += bool(found)
        print(f"{a}: " + ("keeps the contract" if not found else f"{len(found)} problem(s)"))
        for p in found:
            print(f"  {p}")
    return 1 if broken else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="autograde submitted/, write grades.csv, reports/, feedback/")
    g.add_argument("--course", help="course root holding submitted/ (default: the repo; the demo class if empty)")
    g.add_argument("--student", help="grade only this student id (other rows are kept)")
    g.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    g.add_argument("--demo", action="store_true",
                   help="grade the bundled demo class (in --course, default demo/)")
    g.add_argument("--jobs", type=int, default=None, help="notebooks graded at once (default: CPU cores)")
    g.set_defaults(func=cmd_grade)
    p = sub.add_parser("report", help="rebuild reports/index.html (the class report) without grading")
    p.add_argument("--course", help="graded course root (default: the repo, else demo/)")
    p.set_defaults(func=cmd_report)
    r = sub.add_parser("release", help="generate release/ from assignments/ with nbgrader")
    r.add_argument("--check", action="store_true", help="only check release/ is in sync and leak-free")
    r.set_defaults(func=cmd_release)
    b = sub.add_parser("gradescope", help="build the Gradescope autograder zip of one assignment")
    b.add_argument("assignment")
    b.add_argument("--out", help="zip to write (default build/gradescope/<assignment>.zip)")
    b.set_defaults(func=cmd_gradescope)
    c = sub.add_parser("contract", help="check that each assignment's notebook, checks and corpus agree")
    c.add_argument("assignment", nargs="*", help="assignments to check (default: all of assignments/)")
    c.set_defaults(func=cmd_contract)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
