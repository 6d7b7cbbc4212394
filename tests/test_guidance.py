"""Does classifier-free guidance satisfy its identities?"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.guidance import classifier_free_guidance

FAST = dict(max_examples=40, deadline=None)


@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 50))
def test_scale_one_is_conditional_and_zero_unconditional(seed: int, n: int) -> None:
    """Does scale 1 give the conditional prediction and scale 0 the unconditional, bit for bit?"""
    g = torch.Generator().manual_seed(seed)
    cond, uncond = torch.randn(n, generator=g), torch.randn(n, generator=g)
    assert torch.equal(classifier_free_guidance(cond, uncond, 1.0), cond)
    assert torch.equal(classifier_free_guidance(cond, uncond, 0.0), uncond)


@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(-10, 20))
def test_guidance_is_the_linear_extrapolation(seed: int, scale: float) -> None:
    """Is the result uncond + scale * (cond - uncond) for any scale?"""
    g = torch.Generator().manual_seed(seed)
    cond, uncond = (
        torch.randn(8, generator=g, dtype=torch.float64),
        torch.randn(8, generator=g, dtype=torch.float64),
    )
    torch.testing.assert_close(
        classifier_free_guidance(cond, uncond, scale), uncond + scale * (cond - uncond)
    )


def test_equal_predictions_are_unchanged_by_any_scale() -> None:
    """If cond == uncond, is the guided prediction that same value for every scale?"""
    x = torch.randn(10)
    for scale in (0.0, 1.0, 7.5, -3.0):
        torch.testing.assert_close(classifier_free_guidance(x, x.clone(), scale), x)


@pytest.mark.parametrize("scale", [math.nan, math.inf, -math.inf])
def test_non_finite_scale_is_refused(scale: float) -> None:
    """Is a NaN or infinite scale an error that names the value?"""
    with pytest.raises(ValueError, match="finite"):
        classifier_free_guidance(torch.zeros(2), torch.zeros(2), scale)


def test_shape_mismatch_is_refused() -> None:
    """Is a shape mismatch an error rather than a silent broadcast?"""
    with pytest.raises(ValueError, match="shape"):
        classifier_free_guidance(torch.zeros(2, 3), torch.zeros(3), 2.0)
