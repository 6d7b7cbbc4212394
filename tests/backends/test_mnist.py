"""Is the MNIST backend a Backend, with IF's schedule and digit prompts?"""

from __future__ import annotations

import pytest
import torch

from fundiff.backends import Backend
from fundiff.backends.mnist import MNISTBackend
from fundiff.objectives.diffusion import diffusion_loss
from fundiff.schedules import cosine_alphas_cumprod


def test_backend_satisfies_the_protocol(backend: MNISTBackend) -> None:
    """Is it a Backend with IF's 1000-step cosine schedule and the fixed posterior variance?"""
    assert isinstance(backend, Backend)
    torch.testing.assert_close(backend.alphas_cumprod, cosine_alphas_cumprod(1000))
    assert backend.variance_type == "fixed_small" and backend.image_shape == (1, 28, 28)


def test_prompts_are_digits_and_empty(backend: MNISTBackend) -> None:
    """Is "3" the one-hot of 3, "" the zero vector, and anything else refused with the known prompts?"""
    assert torch.equal(backend.encode("3"), torch.eye(10)[3:4])
    assert torch.equal(backend.encode(""), torch.zeros(1, 10))
    with pytest.raises(ValueError, match="'0' to '9'"):
        backend.encode("a photo of a dog")


def test_prediction_has_the_image_shape(backend: MNISTBackend) -> None:
    """Does predict return an eps of the image's shape and no variance?"""
    pred = backend.predict(torch.zeros(3, 1, 28, 28), 990, backend.encode("1"))
    assert pred.eps.shape == (3, 1, 28, 28) and pred.variance is None


def test_loss_is_zero_for_a_model_that_returns_the_noise() -> None:
    """Does the epsilon loss vanish for an oracle that knows the noise (same generator draws)?"""
    abar = cosine_alphas_cumprod(1000)
    x = torch.rand(4, 1, 28, 28)
    labels = torch.arange(4)
    seed = 7
    g = torch.Generator().manual_seed(seed)
    torch.randint(0, 1000, (4,), generator=g)
    eps = torch.randn(x.shape, generator=g)
    loss = diffusion_loss(
        lambda x_t, t, c: eps, x, labels, abar, 0.1, torch.Generator().manual_seed(seed)
    )
    assert loss.item() == 0.0
