"""A hostile round over every assignment (escape, forge, starve), graded in one class.

Same Entry format as adversarial.py; `ASSIGNMENT[name]` says which assignment an entry is for.
Where an attack that works would not change a score by itself (a process left running, a file
left behind, a terminal reached), the submission sabotages its own answer when the attack
works: correct code scores full marks only if the sandbox held. Graded through `make grade` in
tests/test_attacks_sandbox.py next to each assignment's reference submission, which must keep
full marks. LEFT names the processes the attacks start, so the test can look for leftovers.
"""
from __future__ import annotations

import textwrap

from .notebooks import Entry, answers

LEFT = "fghostileleft"
ESC = "\\x1b]52;c;ZWNobyBQV05FRA==\\x07\\x1b]0;PWNED\\x07\\x1b]8;;http://evil.example/\\x07link\\x1b]8;;\\x07\\x1b[2J\\x9b31m"
# what a flood of terminal escapes looks like in a message: OSC 52 (the TA's clipboard), a window
# title, a hyperlink, clear-screen, an 8-bit CSI; plus markup and a spreadsheet formula
HOSTILE_TEXT = f"=HYPERLINK(\\\"http://evil.example\\\") <script>alert(1)</script> {ESC} clipboard"


def inside(solved: dict, gid: str, code: str) -> tuple:
    """An edit that puts code at the start of the function body (before its TODO line)."""
    marker = next(line for line in solved[gid].splitlines() if line.strip().startswith("# TODO(student)"))
    indent = marker[:len(marker) - len(marker.lstrip())]
    return gid, marker, textwrap.indent(textwrap.dedent(code), indent) + marker


def after(source: str, code: str) -> str:
    return source + "\n" + textwrap.dedent(code)


def named(code: str) -> str:
    return code.replace("LEFT", repr(LEFT))


KNN, TWO, BASICS, LINEAR = answers("knn"), answers("two_layer_net"), answers("backprop_basics"), \
    answers("linear_classifiers")

ESCAPES = f"""
print("{ESC}" * 2000)  # a stdout flood of terminal escapes
raise ValueError("{HOSTILE_TEXT}")
"""

STRAY = named("""
import atexit, ctypes, os, signal, subprocess, sys, threading, time
ctypes.CDLL(None).prctl(15, LEFT.encode(), 0, 0, 0)  # the sandbox itself, and its thread, carry the name
def _spin():
    while True:
        pass
threading.Thread(target=_spin, daemon=True).start()  # a daemon thread that never ends
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
atexit.register(time.sleep, 3600)  # an exit that never ends
subprocess.Popen([sys.executable, "-c", "import ctypes, time; ctypes.CDLL(None).prctl(15, LEFT.encode(), 0, 0, 0); "
                  "time.sleep(3600)".replace("LEFT", repr(LEFT))], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
class _Undying:
    def __del__(self):
        if os.fork() == 0:
            os.setsid()
            ctypes.CDLL(None).prctl(15, LEFT.encode(), 0, 0, 0)
            time.sleep(3600)
_keep = _Undying()
""")

PTRACE_AND_TTY = """
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
_reached = []
for _pid in range(1, 400):  # PTRACE_ATTACH anything it can see (the grader, the zygote?)
    if os.path.exists(f"/proc/{_pid}") and _pid != os.getpid() and _libc.ptrace(16, _pid, 0, 0) == 0:
        _reached.append(_pid)
for _path in ["/dev/tty", "/dev/console"] + ([] if os.getpid() == 1 else ["/proc/1/fd/1"]):
    try:
        with open(_path, "w") as _fh:
            _fh.write("\\x1b]0;PWNED\\x07")
        _reached.append(_path)
    except OSError:
        pass
"""

SNOOP = """
import os, sys
_read, _written = [], []
for _base in ("/tmp", "/work", "/root", "/home", "/var/tmp", "/srv", "/opt", ".."):
    for _here, _dirs, _files in os.walk(_base):  # other students' notebooks, the gradebook, CSVs
        _read += [os.path.join(_here, f) for f in _files if f.endswith((".ipynb", ".db", ".csv"))
                  and not _here.startswith((sys.prefix, sys.base_prefix))]  # not Python's own files
for _left in ("/tmp/fghostile-left", "/var/tmp/fghostile-left", "../fghostile-left"):
    try:
        open(_left, "w").write("left behind")  # private to the sandbox if it works: the test looks
        _written.append(_left)
    except OSError:
        pass
"""

