"""Processes that die with their parent: a killed `make grade` leaves nothing running.

Linux's PR_SET_PDEATHSIG sends a signal to a process when its parent exits, however the
parent ended (SIGKILL included). Each link of the chain sets it: grader -> worker -> zygote ->
sandbox. Elsewhere this does nothing (the processes still exit when their pipes close).
"""
from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent is already gone
        os._exit(1)
