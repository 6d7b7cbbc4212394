"""Is the Euler sampler exact where Euler must be, and is guided sampling wired right?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.models import ClassConditionalUNet, TimeConditionalUNet
from fundiff.sampling.flow import (
    class_velocity,
    euler_integrate,
    sample_class_conditional,
    sample_time_conditional,
)
from tests.conftest import DEVICES

FAST = dict(max_examples=25, deadline=None)


@settings(**FAST)
@given(steps=st.integers(1, 60), seed=st.integers(0, 2**31 - 1))
def test_constant_field_integrates_exactly(steps: int, seed: int) -> None:
    """Does a constant velocity v carry x0 to x0 + v for any number of steps?"""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    v = torch.randn(1, 1, 4, 4, generator=g, dtype=torch.float64)
    out = euler_integrate(lambda x, t: v.expand_as(x), x0, steps)
    torch.testing.assert_close(out, x0 + v, rtol=0, atol=1e-12)


@settings(**FAST)
@given(steps=st.integers(1, 60), seed=st.integers(0, 2**31 - 1))
def test_linear_field_to_one_data_point_lands_on_it(steps: int, seed: int) -> None:
    """Does u(x, t) = (x1 - x) / (1 - t), linear in x, bring every start to x1 exactly?

    This is the flow-matching optimum for a single data point x1: its trajectories
    are straight lines run at constant speed, on which Euler makes no error.
    """
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64)
    x1 = torch.rand(1, 1, 5, 5, generator=g, dtype=torch.float64)
    out = euler_integrate(lambda x, t: (x1 - x) / (1 - t).view(-1, 1, 1, 1), x0, steps)
    torch.testing.assert_close(out, x1.expand_as(x0), rtol=0, atol=1e-10)


def test_time_grid_is_left_endpoints() -> None:
    """Are the velocity calls made at t = i / steps for i = 0 .. steps - 1?"""
    seen: list[float] = []

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(t[0].item())
        return torch.zeros_like(x)

    euler_integrate(v, torch.zeros(2, 1, 2, 2), 4)
    assert seen == [0.0, 0.25, 0.5, 0.75]


def test_zero_steps_is_an_error() -> None:
    """Is a step count below 1 refused with a message naming it?"""
    with pytest.raises(ValueError, match="steps"):
        euler_integrate(lambda x, t: x, torch.zeros(1, 1, 2, 2), 0)


def test_class_velocity_guides_between_null_and_class() -> None:
    """Does the guided velocity equal uncond + w (cond - uncond) with the zero vector as null?"""
    torch.manual_seed(0)
    model = ClassConditionalUNet(hidden=4).eval()
    labels = torch.tensor([2, 7])
    x, t = torch.randn(2, 1, 28, 28), torch.rand(2)
    c = torch.nn.functional.one_hot(labels, 10).float()
    cond, uncond = model(x, t, c), model(x, t, torch.zeros_like(c))
    for w in (0.0, 1.0, 5.0):
        got = class_velocity(model, labels, 10, w)(x, t)
        torch.testing.assert_close(got, uncond + w * (cond - uncond))


@pytest.mark.parametrize("device", DEVICES)
def test_samplers_are_seeded_and_shaped(device: str) -> None:
    """Do the samplers return (B, 1, 28, 28) and repeat exactly under the same seed?"""
    torch.manual_seed(0)
    tmodel = TimeConditionalUNet(hidden=4).to(device).eval()
    cmodel = ClassConditionalUNet(hidden=4).to(device).eval()
    labels = torch.tensor([0, 1, 2], device=device)

    def draw(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        a = sample_time_conditional(
            tmodel, 3, 4, torch.Generator(device).manual_seed(seed), device=device
        )
        b = sample_class_conditional(
            cmodel, labels, 4, 5.0, torch.Generator(device).manual_seed(seed)
        )
        return a, b

    (a1, b1), (a2, b2), (a3, _) = draw(1), draw(1), draw(2)
    assert a1.shape == b1.shape == (3, 1, 28, 28)
    if device == "cpu":
        assert torch.equal(a1, a2) and torch.equal(b1, b2)
    else:  # cuDNN's transposed convolutions may sum in a different order run to run
        torch.testing.assert_close(a1, a2)
        torch.testing.assert_close(b1, b2)
    assert not torch.allclose(a1, a3)
