"""Bounds on what the grader's own process does for a student's code.

Helpers lent to the student's code (the two-layer forward pass, the recording fake losses,
the search's nn_train) run in the grader, on inputs the student chose. Before one runs, its
inputs are measured (numbers, tensor elements; what a recording fake keeps is bounded by
autograder.checks.record); while it runs, the grader's process may add
only HELPER_MEMORY_MB of memory (RLIMIT_DATA, restored after the call): a (6000, 1) x (1, 6000)
forward pass sent in 100 KB fails with a message instead of growing the worker by a gigabyte.
"""
from __future__ import annotations

import contextlib
import resource

import torch

MAX_HELPER_INT = 100_000         # a number a helper is given (sizes, iterations)
MAX_HELPER_ELEMENTS = 1_000_000  # tensor elements in all of a helper's inputs together
HELPER_MEMORY_MB = 512           # memory a helper may add to the grader's process


def _walk(value, depth: int = 0):
    """Every leaf of nested tuples, lists and dicts (to a bounded depth)."""
    if depth > 8:
        return
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _walk(v, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v, depth + 1)
    else:
        yield value


def helper_problem(name: str, args: tuple, kwargs: dict) -> str | None:
    """Why the grader refuses to run its helper `name` on these inputs, or None."""
    elements = 0
    for leaf in _walk((args, kwargs)):
        if isinstance(leaf, int) and not isinstance(leaf, bool) and abs(leaf) > MAX_HELPER_INT:
            return f"the grader's {name} refuses numbers above {MAX_HELPER_INT:,} (got {leaf:,})"
        if isinstance(leaf, torch.Tensor):
            elements += leaf.numel()
    if elements > MAX_HELPER_ELEMENTS:
        return (f"the grader's {name} refuses inputs of more than {MAX_HELPER_ELEMENTS:,} tensor elements "
                f"(got {elements:,}): call it on the data the notebook gives you")
    return None


def data_bytes() -> int:
    """What this process already holds (VmData): limits count only what comes on top of it."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def memory_capped(mb: int = HELPER_MEMORY_MB):
    """Allocations beyond `mb` more than now fail (MemoryError / torch's RuntimeError) inside."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = data_bytes() + mb * 2**20
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def out_of_memory(exc: BaseException) -> bool:
    """An allocation refused under memory_capped (Python's MemoryError or torch's allocator)."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "allocate" in str(exc))
