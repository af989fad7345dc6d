"""Calling a student's function as untrusted code: inputs cloned, output captured.

The grader calls each function on inputs it chose, and records what came back, what was
raised, what was printed and whether the inputs were changed in place. Judging happens
elsewhere, on this record alone.
"""
from __future__ import annotations

import contextlib
import io
import os
import sysconfig
import warnings
from dataclasses import dataclass, field

import torch

from .cells import student_frame

OUTPUT_CAP = 2000  # characters of captured stdout/stderr kept for messages
# autograd numbers every node it records, per thread (C; read before and after a call)
_NODES = torch._C._autograd._get_sequence_nr


def seed(value: int) -> None:
    """torch.manual_seed, minus its cost on a CPU-only machine: there it also queues seeds for
    CUDA, XPU and MTIA, each with the caller's formatted stack (~2 ms a call, 11 calls a
    notebook). Where CUDA is available, torch.manual_seed itself."""
    if torch.cuda.is_available():
        torch.manual_seed(value)
    else:
        torch.random.default_generator.manual_seed(value)


@dataclass
class Outcome:
    """What one call did: value or exception, inputs modified, printed text."""
    value: object = None
    error: tuple | None = None        # (exception type name, message) when the call raised
    where: str = ""
    modified: list = field(default_factory=list)
    output: str = ""
    used_autograd: bool = False
    stopped: str | None = None        # the grader had to stop the call: "timeout" or "crash"
    exception: BaseException | None = None  # in-process calls only

    @property
    def raised(self) -> bool:
        return self.error is not None

    def describe_exception(self) -> str:
        """'in f, cell c line 22: `code` → IndexError: ...' (the student's line first, when known)."""
        text = f"{self.error[0]}: {self.error[1]}".strip().rstrip(":")
        return f"{self.where} → {text}" if self.where else text


def error_of(exc: BaseException) -> tuple:
    """(type name, message) of an exception, even one whose __str__ fails."""
    try:
        text = str(exc)
    except BaseException:
        text = "(message could not be read)"
    return type(exc).__name__, text[:OUTPUT_CAP]


def _snapshot(value):
    if torch.is_tensor(value):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    return value


def pristine(args: tuple) -> tuple:
    """The grader's own copy of a call's arguments, taken before the call: a judge compares
    with these, never with what the student's code (or the clean room's write-back) left."""
    return tuple(_snapshot(a) for a in args)


def _changed(before, after) -> bool:
    if torch.is_tensor(before):
        return not (torch.is_tensor(after) and before.shape == after.shape
                    and before.dtype == after.dtype and torch.equal(before, after.detach()))
    if isinstance(before, dict):
        return before.keys() != after.keys() or any(_changed(before[k], after[k]) for k in before)
    if isinstance(before, (list, tuple)):
        return len(before) != len(after) or any(_changed(b, a) for b, a in zip(before, after))
    return False


def write_back(original, after) -> None:
    """Apply in-place changes made on the other side of the clean room to the originals.

    A tensor changed in place is copied into; a dict or list gets the other side's entries.
    """
    if torch.is_tensor(original) and torch.is_tensor(after):
        if original.shape == after.shape and original.dtype == after.dtype and not torch.equal(
                original.detach().cpu(), after.detach().cpu()):
            try:
                with torch.no_grad():
                    original.copy_(after.to(original.device))
            except RuntimeError:
                pass  # e.g. an expanded view: nothing the student could have written either
    elif isinstance(original, dict) and isinstance(after, dict):
        for key in [k for k in original if k not in after]:
            del original[key]
        for key, value in after.items():
            if torch.is_tensor(original.get(key)) and torch.is_tensor(value) and \
                    original[key].shape == value.shape and original[key].dtype == value.dtype:
                write_back(original[key], value)
            else:
                original[key] = value
    elif isinstance(original, list) and isinstance(after, list):
        original[:] = after
    elif isinstance(original, tuple) and isinstance(after, tuple) and len(original) == len(after):
        for o, a in zip(original, after):
            write_back(o, a)


# Files that are never the student's: the grader, torch, the standard library, installed packages.
NOT_THEIRS = tuple(os.path.dirname(p) + os.sep for p in (__file__, torch.__file__)) + tuple(
    {sysconfig.get_paths()[k] + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def _theirs(filename: str) -> bool:
    """An in-process notebook's cell file (IPython's /tmp/ipykernel_*/*.py), not a library's."""
    return not filename.startswith(NOT_THEIRS) and not filename.startswith("<frozen")


def _student_frame(exc: BaseException) -> str:
    """The deepest frame in the student's own code, e.g.
    'in svm_loss_naive, cell svm_loss_naive_code line 12: `dW[j] += X[i]`' (not torch's)."""
    return student_frame(exc, _theirs)


@contextlib.contextmanager
def grader_helpers(namespace, helpers: dict):
    """Let fn see the grader's own versions of the other functions it calls.

    train_linear_classifier calls the student's sample_batch; swapping in the reference for
    the duration of the call makes a sampling bug cost the sampling item only.
    """
    if not helpers or namespace is None:
        yield
        return
    saved = {k: namespace[k] for k in helpers if k in namespace}
    namespace.update(helpers)
    try:
        yield
    finally:
        for k in helpers:
            if k in saved:
                namespace[k] = saved[k]
            else:
                namespace.pop(k, None)


def call(fn, names, args, no_grad: bool = True, helpers: dict | None = None,
         namespace: dict | None = None) -> Outcome:
    """Call fn(*args) with warnings silenced and output captured; never raises (but Ctrl-C).

    Inputs:
    - fn: the student's function
    - names: parameter names of args, for messages about in-place changes
    - args: the positional arguments (the grader keeps its own copies)
    - no_grad: run under torch.no_grad(), so a hidden .backward() cannot work
    - helpers: name -> grader function visible to fn during the call (see grader_helpers)
    - namespace: the globals those helpers go into (default: fn's own)
    Returns:
    - an Outcome (used_autograd: an autograd graph was recorded during the call, e.g. after
      torch.enable_grad() inside the function: it caught what no_grad alone would not; seen
      by a saved-tensor hook and by autograd's node count, which the call cannot rewind)
    """
    before = [_snapshot(a) for a in args]
    buffer = io.StringIO()
    outcome = Outcome()
    grad_mode = torch.no_grad() if no_grad else contextlib.nullcontext()
    namespace = namespace if namespace is not None else getattr(fn, "__globals__", None)
    saved, graph = [], False

    def pack(tensor):  # autograd saves tensors for backward only while it records a graph
        saved.append(True)
        return tensor

    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), \
                warnings.catch_warnings(), grad_mode, grader_helpers(namespace, helpers or {}), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            warnings.simplefilter("ignore")
            nodes = _NODES()
            try:
                outcome.value = fn(*args)
            finally:
                # a local and a C counter: code in the call can pop the hook or reach `outcome`
                # through its frames, not rewind this thread's count of autograd nodes
                graph = _NODES() != nodes
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a student's sys.exit() is their error
        outcome.exception, outcome.error = exc, error_of(exc)
        outcome.where = _student_frame(exc)
    outcome.used_autograd = graph or bool(saved)
    outcome.output = buffer.getvalue()[:OUTPUT_CAP]
    outcome.modified = [n for n, b, a in zip(names, before, args) if _changed(b, a)]
    return outcome
