"""How the zygote forks sandboxes and ends them, with whatever the kernel offers.

Each sandbox is pid 1 of a new PID namespace (when it dies the kernel kills every process in
it), in its own cgroup (cgroups.py), with its mount namespace held here until it is reaped.
Without a PID namespace the zygote is a subreaper: orphans come back to it and are killed.
"""
from __future__ import annotations

import os
import signal

from . import cgroups, confinement
from .syscalls import CLONE_NEWPID, PR_SET_CHILD_SUBREAPER, prctl, setns, unshare


class Forks:
    """How this zygote forks and ends sandboxes: own PID namespace, cgroup, uid (decided once)."""

    def __init__(self, without: tuple = ()):
        self.tag, self.without = f"{os.getpid()}", without
        self.groups = cgroups.setup(self.tag) if "cgroup" not in without else cgroups.Cgroups(reason="turned off")
        cgroups.sweep(self.groups)
        self.uid, self.uid_text = confinement.sandbox_uid()
        self.serial, self.limits = 0, (0, 0)
        self.names: dict[int, str] = {}  # sandbox pid -> its cgroup's name
        self.pidns: dict[int, bool] = {}
        self.lifeline = os.pipe()  # only this process writes to it: EOF in a sandbox, this one is gone
        self.pending: dict[int, tuple[int, int]] = {}  # pid -> (go, mounted) pipe ends, until settled
        self.mount_ns: dict[int, int] = {}  # pid -> an fd that keeps its mount namespace alive
        try:
            self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.own_pidns = None
        try:  # orphans of a sandbox come back here, not to init: the fallback without a PID namespace
            prctl(PR_SET_CHILD_SUBREAPER, 1)
        except OSError:
            pass

    def fork(self, config: dict) -> int:
        """fork(); in the child, config["spawn"] says what it was given. The child is pid 1 of a new
        PID namespace where the kernel allows: when it dies, every process in it is killed."""
        self.serial += 1
        spawn = {"name": f"s{self.serial}", "uid": self.uid, "uid_text": self.uid_text,
                 "cgroups": vars(self.groups), "pidns": False, "without": list(self.without)}
        try:
            if self.own_pidns is None or "pidns" in self.without:
                raise OSError(0, "turned off" if self.own_pidns is not None else "/proc/self/ns/pid cannot be opened")
            unshare(CLONE_NEWPID)  # for the next child only: this process stays where it is
            spawn["pidns"] = True
        except OSError as exc:
            spawn["pidns_error"] = exc.strerror
        go, mounted = os.pipe(), os.pipe()
        spawn["go"], spawn["mounted"], spawn["lifeline"] = go[0], mounted[1], self.lifeline[0]
        config["spawn"] = spawn
        pid = os.fork()
        if pid == 0:  # nothing of the zygote's or of other sandboxes stays open in the child
            for fd in (self.own_pidns, go[1], mounted[0], self.lifeline[1], *self.mount_ns.values(),
                       *[end for ends in self.pending.values() for end in ends]):
                if fd is not None:
                    os.close(fd)
            return 0
        if spawn["pidns"]:
            setns(self.own_pidns, CLONE_NEWPID)  # later children: a fresh namespace each
        os.close(go[0])
        os.close(mounted[1])
        self.names[pid], self.pidns[pid], self.pending[pid] = spawn["name"], spawn["pidns"], (go[1], mounted[0])
        return pid

    def settle(self, pid: int) -> None:
        """After the grader has the pid (the work overlaps the child's own confinement): move the
        child into its cgroup (a migration waits for an RCU grace period, ~5-9 ms) and tell it
        so; hold its mount namespace, so that its teardown (~14 ms) happens after it is reaped."""
        go, mounted = self.pending.pop(pid)
        ok = False
        if self.groups.mode != "none":
            try:
                cgroups.enter(self.groups, self.names[pid], pid, self.limits)
                ok = True
            except OSError:
                pass
        try:
            os.write(go, b"1" if ok else b"0")
        except OSError:  # it died already
            pass
        os.close(go)
        if os.read(mounted, 1) == b"1":  # or b"": it has no mount namespace of its own (or died)
            try:
                self.mount_ns[pid] = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                pass
        os.close(mounted)

    def reap(self, pid: int) -> int:
        """Wait for a sandbox, then kill what it left: its cgroup's processes, orphans sent here."""
        status = os.waitpid(pid, 0)[1]
        cgroups.kill(self.groups, self.names[pid])
        if not self.pidns.pop(pid):
            self.kill_orphans()
        return status

    def forget(self, pid: int) -> None:
        if pid in self.mount_ns:
            os.close(self.mount_ns.pop(pid))  # its mounts go now, after the grader has its answer
        cgroups.remove(self.groups, self.names.pop(pid))

    def kill_orphans(self) -> None:
        """Without a PID namespace: descendants of dead sandboxes are this process's children now."""
        while orphans := [p for p in _children() if p not in self.names]:
            for orphan in orphans:
                try:
                    os.kill(orphan, signal.SIGKILL)
                    os.waitpid(orphan, 0)
                except OSError:
                    pass

    def close(self) -> None:
        for pid in list(self.pending):
            self.settle(pid)
        for pid in list(self.names):
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                self.reap(pid)
            except OSError:
                pass
            self.forget(pid)
        self.kill_orphans()
        cgroups.teardown(self.groups)


def _children() -> list[int]:
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == me:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found
