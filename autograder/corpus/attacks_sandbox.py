"""Submissions that try to get out of the sandbox (issue 13: terminal, devices, /dev/shm,
processes that outlive it, memory and files over the caps, the grader's own package).

Same Entry format as adversarial.py. Where an attack that works would not change a score by
itself (a daemon, a full disk), the submission sabotages its own answer when the attack
works: correct code scores full marks only if the sandbox held. Graded through `make grade`
with Landlock turned off in tests/test_attacks_sandbox.py, so the jail, the uid and the
cgroup must hold on their own; the names DAEMON and BOMB let the test look for leftovers.
"""
from __future__ import annotations

from ..layout import REPO
from .adversarial import PREDICT, SMX_N, SMX_V, SOLVED, SVM_N, SVM_V, after, inside
from .notebooks import Entry

DAEMON, BOMB = "fgcorpusdaemon", "fgcorpusbomb"

ATTACKS_SANDBOX = [
    Entry("sbx-tiocsti", ("svm_loss_naive",), item_status="error", edits=(inside(SVM_N, """
          import fcntl, termios
          tty = open("/dev/tty", "wb")  # the TA's terminal, when make grade runs in one
          for ch in b"echo PWNED\\n":
              fcntl.ioctl(tty, termios.TIOCSTI, bytes([ch]))
          """),), messages={"svm_loss_naive": "/dev/tty"}, note="commands pushed into the TA's terminal"),
    Entry("sbx-device", ("softmax_loss_vectorized",), item_status="error", edits=(inside(SMX_V, """
          open("/dev/kmsg", "w").write("forged kernel log line")
          """),), messages={"softmax_loss_vectorized": "/dev/kmsg"}, note="a device other than null, zero, urandom"),
    Entry("sbx-shm-semaphores", replace={SVM_V: after(SOLVED[SVM_V], """
          import glob, mmap, os
          for path in glob.glob("/dev/shm/sem.*"):  # the worker pool's queue locks, on a shared /dev/shm
              with open(path, "r+b") as fh:
                  mmap.mmap(fh.fileno(), 4)[:4] = bytes(4)  # count 0: the lock is taken for good
              svm_loss_vectorized = None  # it got in: lose the item, so the test sees it
          """)}, note="the pool's semaphores in /dev/shm taken: private /dev/shm, full marks"),
    Entry("sbx-daemon", replace={SMX_N: after(SOLVED[SMX_N], """
          import ctypes, os, time
          if os.fork() == 0:
              os.setsid()
              if os.fork() == 0:
                  ctypes.CDLL(None).prctl(15, DAEMON.encode(), 0, 0, 0)  # PR_SET_NAME: /proc/PID/comm
                  while True:
                      time.sleep(1)
              os._exit(0)
          """.replace("DAEMON", repr(DAEMON)))}, note="a double-fork + setsid daemon: killed with its session, full marks"),
    Entry("sbx-fork-bomb", ("predict_linear_classifier",), item_status="error", edits=(inside(PREDICT, """
          import ctypes, os, time
          for _ in range(1000):  # bounded: 1000 children at most, each only sleeps
              if os.fork() == 0:
                  ctypes.CDLL(None).prctl(15, BOMB.encode(), 0, 0, 0)
                  time.sleep(3600)
                  os._exit(0)
          """.replace("BOMB", repr(BOMB))),), messages={"predict_linear_classifier": "temporarily unavailable"},
          note="a fork bomb: pids.max makes fork fail, all killed with the session"),
    Entry("sbx-memory-children", replace={SMX_V: after(SOLVED[SMX_V], """
          import os, time, torch
          kids = []
          for _ in range(3):  # 3 x 400 MiB, each under the per-process cap, together over the sandbox's
              pid = os.fork()
              if pid == 0:
                  hog = torch.ones(400 * 2**18)
                  time.sleep(1)
                  os._exit(0)
              kids.append(pid)
          if all(os.waitpid(pid, 0)[1] == 0 for pid in kids):
              softmax_loss_vectorized = None  # all three held their memory: lose the item
          """)}, note="three children over the memory cap together: one is killed, full marks"),
    Entry("sbx-many-files", replace={SVM_N: after(SOLVED[SVM_N], """
          chunk = b"x" * 2**20
          try:
              for i in range(600):  # 600 MiB at most, half of it in /dev/shm (RAM)
                  with open(f"{'/dev/shm' if i % 2 else '.'}/fill{i}", "wb") as fh:
                      fh.write(chunk)
              svm_loss_naive = None  # nothing stopped it: lose the item
          except OSError:
              pass
          """)}, note="many 1 MiB files in its folder and /dev/shm: capped in all, full marks"),
    Entry("sbx-import-reference", ("softmax_loss_naive",), item_status="error", edits=(inside(SMX_N, """
          from autograder.checks import two_layer_reference  # the grader's reference solutions
          """),), messages={"softmax_loss_naive": "two_layer_reference"}, note="imports the grader's package"),
    Entry("sbx-read-repo", ("svm_loss_vectorized",), item_status="error", edits=(inside(SVM_V, f"""
          repo = open({str(REPO / "README.md")!r}).read()
          """),), messages={"svm_loss_vectorized": "README.md"}, note="reads the kit's repository"),
]

for _entry in ATTACKS_SANDBOX:
    _entry.in_process = False
