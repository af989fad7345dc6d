"""The clean room's parts: the codec, Landlock, limits and restarts of a student's process."""
from __future__ import annotations

import os
import socket
import sys

import numpy as np
import pytest
import torch

from autograder.calls import write_back
from autograder.cleanroom import codec, landlock
from autograder.cleanroom.session import Limits, Session, Stopped
from autograder.cleanroom.zygote import Zygote
from autograder.layout import REPO, assignments
from autograder.static import definitions_only

def roundtrip(value):
    a, b = socket.socketpair()
    codec.send(a, {"v": value})
    return codec.receive(b)["v"]


def test_codec_carries_plain_values_exactly():
    value = {"W": torch.randn(3, 4, dtype=torch.float64), "y": torch.arange(5), "h": [1.5, float("nan"), None],
             "t": (True, "s", torch.float32, torch.device("cpu")), 7: np.arange(3.0), "e": torch.empty(0, 2),
             "b": torch.ones(2, dtype=torch.bfloat16), "nc": torch.randn(4, 3).t()}
    back = roundtrip(value)
    assert torch.equal(back["W"], value["W"]) and back["W"].dtype == torch.float64
    assert torch.equal(back["nc"], value["nc"]) and torch.equal(back["b"], value["b"])
    assert back["t"] == (True, "s", torch.float32, torch.device("cpu")) and np.array_equal(back[7], value[7])
    assert back["h"][0] == 1.5 and np.isnan(back["h"][1]) and back["e"].shape == (0, 2)


def test_codec_sends_unknown_objects_as_named_placeholders():
    back = roundtrip({"g": (i for i in range(3)), "f": lambda: 1})
    assert isinstance(back["g"], codec.Opaque) and type(back["g"]).__name__ == "generator"


def test_codec_refuses_malformed_messages():
    decoder = codec.Decoder([b"\x00" * 3])
    with pytest.raises(codec.ProtocolError):
        decoder.decode({"$tensor": "float64", "shape": [2], "buf": 0})  # 3 bytes for 16
    with pytest.raises(codec.ProtocolError):
        decoder.decode({"$tensor": "object", "shape": [1], "buf": 0})
    with pytest.raises(codec.ProtocolError):
        decoder.decode({"$remote": 1})  # nobody lent anything
    a, b = socket.socketpair()
    a.sendall((10**12).to_bytes(8, "little"))
    with pytest.raises(codec.ProtocolError):
        codec.receive(b)


def test_write_back_applies_in_place_changes():
    params = {"W": torch.zeros(2), "b": torch.zeros(1)}
    W = params["W"]
    write_back(params, {"W": torch.ones(2), "b": torch.ones(3)})
    assert torch.equal(W, torch.ones(2)) and params["b"].shape == (3,)


def test_given_cells_keep_only_their_definitions():
    text = definitions_only("import math\nprint('hi')\n@dec\ndef f():\n    return 1\nf()\nX = 2\n")
    assert "print" not in text and "f()\n" not in text.replace("def f():", "") and "@dec" in text and "X = 2" in text


@pytest.mark.skipif(landlock.abi_version() < 1, reason="no Landlock on this kernel")
def test_landlock_confines_reads_writes_and_signals():
    pid = os.fork()
    if pid == 0:
        ok = landlock.restrict([sys.base_prefix, sys.prefix, "/usr", "/lib"], ["/dev"])
        try:
            open(REPO / "autograder" / "checks" / "linear_classifiers.py").read()
            os._exit(3)
        except PermissionError:
            pass
        try:
            os.kill(os.getppid(), 0)
            os._exit(4)
        except PermissionError:
            pass
        import json  # noqa: F401  (Python's own files stay readable)
        os._exit(0 if ok else 5)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


@pytest.mark.slow
def test_a_hung_cell_is_stopped_and_the_process_replaced(zygote):
    session = Session(zygote(), {}, Limits(cell=2, call=2, submission=60))
    try:
        assert session.exec_cell("a", "x = 41\n") == {"printed": 0}
        with pytest.raises(Stopped) as stop:
            session.exec_cell("b", "while True:\n    try:\n        pass\n    except BaseException:\n        pass\n")
        assert stop.value.kind == "timeout"
        assert session.defined(["x"]) == {"x": "int"}  # replayed in a fresh process
        with pytest.raises(Stopped) as stop:
            session.exec_cell("d", "import os\nos._exit(7)\n")
        assert stop.value.kind == "crash" and "status 7" in stop.value.message
    finally:
        session.close()


def test_printing_a_million_lines_costs_nothing(zygote):
    session = Session(zygote(), {}, Limits(cell=30))
    try:
        reply = session.exec_cell("p", "for i in range(10**6):\n    print(i)\n")
        assert "error" not in reply and reply["printed"] > 10**6
    finally:
        session.close()


@pytest.mark.slow
def test_reference_solutions_pass_in_the_clean_room(grade_source):
    for assignment in assignments():
        result = grade_source(assignment)
        assert result.landlock in (True, landlock.abi_version() < 1)
        assert all(v.ok for v in result.verdicts.values()), {k: v.message for k, v in result.verdicts.items()}


def test_codec_asks_the_export_hook_only_about_objects_that_may_be_references():
    asked = []

    def export(value, encode):
        asked.append(type(value).__name__)
        return {"$remote": 1} if callable(value) else None

    a, b = socket.socketpair()
    codec.send(a, {"args": ({"W": torch.ones(2)}, [1, 2.5, None, "s", True]), "f": len,
                   "p": torch.nn.Parameter(torch.ones(1))}, export)
    assert sorted(asked) == ["Parameter", "builtin_function_or_method"]  # plain values go by value
    back = codec.receive(b, lambda node, decoder: "lent")
    assert back["f"] == "lent" and torch.equal(back["args"][0]["W"], torch.ones(2))


def test_helper_files_are_imported_from_the_bytecode_the_grader_ships(tmp_path):
    """Session writes a checked-hash .pyc next to each helper .py: the sandbox imports it without
    compiling. A pyc whose code differs from its source (hash of the source kept) shows it is used."""
    import importlib.util
    import marshal
    import subprocess

    from autograder.cleanroom.session import bytecode
    source = b"X = 1\n"
    path, data = bytecode("helper.py", source)
    assert path == importlib.util.cache_from_source("helper.py") and data[:4] == importlib.util.MAGIC_NUMBER
    (tmp_path / "helper.py").write_bytes(source)
    (tmp_path / path).parent.mkdir()
    (tmp_path / path).write_bytes(data[:16] + marshal.dumps(compile("X = 2\n", "helper.py", "exec")))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # as in the sandbox
    read = lambda: subprocess.run([sys.executable, "-c", "import helper; print(helper.X)"], cwd=tmp_path,  # noqa: E731 (the same run, before and after the source changes)
                                  env=env, capture_output=True, text=True).stdout.strip()
    assert read() == "2"  # the shipped bytecode ran
    (tmp_path / "helper.py").write_bytes(b"X = 3\n")
    assert read() == "3"  # a changed source is compiled again: the hash is checked
    assert bytecode("broken.py", b"def (:\n") is None


@pytest.mark.slow
def test_a_zygote_removes_its_home_when_the_grader_closes_or_hangs_up():
    closed, hung_up = Zygote(), Zygote(wait=False)
    closed.close()
    hung_up.wait_ready()
    hung_up.ctl.close()  # as when the grading worker dies
    assert hung_up.proc.wait(timeout=30) == 0
    assert not os.path.exists(closed.home) and not os.path.exists(hung_up.home)
