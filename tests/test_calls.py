"""Does calling untrusted code record values, exceptions, output and in-place changes?"""
import sys
import warnings

import pytest
import torch

from autograder.calls import OUTPUT_CAP, call


def test_value_output_and_warnings_are_captured():
    """Is printed and warned text captured (not shown) and the value kept?"""
    def noisy(x):
        print("hello " * 1000)
        warnings.warn("deprecated thing")
        print("to stderr", file=sys.stderr)
        return x + 1
    out = call(noisy, ("x",), (torch.ones(2),))
    assert torch.equal(out.value, torch.full((2,), 2.0))
    assert out.output.startswith("hello") and len(out.output) == OUTPUT_CAP
    assert not out.raised and out.modified == []


def test_in_place_changes_are_named():
    """Is a tensor changed in place reported by its parameter name?"""
    def sneaky(W, X):
        X += 1
        return W
    out = call(sneaky, ("W", "X"), (torch.zeros(2), torch.zeros(3)))
    assert out.modified == ["X"]


def test_exceptions_and_sys_exit_are_recorded_with_the_student_line():
    """Are exceptions (and SystemExit) caught, with the line of student code that raised?"""
    def broken(x):
        return x @ torch.ones(5, 5)
    out = call(broken, ("x",), (torch.ones(3),))
    assert out.raised and "RuntimeError" in out.describe_exception()
    assert "return x @ torch.ones(5, 5)" in out.describe_exception()
    assert isinstance(call(lambda: sys.exit(3), (), ()).exception, SystemExit)


def test_keyboard_interrupt_is_not_swallowed():
    """Does Ctrl-C (the cell timeout) still stop the grader?"""
    def interrupt():
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        call(interrupt, (), ())


def test_autograd_is_off_inside_the_call():
    """Is grad mode disabled, so .backward() cannot compute a gradient for the student?"""
    def uses_autograd(W):
        W = W.clone().requires_grad_(True)
        (W * W).sum().backward()
        return W.grad
    out = call(uses_autograd, ("W",), (torch.ones(2),))
    assert out.raised


def test_autograd_switched_back_on_is_still_seen():
    """Is an autograd graph recorded under torch.enable_grad() inside the call reported?"""
    def sneaky(W, X):
        with torch.enable_grad():
            W = W.detach().requires_grad_(True)
            loss = (X @ W).sum()
            loss.backward()
        return W.grad
    out = call(sneaky, ("W", "X"), (torch.ones(3, 2), torch.ones(4, 3)))
    assert not out.raised and out.used_autograd
    assert not call(lambda W: W * 2, ("W",), (torch.ones(2),)).used_autograd
