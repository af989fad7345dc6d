"""Shared fixtures and hypothesis strategies for the kit's tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data"))


@st.composite
def classification_problems(draw, max_n: int = 12, max_d: int = 8, max_c: int = 6):
    """(W, X, y, reg) in float64: any small shape (N=1 and C=2 included) and weight scale."""
    N = draw(st.integers(1, max_n))
    D = draw(st.integers(1, max_d))
    C = draw(st.integers(2, max_c))
    scale = draw(st.sampled_from([0.01, 0.1, 1.0, 3.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, dtype=torch.float64, generator=gen)
    W = scale * torch.randn(D, C, dtype=torch.float64, generator=gen)
    y = torch.randint(0, C, (N,), generator=gen)
    reg = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0]))
    return W, X, y, reg


def autograd_gradient(loss_fn, W, *args):
    """dL/dW by torch autograd in float64: the tests' independent second opinion."""
    W = W.detach().double().clone().requires_grad_(True)
    loss_fn(W, *args).backward()
    return W.grad


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium through Playwright. Skipped where `make browser` was not run,
    except in CI, where a missing browser is a failure (a skipped page test proves nothing)."""
    import os
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("the browser tests need Playwright and chromium: run `make browser`")
        pytest.skip("no browser: `make browser` installs Playwright and Debian's chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
