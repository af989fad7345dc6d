"""Feedback that teaches (issue 12): how often the grader's message names the tensor, where, by
how much and a likely cause; how often a visible check in the notebook catches a bug before
submission; visible false alarms on correct variants. Over the whole corpus.

    .venv/bin/python bench/feedback_bench.py [--grader-only] [--json out.json] [--assignment knn ...]

The grader's messages come from the in-process check path (autograder.kernel.check on the corpus
functions). The visible checks are the notebook's own cells, run in this process with the digits
(as under grading), as IPython runs them (each kept in `In`, no future imports inherited): for
each variant, every code cell down to its item's last check that is not a hidden test, except
the slow demos and the checks of other items (of those, only their functions, classes and
imports run; knn runs them all, its checks reuse earlier data). A bug is caught when its item's
answer cell or a check cell of its item raises, or a check prints WRONG / NOT ...; a correct
variant is a false alarm when one of those prints WRONG or raises.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import linecache
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
os.environ.setdefault("MPLBACKEND", "Agg")

from autograder.checks import items
from autograder.layout import REPO
from autograder.corpus import entries, real_code, rule_variants
from autograder.corpus.notebooks import SOLUTION_MARKER, functions
from autograder.kernel import check

ASSIGNMENTS = ("linear_classifiers", "two_layer_net", "backprop_basics", "knn")
# items whose verdict is about a loss value or a gradient (the "gradient/loss bugs")
GRADIENT_ITEMS = re.compile(r"(loss|backward|forward_backward|gate|Function|circuit|sigmoid|relu|matmul)", re.IGNORECASE)

TENSOR = re.compile(r"(\bd[A-Za-z0-9_]*\b|grads\['\w+'\]|\bloss\b|\bgrad_\w+|\bscores\b|\bhidden\b|\bX_batch\b|"
                    r"\by_batch\b|\by_pred\b|\bW\b|\bdata loss\b)")
WHERE = re.compile(r"(\w\[\d|\brows?\b|\bcolumns?\b|\bentr(y|ies)\b|\bdata loss\b|\bregularization term\b|"
                   r"\bb1\b|\bb2\b|\bW1\b|\bW2\b)")
HOW_MUCH = re.compile(r"(expected [-+]?\d|\d times|difference [-+]?\d|\bby [-+]?\d|\d+(\.\d+)?×|\(expected \S+\))")


def corpus(assignment):
    all_entries = list(entries(assignment)) + real_code.ENTRIES.get(assignment, []) + real_code.RULES.get(assignment, []) + rule_variants.ENTRIES.get(assignment, [])
    return [e for e in all_entries if e.status == "graded" and e.in_process and not e.untouched]


def grader_figures(assignment, entry):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ns = functions(entry.notebook(assignment))
    except Exception:  # noqa: BLE001 (a cell that does not compile: no message about values)
        return []
    rows = []
    for item in entry.fails:
        with contextlib.redirect_stdout(io.StringIO()):
            verdict = check(assignment, item, ns.get(item))
        msg = verdict.message
        rows.append({"item": item, "status": verdict.status, "message": msg,
                     "gradient": bool(GRADIENT_ITEMS.search(item)) and verdict.status == "failed"
                     and " may not " not in msg,
                     "tensor": bool(TENSOR.search(msg)), "where": bool(WHERE.search(msg)),
                     "how_much": bool(HOW_MUCH.search(msg)), "cause": "likely:" in msg,
                     # the count: a cause is also named by the in-place and policy messages
                     "cause_any": "likely:" in msg or " in place" in msg or " may not " in msg})
    return rows


# --- the notebook's visible checks -------------------------------------------------------

SLOW = {"show_images", "scores_demo", "gradcheck_cost", "kink_experiment", "templates", "xor_demo",
        "best_results", "show_weights", "environment", "speed", "neighbours", "view_demo"}
# notebooks whose checks reuse data of earlier checks (knn: x_a, k_to_accuracies) and are fast:
# every cell above the item's checks runs, as when a student runs the notebook top to bottom
IN_ORDER = {"knn"}


# cells of other items that later checks rely on (helpers they define): always run
ALWAYS = ("check_helpers", "timing_helper", "search_helper", "helper_sample_batch", "helper_init_params",
          "distance_checks", "train_demo")  # train_demo: the W_svm / net that later checks predict with


def definitions(source):
    """A skipped cell's functions, classes, imports and literal constants (a later cell may use
    them), nothing else."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)

    def literal(node):  # lecture = (2.0, -1.0, ...): data a later check reads
        try:
            return isinstance(node, ast.Assign) and ast.literal_eval(node.value) is not None
        except ValueError:
            return False
    return "\n".join(ast.get_source_segment(source, n, padded=True) or "" for n in tree.body
                     if isinstance(n, kept) or literal(n)) + "\n"


def code_cells(nb):
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        out.append((meta.get("grade_id", ""), bool(meta.get("grade")), bool(meta.get("solution")),
                    SOLUTION_MARKER.sub("", "".join(cell["source"]))))
    return out


def item_ranges(cells, names):
    """item -> grade_ids of the visible cells between its answer cell and its hidden test."""
    ids = [gid for gid, *_ in cells]
    ranges = {}
    for item in names:
        if f"{item}_code" in ids and item in ids:
            ranges[item] = [g for g, grade, sol, _ in cells[ids.index(f"{item}_code") + 1:ids.index(item)]
                            if not grade and not sol]
    return ranges


def use_rulecheck(assignment):
    """The notebook's `from rulecheck import check_rules`: the kit's copy, with the table make
    release wrote beside the release notebook (the corpus notebooks are release notebooks)."""
    from autograder import rulecheck
    sys.modules["rulecheck"] = rulecheck
    rulecheck.TABLE = json.loads((REPO / "release" / assignment / rulecheck.TABLE_FILE).read_text())


