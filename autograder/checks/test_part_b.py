"""Part B: noising, the flow-matching objective, Euler sampling and guidance, against fundiff's reference.

Tolerances as in Part A: 1e-4 absolute for float32 arithmetic in another order;
draws from a shared generator must match.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder.checks.conftest import expect_close, value_of
from autograder.sandbox import Helper
from fundiff import denoiser, flow, sampling
from fundiff.guidance import classifier_free_guidance

batches = st.integers(1, 4)


def _batch(b: int, seed: int) -> torch.Tensor:
    return torch.rand(b, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.points(1)
@given(b=batches, sigma=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_add_noise(student, b, sigma, seed) -> None:
    x = _batch(b, seed)
    got = value_of(student.call("add_noise", x, sigma, Helper("generator", (seed,))), "add_noise")
    want = denoiser.add_noise(x, sigma, torch.Generator().manual_seed(seed))
    expect_close(got, want, f"at sigma={sigma:.3g} your z", atol=1e-5,
                 hint="z = x + sigma * eps, with eps drawn once from the generator, shaped like x")  # fmt: skip


@pytest.mark.points(1)
@given(b=batches, seed=st.integers(0, 2**16))
def test_interpolate(student, b, seed) -> None:
    x0, x1 = _batch(b, seed) * 2 - 1, _batch(b, seed + 1)
    t = torch.rand(b, generator=torch.Generator().manual_seed(seed))
    got = value_of(student.call("interpolate", x0, x1, t), "interpolate")
    expect_close(got, flow.interpolate(x0, x1, t), "your x_t", atol=1e-5,
                 hint="x_t = (1 - t) x0 + t x1, with t reshaped to (B, 1, 1, 1); x0 is the noise")  # fmt: skip


@pytest.mark.points(2)
@given(b=batches, weight=st.floats(-2, 2), seed=st.integers(0, 2**16))
def test_flow_matching_loss(student, b, weight, seed) -> None:
    x1, x0 = _batch(b, seed), _batch(b, seed + 1) * 2 - 1
    t, bias = torch.rand(b, generator=torch.Generator().manual_seed(seed)), _batch(1, seed + 2)[0]
    velocity = Helper("affine_velocity", (weight, bias))
    got = value_of(student.call("flow_matching_loss", velocity, x1, x0, t), "flow_matching_loss")
    want = flow.flow_matching_loss(
        lambda x, tt: weight * x + tt.reshape(-1, 1, 1, 1) * bias, x1, x0, t
    )
    expect_close(got.reshape(()), want, "your loss", atol=1e-4,
                 hint="the mean squared difference between u(x_t, t) and x1 - x0")  # fmt: skip


@pytest.mark.points(2)
@given(b=batches, weight=st.floats(-1, 1), steps=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_euler_integrate(student, b, weight, steps, seed) -> None:
    x0, bias = _batch(b, seed) * 2 - 1, _batch(1, seed + 1)[0]
    got = value_of(student.call("euler_integrate", Helper("affine_velocity", (weight, bias)), x0, steps),
                   "euler_integrate")  # fmt: skip
    want = sampling.euler_integrate(
        lambda x, t: weight * x + t.reshape(-1, 1, 1, 1) * bias, x0, steps
    )
    expect_close(got, want, f"with {steps} steps your x at t=1", atol=1e-4,
                 hint="x <- x + dt * u(x, t) for t = 0, dt, ..., 1 - dt, with dt = 1 / steps")  # fmt: skip


@pytest.mark.points(1)
@given(scale=st.floats(0, 10), seed=st.integers(0, 2**16))
def test_classifier_free_guidance(student, scale, seed) -> None:
    c, u = _batch(2, seed), _batch(2, seed + 1)
    got = value_of(
        student.call("classifier_free_guidance", c, u, scale), "classifier_free_guidance"
    )
    expect_close(got, classifier_free_guidance(c, u, scale), f"at scale {scale:.3g} your guided velocity",
                 atol=1e-4, hint="it is uncond + scale * (cond - uncond)")  # fmt: skip
