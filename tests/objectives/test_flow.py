"""Does the flow-matching objective have the properties the write-up derives?"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.objectives.flow import (
    draw_flow_inputs,
    flow_matching_loss,
    interpolate,
    one_hot_with_dropout,
    target_velocity,
)

FAST = dict(max_examples=30, deadline=None)
shapes = st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(1, 8), st.integers(1, 8))


@settings(**FAST)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1))
def test_path_endpoints_are_noise_and_data(shape: tuple[int, ...], seed: int) -> None:
    """Is x_t the noise x0 at t=0 and the data x1 at t=1, exactly?"""
    g = torch.Generator().manual_seed(seed)
    x0, x1 = torch.randn(shape, generator=g), torch.rand(shape, generator=g)
    b = shape[0]
    assert torch.equal(interpolate(x0, x1, torch.zeros(b)), x0)
    assert torch.equal(interpolate(x0, x1, torch.ones(b)), x1)


@settings(**FAST)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1))
def test_path_moves_at_the_target_velocity(shape: tuple[int, ...], seed: int) -> None:
    """Is d x_t / dt = x1 - x0 (a finite difference of the path equals the target)?"""
    g = torch.Generator().manual_seed(seed)
    x0, x1 = (
        torch.randn(shape, generator=g, dtype=torch.float64),
        torch.rand(shape, generator=g, dtype=torch.float64),
    )
    t = torch.rand(shape[0], generator=g, dtype=torch.float64) * 0.9
    h = 1e-3
    slope = (interpolate(x0, x1, t + h) - interpolate(x0, x1, t)) / h
    torch.testing.assert_close(slope, target_velocity(x0, x1))


@settings(**FAST)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1))
def test_loss_is_zero_for_the_true_velocity(shape: tuple[int, ...], seed: int) -> None:
    """Is the loss exactly zero when the model returns x1 - x0, and positive otherwise?"""
    g = torch.Generator().manual_seed(seed)
    x1 = torch.rand(shape, generator=g)
    d = draw_flow_inputs(x1, g)
    assert flow_matching_loss(lambda xt, t: x1 - d.x0, x1, d.x0, d.t).item() == 0.0
    off = flow_matching_loss(lambda xt, t: x1 - d.x0 + 0.5, x1, d.x0, d.t)
    torch.testing.assert_close(off, torch.tensor(0.25))


def test_loss_passes_the_path_point_and_time_to_the_model() -> None:
    """Does the model receive x_t on the path and the drawn t?"""
    g = torch.Generator().manual_seed(0)
    x1 = torch.rand(4, 1, 5, 5, generator=g)
    d = draw_flow_inputs(x1, g)
    seen = {}

    def model(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen["xt"], seen["t"] = xt, t
        return torch.zeros_like(xt)

    flow_matching_loss(model, x1, d.x0, d.t)
    assert torch.equal(seen["t"], d.t)
    torch.testing.assert_close(seen["xt"], interpolate(d.x0, x1, d.t))


def test_draws_follow_the_generator() -> None:
    """Do the same generator state and data give the same noise and times, in range?"""
    x1 = torch.rand(64, 1, 4, 4)
    a = draw_flow_inputs(x1, torch.Generator().manual_seed(3))
    b = draw_flow_inputs(x1, torch.Generator().manual_seed(3))
    assert torch.equal(a.x0, b.x0) and torch.equal(a.t, b.t)
    assert a.t.shape == (64,) and (a.t >= 0).all() and (a.t < 1).all()
    assert a.x0.shape == x1.shape


@settings(**FAST)
@given(p=st.floats(0.0, 0.99), seed=st.integers(0, 2**31 - 1))
def test_class_dropout_zeroes_whole_vectors(p: float, seed: int) -> None:
    """Is each class vector either the one-hot of its label or all zeros?"""
    labels = torch.randint(0, 10, (200,), generator=torch.Generator().manual_seed(seed))
    c = one_hot_with_dropout(labels, 10, p, torch.Generator().manual_seed(seed))
    kept = c.sum(1) == 1
    assert ((c.sum(1) == 0) | kept).all()
    assert torch.equal(c[kept].argmax(1), labels[kept])


def test_class_dropout_rate_is_p() -> None:
    """Is the fraction of zeroed vectors close to p (binomial, 5 standard deviations)?"""
    n, p = 20000, 0.1
    c = one_hot_with_dropout(
        torch.zeros(n, dtype=torch.long), 10, p, torch.Generator().manual_seed(0)
    )
    dropped = (c.sum(1) == 0).float().mean().item()
    assert abs(dropped - p) < 5 * (p * (1 - p) / n) ** 0.5