def visible_run(assignment, entry, focus):
    """Run the notebook's visible cells for entry; return {grade_id: (printed, raised)}.
    Cells run as in IPython: each kept in the history `In` (check_rules reads it), its source
    kept where inspect.getsource finds it."""
    from autograder import gradcheck
    sys.modules["gradcheck"] = gradcheck
    use_rulecheck(assignment)
    data_dir = str(Path(__file__).resolve().parents[1] / "data")
    if data_dir not in sys.path:
        sys.path.append(data_dir)
    cells = code_cells(entry.notebook(assignment))
    ranges = item_ranges(cells, items(assignment))
    # the focus items' checks, and their answer cells: an error there shows in the student's kernel too
    wanted = {g for item in focus for g in ranges.get(item, [])} | {f"{item}_code" for item in focus}
    skip = SLOW | {g for item, gs in ranges.items() if item not in focus for g in gs
                   if not g.endswith("helpers") and g not in ALWAYS and assignment not in IN_ORDER}
    last = max(i for i, (gid, *_) in enumerate(cells) if gid in wanted) if wanted else -1
    history = [""]
    ns = {"__name__": "__main__", "In": history, "_ih": history}
    out = {}
    for gid, grade, sol, source in cells[:last + 1]:  # nothing below the last check is needed
        if grade:
            continue
        history.append(source)  # as the student ran it (a skipped cell: only its definitions run here)
        if gid in skip and gid not in wanted:
            source = definitions(source)
        source = source.replace("DATASET = None", "DATASET = \"digits\"")
        buf, raised = io.StringIO(), None
        filename = f"<cell {gid}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
                # dont_inherit: not this module's `from __future__ import annotations` (a kernel has none)
                exec(compile(source, filename, "exec", dont_inherit=True), ns)  # noqa: S102 (the notebook's cells)
        except Exception as exc:  # noqa: BLE001 (the student's code)
            raised = f"{type(exc).__name__}: {exc}"
        if gid in wanted:
            out[gid] = (buf.getvalue(), raised)
    return out


def caught(outputs):
    return any(raised or re.search(r"(^|: )(WRONG|NOT [A-Z]+)", text, re.MULTILINE) for text, raised in outputs.values())


def false_alarm(outputs):
    """A correct variant's check says WRONG, or a check cell raises (a check that breaks on
    correct code, or the bench running a cell without what it needs: both to fix)."""
    return any(raised or re.search(r"(^|: )WRONG", text, re.MULTILINE) for text, raised in outputs.values())


def share(rows, key):
    return sum(r[key] for r in rows) / max(1, len(rows))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--grader-only", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--assignment", action="append", choices=ASSIGNMENTS,
                        help="only this one (repeatable); default: all")
    parser.add_argument("--entry", action="append", help="only entries whose name contains this (repeatable)")
    args = parser.parse_args(argv)
    chosen = tuple(args.assignment or ASSIGNMENTS)
    wanted = (lambda e: any(part in e.name for part in args.entry)) if args.entry else (lambda e: True)
    import matplotlib
    matplotlib.use("Agg")
    report = {"grader": [], "visible": []}
    start = time.process_time()
    for a in chosen:
        for e in filter(wanted, corpus(a)):
            if e.fails:
                for row in grader_figures(a, e):
                    report["grader"].append({"assignment": a, "entry": e.name, **row})
    bugs = [r for r in report["grader"] if r["status"] == "failed"]
    grad = [r for r in bugs if r["gradient"]]
    print(f"grader messages of {len(bugs)} failed bug items ({len(grad)} about a loss or gradient):")
    for key in ("tensor", "where", "how_much", "cause", "cause_any"):
        print(f"  {key:9s} {share(bugs, key):6.1%} of all   {share(grad, key):6.1%} of loss/gradient bugs")
    allfour = [r for r in grad if r["tensor"] and r["where"] and r["how_much"] and r["cause_any"]]
    print(f"  all four  {len(allfour) / max(1, len(grad)):6.1%} of loss/gradient bugs")
    print(f"  (grader part: {time.process_time() - start:.1f} s CPU)")
    print("causes named (check each against the entry's bug: a wrong cause is a defect):")
    for r in report["grader"]:
        if "likely:" in r["message"]:
            print(f"  {r['entry']:45s} likely: {r['message'].split('likely: ', 1)[1][:70]}")
    if not args.grader_only:
        start = time.process_time()
        for a in chosen:
            for e in filter(wanted, corpus(a)):
                focus = set(e.fails) or {i for i in items(a) if f"{i}_code" in e.touched()}
                if not focus:
                    continue
                outs = visible_run(a, e, focus)
                report["visible"].append({"assignment": a, "entry": e.name, "bug": bool(e.fails),
                                          "caught": caught(outs), "false_alarm": not e.fails and false_alarm(outs),
                                          "outputs": {g: list(v) for g, v in outs.items()}})
        vb = [r for r in report["visible"] if r["bug"]]
        vc = [r for r in report["visible"] if not r["bug"]]
        print(f"visible checks: caught {sum(r['caught'] for r in vb)} of {len(vb)} bugs "
              f"({share(vb, 'caught'):.1%}); false alarms on {sum(r['false_alarm'] for r in vc)} of {len(vc)} "
              f"correct variants  ({time.process_time() - start:.1f} s CPU)")
        for r in vb:
            if not r["caught"]:
                print(f"  missed: {r['assignment']} {r['entry']}")
        for r in vc:
            if r["false_alarm"]:
                print(f"  FALSE ALARM: {r['assignment']} {r['entry']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
