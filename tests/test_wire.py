"""Is everything the grader does for a student bounded (issue 13: deadlines, budgets, watchdog)?

Unit tests of: absolute deadlines per message and per call (a sandbox that dribbles its reply),
the decoder's budgets (nodes, one class per type name), the caps on lent helpers and recording
fakes, a judge that raises, the answer-cell limit (refused before any parsing), caches bounded
by size, the notebook limit reported as timeout, and the watchdog pool above the workers.
The same attacks go through `make grade` in tests/test_attacks_wire.py.
"""
from __future__ import annotations

import json
import multiprocessing
import socket
import struct
import threading
import time

import pytest
import torch
import wire_tasks

from autograder import static
from autograder.bytecache import bytes_cache
from autograder.checks.item import Case, Item, run
from autograder.checks.record import MAX_RECORDED, Record
from autograder.cleanroom import bounds, codec, runner
from autograder.cleanroom.session import Limits
from autograder.corpus.attacks_wire import DRIBBLE, LONG_CELL
from autograder.corpus.notebooks import answers
from autograder.grading.cleanroomgrade import shorten
from autograder.grading.watchpool import WatchedPool, WorkerStopped
from autograder.verdict import ERROR, FAILED, PASSED, TIMEOUT

A = "linear_classifiers"
def raw_message(body) -> bytes:
    header = json.dumps({"body": body, "sizes": []}).encode()
    return struct.pack("<Q", len(header)) + header


# --- deadlines ----------------------------------------------------------------------------

def test_a_dribbled_message_is_cut_at_its_deadline_not_per_recv():
    """Does one deadline hold for the whole message when every byte arrives in time for a recv?"""
    ours, theirs = socket.socketpair()
    data = raw_message({"op": "result", "value": 1})
    sent = []

    def dribble():
        try:
            for byte in data:
                theirs.sendall(bytes([byte]))
                sent.append(byte)
                time.sleep(0.1)
        except OSError:
            pass

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    with pytest.raises(socket.timeout):
        codec.receive(ours, deadline=time.monotonic() + 1.0)
    assert len(sent) < len(data)  # cut long before the dribbler was done
    ours.close()
    theirs.close()
    thread.join()


@pytest.mark.slow
def test_a_sandbox_dribbling_its_reply_is_stopped_at_the_call_limit(grade_source):
    """Is the last item a timeout at its 2 s call limit, everything else graded as usual?"""
    limits = Limits(cell=5, call=2, submission=120)
    result = grade_source(A, DRIBBLE, limits)
    verdict = result.verdicts["softmax_get_search_params"]
    assert verdict.status == TIMEOUT and "time limit (2 s)" in verdict.message, verdict
    assert all(v.status == PASSED for k, v in result.verdicts.items() if k != "softmax_get_search_params")


@pytest.mark.slow
def test_items_after_a_used_up_notebook_limit_are_timeouts(grade_source):
    """Once the notebook's time is used up, is every later item a timeout (not "not defined")?"""
    slow = answers(A)["svm_loss_naive_code"].replace(
        "    # TODO(student)", "    import time\n    time.sleep(2.5)\n    # TODO(student)", 1)
    result = grade_source(A, {"svm_loss_naive_code": slow}, Limits(cell=5, call=5, submission=6))
    for name, verdict in result.verdicts.items():
        assert verdict.status == TIMEOUT and "time limit" in verdict.message, (name, verdict)
        assert "not defined" not in verdict.message


# --- decoding -----------------------------------------------------------------------------

@pytest.mark.slow
def test_opaque_objects_share_one_class_per_type_name():
    """300,000 objects of made-up types: at most MAX_OPAQUE_TYPES classes, named after them."""
    ours, theirs = socket.socketpair()
    body = {"$dict": [["op", "result"], ["value", [{"$opaque": f"T{i}"} for i in range(300_000)]]]}
    threading.Thread(target=theirs.sendall, args=(raw_message(body),), daemon=True).start()
    value = codec.receive(ours, deadline=time.monotonic() + 60)["value"]
    assert len(value) == 300_000 and all(isinstance(v, codec.Opaque) for v in value)
    assert len({type(v) for v in value}) <= codec.MAX_OPAQUE_TYPES + 1  # and "object" for the rest
    assert type(codec.opaque("generator")) is type(codec.opaque("generator"))
    assert type(codec.opaque("generator")).__name__ == "generator"


