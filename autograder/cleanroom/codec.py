"""Values across the clean-room boundary: JSON plus raw buffers, never pickle.

The grader reads what a student's process sends back; unpickling it would run the
student's code inside the grader. This codec only builds plain values: numbers, strings,
tuples, lists, dicts, tensors and arrays from raw bytes with a known dtype and shape, and
placeholders for everything else (an object of another type arrives as an `Opaque` that
keeps only its type name, so a check can say "got a generator").

Callables that must run on the other side are not sent: an `export` hook turns them into a
reference ({"$remote": id}) and an `resolve` hook turns references back into objects.

What the grader reads is bounded before it costs anything: one deadline for a whole message
(a sender that dribbles a byte every few seconds is cut at it), a header size, a number of
decoded nodes, and one placeholder class per type name (not one per object).
"""
from __future__ import annotations

import json
import math
import re
import socket
import struct
import time
from collections import OrderedDict

import numpy as np
import torch

from . import plain

MAX_MESSAGE = 512 * 2**20   # bytes; a bigger message is refused (the sender's problem)
MAX_DEPTH = 40              # nesting of containers
MAX_STRING = 100_000        # characters of one string
MAX_HEADER = 16 * 2**20     # bytes of a message's JSON (tensors travel as buffers, not JSON)
MAX_NODES = 500_000         # values decoded from one message
MAX_OPAQUE_TYPES = 64      # new placeholder classes one message may make; later names share one
DTYPES = {str(t).replace("torch.", ""): t for t in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}
DTYPE_NAMES = {t: name for name, t in DTYPES.items()}
# values of these exact types are always sent by value: the export hook is not asked about them
PLAIN = {type(None), bool, int, float, str, tuple, list, dict, torch.Tensor}
NP_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
             "complex64", "complex128"}


class ProtocolError(Exception):
    """A message that is malformed, too big, or refers to something unknown."""


class Opaque:
    """Stands for an object that cannot cross: only its type name is kept."""


def safe_name(name) -> str:
    return re.sub(r"\W", "_", str(name))[:60] or "object"


_OPAQUE_TYPES: OrderedDict[str, type] = OrderedDict()  # the last 256 names' classes, reused


def opaque(type_name: str, new_allowed: bool = True) -> Opaque:
    """A placeholder whose type is named like the original's (a check can say "got a generator").

    One class per name, not per object; a name not seen lately gets a class only while
    new_allowed (the decoder allows MAX_OPAQUE_TYPES per message), else it is an "object":
    300,000 objects of made-up types cost 300,000 small instances, not 300,000 classes."""
    name = safe_name(type_name)
    if name not in _OPAQUE_TYPES and not new_allowed:
        name = "object"
    kind = _OPAQUE_TYPES.get(name)
    if kind is None:
        kind = _OPAQUE_TYPES[name] = type(name, (Opaque,), {"__repr__": lambda self, n=name: f"<{n} object>"})
        if len(_OPAQUE_TYPES) > 256:
            _OPAQUE_TYPES.popitem(last=False)
    _OPAQUE_TYPES.move_to_end(name)
    return kind()


_NP_SCALARS = frozenset(np.dtype(name).type for name in NP_DTYPES)


