"""Gradient-check benchmark on the kit's corpus of student implementations.

Methods, each judging a student's gradient at a grader-style test point (float64):
  kit       autograder.gradcheck.check_gradient as the grader calls it (4 random directions of
            the grader's reference loss; after a reject it localizes with a numeric pass)
  kit-det   the same with localize=False: the accept/reject decision alone
  full      central differences of the reference loss at every entry, relative_error <= FULL_TOL
  sparse10  the same at 10 random entries per tensor
  gc-slow   torch.autograd.gradcheck of a Function: forward = the student's loss, backward =
            grad_output * the student's gradient (student loss against student gradient)
  gc-fast   the same with fast_mode=True
Subjects: svm/softmax losses (naive, vectorized), nn_forward_backward (W1, b1, W2, b2). "grad"
bugs (the headline) have a gradient unlike autograd of the grader's loss, "loss-only" bugs a right
gradient and a wrong loss; entries that raise or break only a static rule are excluded; correct
variants are deduplicated by cell source.
Run: python -m bench.gradcheck_bench [--out build/bench/gradcheck_bench.json] [--big-d 200]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.autograd.gradcheck import GradcheckError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as bench/<name>.py
from autograder import gradcheck as gc  # noqa: E402 (sys.path set above)
from autograder.checks import linear_classifiers as lin, two_layer_net as tln  # noqa: E402 (sys.path set above)
from autograder.checks.samples import away_from_kinks, relu_net_point, visible_reg, visible_reg_params  # noqa: E402 (sys.path set above)
from autograder.checks.two_layer_reference import forward, loss as net_loss  # noqa: E402 (sys.path set above)
from autograder.corpus import entries  # noqa: E402 (sys.path set above)
from autograder.corpus.notebooks import functions  # noqa: E402 (sys.path set above)

LINEAR = {"svm_loss_naive": lin.svm_loss, "svm_loss_vectorized": lin.svm_loss,
          "softmax_loss_naive": lin.softmax_loss, "softmax_loss_vectorized": lin.softmax_loss}
NET = "nn_forward_backward"
METHODS = ("kit", "kit-det", "full", "sparse10", "gc-slow", "gc-fast")


@dataclass
class Problem:
    """A student's function at one test point; kind: "grad" or "loss-only" bug, or "correct"."""
    label: str
    kind: str
    student: object  # params dict -> (loss, grads dict)
    ref: object      # params dict -> the grader's float64 loss
    params: dict
    seed: int
    calls: int = 0

    def run(self, params):
        self.calls += 1
        return self.student(params)

    def ref_of(self, name):
        return lambda P: self.ref({**self.params, name: P})


def usable(g, x) -> bool:
    return torch.is_tensor(g) and tuple(g.shape) == tuple(x.shape) and bool(torch.isfinite(g).all())


def check_kit(p, localize=True):
    (_, grads), evals = p.run(p.params), 0
    for k, (name, x) in enumerate(p.params.items()):  # stop at the first reject, as the grader
        v = gc.check_gradient(p.ref_of(name), x, grads[name], name, localize=localize,
                              generator=torch.Generator().manual_seed(p.seed + k))
        evals += v.evaluations
        if not v.ok:
            return True, evals
    return False, evals


def check_entries(p, count=None):
    """Central differences of the reference loss at every entry, or at `count` random ones."""
    _, grads = p.run(p.params)
    gen, evals = torch.Generator().manual_seed(p.seed), 0
    for name, x in p.params.items():
        if not usable(grads[name], x):
            return True, evals
        f, idx = p.ref_of(name), torch.randperm(x.numel(), generator=gen)[:count]
        if count is None:
            idx = torch.arange(x.numel())
        numeric = gc._numeric_on(f, x, None if count is None else idx, gc.H)[0].view(-1)[idx]
        evals += 2 * len(idx)
        if gc.relative_error(grads[name].reshape(-1)[idx], numeric) > gc.FULL_TOL:
            return True, evals
    return False, evals


class StudentFunction(torch.autograd.Function):
    """forward: the student's loss; backward: grad_output times the student's gradients."""
    @staticmethod
    def forward(ctx, problem, names, *tensors):
        value, grads = problem.run(dict(zip(names, tensors)))
        ctx.grads = [grads[n] for n in names]
        return torch.as_tensor(value, dtype=torch.float64).detach().clone()

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None, *[grad_output * g for g in ctx.grads])


