"""The clean room: a student's code runs in a confined process, every verdict in the grader's.

codec (plain values across), landlock (confinement), zygote (warm fork server), sandbox (the
student's side), session (the grader's side of one sandbox), runner (one notebook's verdicts).
"""
