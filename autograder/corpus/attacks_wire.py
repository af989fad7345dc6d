"""Attacks on the grader's own process and on the worker pool (issue 13, round 2).

Submissions of linear_classifiers that try to hold or blow up what the grader does for them:
a reply dribbled a byte at a time, decode bombs, a flood of calls into a recording fake, a
lent helper fed a huge tensor, values a judge trips over, a multi-MB answer cell, a notebook
that uses up its time limit, and the pool's queue semaphores taken from the sandbox. Same
Entry format as adversarial.py; graded through `make grade` with honest students in
tests/test_attacks_wire.py (short limits: cell 5 s, call 10 s, notebook 30 s).

The replies are forged on the sandbox's socket by the answer of the last graded item
(softmax_get_search_params), so a process left unusable afterwards costs no other item.
"""
from __future__ import annotations

import textwrap

from .adversarial import SOLVED, inside
from .linear_classifiers import ITEMS, SVM_N, TRAIN
from .notebooks import Entry

A = "linear_classifiers"
GRID = "softmax_get_search_params_code"
LAST = "softmax_get_search_params"

# The sandbox's end of the grader's socket, found among its open files.
GRADER_SOCKET = """
import os, socket, struct, time
def _grader_socket():
    for fd in range(3, 256):
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        if s.family == socket.AF_UNIX and s.type == socket.SOCK_STREAM:
            return s
        s.close()
sock = _grader_socket()
"""


def forged(code: str) -> dict:
    """The last item's function sends `code`'s bytes itself, as (the start of) its reply."""
    body = textwrap.indent(textwrap.dedent(GRADER_SOCKET + code), "    ")
    return {GRID: f"def softmax_get_search_params():\n{body}\n    return [1e-2, 1e-1], [1e-3, 1e-2]\n"}


# A valid length, then the header one byte every half second, forever: under a per-recv
# timeout this held a notebook (and its worker) for as long as it kept dribbling.
DRIBBLE = forged("""
sock.sendall(struct.pack("<Q", 1 << 20))
while True:
    sock.sendall(b" ")
    time.sleep(0.5)
""")


def bomb(values: str, then_exit: bool = True) -> dict:
    """A well-formed result message whose value is the JSON `values` (built in the sandbox). It
    names the request it answers (read from the calling frame), as the sandbox's replies do, so
    that the grader reads it as the reply; the process then exits before the real one."""
    return forged(f"""
import sys
frame = sys._getframe()
while "msg" not in frame.f_locals:
    frame = frame.f_back
rid = frame.f_locals["msg"].get("rid")
value = {values}
data = ('{{"body": {{"$dict": [["op", "result"], ["rid", ' + ("null" if rid is None else str(rid)) + '], ["value", ' +
        value + ']]}}, "sizes": []}}').encode()
sock.sendall(struct.pack("<Q", len(data)) + data)
os._exit(0)
""")


# 300,000 objects of 300,000 made-up types: one class each made the grader spend seconds and
# hundreds of MB; now at most MAX_OPAQUE_TYPES classes, and the judge says what came back.
OPAQUE_TYPES = bomb("'[' + ','.join('{\"$opaque\": \"T%d\"}' % i for i in range(300000)) + ']'")
# 600,000 numbers: over the decoder's node budget, refused before it is built.
NODES = bomb("'[' + ','.join(['0'] * 600000) + ']'")

# The pool's queue locks are POSIX semaphores in /dev/shm. This takes every one that its own
# grader's processes have open (read from its ancestors' memory maps, where the kernel lets
# it: without Landlock), so that it cannot touch any other program's semaphores on the same
# machine. With ProcessPoolExecutor the next result never arrived and make grade never returned.
TAKE_SEMAPHORES = """
import ctypes, os, re
def _ancestors(pid, depth=4):
    for _ in range(depth):
        if pid <= 1:
            return
        yield pid
        try:
            with open(f"/proc/{pid}/status") as fh:
                pid = int(re.search(r"PPid:\\s+(\\d+)", fh.read()).group(1))
        except (OSError, AttributeError):
            return
_names = set()
for _pid in _ancestors(os.getppid()):
    try:
        with open(f"/proc/{_pid}/maps") as fh:
            _names |= set(re.findall(r"/dev/shm/sem\\.(\\S+)$", fh.read(), re.M))
    except OSError:
        pass
_libc = ctypes.CDLL(None)
_libc.sem_open.restype = ctypes.c_void_p
_libc.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.sem_trywait.argtypes = [ctypes.c_void_p]
TAKEN = 0
for _name in _names:
    _sem = _libc.sem_open(("/" + _name).encode(), 0)
    if _sem and _sem != ctypes.c_void_p(-1).value:
        while _libc.sem_trywait(_sem) == 0:
            TAKEN += 1
"""

LONG_CELL = "DATA = [\n" + "    0.125, 0.25, 0.5,\n" * 140_000 + "]\n" + SOLVED[SVM_N]  # ~3 MB of pasted numbers

ATTACKS_WIRE = [
    Entry("wire-dribble", (LAST,), statuses={LAST: "timeout"}, replace=DRIBBLE,
          messages={LAST: "time limit (10 s)"}, note="a reply dribbled one byte every 0.5 s: cut at the call limit"),
    Entry("wire-opaque-types", (LAST,), replace=OPAQUE_TYPES, messages={LAST: "got list"},
          note="300,000 objects of different types in one reply: read, judged, no class per object"),
    Entry("wire-node-bomb", (LAST,), item_status="error", replace=NODES, messages={LAST: "500,000 values"},
          note="a reply of 600,000 values: over the decode budget"),
    Entry("wire-fake-flood", ("train_linear_classifier",), edits=(inside(TRAIN, """
          for _ in range(1200):
              loss_func(W, X[:2], y[:2], reg)
          """),), messages={"train_linear_classifier": "called 1207 times"},
          note="1200 extra calls into the recording fake loss: it keeps 1000, counts all"),
    Entry("wire-helper-too-big", ("train_linear_classifier",), item_status="error", edits=(inside(TRAIN, """
          loss_func(W, torch.zeros(2_000_000, 1, dtype=X.dtype), y[:1], reg)
          """),), messages={"train_linear_classifier": "more than 1,000,000 tensor elements"},
          note="a lent fake fed 2,000,000 elements: refused with a message"),
    Entry("wire-judge-trips", ("train_linear_classifier",), edits=(
          (TRAIN, "loss_history.append(loss.item())", "loss_history.append(f'loss {loss.item()}')"),),
          messages={"train_linear_classifier": "could not read the returned value"},
          note="a loss history of strings: the judge raises, this item fails, nothing else"),
    Entry("wire-long-cell", ("svm_loss_naive",), item_status="error", replace={SVM_N: LONG_CELL},
          messages={"svm_loss_naive": "over the limit"}, note="a 3 MB answer cell: refused unread, never cut"),
    Entry("wire-notebook-limit", ITEMS, item_status="timeout",
          edits=(inside(SVM_N, "import time\ntime.sleep(9)\n"),), messages={"softmax_loss_naive": "time limit"},
          note="the notebook's 30 s used up by the first item: every later item is a timeout"),
    Entry("wire-take-semaphores", replace={SVM_N: SOLVED[SVM_N] + "\n" + textwrap.dedent(TAKE_SEMAPHORES)},
          note="takes its grader's POSIX semaphores in /dev/shm: the batch still finishes, full marks"),
]
