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

from . import confinement
from .forks import Forks
from .lifetime import die_with_parent

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

    def __init__(self, start_timeout: float = 180.0, wait: bool = True, without: tuple = ()):
        """Start the zygote process; with wait=False, return while it imports torch (the first
        spawn, or wait_ready(), waits for it). without: kernel features to act as if missing
        ("pidns", "mounts", "cgroup"), to test the fallbacks."""
        self.home = tempfile.mkdtemp(prefix=HOME_PREFIX)
        self.ctl, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.cleanroom.zygote", str(child.fileno()),
                                      ",".join(without), str(os.getpid())],
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


def start_sandbox(forks: Forks, config: dict, sock: socket.socket, ctl: socket.socket | None) -> int:
    forks.limits = confinement.group_limits(config)
    pid = forks.fork(config)
    if pid == 0:
        if ctl is not None:
            ctl.close()
        die_with_parent(lifeline=config["spawn"]["lifeline"])
        os.setsid()  # no controlling terminal (/dev/tty fails); its own process group
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from autograder.cleanroom import sandbox
        sandbox.serve(sock, config)
    sock.close()
    return pid


def probe(forks: Forks) -> dict:
    """What a sandbox gets on this machine, from one that confines itself for real and exits."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    workdir = tempfile.mkdtemp(prefix="flatgrad-probe-")  # where sessions make theirs
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
    die_with_parent(parent=int(sys.argv[3]) if len(sys.argv) > 3 else None)
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
    forks = Forks(tuple(filter(None, sys.argv[2].split(","))) if len(sys.argv) > 2 else ())
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
