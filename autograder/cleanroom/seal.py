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
SKIP = frozenset({"_OPAQUE_TYPES", "_SEALED", "__builtins__"})  # builtins: see sandbox.restore


class _Taker:
    """Builds the records. The grader's own modules are sealed whole; of a library (`follow`:
    torch.autograd, json, struct) only what the grader's functions reach is: the names their
    code reads from their globals or from a library module, and those functions in turn. So
    torch.autograd.grad's code and the names it calls are sealed; torch.autograd.gradcheck,
    which no fact uses, may be patched like any torch function (it changes only values)."""

    def __init__(self, follow: tuple):
        self.follow, self.out, self.seen = follow, [], set()

    def library(self, obj) -> bool:
        return (getattr(obj, "__module__", None) or "").startswith(self.follow)

    def function(self, label: str, fn) -> None:
        if id(fn) in self.seen:
            return
        self.seen.add(id(fn))
        self.out.append(("code", label, fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__))
        for i, cell in enumerate(fn.__closure__ or ()):
            try:
                self.out.append(("cell", f"{label} (closure variable {fn.__code__.co_freevars[i]})", cell,
                                 cell.cell_contents))
            except ValueError:  # an empty cell (a name assigned later): nothing to compare yet
                continue
        names, codes = set(), [fn.__code__]
        while codes:  # the names its code (and the code nested in it) reads
            code = codes.pop()
            names |= set(code.co_names)
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        scope = fn.__globals__
        for name in sorted(names & scope.keys()):
            value = scope[name]
            if isinstance(value, types.ModuleType) and value.__name__.startswith(self.follow):
                for attr in sorted(names & vars(value).keys()):
                    self.name(f"{value.__name__}.{attr}", vars(value), attr, vars(value)[attr])
            if fn.__module__.startswith(self.follow):  # the grader's own globals are sealed whole
                self.name(f"{fn.__module__}.{name}", scope, name, value)

    def name(self, label: str, scope: dict, name, value) -> None:
        key = (id(scope), name)
        if key in self.seen:
            return
        self.seen.add(key)
        self.out.append(("name", label, scope, name, value))
        self.member(label, value)

    def member(self, label: str, value) -> None:
        """Follow a function or class into its code, if it is the grader's or a followed library's."""
        if isinstance(value, types.FunctionType):
            self.function(label, value)
        elif isinstance(value, type) and id(value) not in self.seen:
            self.seen.add(id(value))
            members = vars(value)
            self.out.append(("class", label, value, tuple(members.items()), value.__bases__, members))
            for name, part in members.items():
                part = part.__func__ if isinstance(part, (staticmethod, classmethod)) else part
                for piece in (part.fget, part.fset) if isinstance(part, property) else (part,):
                    if isinstance(piece, types.FunctionType):
                        self.function(f"{label}.{name}", piece)

    def container(self, label: str, name: str, value) -> None:
        if type(value) is dict:
            self.out.append(("dict", label, value, tuple(value.items()), name in GROWS))
        elif type(value) is list:
            self.out.append(("list", label, value, tuple(value)))
        elif type(value) in (set, frozenset):
            self.out.append(("set", label, value, frozenset(value)))


def take(modules, follow: tuple = ()) -> tuple:
    """Records of the grader's modules (every name, function, class and table in them) and of
    what their functions reach in the libraries named by `follow` (module name prefixes). An
    immutable tuple of tuples."""
    taker = _Taker(tuple(follow))
    for module in modules:
        names = vars(module)
        keys, values = tuple(names), tuple(names.values())
        taker.out.append(("module", module.__name__, names, keys, values, frozenset(keys), hasattr(module, "__path__")))
        for name, value in list(names.items()):
            if name in SKIP:
                continue
            label = f"{module.__name__}.{name}"
            if getattr(value, "__module__", None) == module.__name__ or taker.library(value):
                taker.member(label, value)
            else:
                taker.container(label, name, value)
    return tuple(taker.out)


def broken(records: tuple):
    """What the student's code changed, as "autograder.calls.call (its code was replaced)", or
    None. No builtins, no module globals: only the records and the objects they hold."""
    missing = records  # a value no module holds, for dict.get
    for record in records:
        kind, label = record[0], record[1]
        if kind == "module":
            scope, i = record[2], 0
            for name in record[3]:
                if scope.get(name, missing) is not record[4][i]:
                    return f"{label}.{name} (rebound or deleted)"
                i += 1
            if not record[6]:  # a package gains its submodules' names; warnings adds its registry
                for name in scope:
                    if name not in record[5] and name != "__warningregistry__":
                        return f"{label} (a name was added to the module)"  # (not its name: the student's)
        elif kind == "name":
            if record[2].get(record[3], missing) is not record[4]:
                return f"{label} (rebound or deleted)"
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
            cls, items, members = record[2], record[3], record[5]  # (a live view of the class's dict)
            if cls.__bases__ is not record[4]:
                return f"{label} (its base classes were changed)"
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
