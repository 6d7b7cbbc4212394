"""Do anagrams and hybrids reduce to plain guidance where they should?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.diffusion.cfg import guided
from fundiff.diffusion.illusions import (
    anagram,
    factorized,
    frequency_split,
    grayscale_colour_split,
    hybrid,
    hybrid_filter,
)
from fundiff.diffusion.views import FLIP, IDENTITY

FAST = dict(max_examples=15, deadline=None)


@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1), t=st.integers(0, 999), scale=st.floats(0, 10))
def test_anagram_with_identity_views_and_equal_prompts_is_plain_cfg(
    backend, seed: int, t: int, scale: float
) -> None:
    """With identity views and one prompt twice, is the anagram estimate the guided one?"""
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    c, u = backend.encode("6"), backend.encode("")
    got = anagram(backend, [c, c], [IDENTITY, IDENTITY], u, scale)(x, t).eps
    torch.testing.assert_close(got, guided(backend, c, u, scale)(x, t).eps)


def test_anagram_maps_the_flipped_estimate_back(backend) -> None:
    """Is the second half of a 6/9 anagram the flipped image's estimate, flipped back?"""
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    c6, c9, u = backend.encode("6"), backend.encode("9"), backend.encode("")
    got = anagram(backend, [c6, c9], [IDENTITY, FLIP], u, 5.0)(x, 500).eps
    up = guided(backend, c6, u, 5.0)(x, 500).eps
    down = guided(backend, c9, u, 5.0)(x.flip(-2), 500).eps.flip(-2)
    torch.testing.assert_close(got, (up + down) / 2)


@pytest.mark.parametrize("size", [28, 64, pytest.param(256, marks=pytest.mark.slow)])
@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1))
def test_lowpass_plus_highpass_is_the_identity(size: int, seed: int) -> None:
    """Do the hybrid's two filters, and grayscale + colour, sum to the identity?"""
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    for a, b in (frequency_split(size), grayscale_colour_split()):
        torch.testing.assert_close(a(x) + b(x), x)


def test_hybrid_filter_is_33_and_2_at_64_pixels_and_scales() -> None:
    """Is the kernel 33 px with sigma 2 at 64 px, odd, and proportional at other sizes?"""
    assert hybrid_filter(64) == (33, 2.0)
    k, s = hybrid_filter(28)
    assert k % 2 == 1 and abs(s - 2.0 * 28 / 64) < 1e-12 and abs(k - 33 * 28 / 64) <= 1


def test_hybrid_with_one_prompt_is_plain_cfg(backend) -> None:
    """With the same prompt for low and high frequencies, is the estimate the guided one?"""
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    c, u = backend.encode("0"), backend.encode("")
    torch.testing.assert_close(
        hybrid(backend, c, c, u, 4.0)(x, 700).eps, guided(backend, c, u, 4.0)(x, 700).eps
    )


def test_prompt_and_view_counts_must_match(backend) -> None:
    """Are unequal numbers of prompts and views (or components) refused with both counts?"""
    c = backend.encode("1")
    with pytest.raises(ValueError, match="2 prompts and 1 views"):
        anagram(backend, [c, c], [IDENTITY], c)
    with pytest.raises(ValueError, match="1 prompts and 2 components"):
        factorized(backend, [c], list(frequency_split(28)), c)


def test_factorized_takes_one_scale_per_component(backend) -> None:
    """With per-component scales, is each component the filtered estimate at its own scale?"""
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    c0, c1, u = backend.encode("0"), backend.encode("1"), backend.encode("")
    low, high = frequency_split(28)
    got = factorized(backend, [c0, c1], [low, high], u, [3.0, 7.0])(x, 600).eps
    want = low(guided(backend, c0, u, 3.0)(x, 600).eps) + high(
        guided(backend, c1, u, 7.0)(x, 600).eps
    )
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="3 guidance scales for 2 components"):
        factorized(backend, [c0, c1], [low, high], u, [1.0, 2.0, 3.0])
