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
from autograder.cleanroom.runner import GIVEN, grade_notebook
from autograder.cleanroom.session import Limits, Session, Stopped
from autograder.cleanroom.zygote import Zygote
from autograder.corpus.notebooks import answers, read
from autograder.grading.course import REPO, SOURCE
from autograder.static import definitions_only

_ZYGOTE = []


@pytest.fixture(scope="module", autouse=True)
def close_zygote():
    yield
    for z in _ZYGOTE:
        z.close()
    _ZYGOTE.clear()


def zygote() -> Zygote:
    if not _ZYGOTE or not _ZYGOTE[0].alive():
        _ZYGOTE[:] = [Zygote()]
    return _ZYGOTE[0]


def grade_source(assignment, replace=None, limits=None):
    """Grade the source notebook's solutions (with some answer cells replaced) in the clean room."""
    nb = read(SOURCE / assignment / f"{assignment}.ipynb")
    given = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
             if c["metadata"].get("nbgrader", {}).get("grade_id") in GIVEN[assignment]}
    files = {p.name: p.read_bytes() for p in (SOURCE / assignment).iterdir() if p.suffix == ".py"}
    return grade_notebook(assignment, {**answers(assignment), **(replace or {})}, given, files, zygote(), limits)


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


def test_a_hung_cell_is_stopped_and_the_process_replaced():
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


def test_printing_a_million_lines_costs_nothing():
    session = Session(zygote(), {}, Limits(cell=30))
    try:
        reply = session.exec_cell("p", "for i in range(10**6):\n    print(i)\n")
        assert "error" not in reply and reply["printed"] > 10**6
    finally:
        session.close()


def test_reference_solutions_pass_in_the_clean_room():
    for assignment in GIVEN:
        result = grade_source(assignment)
        assert result.landlock in (True, landlock.abi_version() < 1)
        assert all(v.ok for v in result.verdicts.values()), {k: v.message for k, v in result.verdicts.items()}
