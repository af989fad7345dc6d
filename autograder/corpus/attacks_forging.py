"""Submissions that forge a fact the grader's code decides inside the clean room.

Each attack breaks a rule or gets an answer wrong, then tries to hide it by changing what the
grader's code beside it reports (sandbox.py, "What the grader trusts"): rebinding a module's
name, refilling a table, replacing a function's code found through gc, reaching the call's
frame, popping autograd's hooks, leaving a torch function or dispatch mode active, patching a
Tensor method the reply is encoded with, or returning an object that undoes the change while
the reply is read. Graded by tests/test_sandbox_forging.py through the runner's session, one
item each; `expect` is the status the item must get and `says` a piece of its message.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from .notebooks import answers

LINEAR, KNN, BASICS = answers("linear_classifiers"), answers("knn"), answers("backprop_basics")
TAMPERED = "tampered with the grader's code in the clean room"
CHANGED_W = "changed its input W in place"
AUTOGRAD = "recorded an autograd graph"
COPY = "the result is a copy"


@dataclass(frozen=True)
class Forge:
    name: str
    assignment: str
    item: str
    cell: str      # the answer cell's whole new source
    expect: str    # the item's status once the forgery is caught
    says: str      # ... and a piece of its message
    note: str = ""


def _with(source: str, *code: str) -> str:
    return source + "\n" + "\n".join(textwrap.dedent(c) for c in code)


# --- the bugs the forgeries hide -------------------------------------------------------------

# svm_loss_naive that zeroes W after computing the right answer: only the in-place change is wrong
SVM_ZEROES_W = LINEAR["svm_loss_naive_code"].replace("    return loss, dW", "    W.zero_()\n    return loss, dW")
# softmax through autograd, in a module the cell writes: the function's source is clean
HELPER = '''
import pathlib
pathlib.Path("_ag_helper.py").write_text("""
import sys
import torch

def autograd_loss(W, X, y, reg):
    with torch.enable_grad():
        W = W.detach().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(X @ W, y) + reg * (W * W).sum()
        loss.backward()
    HIDE()
    return loss.detach(), W.grad
