"""A warm fork server: torch imported once, one forked process per student notebook.

    grader --spawn(config, socket)--> zygote --fork--> sandbox (serves the grader on socket)

Starting Python and importing torch takes seconds; forking a process that already has them
takes ~15 ms. The zygote never runs a student's code: it only forks, and reports how its
children ended. `python -m autograder.cleanroom.zygote FD` is the zygote itself.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from . import cgroups, confinement
from .lifetime import die_with_parent
from .syscalls import CLONE_NEWPID, PR_SET_CHILD_SUBREAPER, prctl, setns, unshare

HOME_PREFIX = "flatgrad-zygote-"
WARM = ("numpy", "torch", "torch.nn.functional", "matplotlib", "matplotlib.pyplot", "tqdm", "tqdm.auto",
        "itertools", "math", "time", "autograder.cleanroom.sandbox")


def env(workdir: str) -> dict:
    """The whole environment of the zygote and its children: nothing of the grader's."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "MPLCONFIGDIR": workdir,
            "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NBGRADER_EXECUTION": "autograde", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))}


class Zygote:
    """The grader's handle on a zygote process."""

    def __init__(self, start_timeout: float = 180.0, wait: bool = True):
        """Start the zygote process; with wait=False, return while it imports torch (the first
        spawn, or wait_ready(), waits for it)."""
        self.home = tempfile.mkdtemp(prefix=HOME_PREFIX)
        self.ctl, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.cleanroom.zygote", str(child.fileno())],
                                     pass_fds=(child.fileno(),), env=env(self.home), cwd=self.home,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        child.close()
        self.start_timeout, self.ready, self.protections = start_timeout, False, {}
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        if self.ready:
            return
        self.ctl.settimeout(self.start_timeout)
        ready = json.loads(self.ctl.recv(1 << 16) or b"{}")
        if ready.get("op") != "ready":
            raise RuntimeError("the clean-room zygote did not start")
        self.protections = ready.get("protections", {})  # what every sandbox gets (for the log)
        self.ctl.settimeout(60)
        self.ready = True

    def spawn(self, config: dict) -> tuple[int, socket.socket]:
        """A new sandbox process serving on the returned socket; (pid, socket)."""
        self.wait_ready()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        socket.send_fds(self.ctl, [json.dumps({"op": "spawn", "config": config}).encode()], [theirs.fileno()])
        theirs.close()
        reply = json.loads(self.ctl.recv(1 << 16) or b"{}")
        if "pid" not in reply:
            raise RuntimeError(f"the zygote could not fork: {reply}")
        return reply["pid"], mine

    def wait(self, pid: int) -> int | None:
        """The wait status of a sandbox the grader has killed or seen hang up (None: unknown)."""
        try:
            self.ctl.send(json.dumps({"op": "wait", "pid": pid}).encode())
            return json.loads(self.ctl.recv(1 << 16) or b"{}").get("status")
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.ctl.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.home, ignore_errors=True)  # the zygote removes it too, unless killed


class Forks:
    """How this zygote forks and ends sandboxes: own PID namespace, cgroup, uid (decided once)."""

    def __init__(self):
        self.tag = f"{os.getpid()}"
        self.groups = cgroups.setup(self.tag)
        self.uid, self.uid_text = confinement.sandbox_uid()
        self.serial, self.limits = 0, (0, 0)
        self.names: dict[int, str] = {}  # sandbox pid -> its cgroup's name
        self.pidns: dict[int, bool] = {}
        self.pending: dict[int, tuple[int, int]] = {}  # pid -> (go, mounted) pipe ends, until settled
        self.mount_ns: dict[int, int] = {}  # pid -> an fd that keeps its mount namespace alive
        self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:  # orphans of a sandbox come back here, not to init: the fallback without a PID namespace
            prctl(PR_SET_CHILD_SUBREAPER, 1)
        except OSError:
            pass

    def fork(self, config: dict) -> int:
        """fork(); in the child, config["spawn"] says what it was given. The child is pid 1 of a new
        PID namespace where the kernel allows: when it dies, every process in it is killed."""
        self.serial += 1
        spawn = {"name": f"s{self.serial}", "uid": self.uid, "uid_text": self.uid_text,
                 "cgroups": vars(self.groups), "pidns": False}
        try:
            unshare(CLONE_NEWPID)  # for the next child only: this process stays where it is
            spawn["pidns"] = True
        except OSError as exc:
            spawn["pidns_error"] = exc.strerror
        go, mounted = os.pipe(), os.pipe()
        spawn["go"], spawn["mounted"] = go[0], mounted[1]
        config["spawn"] = spawn
        pid = os.fork()
        if pid == 0:
            for fd in (self.own_pidns, go[1], mounted[0]):
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


