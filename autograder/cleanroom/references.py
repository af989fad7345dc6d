"""How the grader's adapters, gates and test functions cross the wire (see codec.py).

An object of autograder.checks.adapters crosses by name (functions, classes) or by name and
state (a gate); a helper marked @shipped crosses as its source. Any other reference is refused.
"""
from __future__ import annotations

import functools
import inspect
import math
import textwrap
import types

import torch

from ..checks import adapters
from . import plain
from .codec import ProtocolError

INSIDE = {name: obj for name, obj in vars(adapters).items()
          if not name.startswith("_") and getattr(obj, "__module__", None) == adapters.__name__}


def _shipped(value, kind) -> bool:
    """Marked @shipped, read from the object's own __dict__ (never its __getattr__)."""
    if kind is types.FunctionType:
        return bool(plain.FUNCTION_DICT(value).get(adapters.SHIPPED, False))
    return issubclass(kind, type) and plain.TYPE_DICT(value).get(adapters.SHIPPED, False) is True


def reference(value, encode):
    """How an object of the adapters module crosses: by name, name + state, or source.

    Only type() and identity are asked of the value: the student's objects pass through here
    when the clean room sends them, and none of their code may run while a reply is encoded."""
    kind = type(value)
    if _shipped(value, kind):
        return {"$source": _source(value), "name": plain.TYPE_NAME(value) if issubclass(kind, type) else value.__name__}
    for name, obj in INSIDE.items():
        if obj is value:
            return {"$inside": name}
        if obj is kind:
            return {"$inside_obj": name, "state": encode(dict(vars(value)))}
    return None


@functools.lru_cache(maxsize=None)  # inspect.getsource tokenizes the whole file each time
def _source(obj) -> str:
    lines = textwrap.dedent(inspect.getsource(obj)).splitlines()
    return "\n".join(line for line in lines if not line.startswith("@shipped"))


_COMPILED: dict = {}


def resolve(node: dict, decoder, allow_source: bool = False):
    """The object a reference stands for; unknown references are refused.

    Only the student's side compiles shipped source (it comes from the grader); the grader
    never runs source that arrives from the student's process.
    """
    if node.get("$inside") in INSIDE:
        return INSIDE[node["$inside"]]
    if "$inside_obj" in node and inspect.isclass(INSIDE.get(node["$inside_obj"])):
        obj = INSIDE[node["$inside_obj"]].__new__(INSIDE[node["$inside_obj"]])
        state = decoder.decode(node.get("state", {"$dict": []}))
        vars(obj).update({str(k): v for k, v in state.items()} if isinstance(state, dict) else {})
        return obj
    if allow_source and "$source" in node and isinstance(node["$source"], str):
        key = (node["$source"], node.get("name"))
        if key not in _COMPILED:
            ns = {"torch": torch, "math": math, "shipped": adapters.shipped}
            exec(compile(node["$source"], f"<grader {node.get('name')}>", "exec"), ns)
            _COMPILED[key] = ns[node["name"]]
        return _COMPILED[key]
    raise ProtocolError(f"unknown reference {sorted(node)[:2]}")
