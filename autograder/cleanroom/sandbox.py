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

What the grader trusts (the values a reply carries that a VERDICT reads, not only feedback):

    value             the student's answer itself (judged in the grader, float64)
    args_after        the inputs as the call left them; the grader compares them with its own
                      copy (session.Session.call) -> "changed its input in place"
    used_autograd     calls.call: a saved-tensor hook fired, or the autograd sequence number
                      moved (C, thread-local) -> the no-autograd rule
    shares            adapters.layout_adapter: knn's flatten shares x's memory (C types)
    twice             adapters.twice_adapter: two draws of a sampler in one call
    grads             adapters.function/modular_adapter: autograd through the student's Function
    error, names      what raised / what is defined: wrong only to the student's cost
    where, output     feedback only (and `printed`, which nothing reads)

The student's code can reach the grader's code here (sys.modules, gc, frames), so: the grader's
modules are sealed before any student code runs and checked after each cell and call; a change
(a rebound name, a replaced __code__, a refilled HANDLERS) is reported as "tampered" instead of
a reply (seal.py), each reply names its request (a reply written beside the real one shows),
and the grader fails the whole notebook closed with that message (runner.fail_closed). The facts
themselves are computed from C functions captured at import, with torch function and dispatch
modes off, and the reply is encoded without running any of the student's code
(codec.Encoder), the inputs first: a patched Tensor method, a mode left active or a returned
object whose methods undo a change cannot rewrite args_after. Out of reach of any check inside
this process: raw memory writes (ctypes), a thread that records autograd (the node count is per
thread) or undoes a change after the call returned, and code that takes the socket over and
answers every later request itself.
"""
from __future__ import annotations

import _json
import builtins
import os
import resource
import struct
import sys

from ..calls import call, error_of, seed, write_back
from ..cells import CellCompiler, newer_syntax, student_frame
from ..checks import adapters
from . import codec, confinement, landlock, references, seal
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
    if type(value) is Remote:
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
    # args_after first: nothing the encoding of the value might do can reach it any more
    reply = {"op": "result", "args_after": args, "value": outcome.value, "output": outcome.output,
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


def sealed_modules() -> tuple[list, tuple]:
    """The grader's modules here, and the libraries its facts and replies are computed with
    (what of them the grader's code reaches is sealed too: seal.take)."""
    own = [m for name, m in sorted(sys.modules.items()) if name == "autograder" or name.startswith("autograder.")]
    return own, ("torch.autograd", "json", "_json", "struct", "_struct")


def serve(sock, config: dict) -> None:
    """Confine this process, then answer the grader until it hangs up. Never returns."""
    try:
        protections = confine(config)
        out = CappedText(config.get("output_chars", 20_000))
        sys.stdout = sys.stderr = out
        ns = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": NoIPython}
        pristine = dict(vars(builtins))
        # taken before any of the student's code runs; this frame's locals are out of its reach
        records = _SEALED[0] if _SEALED else seal.take(*sealed_modules())
        broken, broken_code, pack = seal.broken, seal.broken.__code__, codec.pack
        sendall, quote, length = sock.sendall, _json.encode_basestring_ascii, struct.Struct("<Q").pack
        codec.send(sock, {"op": "ready", "landlock": protections["landlock"], "pid": os.getpid(),
                          "protections": protections})
        while True:
            msg = codec.receive(sock, resolver(sock))
            reply = HANDLERS[msg["op"]](ns, msg, sock)
            restore(pristine, out)
            reply["printed"], reply["rid"] = out.total, msg.get("rid")
            try:
                data = pack(reply, export)
            except Exception as exc:  # what the student returned could not be sent
                data = pack({"op": reply.get("op", "reply"), "unsendable": error_of(exc)[1], "printed": out.total,
                             "rid": msg.get("rid")})
            # after each cell (to name it) and each call (its reply carries facts): ~0.1 ms a check
            changed = None if msg["op"] == "names" else broken(records) if broken.__code__ is broken_code \
                else "the grader's seal (its code was replaced)"
            if changed is not None:  # no facts from this process any more; said with C functions only
                header = ('{"body": {"$dict": [["op", "tampered"], ["tampered", ' + quote(changed) +
                          ']]}, "sizes": []}').encode()
                data = length(header.__len__()) + header
            sendall(data)
    except BaseException as exc:  # tell the grader why this process stops, if the socket still works
        try:
            codec.send(sock, {"op": "fatal", "error": error_of(exc)})
        except BaseException:
            pass
    os._exit(0)


# Sealed once where this module is imported (the zygote: ~4 ms a notebook saved), after every
# definition above; a sandbox forked from it holds the same objects (seal.SKIP: not itself sealed).
_SEALED: list = []
_SEALED.append(seal.take(*sealed_modules()))