def test_the_decoder_refuses_node_bombs_and_huge_headers():
    ours, theirs = socket.socketpair()
    threading.Thread(target=theirs.sendall, args=(raw_message([0] * (codec.MAX_NODES + 1)),), daemon=True).start()
    with pytest.raises(codec.ProtocolError, match="values in one message"):
        codec.receive(ours, deadline=time.monotonic() + 60)
    theirs.sendall(struct.pack("<Q", codec.MAX_HEADER + 1))  # refused before a byte of it is read
    with pytest.raises(codec.ProtocolError, match="header"):
        codec.receive(ours, deadline=time.monotonic() + 5)


# --- lent helpers and fakes ---------------------------------------------------------------

def test_helper_inputs_have_caps_with_a_clear_message():
    assert bounds.helper_problem("nn_forward_pass", (torch.zeros(10, 10),), {}) is None
    big = bounds.helper_problem("nn_forward_pass", (torch.zeros(2_000_000),), {})
    assert "more than 1,000,000 tensor elements" in big and "nn_forward_pass" in big
    nested = bounds.helper_problem("nn_train", ({"W1": torch.zeros(600, 1000), "W2": torch.zeros(600, 1000)},), {})
    assert nested is not None
    assert "numbers above" in bounds.helper_problem("sample_batch", (), {"batch_size": 10**9})


