"""Do the denoiser objectives noise and compare as the write-up says?"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.objectives.denoiser import add_noise, denoiser_loss, pure_noise_loss

FAST = dict(max_examples=25, deadline=None)


@settings(**FAST)
@given(sigma=st.floats(0.0, 2.0), seed=st.integers(0, 2**31 - 1))
def test_noise_is_sigma_times_a_standard_normal(sigma: float, seed: int) -> None:
    """Is z - x exactly sigma times the generator's standard-normal draw?"""
    x = torch.rand(4, 1, 6, 6)
    z = add_noise(x, sigma, torch.Generator().manual_seed(seed))
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(z, x + sigma * eps)


def test_noise_statistics() -> None:
    """Over many pixels, does z - x have mean 0 and standard deviation sigma?"""
    x = torch.rand(64, 1, 28, 28)
    d = add_noise(x, 0.5, torch.Generator().manual_seed(0)) - x
    n = d.numel()
    assert abs(d.mean().item()) < 5 * 0.5 / n**0.5
    assert abs(d.std().item() - 0.5) < 0.01


def test_sigma_zero_leaves_images_unchanged() -> None:
    """Is sigma = 0 the identity?"""
    x = torch.rand(2, 1, 5, 5)
    assert torch.equal(add_noise(x, 0.0, torch.Generator().manual_seed(0)), x)


def test_perfect_denoiser_has_zero_loss_and_identity_does_not() -> None:
    """Is the loss zero for a model that returns the clean image and sigma^2 for the identity?"""
    x = torch.rand(256, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    assert denoiser_loss(lambda z: x, x, 0.5, g).item() == 0.0
    identity = denoiser_loss(lambda z: z, x, 0.5, g).item()
    assert abs(identity - 0.25) < 0.01


def test_pure_noise_optimum_is_the_mean_digit() -> None:
    """With noise as input, does the mean image have lower loss than any single image (L2 optimum)?"""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 6, 6, generator=g)
    mean = x.mean(0, keepdim=True)
    best = pure_noise_loss(lambda eps: mean.expand_as(eps), x, g).item()
    for i in range(4):
        assert best < pure_noise_loss(lambda eps, i=i: x[i : i + 1].expand_as(eps), x, g).item()