def check_torch(p, fast):
    names, before = tuple(p.params), p.calls
    inputs = tuple(x.clone().requires_grad_(True) for x in p.params.values())
    try:
        torch.autograd.gradcheck(lambda *t: StudentFunction.apply(p, names, *t), inputs, fast_mode=fast)
        return False, p.calls - before
    except (GradcheckError, RuntimeError):  # RuntimeError: autograd refused a wrong-shaped gradient
        return True, p.calls - before


RUN = {"kit": check_kit, "kit-det": lambda p: check_kit(p, localize=False), "full": check_entries,
       "sparse10": lambda p: check_entries(p, 10), "gc-slow": lambda p: check_torch(p, False),
       "gc-fast": lambda p: check_torch(p, True)}


def classify(student, ref, params):
    """'grad', 'loss-only', 'static' (both right) or 'raises', against autograd of the reference."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        (value := ref(leaves)).backward()
    try:
        got, grads = student(params)
    except Exception:
        return "raises"
    if any(not usable(grads.get(k), x) or gc.relative_error(grads[k], leaves[k].grad) > 1e-6
           for k, x in params.items()):
        return "grad"
    return "loss-only" if abs(float(got) - value.item()) > 1e-7 * max(1.0, abs(value.item())) else "static"


def point(item, sizes):
    """A grader-style point: (reference loss of a params dict, params, seed, bind), where
    bind(student function) gives params dict -> (loss, grads dict) at this point."""
    (N, D, C), (Nn, Dn, Hn, Cn) = sizes
    if item == NET:
        P, X, y = relu_net_point(Nn, Dn, Hn, Cn, seed=tln.SEED)
        reg = visible_reg_params(net_loss, P, X, y)
        return (lambda q: net_loss(q, X, y, reg)), P, tln.SEED, lambda fn: lambda q: fn(q, X, y, reg)
    W, X, y = away_from_kinks(N, D, C, seed=lin.SEED, hinge=item.startswith("svm"))
    reg = visible_reg(LINEAR[item], W, X, y)
    bind = lambda fn: lambda q: (lambda value, dW: (value, {"W": dW}))(*fn(q["W"], X, y, reg))  # noqa: E731 (binds X, y and reg)
    return (lambda q: LINEAR[item](q["W"], X, y, reg)), {"W": W}, lin.SEED, bind


def runnable(e) -> bool:
    """Entries the tests check in-process (not the ones that kill the process or fake files)."""
    return (e.status == "graded" and getattr(e, "in_process", True) and not e.untouched and e.raw is None
            and not getattr(e, "transform", None) and not getattr(e, "empty", False))


def subjects(sizes, items, timing_only=False):
    """Problems for the items; timing_only keeps the reference and the first grad bug of each."""
    out, excluded = [], []
    for item in items:
        assignment = "two_layer_net" if item == NET else "linear_classifiers"
        ref, params, seed, bind = point(item, sizes)
        seen, kinds = set(), []
        for e in sorted(filter(runnable, entries(assignment)), key=lambda e: e.name != "ok-reference"):
            source = e.sources(assignment)[f"{item}_code"]
            if item not in e.fails and source in seen:
                continue
            with contextlib.redirect_stdout(io.StringIO()):  # the setup cell and some variants print
                ns = functions(e.notebook(assignment))
                if item == NET:
                    ns["nn_forward_pass"] = forward  # the grader's forward pass, as under grading
                student = bind(ns[item])
                kind = classify(student, ref, params) if item in e.fails else "correct"
            if kind in ("raises", "static"):
                excluded.append(f"{item}/{e.name} ({kind})")
            elif not timing_only or (kind == "correct" and not seen) or (kind == "grad" and "grad" not in kinds):
                seen.add(source)
                kinds.append(kind)
                out.append(Problem(f"{item}/{e.name}", kind, student, ref, params, seed))
    return out, excluded


def bench(problems):
    """Every method on every problem: per-method totals and per-problem verdicts."""
    rows, verdicts = {m: dict(time=0.0, evals=0, checks=0, grad=0, loss=0, fp=0) for m in METHODS}, {}
    for p in problems:
        verdicts[p.label] = {"kind": p.kind}
        for m in METHODS:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # some corpus variants print and warn on every call
                start = time.perf_counter()
                rejected, evals = RUN[m](p)
                elapsed = time.perf_counter() - start
            r = rows[m]
            r["time"], r["evals"], r["checks"] = r["time"] + elapsed, r["evals"] + evals, r["checks"] + 1
            r[{"grad": "grad", "loss-only": "loss", "correct": "fp"}[p.kind]] += rejected
            verdicts[p.label].update({m: rejected, f"{m} s": elapsed, f"{m} evals": evals})
    return rows, verdicts


def report(title, problems, rows, verdicts, detail):
    n = {k: sum(p.kind == k for p in problems) for k in ("grad", "loss-only", "correct")}
    print(f"\n{title}\n" + "-" * len(title))
    if detail:
        print(f"{'subject':66} {'kind':9} " + " ".join(f"{m:>8}" for m in METHODS))
        for label, v in verdicts.items():
            print(f"{label:66} {v['kind']:9} " + " ".join(f"{'REJECT' if v[m] else 'accept':>8}" for m in METHODS))
        print()
    print(f"{'method':9} {'grad bugs caught':>17} {'loss-only flagged':>18} {'correct rejected':>17} "
          f"{'evals total':>12} {'evals/check':>12} {'time s':>9}")
    for m, r in rows.items():
        print(f"{m:9} {r['grad']:>8}/{n['grad']:<8} {r['loss']:>9}/{n['loss-only']:<8} {r['fp']:>8}/{n['correct']:<8} "
              f"{r['evals']:>12} {r['evals'] / max(r['checks'], 1):>12.1f} {r['time']:>9.3f}")
    full, slow = rows["full"]["evals"], rows["gc-slow"]["time"]
    out = {"kit evals % of full (<= 2%)": (100 * rows["kit"]["evals"] / full, "<=", 2),  # the targets
           "gc-slow time / kit time (>= 10x)": (slow / rows["kit"]["time"], ">=", 10),
           "kit-det evals % of full (info)": (100 * rows["kit-det"]["evals"] / full, "<=", 2),
           "gc-slow time / kit-det time (info)": (slow / rows["kit-det"]["time"], ">=", 10)}
    out = {k: {"value": v, "bound": f"{op} {b}", "pass": v <= b if op == "<=" else v >= b}
           for k, (v, op, b) in out.items()}
    for name, t in out.items():
        print(f"  {name:38} {t['value']:10.2f}   {'PASS' if t['pass'] else 'FAIL'}")
    return {"counts": n, "methods": rows, "verdicts": verdicts, "targets": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/bench/gradcheck_bench.json")
    ap.add_argument("--big-d", type=int, default=200, help="D of the timing-only size (both models)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, see below)")
    args = ap.parse_args()
    # Every check is a stream of tiny ops: on a 2-core VM, 2 intra-op threads made single loss
    # evaluations 10-100x slower and erratic, so the default is 1 thread.
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    small, big = ((40, 30, 10), (40, 20, 15, 10)), ((40, args.big_d, 10), (40, args.big_d, 15, 10))
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__, "bug_set": "grad bugs: gradient "
              "unlike autograd of the grader's loss (loss may be wrong too); loss-only: gradient right, loss wrong"}
    runs = (("realistic", small, (*LINEAR, NET), False),
            ("big", big, ("svm_loss_vectorized", "softmax_loss_vectorized", NET), True))
    for tag, sizes, items, timing_only in runs:
        problems, excluded = subjects(sizes, items, timing_only)
        rows, verdicts = bench(problems)
        what = "timing: reference + first grad bug, vectorized and net" if timing_only else "all corpus subjects"
        title = f"{tag}: linear N,D,C={sizes[0]}, net N,D,H,C={sizes[1]} -- {what}"
        result[tag] = {"sizes": {"linear_NDC": sizes[0], "net_NDHC": sizes[1]}, "excluded": excluded,
                       **report(title, problems, rows, verdicts, detail=not timing_only)}
        if not timing_only:
            print("  excluded (no gradient to judge): " + ", ".join(excluded))
    result["wall_s"], result["loadavg_1m"] = time.perf_counter() - t0, os.getloadavg()[0]
    print(f"\nbug set: {result['bug_set']}.\nevals: kit/full/sparse10 count reference-loss evaluations (+1 "
          "student call); gc-* count student calls (a failing fast_mode check reruns slow mode).\n"
          f"big D={args.big_d}: at D=3073 a full check of W is 61460 evaluations (~30 s per subject here); "
          f"--big-d 500 takes ~3.8 min.\nthreads {result['threads']}, load average (1 min) "
          f"{result['loadavg_1m']:.2f} on {os.cpu_count()} CPUs, total {result['wall_s']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
