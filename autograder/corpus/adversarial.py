"""Adversarial submissions of linear_classifiers: tampering, crashes, limits, malformed folders.

Each entry is what a student could hand in to get a grade they did not earn, or what breaks a
grader that runs hidden tests in the student's kernel (../shared/notes/nbgrader-facts.md).
`fails` lists the items it must not get (with `statuses` where the status is not "failed");
every other item must pass, and `messages` holds text the TA must see. Graded through
`make grade` in tests/test_integrity.py. None of these can be checked in-process.
"""
from __future__ import annotations

import copy
import json
import textwrap

from ..layout import REPO
from .linear_classifiers import ITEMS, PREDICT, SAMPLE, SMX_N, SMX_V, SVM_N, SVM_V, TRAIN
from .notebooks import Entry, answers, release_notebook

A = "linear_classifiers"
SOLVED = answers(A)
TODO = "    # TODO(student)"
SVM_N_WRONG = SOLVED[SVM_N].replace("dW = dW / num_train + 2 * reg * W", "dW = dW / num_train + reg * W")
SMX_N_WRONG = SOLVED[SMX_N].replace("indicator = 1.0 if j == label else 0.0", "indicator = 0.0")
SMX_V_WRONG = SOLVED[SMX_V].replace("dW = grad_scores.t().mm(X).t() + 2 * reg * W", "dW = grad_scores.t().mm(X).t() + reg * W")
SVM_V_WRONG = SOLVED[SVM_V].replace("loss = data_loss + reg * torch.sum(W * W)", "loss = data_loss")
PREDICT_WRONG = SOLVED[PREDICT].replace("torch.argmax(scores, dim=1)", "torch.argmin(scores, dim=1)")


def inside(gid: str, code: str) -> tuple:
    """An edit that puts code at the start of the function body of an answer cell."""
    return gid, TODO, textwrap.indent(textwrap.dedent(code), "    ") + TODO


def after(source: str, code: str) -> str:
    """An answer cell with top-level code after its function."""
    return source + "\n" + textwrap.dedent(code)


def cells_by_id(nb: dict) -> dict:
    return {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}


def without(*ids):
    def transform(nb):
        nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") not in ids]
        return nb
    return transform


def forged_test_cells(nb):
    """Grade cells rewritten to pass, with outputs claiming full marks."""
    cell = cells_by_id(nb)["svm_loss_naive"]
    cell["source"] = 'print("svm_loss_naive: all hidden tests passed")'
    cell["outputs"] = [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                        "data": {"text/plain": "4"}}]
    return nb


def inflated_points(nb):
    for gid in ("svm_loss_naive", "sample_batch"):
        cells_by_id(nb)[gid]["metadata"]["nbgrader"]["points"] = 100
    return nb


def reordered_and_duplicated(nb):
    cells = nb["cells"]
    moved = cells_by_id(nb)[SVM_V]
    cells.remove(moved)
    cells.append(moved)
    grade = cells_by_id(nb)["softmax_loss_naive"]
    cells.insert(cells.index(grade), copy.deepcopy(grade))
    return nb


CORRUPT = json.dumps(release_notebook(A), indent=1).encode()[:700]
SOURCE_NOTEBOOK = REPO / "assignments" / A / f"{A}.ipynb"

