"""The student's side of the clean room: run cells and calls, send back plain values.

A process forked from the zygote confines itself (confinement.py, limits, Landlock), then serves
the grader over one socket:

    exec  {cell, source}                  -> {error?, where?}
    names {names}                         -> {defined: name -> type name or None}
    call  {target, adapter, args, names, helpers, no_grad, seed}
          ... {op: callback, rid, args, kwargs} <-> {value, args_after, error?}   (any number)
          -> {op: result, value, args_after, error?, where?, output, used_autograd}

Nothing here decides a score: this process has run the student's code and may be tampered
with in every way; the grader only reads the values it sends.
"""
from __future__ import annotations

import builtins
import os
import resource
import sys

from ..calls import call, error_of, seed, write_back
from ..cells import CellCompiler, newer_syntax, student_frame
from ..checks import adapters
from . import codec, confinement, landlock, references
from .bounds import data_bytes


class CappedText:
    """A stdout/stderr stand-in that keeps the first `cap` characters and counts the rest."""

    def __init__(self, cap: int):
        self.cap, self.parts, self.kept, self.total = cap, [], 0, 0

    def write(self, text) -> int:
        text = str(text)
        self.total += len(text)
        if self.kept < self.cap:
            self.parts.append(text[: self.cap - self.kept])
            self.kept += len(self.parts[-1])
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class NoIPython:
    """get_ipython() in the clean room: magics do nothing, there are no input transformers."""

    def __getattr__(self, name):
        if name.startswith("run_") or name in ("system", "getoutput"):
            return lambda *args, **kwargs: None
        raise AttributeError(f"the grader has no IPython shell ({name} is not available)")


class Remote:
    """A grader function the student's code may call (a helper, a fake loss): runs in the grader."""

    def __init__(self, sock, rid: int):
        self.sock, self.rid = sock, rid

    def __call__(self, *args, **kwargs):
        codec.send(self.sock, {"op": "callback", "rid": self.rid, "args": args, "kwargs": kwargs}, export)
        reply = codec.receive(self.sock, resolver(self.sock))
        write_back(args, reply.get("args_after"))
        write_back(kwargs, reply.get("kwargs_after"))
        if reply.get("error"):
            raise RuntimeError(reply["error"])
        return reply.get("value")


def export(value, encode):
    """Send Remote objects and the grader's adapters by reference, everything else by value."""
    if isinstance(value, Remote):
        return {"$remote": value.rid}
    return references.reference(value, encode)


def resolver(sock):
    def resolve(node, decoder):
        if "$remote" in node:
            return Remote(sock, int(node["$remote"]))
        return references.resolve(node, decoder, allow_source=True)
    return resolve


COMPILE = CellCompiler()  # one per sandbox process: the notebook's __future__ imports carry over


def run_cell(ns: dict, msg: dict) -> dict:
    try:
        code = COMPILE(msg["source"], msg["cell"])
        exec(code, ns)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the student's too
        try:  # a SyntaxError the student raised by hand may carry anything in its fields
            return {"error": list(_cell_error(exc)), "where": _cell_line(exc, msg["cell"])}
        except Exception:  # noqa: BLE001 (a broken exception object: still reported, plainly)
            return {"error": list(error_of(exc)), "where": ""}
    return {}


def _cell_error(exc: BaseException) -> tuple:
    kind, text = error_of(exc)
    if isinstance(exc, SyntaxError):
        text = exc.msg if exc.msg else text  # the place goes in `where`
        if hint := newer_syntax(exc):
            text = f"{text}: {hint}"
    return kind, text


