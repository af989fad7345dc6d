"""Run All of each release notebook with the reference solution, as a student would: nbclient.

The release notebook (release/<a>/) with its answer cells filled from the source's solutions,
executed by nbclient in a copy of its release folder, outside grading (NBGRADER_EXECUTION unset:
the students' sizes), offline: the kernel's HOME is empty (no cached CIFAR-10) and its HTTP(S)
proxy is a closed local port, so the default CIFAR-10 download fails at once and the notebook goes
on with the offline digits, as on a laptop without network. Target: <= 2 minutes of
wall-clock time per notebook on the kit's 2-core machine. The machine may be shared, so the
kernel's CPU time (user + system) is reported too; the slowest cells say where the time goes.
Run: python -m bench.runall_bench [assignment ...] [--out build/bench/runall_bench.json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as bench/<name>.py
from autograder.corpus.notebooks import answers, fill, release_notebook  # noqa: E402 (sys.path set above)
from autograder.layout import REPO, assignments  # noqa: E402 (sys.path set above)

TARGET_S = 120.0
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, a connection is refused at once


@dataclass
class RunAll:
    assignment: str
    wall_s: float
    cpu_s: float                        # the kernel's user + system time (all its threads)
    errors: list = field(default_factory=list)     # "cell id: ename: evalue"
    wrong: list = field(default_factory=list)      # lines starting with WRONG:
    notes: list = field(default_factory=list)      # lines starting with NOTE: (the fallback)
    first_output: str = ""                         # what the first code cell printed
    stderr: list = field(default_factory=list)     # stderr output lines (warnings)
    slowest: list = field(default_factory=list)    # (cell id, seconds), slowest first


def reference_notebook(assignment: str) -> nbformat.NotebookNode:
    """The release notebook with the reference answers (DATASET left at its default)."""
    nb = fill(release_notebook(assignment), answers(assignment))
    return nbformat.reads(json.dumps(nb), as_version=4)  # sources as strings, as nbclient wants


def offline_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "nbgrader_execution")}
    env.update(HOME=str(home), http_proxy=CLOSED_PORT, https_proxy=CLOSED_PORT,
               HTTP_PROXY=CLOSED_PORT, HTTPS_PROXY=CLOSED_PORT, MPLBACKEND="agg")
    return env


def _texts(cell) -> tuple[list[str], list[str]]:
    out, err = [], []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            (err if o.get("name") == "stderr" else out).extend(o.get("text", "").splitlines())
        elif o.get("output_type") == "execute_result":
            out.extend(o.get("data", {}).get("text/plain", "").splitlines())
    return out, err


def _seconds(cell) -> float:
    ex = cell.get("metadata", {}).get("execution", {})
    start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    from datetime import datetime
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def run_all(assignment: str, timeout: int = 600) -> RunAll:
    """Execute the reference notebook end to end (errors are recorded, execution goes on)."""
    nb = reference_notebook(assignment)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / assignment
        shutil.copytree(REPO / "release" / assignment, folder)
        (Path(tmp) / "home").mkdir()
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(folder)}})
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        client.execute(env=offline_env(Path(tmp) / "home"))  # starts, runs, stops and reaps the kernel
        wall = time.perf_counter() - start
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = RunAll(assignment, round(wall, 1),
                    round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1))
    timed = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        out, err = _texts(cell)
        if not timed:
            result.first_output = "\n".join(out)
        result.wrong += [line for line in out if line.startswith("WRONG")]
        result.notes += [line for line in out if line.startswith("NOTE")]
        result.stderr += err
        result.errors += [f"{cell.get('id')}: {o['ename']}: {o['evalue']}"
                          for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        timed.append((cell.get("id"), round(_seconds(cell), 2)))
    result.slowest = sorted(timed, key=lambda t: -t[1])[:4]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=assignments())
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "runall_bench.json"))
    args = parser.parse_args(argv)
    results = []
    for a in args.assignments:
        r = run_all(a)
        results.append(asdict(r))
        verdict = "within" if r.wall_s <= TARGET_S else "OVER"
        print(f"{a:20s} Run All {r.wall_s:6.1f} s wall ({verdict} the {TARGET_S:.0f} s target), "
              f"{r.cpu_s:6.1f} s kernel CPU; errors {len(r.errors)}, WRONG lines {len(r.wrong)}, "
              f"stderr lines {len(r.stderr)}")
        print(f"    first cell: {r.first_output[:100]!r}; notes: {r.notes}")
        print("    slowest cells: " + ", ".join(f"{c} {s:.1f} s" for c, s in r.slowest))
        for line in (r.errors + r.wrong + r.stderr)[:8]:
            print("    " + line[:160])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