ADVERSARIAL = [
    # --- tampering with what runs the tests ------------------------------------------------
    Entry("adv-input-transformer", ("svm_loss_naive",), replace={SVM_N: after(SVM_N_WRONG, """
          ip = get_ipython()
          ip.input_transformers_cleanup.append(lambda lines: [])  # blank every later cell
          """)}, messages={"svm_loss_naive": "dW"}, note="the IPython input-transformer hack"),
    Entry("adv-patch-allclose", ("softmax_loss_naive",), replace={SMX_N: after(SMX_N_WRONG, """
          torch.allclose = lambda *args, **kwargs: True
          torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
          torch.testing.assert_close = lambda *args, **kwargs: None
          """)}, note="monkeypatched torch comparisons"),
    Entry("adv-patch-tensor-methods", ("svm_loss_vectorized",), replace={SVM_V: after(SVM_V_WRONG, """
          torch.Tensor.allclose = lambda self, *args, **kwargs: True
          torch.Tensor.equal = lambda self, other: True
          torch.Tensor.norm = lambda self, *args, **kwargs: torch.zeros(())
          torch.Tensor.isfinite = lambda self: torch.ones_like(self, dtype=torch.bool)
          """)}, note="monkeypatched torch.Tensor methods"),
    Entry("adv-replace-checks-module", ("softmax_loss_vectorized",), replace={SMX_V: after(SMX_V_WRONG, """
          import sys, types
          fake = types.ModuleType("autograder.kernel")
          fake.grade = lambda *args, **kwargs: print("all hidden tests passed")
          fake.check = fake.grade
          for name in ("autograder", "autograder.kernel", "autograder.checks", "gradcheck"):
              sys.modules[name] = fake
          """)}, note="the checks module replaced in sys.modules"),
    Entry("adv-override-builtins", ("predict_linear_classifier",), replace={PREDICT: after(PREDICT_WRONG, """
          import builtins
          builtins.isinstance = lambda obj, cls: True
          builtins.len = lambda obj: 0
          builtins.AssertionError = type("AssertionError", (Exception,), {})
          def assert_close(*args, **kwargs):
              return True
          gradcheck.check_close = assert_close
          """)}, note="builtins and assert-style helpers overridden"),
    # --- the true gradient through autograd -------------------------------------------------
    Entry("adv-autograd-plain", ("softmax_loss_vectorized",), replace={SMX_V: '''
def softmax_loss_vectorized(W, X, y, reg):
    W = W.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = torch.nn.functional.cross_entropy(X.mm(W), y) + reg * torch.sum(W * W)
        loss.backward()
    return loss.detach(), W.grad
'''}, messages={"softmax_loss_vectorized": "autograd"}),
    Entry("adv-autograd-getattr", ("svm_loss_vectorized",), replace={SVM_V: '''
def svm_loss_vectorized(W, X, y, reg):
    with getattr(torch, "enable" + "_grad")():
        leaf = getattr(W.detach().clone(), "requires" + "_grad_")(True)
        scores = X.mm(leaf)
        margins = (scores - scores.gather(1, y[:, None]) + 1).clamp_min(0).scatter(1, y[:, None], 0.0)
        loss = margins.sum() / X.shape[0] + reg * torch.sum(leaf * leaf)
        (dW,) = getattr(getattr(torch, "auto" + "grad"), "gr" + "ad")(loss, leaf)
    return loss.detach(), dW
'''}, messages={"svm_loss_vectorized": "getattr"}),
    Entry("adv-autograd-in-helper", ("softmax_loss_naive",), replace={SMX_N: '''
def _true_gradient(W, X, y, reg):
    module = getattr(torch, "auto" + "grad")
    with getattr(torch, "enable_grad")():
        leaf = W.detach().clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(X.mm(leaf), y) + reg * (leaf * leaf).sum()
        return loss.detach(), module.grad(loss, leaf)[0]


def softmax_loss_naive(W, X, y, reg):
    return _true_gradient(W, X, y, reg)
'''}, messages={"softmax_loss_naive": "in `_true_gradient`"}),
    # --- time, crashes, memory, output -------------------------------------------------------
    Entry("adv-swallows-interrupt", ("train_linear_classifier",), statuses={"train_linear_classifier": "timeout"},
          edits=(inside(TRAIN, """
          while True:
              try:
                  time.sleep(0.01)
              except BaseException:
                  pass
          """),), messages={"train_linear_classifier": "time limit"}),
    Entry("adv-endless-cell", ("predict_linear_classifier",), statuses={"predict_linear_classifier": "timeout"},
          replace={PREDICT: after(SOLVED[PREDICT], """
          while True:
              try:
                  pass
              except KeyboardInterrupt:
                  pass
          """)}, messages={"predict_linear_classifier": "answer cell"}),
    Entry("adv-os-exit", ("svm_loss_naive",), item_status="error", edits=(inside(SVM_N, "import os\nos._exit(3)\n"),),
          messages={"svm_loss_naive": "status 3"}),
    Entry("adv-segfault", ("softmax_loss_naive",), item_status="error",
          edits=(inside(SMX_N, "import ctypes\nctypes.string_at(0)\n"),), messages={"softmax_loss_naive": "SIGSEGV"}),
    Entry("adv-memory-bomb", ("sample_batch",), item_status="error", edits=(inside(SAMPLE, """
          hog = []
          while True:
              hog.append(torch.empty(2**28))  # 1 GiB at a time
          """),), messages={"sample_batch": "memory"}),
    Entry("adv-million-lines", replace={SMX_N: after(SOLVED[SMX_N].replace(TODO, '    print("debug\\n" * 10**6)\n' + TODO), """
          for _ in range(10**6):
              print("still here")
          """)}, note="10^6 lines printed by a cell and by a graded function: correct code, full marks"),
    Entry("adv-sys-exit", ("softmax_loss_vectorized",), item_status="error",
          replace={SMX_V: 'import sys\nsys.exit("bye")\n' + SOLVED[SMX_V]}, messages={"softmax_loss_vectorized": "SystemExit"}),
    Entry("adv-warns", replace={SMX_V: after(SOLVED[SMX_V].replace(TODO, '    warnings.warn("slow", RuntimeWarning)\n' + TODO),
                                              'import warnings\nwarnings.warn("cell warning")\n')},
          note="correct code that warns: full marks"),
    # --- wrong results ---------------------------------------------------------------------
    Entry("adv-nan-inf", ("svm_loss_naive",), edits=((SVM_N, "    return loss, dW", '    return loss * float("nan"), dW * float("inf")'),),
          messages={"svm_loss_naive": "nan"}),
    Entry("adv-wrong-shape-dtype-device", ("softmax_loss_naive", "predict_linear_classifier", "sample_batch"),
          statuses={"sample_batch": "error"},
          edits=((SMX_N, "    return loss, dW", "    return loss, dW.t()"),
                 (PREDICT, "    return y_pred", "    return y_pred.float()"),
                 (SAMPLE, "    return X_batch, y_batch", '    return X_batch.to("meta"), y_batch')),
          messages={"softmax_loss_naive": "shape", "predict_linear_classifier": "int64", "sample_batch": "sent"}),
    Entry("adv-modifies-inputs", ("svm_loss_vectorized",), edits=(inside(SVM_V, "X[0] = 0.0\n"),),
          messages={"svm_loss_vectorized": "in place"}),
    Entry("adv-read-files", ("softmax_loss_naive",), item_status="error",
          edits=(inside(SMX_N, f"solution = open({str(SOURCE_NOTEBOOK)!r}).read()\n"),),
          messages={"softmax_loss_naive": f"{A}.ipynb"},  # PermissionError (Landlock) or FileNotFoundError (jail)
          note="reads the source notebook (hidden solutions)"),
    Entry("adv-kill-grader", ("svm_loss_vectorized",), item_status="error",
          edits=(inside(SVM_V, "import os, signal\nos.kill(os.getppid() or 1, signal.SIGKILL)\n"
                               "raise RuntimeError('the grader survived the kill')\n"),),
          note="tries to kill the process that forked it (PermissionError; in a PID namespace it has no "
               "parent to see, pid 1 is itself and ignores the signal)"),
    # --- malformed notebooks and folders ------------------------------------------------------
    Entry("adv-corrupt-json", ITEMS, raw=CORRUPT, status="error", item_status="error",
          messages={"": "JSON"}),
    Entry("adv-deleted-test-cells", transform=without("svm_loss_naive", "sample_batch"),
          note="grade cells deleted: nbgrader puts them back, full marks"),
    Entry("adv-deleted-answer-cell", ("predict_linear_classifier",), item_status="error",
          transform=without(PREDICT), messages={"predict_linear_classifier": "missing"}),
    Entry("adv-forged-test-cell", ("svm_loss_naive",), replace={SVM_N: SVM_N_WRONG}, transform=forged_test_cells),
    Entry("adv-inflated-points", transform=inflated_points, note="points raised in metadata: max stays"),
    Entry("adv-reordered-duplicated", transform=reordered_and_duplicated),
    Entry("adv-renamed-function", ("svm_loss_naive",), item_status="error",
          edits=((SVM_N, "def svm_loss_naive(", "def svm_loss_naive_v2("),), messages={"svm_loss_naive": "svm_loss_naive_v2"}),
    Entry("adv-wrong-filename", filename="Linear_Classifiers (1).ipynb", messages={"": "submitted as"}),
    Entry("adv-empty-folder", ITEMS, empty=True, status="error", item_status="error", messages={"": "no notebook"}),
    Entry("adv-extra-files", files={"gradcheck.py": b"def check_close(*a, **k):\n    return True\n",
                                    "torch.py": b"raise SystemExit('shadowed torch')\n"},
          messages={"": "extra files"}, note="a fake gradcheck.py and torch.py beside the notebook: ignored"),
]

for _entry in ADVERSARIAL:
    _entry.in_process = False
