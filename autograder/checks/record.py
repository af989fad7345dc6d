"""A recording fake's memory: the first calls, and the count of all.

The fake losses a check lends to the student's training loop (and the search's nn_train) record
what they are called with; a loop of a billion calls must not grow the grader's process.
"""
from __future__ import annotations

MAX_RECORDED = 1000  # calls a recording fake keeps (it counts all of them)


class Record(list):
    """What a recording fake keeps: its first MAX_RECORDED entries, and the count of all."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def append(self, entry) -> None:
        self.count += 1
        if len(self) < MAX_RECORDED:
            super().append(entry)

    def clear(self) -> None:
        super().clear()
        self.count = 0
