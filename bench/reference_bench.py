"""Speed of the reference solutions (the answer cells of the source notebooks).

1. linear_classifiers: vectorized vs naive loss + gradient, SVM and softmax, N=128, D=3073, C=10.
   Target: naive time / vectorized time >= 100x.
2. two_layer_net: the flat nn_forward_backward (hand-written backward) vs the same forward ops
   through torch autograd (loss.backward()), N=128, D=3073, H=100, C=10.
   Target: flat time / autograd time <= 0.8.
Both in float32 and float64; medians of alternating calls after a warm-up. On the CPU everything
runs with torch's default thread count and again with 1 thread; --device cuda times the GPU
(with synchronization) and skips with a message where CUDA is unavailable.
Run: python -m bench.reference_bench [--device cpu|cuda] [--out build/bench/reference_bench.json]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also runnable as bench/<name>.py
from autograder.corpus import entries  # noqa: E402 (sys.path set above)
from autograder.corpus.notebooks import functions  # noqa: E402 (sys.path set above)

N, D, C, H = 128, 3073, 10, 100
REG = 1e-3
SPEEDUP_TARGET, RATIO_TARGET = 100.0, 0.8
PARAMS = ("W1", "b1", "W2", "b2")


def reference(assignment: str) -> dict:
    """Namespace of the source notebook's solved answer cells (the ok-reference corpus entry)."""
    entry = next(e for e in entries(assignment) if e.name == "ok-reference")
    with contextlib.redirect_stdout(io.StringIO()):  # the setup cell prints the torch version
        return functions(entry.notebook(assignment))


def paired_ms(fa, fb, device: str, budget_s: float = 1.5, min_reps: int = 7, max_reps: int = 200):
    """Median (and min) wall times in ms of fa() and fb(), called in alternation so that both
    see the same machine load; the order flips every round; repeats sized from a warm-up."""
    def once(fn):
        if device == "cuda":
            torch.cuda.synchronize()  # GPU work is asynchronous: time it to completion
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start
    first = once(fa) + once(fb)  # warm-up: allocator, kernel selection, lazy CUDA init
    reps = max(min_reps, min(max_reps, int(budget_s / max(first, 1e-6))))
    times = {fa: [], fb: []}
    for r in range(reps):
        for fn in ((fa, fb) if r % 2 == 0 else (fb, fa)):
            times[fn].append(once(fn))
    # min kept too: the least disturbed call when other processes compete for the cores
    return [{"median_ms": 1e3 * statistics.median(t), "min_ms": 1e3 * min(t), "reps": reps}
            for t in (times[fa], times[fb])]


def autograd_forward_backward(leaves: dict, X, y, reg):
    """The reference forward pass and loss, op for op, with gradients from loss.backward()."""
    for p in leaves.values():
        p.grad = None  # as optimizer.zero_grad(set_to_none=True)
    W1, b1, W2, b2 = (leaves[k] for k in PARAMS)
    scores = (X.mm(W1) + b1).clamp(min=0).mm(W2) + b2
    shifted = scores - scores.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    is_correct = (y[:, None] == torch.arange(scores.shape[1], device=X.device)).to(scores.dtype)
    loss = -(log_probs * is_correct).sum() / X.shape[0] + reg * (torch.sum(W1 * W1) + torch.sum(W2 * W2))
    loss.backward()
    return loss, {k: leaves[k].grad for k in PARAMS}


def max_rel_diff(a: dict, b: dict) -> float:
    """Largest relative difference between two gradient dicts (a sanity check, not a target)."""
    return max(((a[k] - b[k]).norm() / b[k].norm().clamp_min(1e-30)).item() for k in PARAMS)


def bench_linear(ns, device, dtype) -> list:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(N, D, generator=gen).to(device, dtype)
    y = torch.randint(0, C, (N,), generator=gen).to(device)
    W = (1e-3 * torch.randn(D, C, generator=gen)).to(device, dtype)  # early-training scale
    rows = []
    for loss in ("svm", "softmax"):
        naive, vec = ns[f"{loss}_loss_naive"], ns[f"{loss}_loss_vectorized"]
        t_naive, t_vec = paired_ms(lambda f=naive: f(W, X, y, REG), lambda f=vec: f(W, X, y, REG), device)
        speedup = t_naive["median_ms"] / t_vec["median_ms"]
        rows.append({"loss": loss, "dtype": str(dtype).replace("torch.", ""), "naive": t_naive,
                     "vectorized": t_vec, "speedup": speedup, "pass": speedup >= SPEEDUP_TARGET,
                     "speedup_of_mins": t_naive["min_ms"] / t_vec["min_ms"]})
    return rows


