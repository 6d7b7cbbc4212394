"""Does the Fréchet distance have the properties of a distance between Gaussians?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.evaluation.metrics import frechet_distance

FAST = dict(max_examples=20, deadline=None)


@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(5, 200), f=st.integers(1, 8))
def test_equal_sets_are_at_distance_zero(seed: int, n: int, f: int) -> None:
    """Is FD(a, a) zero, to the rounding of square roots of near-zero eigenvalues (~1e-8 each)?"""
    a = torch.randn(n, f, generator=torch.Generator().manual_seed(seed))
    assert abs(frechet_distance(a, a)) < 1e-6


@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1), shift=st.floats(-5, 5))
def test_a_shift_costs_its_squared_length(seed: int, shift: float) -> None:
    """Is FD(a, a + d) = |d|^2 (the covariances are equal)?"""
    a = torch.randn(100, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    d = torch.full((4,), shift, dtype=torch.float64)
    assert abs(frechet_distance(a, a + d) - 4 * shift**2) < 1e-6 * (1 + shift**2)


@settings(**FAST)
@given(seed=st.integers(0, 2**31 - 1))
def test_symmetric_and_non_negative(seed: int) -> None:
    """Is FD(a, b) = FD(b, a) >= 0?"""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(50, 3, generator=g), torch.randn(70, 3, generator=g) * 2 + 1
    ab, ba = frechet_distance(a, b), frechet_distance(b, a)
    assert ab >= 0 and abs(ab - ba) < 1e-6 * (1 + ab)


def test_matches_the_closed_form_for_diagonal_gaussians() -> None:
    """For diagonal covariances, is FD = sum (mu_a - mu_b)^2 + (s_a - s_b)^2 (standard deviations s)?"""
    g = torch.Generator().manual_seed(0)
    n = 400_000
    sa, sb = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 1.0, 0.5])
    ma, mb = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a = torch.randn(n, 3, generator=g, dtype=torch.float64) * sa + ma
    b = torch.randn(n, 3, generator=g, dtype=torch.float64) * sb + mb
    expected = float(((ma - mb) ** 2 + (sa - sb) ** 2).sum())
    assert abs(frechet_distance(a, b) - expected) < 0.05


def test_bad_shapes_are_refused() -> None:
    """Are mismatched widths or single samples refused with the shapes in the message?"""
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        frechet_distance(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(torch.zeros(1, 2), torch.zeros(3, 2))
