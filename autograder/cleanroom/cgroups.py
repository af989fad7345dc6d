"""One control group per sandbox: a cap on all its processes together (memory, count).

Per-process limits (RLIMIT_DATA) let three forked children hold three caps; a cgroup counts
them, their files in tmpfs and their threads together, and can be killed as a whole. Which
cgroup version a machine has varies: v2 (systemd laptops), v1 controllers (older hosts, this
project's CI), or none writable (an unprivileged container). `setup` finds out once, in the
zygote; the sandbox joins its own group before it drops root; the zygote kills and removes it.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

CONTROLLERS = ("memory", "pids")


@dataclass
class Cgroups:
    mode: str = "none"                           # "v2", "v1" or "none"
    parents: list = field(default_factory=list)  # one folder per hierarchy used
    reason: str = ""                             # why "none"

    def folders(self, name: str) -> list[str]:
        return [os.path.join(p, name) for p in self.parents]


def _mounts() -> list[tuple[str, str, set]]:
    out = []
    with open("/proc/self/mounts") as fh:
        for line in fh:
            _, where, kind, options, *_ = line.split()
            out.append((where, kind, set(options.split(","))))
    return out


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def setup(tag: str) -> Cgroups:
    """Create this zygote's parent group(s); the best the kernel and our rights allow."""
    mounts = _mounts()
    for where, kind, _ in mounts:  # v2 with both controllers at its root (writable as root)
        if kind == "cgroup2" and os.path.exists(os.path.join(where, "cgroup.controllers")):
            if set(open(os.path.join(where, "cgroup.controllers")).read().split()) >= set(CONTROLLERS):
                try:
                    parent = os.path.join(where, f"flatgrad-{tag}")
                    _write(os.path.join(where, "cgroup.subtree_control"), " ".join("+" + c for c in CONTROLLERS))
                    os.makedirs(parent, exist_ok=True)
                    _write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in CONTROLLERS))
                    return Cgroups("v2", [parent])
                except OSError as exc:
                    reason = f"cgroup v2 at {where} is not writable ({exc.strerror})"
                    break
    else:
        reason = "no cgroup v2 with the memory and pids controllers"
    v1 = {c: where for where, kind, opts in mounts if kind == "cgroup" for c in CONTROLLERS if c in opts}
    if set(v1) == set(CONTROLLERS):
        parents = [os.path.join(v1[c], f"flatgrad-{tag}") for c in CONTROLLERS]
        try:
            for parent in parents:
                os.makedirs(parent, exist_ok=True)
            return Cgroups("v1", parents)
        except OSError as exc:
            return Cgroups(reason=f"{reason}; cgroup v1 is not writable ({exc.strerror})")
    return Cgroups(reason=f"{reason}; no cgroup v1 memory and pids controllers")


def sweep(groups: Cgroups) -> None:
    """Remove the groups of zygotes that were killed (SIGKILL leaves their empty groups behind)."""
    for parent in groups.parents:
        base = os.path.dirname(parent)
        for name in os.listdir(base):
            tag = name[len("flatgrad-"):]
            if name.startswith("flatgrad-") and tag.isdigit() and not os.path.exists(f"/proc/{tag}"):
                teardown(Cgroups(groups.mode, [os.path.join(base, name)]))


def enter(groups: Cgroups, name: str, pid: int, limits: tuple[int, int]) -> None:
    """Create a sandbox's group with its (memory bytes, processes) limits and move pid into it."""
    memory_bytes, pids = limits
    for folder in groups.folders(name):
        os.mkdir(folder)
        if groups.mode == "v2":
            _write(os.path.join(folder, "memory.max"), str(memory_bytes))
            if os.path.exists(os.path.join(folder, "memory.swap.max")):  # no escape into swap
                _write(os.path.join(folder, "memory.swap.max"), "0")
            _write(os.path.join(folder, "pids.max"), str(pids))
        elif os.path.exists(os.path.join(folder, "memory.limit_in_bytes")):
            _write(os.path.join(folder, "memory.limit_in_bytes"), str(memory_bytes))
            if os.path.exists(os.path.join(folder, "memory.memsw.limit_in_bytes")):  # no escape into swap
                _write(os.path.join(folder, "memory.memsw.limit_in_bytes"), str(memory_bytes))
        else:
            _write(os.path.join(folder, "pids.max"), str(pids))
        _write(os.path.join(folder, "cgroup.procs"), str(pid))


def members(groups: Cgroups, name: str) -> set[int]:
    found = set()
    for folder in groups.folders(name):
        try:
            found |= {int(p) for p in open(os.path.join(folder, "cgroup.procs")).read().split()}
        except OSError:
            pass
    return found


def kill(groups: Cgroups, name: str, patience: float = 5.0) -> set[int]:
    """SIGKILL every process in the group until none is left; the pids that were killed."""
    killed, end = set(), time.monotonic() + patience
    for folder in groups.folders(name):
        if groups.mode == "v2" and os.path.exists(os.path.join(folder, "cgroup.kill")):
            try:
                _write(os.path.join(folder, "cgroup.kill"), "1")
            except OSError:
                pass
    while (alive := members(groups, name)) and time.monotonic() < end:
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed |= alive
        time.sleep(0.001)
    return killed


def remove(groups: Cgroups, name: str) -> None:
    for folder in groups.folders(name):
        for _ in range(50):  # a group empties a moment after its last process is reaped
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.002)


def teardown(groups: Cgroups) -> None:
    for parent in groups.parents:
        for name in os.listdir(parent) if os.path.isdir(parent) else ():
            if os.path.isdir(os.path.join(parent, name)):
                kill(groups, name, 1.0)
                remove(groups, name)
        try:
            os.rmdir(parent)
        except OSError:
            pass
