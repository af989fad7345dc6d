"""Tasks for the watchdog pool's tests (tests/test_wire.py): importable by spawned workers."""
from __future__ import annotations

import os
import time


def pid() -> int:
    return os.getpid()


def hang() -> None:
    """A worker that never answers (as one whose pool lock was taken)."""
    while True:
        time.sleep(1)


def grow(mb: int) -> None:
    """A worker that grows past its memory limit and stays there."""
    hog = bytearray(mb * 2**20)
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    hang()


def die() -> None:
    os._exit(7)


def fail() -> None:
    raise ValueError("a task's own error")