class Encoder:
    def __init__(self, export=None):
        self.export = export      # obj -> JSON-able reference, or None to send by value
        self.buffers: list[bytes] = []

    def encode(self, value, depth: int = 0):
        with plain.NO_TORCH_FUNCTION(), plain.NO_DISPATCH():
            return self._encode(value, depth)

    def _encode(self, value, depth: int):
        if depth > MAX_DEPTH:
            return {"$opaque": "deeply nested object"}
        kind = type(value)
        if self.export is not None and kind not in PLAIN and \
                (ref := self.export(value, lambda v: self._encode(v, depth + 1))) is not None:
            return ref
        if kind is plain.TENSOR:
            return self._tensor(value)
        if value is None or kind is bool:
            return value
        if issubclass(kind, str):
            return plain.STR(value)[:MAX_STRING]
        if issubclass(kind, int):
            number = plain.INT(value)
            return number if abs(number) < 10**300 else float("inf")
        if issubclass(kind, float):
            number = plain.FLOAT(value)
            return {"$float": repr(number)} if not math.isfinite(number) else number
        if kind in _NP_SCALARS:
            return self._encode(value.item(), depth)
        if issubclass(kind, plain.TENSOR):
            return self._tensor(value)
        if kind is torch.dtype:
            return {"$dtype": str(value).replace("torch.", "")}
        if kind is torch.device:
            return {"$device": str(value)}
        if kind is np.ndarray and value.dtype.name in NP_DTYPES:
            data = np.ascontiguousarray(value)
            self.buffers.append(data.tobytes())
            return {"$ndarray": data.dtype.name, "shape": list(data.shape), "buf": len(self.buffers) - 1}
        base = next((b for b in (tuple, list, dict) if issubclass(kind, b)), None)
        if base is None or (kind is not base and plain.read_differently(kind, base)):
            return {"$opaque": plain.TYPE_NAME(kind)}
        if base is tuple:
            return {"$tuple": [self._encode(v, depth + 1) for v in tuple.__iter__(value)]}
        if base is list:
            return [self._encode(v, depth + 1) for v in list.__iter__(value)]
        return {"$dict": [[self._encode(k, depth + 1), self._encode(v, depth + 1)] for k, v in plain.ITEMS(value)]}

    def _tensor(self, t: torch.Tensor):
        dtype = DTYPE_NAMES.get(plain.DTYPE(t)) or str(plain.DTYPE(t)).replace("torch.", "")
        if dtype not in DTYPES or plain.LAYOUT(t) != torch.strided:
            return {"$opaque": f"{dtype} {plain.LAYOUT(t)} tensor"}
        t = plain.DETACH(t)
        device = plain.DEVICE(t)
        try:  # the fast path: one copy, C order
            fast = device.type == "cpu" and type(t) is plain.TENSOR and dtype != "bfloat16"
            data = plain.NUMPY(t).tobytes() if fast else None
        except (RuntimeError, TypeError):
            data = None
        if data is not None:
            self.buffers.append(data)
        else:
            flat = plain.RESHAPE(plain.CONTIGUOUS(plain.CPU(plain.AS(t, plain.TENSOR))), (-1,))
            self.buffers.append(plain.NUMPY(plain.VIEW(flat, torch.uint8)).tobytes() if plain.NUMEL(flat) else b"")
        return {"$tensor": dtype, "shape": list(plain.SHAPE(t)), "device": str(device),
                "buf": len(self.buffers) - 1}