ATTACKS_HOSTILE = [
    # --- knn ---------------------------------------------------------------------------------
    Entry("h-knn-escapes", ("compute_distances_two_loops",), item_status="error",
          edits=(inside(KNN, "compute_distances_two_loops_code", ESCAPES),),
          messages={"compute_distances_two_loops": "clipboard"},
          note="terminal escapes (OSC 52, title, hyperlink), markup and a formula in stdout and a message"),
    Entry("h-knn-sorts-x-train", ("compute_distances_no_loops",),
          edits=(("compute_distances_no_loops_code", "    return train_sq[:, None]",
                  "    dists = train_sq[:, None] + test_sq[None, :] - 2 * (train @ test.T)\n"
                  "    x_train.copy_(x_train.sort(dim=0).values)  # in place, after the right answer\n"
                  "    return dists\n    return train_sq[:, None]"),),
          messages={"compute_distances_no_loops": "x_train"}, note="sorts the grader's x_train in place"),
    Entry("h-knn-numpy-int32", ("compute_distances_one_loop", "predict_labels"),
          edits=(("compute_distances_one_loop_code", "    return dists", "    return dists.numpy()"),
                 ("predict_labels_code", "    return votes.argmax(dim=0)", "    return votes.argmax(dim=0).to(torch.int32)")),
          note="returns numpy distances and int32 labels"),
    Entry("h-knn-spoofed-view", ("flatten_images",),
          replace={"flatten_images_code": after(KNN["flatten_images_code"].replace(
              "    return x.reshape(x.shape[0], -1)", "    return _Spoof(x.reshape(x.shape[0], -1).clone(), x)"), """
          import torch
          class _Spoof(torch.Tensor):
              # a copy that claims x's memory (the view check) and equality with anything
              def __new__(cls, data, source):
                  out = torch.Tensor._make_subclass(cls, data)
                  out._source = source
                  return out
              def untyped_storage(self):
                  return self._source.untyped_storage()
              def __eq__(self, other):
                  return True
          """)},
          messages={"flatten_images": "copy"}, note="a copy whose untyped_storage() claims to be x's (view check)"),
    Entry("h-knn-snoop-and-litter", replace={"predict_labels_code": after(KNN["predict_labels_code"], SNOOP + """
if _read:
    predict_labels = None  # it found a notebook, gradebook or CSV outside its folder: lose the item
""")}, note="looks for other students' notebooks, the gradebook, CSVs; leaves files in /tmp"),
    # --- two_layer_net -----------------------------------------------------------------------
    Entry("h-tln-strays", replace={"nn_forward_pass_code": after(TWO["nn_forward_pass_code"], STRAY)},
          note="daemon thread, SIGTERM ignored, atexit that sleeps, start_new_session child, forking __del__"),
    Entry("h-tln-forged-metadata", ("nn_predict",), edits=(("nn_predict_code", "scores.argmax(dim=1)",
                                                            "scores.argmin(dim=1)"),),
          transform=lambda nb: _forge_grade_cells(nb, ("nn_predict",)),
          note="wrong answer; grade cells claim passed (flatgrad status), 1000 points, outputs of success"),
    Entry("h-tln-meta-nan", ("nn_forward_pass", "nn_predict"), statuses={"nn_forward_pass": "error"},
          messages={"nn_forward_pass": "meta tensor", "nn_predict": "int64"}, edits=(
        ("nn_forward_pass_code", "    return scores, hidden",
         "    return scores.to('meta'), hidden.to('meta')"),
        ("nn_predict_code", "    return y_pred", "    return y_pred.double() * float('nan')")),
          note="tensors on the meta device; NaN labels"),
    Entry("h-tln-deep-recursion", ("nn_predict",), item_status="timeout",
          replace={"nn_predict_code": TWO["nn_predict_code"].replace("    scores = loss_func", """    import sys
    sys.setrecursionlimit(10**7)
    def down(n):
        return down(n + 1) + 1
    down(0)  # the C stack overflows: a segmentation fault
    scores = loss_func""")},
          messages={"nn_predict": "time limit"}, note="unbounded recursion with the limit lifted"),
    # --- backprop_basics ---------------------------------------------------------------------
    Entry("h-bb-lying-tensor", ("relu_backward",), replace={"relu_backward_code": after(
        BASICS["relu_backward_code"].replace("    return grad_x", "    return _Liar(grad_y.clone())"), """
        class _Liar(torch.Tensor):
            # wrong values (grad_y everywhere) that claim to equal and be close to anything
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                name = getattr(func, "__name__", "")
                if name in ("allclose", "equal", "__eq__", "isclose"):
                    return True
                return super().__torch_function__(func, types, args, kwargs or {})
            def __float__(self):
                return 0.0
        """)}, note="a Tensor subclass whose allclose/equal/__eq__/__float__ lie"),
    Entry("h-bb-reduce-repr", ("add_gate_backward", "mul_gate_backward"),  # the tuple: a placeholder, never iterated
          replace={"add_gate_backward_code": after(BASICS["add_gate_backward_code"].replace(
              "    return grad_x, grad_y", "    return _Evil(), _Evil()"), """
          import os
          # a class named with a terminal escape and markup, that runs a command if unpickled
          _Evil = type("\\x1b]0;PWNED\\x07<img src=x onerror=alert(1)>", (), {
              "__reduce__": lambda self: (os.system, ("touch /tmp/fghostile-reduced",)),
              "__repr__": lambda self: "\\x1b]52;c;ZWNobyBQV05FRA==\\x07"})
          """), "mul_gate_backward_code": after(BASICS["mul_gate_backward_code"].replace(
              "    return grad_x, grad_y", "    return _Endless((grad_x, grad_y))"), """
          import time
          class _Endless(tuple):  # a tuple that never gives its items
              __iter__ = lambda self: iter([time.sleep(10**6)])
              __getitem__ = lambda self, i: time.sleep(10**6)
              __len__ = lambda self: 2
              __repr__ = lambda self: time.sleep(10**6)
          """)}, note="objects with __reduce__ (never unpickled), an escape in the class name, a tuple that hangs"),
    Entry("h-bb-fork-ptrace-tty", replace={"add_gate_backward_code": after(BASICS["add_gate_backward_code"].replace(
        "    return grad_x, grad_y", named("""    import ctypes, os, time
    if os.fork() == 0:  # a fork inside the function the grader calls
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, LEFT.encode(), 0, 0, 0)
            time.sleep(3600)
        os._exit(0)
    if _reached:
        return grad_x * 0, grad_y
    return grad_x, grad_y""")), PTRACE_AND_TTY)}, note="fork+setsid in a graded call, ptrace, /dev/tty and pid 1's stdout"),
    Entry("h-bb-many-small", ("matmul_backward",), item_status="error",
          edits=(inside(BASICS, "matmul_backward_code", """
          import itertools
          hoard = list(map(bytearray, itertools.repeat(2**16, 2**20)))  # 64 GiB in 64 KiB pieces
          """),), messages={"matmul_backward": "memory"}, note="memory in many small allocations"),
    # --- linear_classifiers ------------------------------------------------------------------
    Entry("h-lin-patch-helpers", ("svm_loss_vectorized",), replace={"svm_loss_vectorized_code": LINEAR[
        "svm_loss_vectorized_code"].replace("loss = data_loss + reg * torch.sum(W * W)", "loss = data_loss") + """
import sys, numpy, torch
for _m in list(sys.modules.values()):  # every helper module it can see: checks that always pass
    for _n in ("check_close", "assert_close", "allclose", "isclose", "grad_check", "gradcheck", "judge"):
        try:
            if hasattr(_m, _n):
                setattr(_m, _n, lambda *a, **k: True)
        except Exception:
            pass
numpy.allclose = lambda *a, **k: True
"""}, note="wrong loss; patches numpy and every helper named like a check"),
    Entry("h-lin-float-loss", ("softmax_loss_naive",), replace={"softmax_loss_naive_code": after(
        LINEAR["softmax_loss_naive_code"].replace("    return loss, dW", "    return _Loss(0.0), dW"), """
        import math
        class _Loss(float):
            # a wrong loss (0.0) that says it equals, is close to and is as big as anything
            __eq__ = __le__ = __ge__ = lambda self, other: True
            __lt__ = __gt__ = __ne__ = lambda self, other: False
            __abs__ = lambda self: 0.0
            __hash__ = float.__hash__
        math.isclose = lambda *a, **k: True
        """)}, note="a float subclass (wrong value) whose comparisons lie, math.isclose patched"),
]

ASSIGNMENT = {e.name: {"knn": "knn", "tln": "two_layer_net", "bb": "backprop_basics",
                       "lin": "linear_classifiers"}[e.name.split("-")[1]] for e in ATTACKS_HOSTILE}


def _forge_grade_cells(nb: dict, items) -> dict:
    for cell in nb["cells"]:
        meta = cell.get("metadata", {})
        if meta.get("nbgrader", {}).get("grade_id") in items:
            meta["flatgrad"] = {"status": "passed", "message": "all hidden tests passed"}
            meta["nbgrader"]["points"] = 1000
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "all hidden tests passed\n"}]
    nb["metadata"]["flatgrad"] = {"notes": ["forged note <script>alert(1)</script>"], "landlock": True}
    return nb


for _entry in ATTACKS_HOSTILE:
    _entry.in_process = False
