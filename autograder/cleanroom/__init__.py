"""The clean room: a student's code runs in a confined process, every verdict in the grader's.

codec (plain values across), zygote (warm fork server), forks (how it forks and ends sandboxes),
confinement (what a new sandbox does as root: session, mounts, jail, uid), cgroups (caps on all
its processes together), landlock (paths, TCP, signals), syscalls (libc calls Python lacks),
sandbox (the student's side), session (the grader's side of one sandbox), runner (one
notebook's verdicts).
"""
