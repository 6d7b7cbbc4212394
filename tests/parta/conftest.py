"""The shipped MNIST backend, shared by the Part A tests."""

from __future__ import annotations

import pytest

from fundiff.parta.backend import build_backend


@pytest.fixture(scope="module")
def mnist():  # noqa: ANN201 (MNISTBackend)
    """The shipped MNIST diffusion backend, on the CPU."""
    return build_backend("mnist")
