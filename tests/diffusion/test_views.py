"""Is every anagram view invertible, on images and on variance values?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.diffusion.views import NEGATE, VIEWS, get_view, permutation_view

FAST = dict(max_examples=20, deadline=None)


@pytest.mark.parametrize("name", list(VIEWS))
@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1), c=st.integers(1, 3), size=st.sampled_from([4, 7, 28]))
def test_view_then_inverse_is_the_identity(name: str, seed: int, c: int, size: int) -> None:
    """Does invert(apply(x)) == x, and invert_values(apply-as-pixels(x)) == x, exactly?"""
    view = get_view(name)
    x = torch.randn(2, c, size, size, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(view.invert(view.apply(x)), x)
    moved = (
        view.apply(x) if view is not NEGATE else x
    )  # values move with pixels but keep their sign
    assert torch.equal(view.invert_values(moved), x)


@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1), size=st.sampled_from([3, 8, 28]))
def test_any_pixel_permutation_is_invertible(seed: int, size: int) -> None:
    """For a random permutation, is its view invertible and a real shuffle of the pixels?"""
    g = torch.Generator().manual_seed(seed)
    view = permutation_view(torch.randperm(size * size, generator=g))
    x = torch.randn(1, 3, size, size, generator=g)
    assert torch.equal(view.invert(view.apply(x)), x)
    assert torch.equal(view.apply(x).flatten(-2).sort(-1).values, x.flatten(-2).sort(-1).values)


def test_flip_is_upside_down() -> None:
    """Does the flip view turn the image upside down (first row becomes last)?"""
    x = torch.arange(9.0).view(1, 1, 3, 3)
    assert torch.equal(get_view("flip").apply(x)[0, 0, 0], x[0, 0, 2])


def test_not_a_permutation_and_unknown_view_are_refused() -> None:
    """Are a non-permutation and an unknown view name refused with what to do?"""
    with pytest.raises(ValueError, match="permutation"):
        permutation_view(torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="flip"):
        get_view("mirror")
