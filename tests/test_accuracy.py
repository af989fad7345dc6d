"""Do the reference solutions, with their shipped hyper-parameters, classify the offline
test split well (SVM and softmax >= 0.90)?"""
from __future__ import annotations

import itertools

import pytest
import torch

import flatgrad_data
from autograder.corpus import entries
from autograder.corpus.notebooks import functions

pytestmark = pytest.mark.slow  # trains the references on the offline split (~35 s each)
A = "linear_classifiers"
ITERS = 1000


@pytest.fixture(scope="module")
def reference():
    return functions(next(e for e in entries(A) if e.name == "ok-reference").notebook(A))


def best_model(ns, loss_name, grid_name, data):
    """The course's search: every grid point, best validation accuracy, its test accuracy."""
    def accuracy(W, X, y):
        return (ns["predict_linear_classifier"](W, X) == y).double().mean().item()
    best = None
    for lr, reg in itertools.product(*ns[grid_name]()):
        torch.manual_seed(0)
        W, _ = ns["train_linear_classifier"](ns[loss_name], None, data["X_train"], data["y_train"],
                                             lr, reg, ITERS)
        val = accuracy(W, data["X_val"], data["y_val"])
        if best is None or val > best[0]:
            best = (val, accuracy(W, data["X_test"], data["y_test"]), lr, reg)
    return best


@pytest.mark.parametrize("loss_name,grid_name", [("svm_loss_vectorized", "svm_get_search_params"),
                                                 ("softmax_loss_vectorized", "softmax_get_search_params")])
def test_reference_reaches_090_on_the_offline_test_split(reference, loss_name, grid_name, capsys):
    """Does the best grid point reach >= 0.90 test accuracy on digits?"""
    val, test, lr, reg = best_model(reference, loss_name, grid_name, flatgrad_data.load_digits())
    with capsys.disabled():
        print(f"\n{loss_name}: lr={lr:g} reg={reg:g} val={val:.3f} test={test:.3f}")
    assert test >= 0.90


def test_two_layer_reference_reaches_095_on_the_offline_test_split(capsys):
    """Does find_best_net with the shipped grid reach >= 0.95 test accuracy on digits?"""
    from autograder.checks.linear_classifiers import reference_sample_batch
    from autograder.checks.two_layer_reference import reference_init
    ns = functions(next(e for e in entries("two_layer_net") if e.name == "ok-reference").notebook("two_layer_net"))
    # the notebook's given helper cells (functions() runs answer cells only)
    ns.update(sample_batch=reference_sample_batch, init_params=reference_init)
    data = flatgrad_data.load_digits()
    torch.manual_seed(0)
    params, _, val = ns["find_best_net"](data, ns["nn_get_search_params"])
    test = (ns["nn_predict"](params, ns["nn_forward_backward"], data["X_test"]) == data["y_test"]).double().mean().item()
    with capsys.disabled():
        print(f"\ntwo_layer_net: hidden={params['W1'].shape[1]} val={val:.3f} test={test:.3f}")
    assert test >= 0.95