def _cell_line(exc: BaseException, cell: str) -> str:
    """Where in the student's cells: 'cell c line 3: `text`' (the deepest frame of theirs)."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        text = (exc.text or "").strip()
        return f"cell {cell} line {exc.lineno}" + (f": `{text}`" if text else "")
    return student_frame(exc)


def run_call(ns: dict, msg: dict, sock) -> dict:
    fn = ns.get(msg["target"])
    if msg.get("adapter"):
        fn = getattr(adapters, msg["adapter"])(fn)
    helpers = msg.get("helpers") or {}  # Remote stand-ins and shipped classes, already decoded
    args = msg["args"]
    seed(msg.get("seed", 0))  # the student's own random draws, same every run
    outcome = call(fn, msg["names"], args, no_grad=msg.get("no_grad", True), helpers=helpers, namespace=ns)
    reply = {"op": "result", "value": outcome.value, "args_after": args, "output": outcome.output,
             "used_autograd": outcome.used_autograd, "where": outcome.where}
    if outcome.error is not None:
        reply["error"] = list(outcome.error)
    return reply


def names(ns: dict, msg: dict) -> dict:
    return {"defined": {n: (type(ns[n]).__name__ if n in ns else None) for n in msg["names"]}}


def confine(config: dict) -> dict:
    """No terminal, own cgroup and mounts, unprivileged, limits, Landlock: {protection: how}.

    Runs as the first thing in a new sandbox (root when the grader is root); see confinement.py.
    """
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # nothing of the TA's terminal stays open here
        os.dup2(null, fd)
    os.close(null)
    use_landlock = bool(config.get("landlock", True)) and landlock.abi_version() >= 1
    done = confinement.enter(config, use_landlock)
    os.chdir(config["workdir"])
    sys.path.insert(0, config["workdir"])
    os.environ.clear()
    os.environ.update(config.get("env", {}))
    # RLIMIT_DATA counts the writable private memory (heap, tensors), not address space that
    # is only reserved: CUDA reserves tens of GiB of it when it starts (RLIMIT_AS would fail it)
    limits = {resource.RLIMIT_DATA: data_bytes() + config["memory_mb"] * 2**20,
              resource.RLIMIT_FSIZE: config["file_mb"] * 2**20, resource.RLIMIT_CORE: 0}
    for kind, value in limits.items():
        resource.setrlimit(kind, (value, value))
    done["landlock"] = False
    if use_landlock:
        private = done["files"].startswith("private")
        # a folder of devices is never granted whole (its rule would allow every device and ioctl)
        writable = [p for p in config.get("read_write", ()) if p != "/dev"] + (["/dev/shm"] if private else [])
        devices = [(d, False) for d in confinement.DEVICES] + [(d, True) for d in confinement.nvidia_devices()]
        done["landlock"] = landlock.restrict(config["read_only"], [config["workdir"], *writable], devices)
        done["reads"] = (done.get("reads", "") + "; " if "jail" in done.get("reads", "") else "") + \
            "Landlock: Python and system folders read-only, no TCP, no signals outside"
    return done




def restore(pristine: dict, out: CappedText) -> None:
    """Undo what the student's code did to builtins and sys.std*, so that this file's own
    code (sending the reply) runs as written. Their other patches only harm their own values."""
    current = vars(builtins)
    for name in [n for n in current if n not in pristine]:
        del current[name]
    current.update(pristine)
    sys.stdout = sys.stderr = out


HANDLERS = {"exec": lambda ns, msg, sock: run_cell(ns, msg),
            "names": lambda ns, msg, sock: names(ns, msg),
            "call": run_call}


def serve(sock, config: dict) -> None:
    """Confine this process, then answer the grader until it hangs up. Never returns."""
    try:
        protections = confine(config)
        out = CappedText(config.get("output_chars", 20_000))
        sys.stdout = sys.stderr = out
        ns = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": NoIPython}
        pristine = dict(vars(builtins))
        codec.send(sock, {"op": "ready", "landlock": protections["landlock"], "pid": os.getpid(),
                          "protections": protections})
        while True:
            msg = codec.receive(sock, resolver(sock))
            reply = HANDLERS[msg["op"]](ns, msg, sock)
            restore(pristine, out)
            reply["printed"] = out.total
            try:
                codec.send(sock, reply, export)
            except Exception as exc:  # what the student returned could not be sent
                codec.send(sock, {"op": reply.get("op", "reply"), "unsendable": error_of(exc)[1],
                                  "printed": out.total})
    except BaseException as exc:  # tell the grader why this process stops, if the socket still works
        try:
            codec.send(sock, {"op": "fatal", "error": error_of(exc)})
        except BaseException:
            pass
    os._exit(0)
