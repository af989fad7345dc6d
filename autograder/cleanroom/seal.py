"""Has the student's code changed the grader's code that runs beside it in the clean room?

A few facts a verdict uses are decided in the student's process by grader code living there
(see sandbox.py, "What the grader trusts"). The student's code can reach that code (sys.modules,
gc, frames) and rebind a module's name, replace a function's __code__, defaults or closure,
change a class, or refill a table such as sandbox.HANDLERS. take() records all of it before the
first of the student's cells runs; broken() says what differs, and the sandbox then reports the
submission as having tampered with the grader instead of sending facts (the grader fails it
closed, with a message: session.py).

broken() is the root of this check, so it is written to survive the student's other patches:
it calls no builtin (an answer cell may have replaced them), reads no module global (the
module may have been changed) and works on immutable records that the sandbox's running frame
holds (the student cannot reach them to "re-seal" a change). Code that writes raw memory
(ctypes) can defeat any check made inside the process; see README, the clean room.
"""
from __future__ import annotations

import types

# module-level caches that fill up legitimately: known keys must keep their values, new keys
# may come (none is deleted except in codec's placeholder-class cache, which decides nothing)
GROWS = frozenset({"_COMPILED"})
SKIP = frozenset({"_OPAQUE_TYPES", "_SEALED"})


def _function_records(label: str, fn, out: list) -> None:
    out.append(("code", label, fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__))
    for i, cell in enumerate(fn.__closure__ or ()):
        try:
            out.append(("cell", f"{label} (closure variable {fn.__code__.co_freevars[i]})", cell,
                        cell.cell_contents))
        except ValueError:  # an empty cell (a name assigned later): nothing to compare yet
            continue


def _container_records(label: str, name: str, value, out: list) -> None:
    if type(value) is dict:
        out.append(("dict", label, value, tuple(value.items()), name in GROWS))
    elif type(value) is list:
        out.append(("list", label, value, tuple(value)))
    elif type(value) in (set, frozenset):
        out.append(("set", label, value, frozenset(value)))


def _class_records(label: str, cls: type, out: list) -> None:
    members = vars(cls)
    out.append(("class", label, cls, tuple(members.items()), cls.__bases__))
    for name, member in members.items():
        member = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
        if isinstance(member, property):
            for part in (member.fget, member.fset):
                if isinstance(part, types.FunctionType):
                    _function_records(f"{label}.{name}", part, out)
        elif isinstance(member, types.FunctionType):
            _function_records(f"{label}.{name}", member, out)


def take(modules, foreign=()) -> tuple:
    """Records of the grader's modules (every name, function, class and table in them) and of
    `foreign` modules the grader's facts rely on (their existing names, functions and classes:
    a library may add names lazily). An immutable tuple of tuples."""
    out: list = []
    for module, own in [(m, True) for m in modules] + [(m, False) for m in foreign]:
        names = vars(module)
        if own and not hasattr(module, "__path__"):  # (a package gains its submodules' names)
            out.append(("names", module.__name__, names, frozenset(names)))
        for name, value in list(names.items()):
            label = f"{module.__name__}.{name}"
            if name in SKIP:
                continue
            if not own and not isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)):
                continue  # a library's constants: nothing a fact is computed with
            out.append(("name", label, names, name, value))
            if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
                _function_records(label, value, out)
            elif isinstance(value, type) and value.__module__ == module.__name__:
                _class_records(label, value, out)
            elif own:
                _container_records(label, name, value, out)
    return tuple(out)


def broken(records: tuple):
    """What the student's code changed, as "autograder.calls.call (its code was replaced)", or
    None. No builtins, no module globals: only the records and the objects they hold."""
    missing = records  # a value no module holds, for dict.get
    for record in records:
        kind, label = record[0], record[1]
        if kind == "name":
            if record[2].get(record[3], missing) is not record[4]:
                return f"{label} (rebound or deleted)"
        elif kind == "names":  # (a deleted name is a "name" record's; warnings adds its registry)
            for name in record[2]:
                if name not in record[3] and name != "__warningregistry__":
                    return f"{label} (a name was added to the module)"  # (not its name: the student's)
        elif kind == "code":
            fn = record[2]
            if fn.__code__ is not record[3]:
                return f"{label} (its code was replaced)"
            if fn.__defaults__ is not record[4] or fn.__kwdefaults__ is not record[5]:
                return f"{label} (its default arguments were changed)"
        elif kind == "cell":
            if record[2].cell_contents is not record[3]:
                return f"{label} (rebound)"
        elif kind == "class":
            cls, items = record[2], record[3]
            if cls.__bases__ is not record[4]:
                return f"{label} (its base classes were changed)"
            members = cls.__dict__
            if members.__len__() != items.__len__():
                return f"{label} (a method or attribute was added or deleted)"
            for key, value in items:
                if members.get(key, missing) is not value:
                    return f"{label}.{key} (changed or deleted)"
        elif kind == "dict":
            table, items, grows = record[2], record[3], record[4]
            for key, value in items:
                if table.get(key, missing) is not value:
                    return f"{label}[{key!r}] (changed or deleted)"
            if not grows and table.__len__() != items.__len__():
                return f"{label} (an entry was added)"
        elif kind == "list":
            if record[2].__len__() != record[3].__len__():
                return f"{label} (its length changed)"
            i = 0
            for value in record[3]:
                if record[2][i] is not value:
                    return f"{label}[{i}] (changed)"
                i += 1
        elif kind == "set":
            if record[2] != record[3]:
                return f"{label} (changed)"
    return None


def tampered_message(what: str, msg: dict) -> str:
    """'could not be graded: ...' for the request during which the seal broke."""
    during = {"exec": f"its answer cell {msg.get('cell')}", "call": f"its {msg.get('target')} (while the grader called it)"}
    return (f"could not be graded: {during.get(msg.get('op'), 'its code')} tampered with the grader's code in the "
            f"clean room ({what}), so nothing the notebook's process reports can be trusted; code in an answer "
            "cell must leave the grader's modules and its socket alone (sys.modules, gc, frames, torch.autograd "
            "internals)")