def bench_net(ns, device, dtype) -> dict:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(N, D, generator=gen).to(device, dtype)
    y = torch.randint(0, C, (N,), generator=gen).to(device)
    params = {"W1": torch.randn(D, H, generator=gen) / D ** 0.5, "b1": 0.1 * torch.randn(H, generator=gen),
              "W2": torch.randn(H, C, generator=gen) / H ** 0.5, "b2": torch.zeros(C)}
    params = {k: v.to(device, dtype) for k, v in params.items()}
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    flat_fn = ns["nn_forward_backward"]
    _, flat_grads = flat_fn(params, X, y, REG)
    _, auto_grads = autograd_forward_backward(leaves, X, y, REG)
    t_flat, t_auto = paired_ms(lambda: flat_fn(params, X, y, REG),
                               lambda: autograd_forward_backward(leaves, X, y, REG), device)
    ratio = t_flat["median_ms"] / t_auto["median_ms"]
    return {"dtype": str(dtype).replace("torch.", ""), "flat": t_flat, "autograd": t_auto, "ratio": ratio,
            "ratio_of_mins": t_flat["min_ms"] / t_auto["min_ms"],
            "grad_rel_diff": max_rel_diff(flat_grads, auto_grads), "pass": ratio <= RATIO_TARGET}


def run_all(lin_ns, net_ns, device) -> dict:
    out = {"linear": [], "net": []}
    for dtype in (torch.float32, torch.float64):
        out["linear"] += bench_linear(lin_ns, device, dtype)
        out["net"].append(bench_net(net_ns, device, dtype))
    return out


def print_tables(label: str, res: dict) -> None:
    print(f"\n{label}\n" + "-" * len(label))
    print(f"{'loss + gradient':16} {'dtype':8} {'naive ms':>10} {'vectorized ms':>14} {'speed-up':>9}  "
          f"target >= {SPEEDUP_TARGET:.0f}x  {'(of mins)':>9}")
    for r in res["linear"]:
        print(f"{r['loss']:16} {r['dtype']:8} {r['naive']['median_ms']:10.3f} {r['vectorized']['median_ms']:14.4f} "
              f"{r['speedup']:8.1f}x  {'PASS' if r['pass'] else 'FAIL':14} {r['speedup_of_mins']:8.1f}x")
    print(f"\n{'two-layer fwd+bwd':18} {'dtype':8} {'flat ms':>9} {'autograd ms':>12} {'flat/autograd':>14}  "
          f"target <= {RATIO_TARGET}  {'(of mins)':>9}  {'grad rel diff':>13}")
    for r in res["net"]:
        print(f"{'N=128 D=3073 H=100':18} {r['dtype']:8} {r['flat']['median_ms']:9.3f} {r['autograd']['median_ms']:12.3f} "
              f"{r['ratio']:14.3f}  {'PASS' if r['pass'] else 'FAIL':13} {r['ratio_of_mins']:9.3f}  "
              f"{r['grad_rel_diff']:13.1e}")
    print("medians decide the targets; '(of mins)' uses each side's fastest call (least disturbed).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--out", default="build/bench/reference_bench.json")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available (torch.cuda.is_available() is False): skipping the cuda benchmark.")
        return
    t0 = time.perf_counter()
    lin_ns, net_ns = reference("linear_classifiers"), reference("two_layer_net")
    default_threads = torch.get_num_threads()
    result = {"device": args.device, "torch": torch.__version__, "sizes": {"N": N, "D": D, "C": C, "H": H},
              "reg": REG, "targets": {"speedup_min": SPEEDUP_TARGET, "flat_over_autograd_max": RATIO_TARGET}}
    if args.device == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
        settings = [("cuda", None)]
    else:
        settings = [(f"threads={default_threads} (default)", default_threads), ("threads=1", 1)]
    for label, threads in settings:
        if threads is not None:
            torch.set_num_threads(threads)
        res = run_all(lin_ns, net_ns, args.device)
        title = f"{args.device}, {label}: N={N} D={D} C={C} (net H={H}), reg={REG}, medians"
        print_tables(title, res)
        result[label] = res
    torch.set_num_threads(default_threads)
    result["wall_s"], result["loadavg_1m"] = time.perf_counter() - t0, os.getloadavg()[0]
    # other processes on the machine make timings noisy (multi-threaded ones most): say how busy it was
    print(f"\nload average (1 min) {result['loadavg_1m']:.2f} on {os.cpu_count()} CPUs; total {result['wall_s']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