class Decoder:
    def __init__(self, buffers: list[bytes], resolve=None, max_nodes: int = MAX_NODES):
        self.buffers, self.resolve, self.budget = buffers, resolve, max_nodes
        self.new_types = MAX_OPAQUE_TYPES  # placeholders: at most this many may need a new class

    def decode(self, node, depth: int = 0):
        if depth > MAX_DEPTH + 2:
            raise ProtocolError("nesting too deep")
        self.budget -= 1
        if self.budget < 0:
            raise ProtocolError(f"more than {MAX_NODES:,} values in one message")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise ProtocolError(f"unexpected node {type(node).__name__}")
        if "$tensor" in node:
            return self._tensor(node)
        if "$tuple" in node:
            return tuple(self.decode(v, depth + 1) for v in node["$tuple"])
        if "$dict" in node:
            return {_hashable(self.decode(k, depth + 1)): self.decode(v, depth + 1) for k, v in node["$dict"]}
        if "$float" in node:
            return float(node["$float"])
        if "$ndarray" in node:
            dtype = node["$ndarray"]
            if dtype not in NP_DTYPES:
                raise ProtocolError(f"dtype {dtype!r} not allowed")
            shape = _shape(node["shape"])
            return np.frombuffer(self._buffer(node, math.prod(shape) * np.dtype(dtype).itemsize),
                                 dtype=dtype).reshape(shape).copy()
        if "$dtype" in node:
            if node["$dtype"] not in DTYPES:
                raise ProtocolError(f"dtype {node['$dtype']!r} not allowed")
            return DTYPES[node["$dtype"]]
        if "$device" in node:
            return torch.device(str(node["$device"])[:20])
        if "$opaque" in node:
            name = safe_name(node["$opaque"])
            if name not in _OPAQUE_TYPES:
                self.new_types -= 1
            return opaque(name, new_allowed=self.new_types >= 0)
        if self.resolve is not None:
            return self.resolve(node, self)
        raise ProtocolError(f"unknown reference {sorted(node)[:3]}")

    def _buffer(self, node, nbytes: int) -> bytes:
        index = node.get("buf")
        if not isinstance(index, int) or not 0 <= index < len(self.buffers):
            raise ProtocolError("missing buffer")
        buf = self.buffers[index]
        if len(buf) != nbytes:
            raise ProtocolError(f"buffer has {len(buf)} bytes, expected {nbytes}")
        return buf

    def _tensor(self, node):
        dtype = DTYPES.get(node["$tensor"])
        if dtype is None:
            raise ProtocolError(f"dtype {node['$tensor']!r} not allowed")
        shape = _shape(node["shape"])
        numel = math.prod(shape)
        buf = self._buffer(node, numel * dtype.itemsize)
        if not numel:
            t = torch.empty(shape, dtype=dtype)
        elif dtype == torch.bfloat16:
            t = torch.frombuffer(bytearray(buf), dtype=torch.uint8).view(dtype).reshape(shape)
        else:
            t = torch.frombuffer(bytearray(buf), dtype=dtype).reshape(shape)
        device = str(node.get("device", "cpu"))
        if device != "cpu" and device.startswith("cuda") and torch.cuda.is_available():
            t = t.to(device)
        return t


def _shape(shape) -> tuple:
    if not (isinstance(shape, list) and len(shape) <= 16 and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise ProtocolError("bad shape")
    return tuple(shape)


def _hashable(key):
    try:
        hash(key)
        return key
    except TypeError:
        return repr(key)


# --- messages on a stream socket: header length, JSON header, buffers ---------------------

def pack(message: dict, export=None) -> bytes:
    """One message as bytes: header length, JSON header, buffers."""
    enc = Encoder(export)
    body = enc.encode(message)
    header = json.dumps({"body": body, "sizes": [len(b) for b in enc.buffers]}).encode()
    return struct.pack("<Q", len(header)) + header + b"".join(enc.buffers)


def send(sock: socket.socket, message: dict, export=None) -> None:
    """Send one message (see pack)."""
    sock.sendall(pack(message, export))


def _exactly(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    """n bytes; with a deadline (time.monotonic()), all of them by then or socket.timeout."""
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the message did not arrive in time")
            sock.settimeout(left)
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send_by(sock: socket.socket, message: dict, deadline: float, export=None) -> None:
    """send(), all of it by the deadline (a receiver that stops reading cannot hold the sender)."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    send(sock, message, export)  # sendall: the timeout bounds the whole call


def receive(sock: socket.socket, resolve=None, deadline: float | None = None):
    """Read one message and decode it; raises EOFError, ProtocolError or socket.timeout.

    With a deadline the whole message must arrive by then, however it is cut into pieces."""
    (length,) = struct.unpack("<Q", _exactly(sock, 8, deadline))
    if length > MAX_HEADER:
        raise ProtocolError(f"message header of {length} bytes (at most {MAX_HEADER})")
    try:
        header = json.loads(_exactly(sock, length, deadline))
        sizes = header["sizes"]
        if not (isinstance(sizes, list) and all(isinstance(s, int) and s >= 0 for s in sizes)
                and sum(sizes) <= MAX_MESSAGE):
            raise ProtocolError("bad buffer sizes")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ProtocolError(f"unreadable message: {exc}") from None
    buffers = [_exactly(sock, s, deadline) for s in sizes]
    try:
        return Decoder(buffers, resolve).decode(header["body"])
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError, RuntimeError) as exc:
        raise ProtocolError(f"undecodable value: {exc}") from None
