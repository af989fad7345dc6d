"""Processes that die with their parent: a killed `make grade` leaves nothing running.

Linux's PR_SET_PDEATHSIG sends a signal to a process when its parent exits, however the
parent ended (SIGKILL included). Each link of the chain sets it: grader -> worker -> zygote ->
sandbox. Elsewhere this does nothing (the processes still exit when their pipes close).

Two ways it silently fails, both closed here: the kernel signals only for a parent that ends
after the call (so the call checks that the parent is still there), and it clears the setting
when the process changes its uid or gid (so the sandbox sets it again after dropping root).
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import select
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None, lifeline: int | None = None) -> None:
    """SIGKILL this process when its parent ends; end it now if the parent is already gone.

    Whether it is gone is told by lifeline, the read end of a pipe whose write end only the
    parent holds (end of file: gone; needed as pid 1 of a new PID namespace, where getppid()
    is 0), or else by getppid() no longer being parent (the pid the parent passed down, or a
    multiprocessing parent's): an orphan goes to init or to a subreaper, not always pid 1.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if parent is None and lifeline is None and (spawner := multiprocessing.parent_process()) is not None:
        parent = spawner.pid
    if lifeline is not None:
        gone = bool(select.select([lifeline], [], [], 0)[0])
    elif parent is not None:
        gone = os.getppid() != parent
    else:
        gone = os.getppid() == 1
    if gone:
        os._exit(1)
