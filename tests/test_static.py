"""Do the static checks find loops and autograd, and only those?"""
from autograder.static import banned_uses, function_source, loops

VECTORIZED = '''
def f(W, X):
    scores = X @ W
    return scores.sum(), torch.zeros_like(W)
'''
LOOPY = '''
def f(W, X):
    total = sum(x for x in X)
    for i in range(3):
        pass
    while False:
        pass
    return [w for w in W]
'''
AUTOGRAD = '''
def f(W, X):
    W.requires_grad_()
    loss = torch.relu(X @ W).sum()
    loss.backward()
    return loss, W.grad, torch.autograd.grad, torch.nn.functional.relu
'''


def test_vectorized_source_has_no_loops_or_banned_uses():
    """Is plain tensor code accepted?"""
    assert loops(VECTORIZED) == [] and banned_uses(VECTORIZED) == []


def test_every_kind_of_loop_is_found_with_its_line():
    """Are for, while, generator and list comprehensions all reported with line numbers?"""
    found = loops(LOOPY)
    assert len(found) == 4
    assert found[0].startswith("line 3:") and "for x in X" in found[0]


def test_autograd_nn_and_relu_are_found():
    """Are requires_grad_, torch.relu, backward, .grad, torch.autograd and torch.nn reported?"""
    text = " ".join(banned_uses(AUTOGRAD))
    for what in ("requires_grad_", "torch.relu", ".backward()", ".grad", "torch.autograd", "torch.nn"):
        assert what in text


def test_function_source_of_builtin_is_none():
    """Is an unreadable source None rather than a crash?"""
    assert function_source(len) is None
    assert "def test_function_source_of_builtin_is_none" in function_source(test_function_source_of_builtin_is_none)
