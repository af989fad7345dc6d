"""Grades of two runs on the same class, side by side: what differs, per item and kind.

    python -m bench.compare_grades OLD_DIR NEW_DIR [--examples 3]

Each folder holds a run's grades.csv and checks.csv (grading_bench --keep). A row is keyed by
(student, assignment) in grades.csv and (student, assignment, item) in checks.csv; it differs in
its score, its status or its message. Items only one side grades are counted apart.
"""
from __future__ import annotations

import argparse
import collections
import csv
from pathlib import Path


def rows(path: Path, key: tuple) -> dict:
    with path.open(newline="") as fh:
        return {tuple(r[k] for k in key): r for r in csv.DictReader(fh)}


def differences(old: dict, new: dict, fields: tuple) -> dict:
    """(field, item or assignment) -> [(key, old value, new value)] for rows in both."""
    out = collections.defaultdict(list)
    for key in sorted(old.keys() & new.keys()):
        for f in fields:
            a, b = old[key].get(f, ""), new[key].get(f, "")
            if f.endswith("score") and a and b:
                a, b = float(a), float(b)
            if a != b:
                out[(f, key[-1])].append((key, a, b))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--examples", type=int, default=2)
    args = parser.parse_args()
    for name, key, fields in (("grades.csv", ("student_id", "assignment"), ("score", "max_score", "status")),
                              ("checks.csv", ("student_id", "assignment", "item"),
                               ("score", "max_score", "status", "message"))):
        old, new = rows(args.old / name, key), rows(args.new / name, key)
        only_old = collections.Counter(k[-1] for k in old.keys() - new.keys())
        only_new = collections.Counter(k[-1] for k in new.keys() - old.keys())
        found = differences(old, new, fields)
        print(f"{name}: {len(old)} rows old, {len(new)} new, {len(old.keys() & new.keys())} in both; "
              f"{sum(map(len, found.values()))} differences")
        for what, count in (("only old", only_old), ("only new", only_new)):
            if count:
                print(f"  {what}: " + ", ".join(f"{k} x{n}" for k, n in sorted(count.items())))
        for (field, item), diffs in sorted(found.items()):
            print(f"  {field} of {item}: {len(diffs)} rows")
            for key, a, b in diffs[:args.examples]:
                print(f"    {'/'.join(key[:2])}: {str(a)[:160]!r}\n    {'':>{len('/'.join(key[:2]))}}  -> {str(b)[:160]!r}")


if __name__ == "__main__":
    main()
