"""CUDA: students' tensors on the GPU (Colab). Skipped without CUDA; `make gpu-check` runs them.

The checks add CUDA cases by themselves when a GPU is present (checks.samples.devices), so
grading the reference solutions here covers loss, gradient, training and prediction items
with float32 tensors on the GPU, in-process and through the clean room.
"""
from __future__ import annotations

import pytest
import torch

from autograder.checks import items
from autograder.checks.samples import devices
from autograder.cleanroom import codec
from autograder.corpus import entries
from autograder.layout import assignments
from autograder.corpus.notebooks import functions
from autograder.kernel import check

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_the_checks_include_cuda_cases():
    assert "cuda" in devices()


@pytest.mark.parametrize("assignment", assignments())
def test_reference_passes_every_item_with_cuda_cases(assignment):
    reference = next(e for e in entries(assignment) if e.name == "ok-reference")
    ns = functions(reference.notebook(assignment))
    for item in items(assignment):
        verdict = check(assignment, item, ns.get(item))
        assert verdict.ok, (item, verdict.message)


def test_bug_is_still_caught_on_cuda():
    bug = next(e for e in entries("linear_classifiers") if e.name == "bug-svm-naive-reg-factor")
    ns = functions(bug.notebook("linear_classifiers"))
    assert not check("linear_classifiers", "svm_loss_naive", ns["svm_loss_naive"]).ok


def test_cuda_tensors_cross_the_clean_room_boundary():
    import socket
    a, b = socket.socketpair()
    t = torch.randn(3, 4, device="cuda")
    codec.send(a, {"t": t})
    back = codec.receive(b)["t"]
    assert back.device.type == "cuda" and torch.equal(back, t)


def test_clean_room_grades_the_reference_on_a_gpu_machine(grade_source):
    result = grade_source("linear_classifiers")
    assert all(v.ok for v in result.verdicts.values()), {k: v.message for k, v in result.verdicts.items()}
