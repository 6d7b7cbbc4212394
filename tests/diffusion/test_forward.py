"""Does the forward process have the statistics and the inverse the write-up derives?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.diffusion.denoise import estimate_x0
from fundiff.diffusion.forward import forward
from fundiff.schedules import cosine_alphas_cumprod

ABAR = cosine_alphas_cumprod(1000, dtype=torch.float64)
FAST = dict(max_examples=30, deadline=None)


@settings(**FAST)
@given(t=st.integers(0, 999), seed=st.integers(0, 2**31 - 1))
def test_forward_statistics(t: int, seed: int) -> None:
    """For a constant image, is x_t's mean sqrt(abar) x0 and its std sqrt(1 - abar) (within 6 standard errors)?"""
    x0 = torch.full((8, 3, 32, 32), 0.3, dtype=torch.float64)
    x_t = forward(x0, t, ABAR, torch.Generator().manual_seed(seed))
    n = x_t.numel()
    mean, std = ABAR[t].sqrt() * 0.3, (1 - ABAR[t]).sqrt()
    assert abs(x_t.mean() - mean) < 6 * std / n**0.5
    assert abs(x_t.std() - std) < 6 * std / (2 * n) ** 0.5 + 1e-12


@settings(**FAST)
@given(t=st.integers(0, 999), seed=st.integers(0, 2**31 - 1), b=st.integers(1, 4))
def test_x0_estimate_recovers_x0_given_the_true_noise(t: int, seed: int, b: int) -> None:
    """With the noise that made x_t, does the one-step estimate give back x0?"""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(b, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    x_t = forward(x0, t, ABAR, eps=eps)
    torch.testing.assert_close(estimate_x0(x_t, eps, ABAR[t]), x0, rtol=1e-6, atol=1e-6)


def test_forward_follows_the_generator() -> None:
    """Do equal seeds give equal x_t, and different seeds different ones?"""
    x0 = torch.zeros(1, 1, 4, 4)
    abar = ABAR.float()
    a = forward(x0, 500, abar, torch.Generator().manual_seed(1))
    assert torch.equal(a, forward(x0, 500, abar, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, forward(x0, 500, abar, torch.Generator().manual_seed(2)))


@pytest.mark.parametrize("t", [-1, 1000, 2.5])
def test_timestep_outside_the_schedule_is_refused(t: object) -> None:
    """Is a timestep outside [0, T) refused with the range in the message?"""
    with pytest.raises(ValueError, match=r"\[0, 999\]"):
        forward(torch.zeros(1, 1, 2, 2), t, ABAR)  # type: ignore[arg-type]
