"""The grader's side of one student's sandbox: run cells and calls under time limits.

A Session owns one sandbox process at a time. When the process hangs (a loop that swallows
KeyboardInterrupt), dies (os._exit, a segfault) or sends garbage, the Session kills its whole
process group, says what happened, and starts a fresh one on the next request, replaying the
cells that ran fine: a crash costs the student only the cell or item it happened in.
"""
from __future__ import annotations

import functools
import importlib.util
import marshal
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..calls import Outcome, _changed, _snapshot, write_back
from ..checks import adapters
from . import bounds, codec, references
from .seal import tampered_message
from .zygote import Zygote, env, nvidia_machine


@dataclass
class Limits:
    cell: float = 30.0          # seconds one cell may run
    call: float = 60.0          # seconds one call of a student's function may run
    submission: float = 600.0   # seconds for everything of one notebook
    memory_mb: int = 2048       # memory the student's process may add to the warm interpreter
    file_mb: int = 64           # largest file it may write
    output_chars: int = 20_000  # printed characters kept
    answer_chars: int = 100_000  # characters of one answer cell; a longer one is refused unread


class Stopped(Exception):
    """The sandbox had to be stopped: kind is "timeout", "crash" or "tampered" (the student's
    code changed the grader's code beside it: seal.py; nothing more is asked of that notebook)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


def describe_status(status: int | None) -> str:
    if status is None:
        return "it ended in an unknown way"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        why = {"SIGSEGV": " (a segmentation fault, e.g. through ctypes)", "SIGKILL": " (killed, e.g. out of memory)",
               "SIGABRT": " (aborted, e.g. a failed allocation)"}.get(name, "")
        return f"it was killed by signal {name}{why}"
    return f"it exited with status {os.WEXITSTATUS(status)} (os._exit or a crash in C code)"


@functools.lru_cache(maxsize=1)
def allowed_roots() -> tuple[str, ...]:
    """Folders the student's process may read: Python, its packages, system libraries.

    The grader's own package is left out even when it is installed among the packages.
    """
    package = str(Path(adapters.__file__).resolve().parents[1])
    roots = {sys.base_prefix, sys.prefix, *[p for p in sys.path if p.endswith("-packages")],
             "/usr", "/lib", "/lib64", "/etc", "/sys", "/proc/self", "/proc/cpuinfo", "/proc/meminfo",
             "/proc/driver"}  # CUDA reads /proc/driver/nvidia when it starts
    allowed = []
    for root in sorted(r for r in roots if os.path.exists(r)):
        real = str(Path(root).resolve())
        if package == real or package.startswith(real + os.sep):
            allowed += _siblings_without(real, package)
        elif not real.startswith(package + os.sep):
            allowed.append(root)
    return tuple(allowed)


@functools.lru_cache(maxsize=1)
def writable_roots() -> tuple[str, ...]:
    """Folders besides its own that the student's process may write: /dev (null, shm) and, on
    an NVIDIA machine, /proc/self, where CUDA writes when it starts (on an H200 under Landlock,
    cudaGetDeviceCount failed with error 304 without it). Both reach only the process itself."""
    return ("/dev", "/proc/self") if nvidia_machine() else ("/dev",)


def _siblings_without(root: str, package: str) -> list[str]:
    """Every entry of root except the path down to package, recursively."""
    out = []
    for entry in os.scandir(root):
        path = str(Path(entry.path).resolve())
        if path == package:
            continue
        if package.startswith(path + os.sep):
            out += _siblings_without(path, package)
        else:
            out.append(entry.path)
    return out


@functools.lru_cache(maxsize=32)
def bytecode(name: str, source: bytes) -> tuple[str, bytes] | None:
    """(relative path, contents) of a checked-hash .pyc (PEP 552) of a trusted helper file, so
    that every sandbox imports it without compiling it again (~8 ms a file); None if it does
    not compile (the import in the sandbox then reports the error)."""
    try:
        code = compile(source, name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    flags = (0b11).to_bytes(4, "little")  # hash-based, checked against the source at import
    return (importlib.util.cache_from_source(name),
            importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source) + marshal.dumps(code))


class Session:
    def __init__(self, zygote: Zygote, files: dict[str, bytes], limits: Limits | None = None,
                 landlock: bool = True):
        self.zygote, self.limits, self.use_landlock = zygote, limits or Limits(), landlock
        self.workdir = tempfile.mkdtemp(prefix="flatgrad-sandbox-")
        for name, data in files.items():
            (Path(self.workdir) / name).write_bytes(data)
            if name.endswith(".py") and (compiled := bytecode(name, data)) is not None:
                (Path(self.workdir) / compiled[0]).parent.mkdir(exist_ok=True)
                (Path(self.workdir) / compiled[0]).write_bytes(compiled[1])
        self.deadline = time.monotonic() + self.limits.submission
        self.replay: list[tuple[str, str]] = []
        self.pid = self.sock = None
        self.landlock = None
        self.remotes: dict[int, object] = {}
        self.tampered: str | None = None  # set once for good: the message every later request gets
        self.asked = 0  # requests sent (their ids)

    @property
    def answer_limit(self) -> int:
        """Characters of one answer cell (never more than one message string carries whole)."""
        return min(self.limits.answer_chars, codec.MAX_STRING)

    # --- process lifetime ------------------------------------------------------------------
    def _start(self) -> None:
        config = {"workdir": self.workdir, "read_only": list(allowed_roots()), "memory_mb": self.limits.memory_mb,
                  "read_write": list(writable_roots()),
                  "file_mb": self.limits.file_mb, "output_chars": self.limits.output_chars,
                  "env": env(self.workdir), "landlock": self.use_landlock}
        self.pid, self.sock = self.zygote.spawn(config)
        ready = self._receive(time.monotonic() + 30)
        self.landlock = bool(ready.get("landlock"))
        for cell_id, source in self.replay:  # the state the student's cells built before
            self._request({"op": "exec", "cell": cell_id, "source": source}, self.limits.cell)

    def _kill(self) -> int | None:
        if self.pid is None:
            return None
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self.sock.close()
        status = self.zygote.wait(self.pid)
        self.pid = self.sock = None
        return status

    def close(self) -> None:
        self._kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- requests --------------------------------------------------------------------------
    def _receive(self, deadline: float, limit: float = 30.0, rid: int | None = None):
        try:
            while True:  # one deadline for the call, its callbacks and every byte of its reply
                msg = codec.receive(self.sock, self._resolve, min(deadline, self.deadline))
                if not isinstance(msg, dict):
                    raise codec.ProtocolError("a reply that is not a message")
                if msg.get("op") == "tampered":  # its facts can no longer be trusted (seal.py)
                    self._kill()
                    raise Stopped("tampered", str(msg.get("tampered", "?"))[:300])
                if msg.get("op") == "fatal":  # the process reports why it stops (then exits)
                    self._kill()
                    kind, text = (list(msg.get("error", ())) + ["?", "?"])[:2]
                    raise Stopped("crash", f"stopped its process with {kind}: {str(text)[:500]}")
                if msg.get("op") != "callback":
                    if rid is not None and msg.pop("rid", None) != rid:  # e.g. one the student's code wrote
                        self._kill()
                        raise Stopped("tampered", "a second reply to one request, which the grader's code in "
                                                  "the clean room did not send")
                    return msg
                self._callback(msg, min(deadline, self.deadline))
        except (socket.timeout, TimeoutError):
            self._kill()
            past = (f"the notebook's time limit ({self.limits.submission:g} s)" if time.monotonic() >= self.deadline
                    else f"the time limit ({limit:g} s)")
            raise Stopped("timeout", f"ran past {past} and was stopped") from None
        except (EOFError, OSError) as exc:
            status = self._kill()
            raise Stopped("crash", f"crashed the process running it: {describe_status(status)}") \
                from exc
        except codec.ProtocolError as exc:
            self._kill()
            raise Stopped("crash", f"made its process send something the grader cannot read ({exc})") from None

    def _request(self, msg: dict, timeout: float):
        if self.tampered is not None:
            raise Stopped("tampered", self.tampered)
        try:
            return self._ask(msg, timeout)
        except Stopped as stop:
            if stop.kind != "tampered":
                raise
            if self.tampered is None:  # (a replayed cell may have said it first)
                self.tampered = tampered_message(stop.message, msg)
            raise Stopped("tampered", self.tampered) from None

    def _ask(self, msg: dict, timeout: float):
        if time.monotonic() >= self.deadline:
            raise Stopped("timeout", f"was not run: the notebook's time limit ({self.limits.submission:g} s) was used up")
        if self.pid is None:
            self._start()
        deadline = time.monotonic() + timeout
        self.asked += 1  # each reply names its request: a reply forged beside the real one shows
        msg = {**msg, "rid": self.asked}
        try:
            codec.send_by(self.sock, msg, min(deadline, self.deadline), self._export)
        except (socket.timeout, TimeoutError):
            self._kill()
            raise Stopped("timeout", f"ran past the time limit ({timeout:g} s) and was stopped") from None
        except OSError as exc:
            status = self._kill()
            raise Stopped("crash", f"crashed the process running it: {describe_status(status)}") \
                from exc
        return self._receive(deadline, timeout, self.asked)

    def _export(self, value, encode):
        if (ref := references.reference(value, encode)) is not None:
            return ref
        if callable(value) and not isinstance(value, (torch.Tensor, torch.dtype)):
            rid = len(self.remotes) + 1
            self.remotes[rid] = value
            return {"$remote": rid}
        return None

    def _resolve(self, node, decoder):
        if "$remote" in node:
            if node["$remote"] not in self.remotes:
                raise codec.ProtocolError("a reference to a grader function that was not lent")
            return self.remotes[node["$remote"]]
        return references.resolve(node, decoder)

    def _callback(self, msg: dict, deadline: float) -> None:
        """The student's code called a grader function it was lent: run it here, bounded
        (inputs measured first, memory capped while it runs; see bounds)."""
        fn, args, kwargs = self.remotes.get(msg.get("rid")), msg.get("args", ()), msg.get("kwargs", {})
        name = getattr(fn, "__name__", type(fn).__name__)
        if not (isinstance(args, tuple) and isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)):
            reply = {"error": f"bad call of the grader's {name}"}
        elif problem := bounds.helper_problem(name, args, kwargs):
            reply = {"error": problem}
        else:
            try:
                with bounds.memory_capped():
                    reply = {"value": fn(*args, **kwargs)}
                if getattr(fn, "changes_its_arguments", False):  # e.g. training params in place
                    reply.update(args_after=args, kwargs_after=kwargs)
            except Exception as exc:  # noqa: BLE001 (bad inputs from the student's code)
                reply = {"error": f"the grader's {name} raised {type(exc).__name__}: {exc}"[:2000]}
                if bounds.out_of_memory(exc):
                    reply = {"error": f"the grader's {name} needed more than {bounds.HELPER_MEMORY_MB} MB "
                                      "for these inputs and refused them: call it on smaller tensors"}
        codec.send_by(self.sock, reply, deadline, self._export)

    def settle(self) -> str | None:
        """After the last item: did the notebook's process tamper with the grader's code at any
        point? One more round trip shows a reply that was forged beside the last real one."""
        if self.tampered is None and self.pid is not None:
            try:
                self._request({"op": "names", "names": []}, 10)
            except Stopped:
                pass
        return self.tampered

    # --- what the grader asks --------------------------------------------------------------
    def exec_cell(self, cell_id: str, source: str) -> dict:
        """Run one cell: {} when fine, {error, where} when it raised; Stopped when it hung/crashed."""
        reply = self._request({"op": "exec", "cell": cell_id, "source": source}, self.limits.cell)
        self.replay.append((cell_id, source))  # a raising cell still defines what ran before it
        return reply

    def defined(self, names: list[str]) -> dict:
        """name -> type name in the sandbox (None: not defined); Stopped when it could not ask
        (e.g. the notebook's time was used up: the item is then a timeout, not "not defined")."""
        reply = self._request({"op": "names", "names": list(names)}, 10)
        return reply.get("defined", {}) if isinstance(reply.get("defined"), dict) else {}

    def call(self, target: str, case, adapter: str | None, helpers: dict, no_grad: bool, seed: int) -> Outcome:
        self.remotes = {}
        before = [_snapshot(a) for a in case.args]
        msg = {"op": "call", "target": target, "adapter": adapter, "args": tuple(case.args),
               "names": list(case.names), "helpers": helpers, "no_grad": no_grad, "seed": seed}
        try:
            reply = self._request(msg, self.limits.call)
        except Stopped as stop:
            return Outcome(stopped=stop.kind, error=(stop.kind, stop.message))
        finally:
            self.remotes = {}  # lent for this call only: a stashed stand-in is refused later
        if "unsendable" in reply:
            return Outcome(error=("UnsendableResult", f"its result could not be sent to the grader: {reply['unsendable']}"))
        after = reply.get("args_after")
        outcome = Outcome(value=reply.get("value"), output=str(reply.get("output", ""))[:2000],
                          used_autograd=bool(reply.get("used_autograd")), where=str(reply.get("where", "")))
        if isinstance(reply.get("error"), list) and len(reply["error"]) == 2:
            outcome.error = (str(reply["error"][0]), str(reply["error"][1]))
        if isinstance(after, tuple) and len(after) == len(case.args):
            outcome.modified = [n for n, b, a in zip(case.names, before, after) if _changed(b, a)]
            write_back(tuple(case.args), after)
        return outcome
