"""Does the guided predictor combine the two estimates as classifier-free guidance says?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.diffusion.cfg import conditional, guided

FAST = dict(max_examples=15, deadline=None)


@settings(**FAST)
@given(t=st.integers(0, 999), b=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_scale_one_is_conditional_and_zero_unconditional(
    backend, t: int, b: int, seed: int
) -> None:
    """Is the batched guided estimate the conditional one at scale 1 and the unconditional at 0?"""
    x = torch.randn(b, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    c, u = backend.encode("4"), backend.encode("")
    torch.testing.assert_close(
        guided(backend, c, u, 1.0)(x, t).eps, conditional(backend, c)(x, t).eps
    )
    torch.testing.assert_close(
        guided(backend, c, u, 0.0)(x, t).eps, conditional(backend, u)(x, t).eps
    )


@settings(**FAST)
@given(scale=st.floats(-5, 15), seed=st.integers(0, 2**31 - 1))
def test_guided_estimate_extrapolates(backend, scale: float, seed: int) -> None:
    """Is the estimate uncond + scale * (cond - uncond) for any scale?"""
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    c, u = backend.encode("1"), backend.encode("")
    ec, eu = conditional(backend, c)(x, 300).eps, conditional(backend, u)(x, 300).eps
    torch.testing.assert_close(
        guided(backend, c, u, scale)(x, 300).eps, eu + scale * (ec - eu), rtol=1e-4, atol=1e-5
    )


def test_mismatched_condition_batch_is_refused(backend) -> None:
    """Is a conditioning batch that is neither 1 nor the image batch refused with both numbers?"""
    x = torch.zeros(3, 1, 28, 28)
    c = torch.cat([backend.encode("1")] * 2)
    with pytest.raises(ValueError, match="batch 2"):
        guided(backend, c, backend.encode(""), 5.0)(x, 10)