def start_sandbox(forks: Forks, config: dict, sock: socket.socket, ctl: socket.socket | None) -> int:
    forks.limits = confinement.group_limits(config)
    pid = forks.fork(config)
    if pid == 0:
        if ctl is not None:
            ctl.close()
        die_with_parent()
        os.setsid()  # no controlling terminal (/dev/tty fails); its own process group
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from autograder.cleanroom import sandbox
        sandbox.serve(sock, config)
    sock.close()
    return pid


def probe(forks: Forks) -> dict:
    """What a sandbox gets on this machine, from one that confines itself for real and exits."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    workdir = tempfile.mkdtemp(prefix="probe-", dir=os.environ.get("HOME"))
    config = {"workdir": workdir, "read_only": [sys.base_prefix, sys.prefix], "read_write": [], "env": {},
              "memory_mb": 2048, "file_mb": 64, "landlock": True}  # the default limits
    pid = start_sandbox(forks, config, theirs, None)
    forks.settle(pid)
    from . import codec
    mine.settimeout(30)
    try:
        ready = codec.receive(mine, lambda node, decoder: None)
    except (OSError, EOFError, codec.ProtocolError) as exc:
        ready = {"protections": {"probe": f"the probe sandbox failed: {exc}"}}
    mine.close()
    os.kill(pid, signal.SIGKILL)
    forks.reap(pid)
    forks.forget(pid)
    shutil.rmtree(workdir, ignore_errors=True)
    return ready.get("protections") or {"probe": f"the probe sandbox failed: {ready.get('error')}"}


def serve(ctl: socket.socket, forks: Forks) -> None:
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, 1 << 16, 1)
        except OSError:  # the grader's end was reset: as a hang-up
            break
        if not data:
            break
        msg = json.loads(data)
        if msg["op"] == "spawn":
            pid = start_sandbox(forks, msg["config"], socket.socket(fileno=fds[0]), ctl)
            ctl.send(json.dumps({"pid": pid}).encode())
            forks.settle(pid)
        elif msg["op"] == "wait":
            status = None
            if msg["pid"] in forks.names:
                status = forks.reap(msg["pid"])
            ctl.send(json.dumps({"status": status}).encode())
            if msg["pid"] in forks.names:
                forks.forget(msg["pid"])  # the empty cgroup goes after the grader has its answer


def nvidia_machine() -> bool:
    """An NVIDIA driver is present (asked without initializing CUDA, which would stick in forks)."""
    return os.path.exists("/dev/nvidiactl")


def warm_autograd(torch) -> None:
    """Load what the first custom autograd Function loads (~0.6 s, sympy among it), once.

    It goes through the same path as a graded call: saved-tensor hooks, save_for_backward.
    """
    from autograder.calls import call
    from autograder.checks.adapters import function_adapter

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = torch.ones(2, dtype=torch.float64)
    call(function_adapter(Square), ("grad", "x"), (x, x), no_grad=False)


def main() -> None:
    die_with_parent()
    ctl = socket.socket(fileno=int(sys.argv[1]))
    import importlib
    for name in WARM:
        importlib.import_module(name)
    import torch
    torch.set_num_threads(1)  # a forked child must not inherit a thread pool (it deadlocks)
    if not nvidia_machine():
        # a backward pass starts autograd's device threads, which initializes CUDA: a process
        # forked after that cannot use the GPU ("CUDA error: initialization error", on an H200)
        warm_autograd(torch)
    forks = Forks()
    try:
        ctl.send(json.dumps({"op": "ready", "protections": probe(forks)}).encode())
        serve(ctl, forks)
    except OSError:  # the grader went away without closing (its process ended)
        pass
    finally:
        forks.close()
    # the grader hung up: remove this zygote's home (fontconfig cache, the sandboxes' $HOME) and
    # exit at once; finalizing the interpreter (torch, matplotlib) took ~1.4 s and saves nothing
    home = os.environ.get("HOME", "")
    if os.path.basename(home).startswith(HOME_PREFIX):
        shutil.rmtree(home, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    main()