""".replace("HIDE()", HIDE))
from _ag_helper import autograd_loss as _autograd_loss

def softmax_loss_vectorized(W, X, y, reg):
    return _autograd_loss(W, X, y, reg)
'''


def _autograd_cell(hide: str = "pass", before: str = "") -> str:
    return textwrap.dedent(before) + "\nHIDE = " + repr(hide) + "\n" + HELPER


RESEEDS = LINEAR["sample_batch_code"].replace("    indices = torch.randint", "    torch.manual_seed(0)\n    indices = torch.randint")
COPIES = KNN["flatten_images_code"].replace("return x.reshape(x.shape[0], -1)", "return x.reshape(x.shape[0], -1).clone()")
SWAPPED = BASICS["Multiply_code"].replace("grad_x = grad_output * y", "grad_x = grad_output * x").replace(
    "grad_y = grad_output * x", "grad_y = grad_output * y")

SANDBOX = 'import sys as _sys\n_sb = _sys.modules["autograder.cleanroom.sandbox"]\n'
# the sandbox's call handler refilled: each reply's args_after echoes the inputs as they came
ECHO_INPUTS = """
          _real = _sb.HANDLERS["call"]
          def _echo(ns, msg, sock):
              kept = tuple(a.clone() if hasattr(a, "clone") else a for a in msg["args"])
              reply = _real(ns, msg, sock)
              reply["args_after"] = kept
              return reply
          _sb.HANDLERS["call"] = _echo
          """

FORGES = [
    # --- args_after: an input changed in place -------------------------------------------
    Forge("forge-handlers-echo-inputs", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W, SANDBOX, ECHO_INPUTS),
          "error", TAMPERED, "sandbox.HANDLERS refilled: args_after echoes the inputs"),
    Forge("forge-run-call-code-via-gc", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W, """
          import gc
          def _forged(ns, msg, sock):
              kept = tuple(a.clone() if hasattr(a, "clone") else a for a in msg["args"])
              fn = ns.get(msg["target"])
              outcome = call(fn, msg["names"], msg["args"], no_grad=msg.get("no_grad", True))
              return {"op": "result", "value": outcome.value, "args_after": kept, "output": "",
                      "used_autograd": False, "where": ""}
          for _f in gc.get_objects():
              if type(_f) is type(_forged) and _f.__name__ == "run_call" and "HANDLERS" in _f.__globals__:
                  _f.__code__ = _forged.__code__
          """), "error", TAMPERED, "run_call's __code__ replaced, found through gc"),
    Forge("forge-codec-encoder", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W.replace(
        "    W.zero_()", "    _kept.clear()\n    _kept[(W.data_ptr(), W.dtype)] = W.clone()\n    W.zero_()"), SANDBOX, """
          _codec, _kept = _sys.modules["autograder.cleanroom.codec"], {}
          _real_tensor = _codec.Encoder._tensor
          def _tensor(self, t):  # the input as it was, wherever the reply holds it
              return _real_tensor(self, _kept.get((t.data_ptr(), t.dtype), t))
          _codec.Encoder._tensor = _tensor
          """), "error", TAMPERED, "codec.Encoder._tensor replaced: args_after sends the input as it was"),
    Forge("forge-tensor-numpy", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W.replace(
        "    W.zero_()", "    _kept[W.data_ptr()] = W.clone()\n    W.zero_()"), """
          import torch as _torch
          _kept, _numpy = {}, _torch.Tensor.numpy
          _torch.Tensor.numpy = lambda self, *a, **k: _numpy(_kept.get(self.data_ptr(), self), *a, **k)
          """), "failed", CHANGED_W, "torch.Tensor.numpy patched to send the input as it was"),
    Forge("forge-dispatch-mode", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W.replace(
        "    W.zero_()", "    _kept.clear()\n    _kept[(W.data_ptr(), W.dtype)] = W.clone()\n    W.zero_()"), """
          import os, torch as _torch
          os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.getcwd()  # the mode's imports want a cache
          from torch.utils._python_dispatch import TorchDispatchMode
          _kept = {}
          class _Hide(TorchDispatchMode):
              def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                  key = (args[0].data_ptr(), args[0].dtype) if func is _torch.ops.aten.detach.default else None
                  if key in _kept:
                      return _kept[key]
                  return func(*args, **(kwargs or {}))
          _Hide().__enter__()  # left active for every later call, the grader's own included
          """), "failed", CHANGED_W, "a dispatch mode left active answers the grader's detach"),
    Forge("forge-undo-while-encoded", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W.replace(
        "    W.zero_()\n    return loss, dW", "    _undo.append((W, W.clone()))\n    W.zero_()\n    return loss, dW.as_subclass(_Undo)"), """
          import torch as _torch
          _undo = []
          class _Undo(_torch.Tensor):
              @classmethod
              def __torch_function__(cls, func, types, args=(), kwargs=None):
                  with _torch._C.DisableTorchFunctionSubclass():
                      while _undo:
                          tensor, kept = _undo.pop()
                          tensor.copy_(kept)
                  return super().__torch_function__(func, types, args, kwargs or {})
          """), "failed", CHANGED_W, "a returned Tensor subclass puts W back while the reply is encoded"),
    Forge("forge-injected-reply", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W.replace(
        "    W.zero_()", "    _inject(W.clone(), (loss, dW))\n    W.zero_()"), """
          import sys as _sys
          def _inject(W, value):  # a clean reply written to the grader's socket before the real one
              frame = _sys._getframe()
              while frame.f_code.co_name != "run_call":
                  frame = frame.f_back
              msg, sock, grader = frame.f_locals["msg"], frame.f_locals["sock"], frame.f_globals
              reply = {"op": "result", "args_after": (W, *msg["args"][1:]), "value": value, "output": "",
                       "used_autograd": False, "where": "", "printed": 0, "rid": msg.get("rid")}
              grader["codec"].send(sock, reply, grader["export"])
          """), "error", "a second reply to one request", "a forged reply written to the socket beside the real one"),
    # --- used_autograd ---------------------------------------------------------------------
    Forge("forge-call-wrapper", "linear_classifiers", "softmax_loss_vectorized", _autograd_cell(before=SANDBOX + textwrap.dedent("""
          _call = _sb.call
          def _quiet(*args, **kwargs):
              outcome = _call(*args, **kwargs)
              outcome.used_autograd = False
              return outcome
          _sb.call = _quiet
          """)), "error", TAMPERED, "sandbox.call rebound"),
    Forge("forge-outcome-class-via-gc", "linear_classifiers", "softmax_loss_vectorized", _autograd_cell(before="""
          import gc
          for _c in gc.get_objects():
              if isinstance(_c, type) and _c.__name__ == "Outcome" and _c.__module__ == "autograder.calls":
                  _c.used_autograd = property(lambda self: False, lambda self, value: None)
          """), "error", TAMPERED, "Outcome.used_autograd made a property that ignores writes"),
    Forge("forge-frame-outcome", "linear_classifiers", "softmax_loss_vectorized", _autograd_cell(
        "frame = sys._getframe()\n"
        "    while frame is not None:\n"
        "        if 'outcome' in frame.f_locals:\n"
        "            frame.f_locals['outcome'].used_autograd = False\n"
        "            try:\n"
        "                frame.f_locals['pack'].__closure__[0].cell_contents.clear()\n"
        "            except Exception:\n"
        "                pass\n"
        "        frame = frame.f_back"), "failed", AUTOGRAD, "the call's own frame reached: flag reset"),
    Forge("forge-pop-hooks", "linear_classifiers", "softmax_loss_vectorized", _autograd_cell(before="""
          import torch as _torch
          """).replace("    with torch.enable_grad():", "    torch._C._autograd._pop_saved_tensors_default_hooks()\n"
                       "    with torch.enable_grad():").replace(
        "    HIDE()", "    torch._C._autograd._push_saved_tensors_default_hooks(lambda t: t, lambda t: t)\n    HIDE()"),
        "failed", AUTOGRAD, "the grader's saved-tensor hook popped during the call"),
    # --- knn: shares x's memory ------------------------------------------------------------
    Forge("forge-address", "knn", "flatten_images", _with(COPIES, """
          import sys
          sys.modules["autograder.checks.adapters"]._ADDRESS = lambda storage: 0
          """), "error", TAMPERED, "adapters._ADDRESS rebound: every result 'shares' memory"),
    Forge("forge-layout-code", "knn", "flatten_images", _with(COPIES, """
          import gc
          def _fake(fn):
              def run(x, layout):
                  view = {"contiguous": x, "transposed": x.transpose(-2, -1), "every_other": x[::2]}[layout]
                  return fn(view), True
              return run
          for _f in gc.get_objects():
              if type(_f) is type(_fake) and _f.__name__ == "layout_adapter":
                  _f.__code__ = _fake.__code__
          """), "error", TAMPERED, "layout_adapter's code replaced, found through gc"),
    Forge("forge-function-mode", "knn", "flatten_images", _with(COPIES, """
          import torch as _torch
          from torch.overrides import TorchFunctionMode
          _one = _torch.zeros(1).untyped_storage()
          class _Same(TorchFunctionMode):
              def __torch_function__(self, func, types, args=(), kwargs=None):
                  if getattr(func, "__name__", "") == "untyped_storage":
                      return _one
                  return func(*args, **(kwargs or {}))
          _Same().__enter__()
          """), "failed", COPY, "a torch function mode answers untyped_storage with one storage"),
    # --- a sampler drawn twice -------------------------------------------------------------
    Forge("forge-twice-adapter", "linear_classifiers", "sample_batch", _with(RESEEDS, """
          import sys, torch as _torch
          _adapters = sys.modules["autograder.checks.adapters"]
          def _twice(fn):
              def run(X, y, num_train, batch_size):
                  rows = _torch.randint(num_train, (batch_size,), generator=_torch.Generator().manual_seed(7))
                  return fn(X, y, num_train, batch_size), (X[rows], y[rows])
              return run
          _adapters.twice_adapter = _twice
          """), "error", TAMPERED, "adapters.twice_adapter rebound"),
    # --- gradients through the student's autograd Function ---------------------------------
    Forge("forge-autograd-grad", "backprop_basics", "Multiply", _with(SWAPPED, """
          import torch as _torch
          def _true_grads(outputs, inputs, grad_outputs=None, **kwargs):
              x, y = inputs
              return grad_outputs * y, grad_outputs * x
          _torch.autograd.grad = _true_grads
          """), "error", TAMPERED, "torch.autograd.grad rebound to the true gradients"),
    Forge("forge-autograd-grad-code", "backprop_basics", "Multiply", _with(SWAPPED, """
          import torch as _torch
          def _true_grads(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
                          only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
              x, y = inputs
              return grad_outputs * y, grad_outputs * x
          _torch.autograd.grad.__code__ = _true_grads.__code__
          """), "error", TAMPERED, "torch.autograd.grad's code replaced"),
    # --- the seal itself -------------------------------------------------------------------
    Forge("forge-seal-and-handlers", "linear_classifiers", "svm_loss_naive", _with(SVM_ZEROES_W, SANDBOX, """
          import gc
          _sys.modules["autograder.cleanroom.seal"].broken = lambda records: None
          for _f in gc.get_objects():
              if type(_f) is type(len) or not hasattr(_f, "__code__"):
                  continue
              if getattr(_f, "__name__", "") == "broken" and _f.__module__ == "autograder.cleanroom.seal":
                  _f.__code__ = (lambda records: None).__code__
          """, ECHO_INPUTS), "error", TAMPERED, "the seal's check disabled (rebound and its code replaced), then HANDLERS"),
]