def test_a_helper_runs_under_a_memory_cap():
    """Inside memory_capped an allocation beyond the cap fails; after it, the limit is back."""
    import resource
    before = resource.getrlimit(resource.RLIMIT_DATA)
    with pytest.raises((RuntimeError, MemoryError)) as info, bounds.memory_capped(64):
        torch.ones(256 * 2**20 // 8, dtype=torch.float64)
    assert bounds.out_of_memory(info.value)
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
    assert torch.ones(256 * 2**20 // 8, dtype=torch.float64).sum() > 0


def test_a_huge_forward_pass_through_a_lent_helper_is_refused(grade_source):
    """(6000, 1) x (1, 6000) sent in ~300 KB: the grader's forward pass refuses it, with a message."""
    code = '''
def nn_forward_backward(params, X, y=None, reg=0.0):
    big = {"W1": torch.ones(1, 6000, dtype=torch.float64), "b1": torch.zeros(6000, dtype=torch.float64),
           "W2": torch.ones(6000, 3, dtype=torch.float64), "b2": torch.zeros(3, dtype=torch.float64)}
    nn_forward_pass(big, torch.ones(6000, 1, dtype=torch.float64))
    raise AssertionError("the grader ran it")
'''
    verdict = grade_source("two_layer_net", {"nn_forward_backward_code": code}).verdicts["nn_forward_backward"]
    assert verdict.status == ERROR and "needed more than 512 MB" in verdict.message, verdict


def test_recording_keeps_a_bounded_prefix_and_counts_everything():
    record = Record()
    for k in range(MAX_RECORDED + 500):
        record.append(k)
    assert len(record) == MAX_RECORDED and record.count == MAX_RECORDED + 500
    record.clear()
    assert record.count == 0 and not record


# --- judging ------------------------------------------------------------------------------

def test_a_judge_that_raises_fails_that_item_only():
    """A complex loss that float() cannot read: failed, with what the grader tripped over."""
    item = Item("loss", lambda: [Case("one case", ("x",), (1.0,))], lambda case, out: f"{float(out.value):.3f}")
    verdict = run(item, lambda x: torch.tensor(1 + 2j))
    assert verdict.status == FAILED
    assert "the grader could not read the returned value" in verdict.message and "complex64" in verdict.message


# --- answer cells and caches --------------------------------------------------------------

def test_an_answer_cell_over_the_limit_is_refused_before_any_parsing(monkeypatch, grade_source):
    """A 3 MB cell: never transformed, parsed or sent; its item says why; the rest is graded."""
    seen = []
    for module, name in ((runner, "ipython_to_python"), (static, "parse")):
        original = getattr(module, name)

        def spy(source, original=original):
            seen.append(len(source))
            return original(source)
        monkeypatch.setattr(module, name, spy)
    result = grade_source(A, {"svm_loss_naive_code": LONG_CELL})
    assert len(LONG_CELL) > 3_000_000 and seen and max(seen) <= 100_000
    verdict = result.verdicts["svm_loss_naive"]
    assert verdict.status == ERROR and "over the limit of 100,000" in verdict.message
    assert f"{len(LONG_CELL):,} characters" in verdict.message
    assert all(v.status == PASSED for k, v in result.verdicts.items() if k != "svm_loss_naive")


def test_a_long_answer_cell_is_shortened_in_the_graded_notebook():
    from nbformat.v4 import new_code_cell
    cell = new_code_cell(LONG_CELL)
    shorten(cell, 100_000)
    assert len(cell.source) < 3000 and f"{len(LONG_CELL):,} characters" in cell.source
    assert cell.source.startswith("# [flatgrad:")  # still valid Python: a comment


def test_caches_are_bounded_by_size_not_entries():
    calls = []

    @bytes_cache(1000)
    def length(text):
        calls.append(text)
        return len(text)

    for k in range(50):
        length(f"{k:03d}" * 25)  # 75 characters each
    assert length.cache_info().chars <= 1000 and length.cache_info().entries < 50
    length("049" * 25)
    assert length.cache_info().hits == 1
    length("x" * 200)  # over an eighth of the cache: computed, never kept
    length("x" * 200)
    assert calls.count("x" * 200) == 2


# --- the watchdog pool --------------------------------------------------------------------

@pytest.fixture
def pool():
    pool = WatchedPool(2, multiprocessing.get_context("spawn"), task_limit=60, memory_mb=400, start_limit=60)
    yield pool
    pool.shutdown(cancel_futures=True)


@pytest.mark.slow
def test_a_stuck_worker_becomes_a_timeout_and_is_replaced(pool):
    first = pool.submit(wire_tasks.pid).result(timeout=120)
    stuck = pool.submit(wire_tasks.hang, limit=2)
    others = [pool.submit(wire_tasks.pid) for _ in range(4)]
    with pytest.raises(WorkerStopped) as info:
        stuck.result(timeout=120)
    assert info.value.kind == "timeout" and "longer than 2 s" in info.value.message
    assert all(isinstance(f.result(timeout=120), int) for f in others)  # the batch finishes
    later = {pool.submit(wire_tasks.pid).result(timeout=120) for _ in range(4)}
    assert later and first > 0


def test_a_worker_over_its_memory_limit_is_stopped(pool):
    grown = pool.submit(wire_tasks.grow, 600)
    with pytest.raises(WorkerStopped) as info:
        grown.result(timeout=120)
    assert info.value.kind == "memory" and "over 400" in info.value.message
    assert isinstance(pool.submit(wire_tasks.pid).result(timeout=120), int)


def test_a_dying_worker_and_a_raising_task_end_their_own_task_only(pool):
    died, raised, fine = pool.submit(wire_tasks.die), pool.submit(wire_tasks.fail), pool.submit(wire_tasks.pid)
    with pytest.raises(WorkerStopped) as info:
        died.result(timeout=120)
    assert info.value.kind == "died"
    with pytest.raises(ValueError, match="own error"):
        raised.result(timeout=120)
    assert isinstance(fine.result(timeout=120), int)


def test_the_pool_shares_no_semaphore_with_its_workers(pool):
    """The deadlock of issue 13: ProcessPoolExecutor's queue locks are named semaphores in
    /dev/shm that a sandbox could take; this pool's workers have none mapped."""
    import re
    worker = pool.submit(wire_tasks.pid).result(timeout=120)
    with open(f"/proc/{worker}/maps") as fh:
        assert not re.findall(r"/dev/shm/sem\.", fh.read())


def test_the_watchdog_s_verdicts_become_submission_statuses(monkeypatch):
    """timeout -> timeout, memory -> error (every item at 0), a dead worker -> unresolved."""
    from concurrent.futures import Future
    from types import SimpleNamespace

    from autograder.grading import pipeline
    from autograder.grading.records import Pending
    rows = []
    monkeypatch.setattr(pipeline, "failed_notebook", lambda db, a, s, status, message: rows.append(status) or [status])
    course = SimpleNamespace(db_url="sqlite://")
    expected = {"timeout": (TIMEOUT, [TIMEOUT]), "memory": (ERROR, [ERROR]), "died": ("unresolved", [])}
    for kind, (status, items) in expected.items():
        future = Future()
        future.set_exception(WorkerStopped(kind, f"{kind} happened"))
        got = pipeline.outcome_of(future, Pending("s1", A), course)
        assert (got.student, got.assignment, got.status, got.items) == ("s1", A, status, items)
        assert f"{kind} happened" in got.message
