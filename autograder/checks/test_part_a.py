"""Part A: the forward process, one-step estimate, the DDPM step and guidance, against fundiff's reference.

Tolerances: float32 arithmetic in another order differs by a few ulps of values
of order 1-10, so 1e-4 absolute; draws from a shared generator must match exactly
(same calls in the same order), up to that same rounding.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder.checks.conftest import expect_close, value_of
from autograder.sandbox import Helper
from fundiff.backends.base import Prediction
from fundiff.diffusion import denoise, forward
from fundiff.guidance import classifier_free_guidance
from fundiff.schedules import cosine_alphas_cumprod

ABAR = cosine_alphas_cumprod(1000)
shapes = st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.sampled_from([8, 28]))


def _images(shape: tuple[int, int, int], seed: int) -> torch.Tensor:
    b, c, s = shape
    return torch.rand(b, c, s, s, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.points(2)
@given(shape=shapes, t=st.integers(0, 999), seed=st.integers(0, 2**16))
def test_forward_with_given_noise(student, shape, t, seed) -> None:
    x0, eps = _images(shape, seed), _images(shape, seed + 1)
    got = value_of(student.call("forward", x0, t, ABAR, eps=eps), "forward")
    hint = "use alphas_cumprod[t] (ᾱ_t), with √ᾱ_t on x0 and √(1-ᾱ_t) on the noise"
    expect_close(
        got, forward.forward(x0, t, ABAR, eps=eps), f"at t={t} your x_t", atol=1e-4, hint=hint
    )


@pytest.mark.points(1)
@given(shape=shapes, t=st.integers(0, 999), seed=st.integers(0, 2**16))
def test_forward_draws_from_the_generator(student, shape, t, seed) -> None:
    x0 = _images(shape, seed)
    got = value_of(student.call("forward", x0, t, ABAR, Helper("generator", (seed,))), "forward")
    want = forward.forward(x0, t, ABAR, torch.Generator().manual_seed(seed))
    expect_close(got, want, f"at t={t} with a seeded generator, your x_t", atol=1e-4,
                 hint="draw the noise with torch.randn(x0.shape, generator=generator) and nothing else")  # fmt: skip


@pytest.mark.points(2)
@given(shape=shapes, t=st.integers(1, 999), seed=st.integers(0, 2**16))
def test_estimate_x0(student, shape, t, seed) -> None:
    x_t, eps = _images(shape, seed), _images(shape, seed + 1)
    got = value_of(student.call("estimate_x0", x_t, eps, ABAR[t]), "estimate_x0")
    expect_close(got, denoise.estimate_x0(x_t, eps, ABAR[t]), f"at t={t} your x0 estimate", atol=1e-3,
                 hint="did you use alphas instead of alphas_cumprod?")  # fmt: skip


@pytest.mark.points(2)
@given(shape=shapes, i=st.integers(0, 32), seed=st.integers(0, 2**16))
def test_posterior_mean(student, shape, i, seed) -> None:
    t, t_prev = 990 - 30 * i, 960 - 30 * i
    x_t, x0 = _images(shape, seed), _images(shape, seed + 1)
    got = value_of(student.call("posterior_mean", x_t, x0, ABAR[t], ABAR[t_prev]), "posterior_mean")
    want = denoise.posterior_mean(x_t, x0, ABAR[t], ABAR[t_prev])
    expect_close(got, want, f"for the step t={t} to t'={t_prev}, your mean", atol=1e-4,
                 hint="alpha is ᾱ_t / ᾱ_t' for a strided step, not the one-step alpha")  # fmt: skip


@pytest.mark.points(2)
@given(shape=st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.sampled_from([8, 16])),
       cond=st.floats(-3, 3), scale=st.floats(0, 10), seed=st.integers(0, 2**16))  # fmt: skip
def test_classifier_free_guidance(student, shape, cond, scale, seed) -> None:
    c, u = _images(shape, seed) * cond, _images(shape, seed + 1)
    got = value_of(
        student.call("classifier_free_guidance", c, u, scale), "classifier_free_guidance"
    )
    expect_close(got, classifier_free_guidance(c, u, scale), f"at scale {scale:.3g} your guided estimate",
                 atol=1e-4, hint="it is uncond + scale * (cond - uncond)")  # fmt: skip


@pytest.mark.points(2)
@given(shape=shapes, i=st.integers(0, 32), learned=st.booleans(), seed=st.integers(0, 2**16))
def test_ddpm_step(student, shape, i, learned, seed) -> None:
    t, t_prev = 990 - 30 * i, 960 - 30 * i
    x_t, eps = _images(shape, seed), _images(shape, seed + 1)
    v = _images(shape, seed + 2) if learned else None
    kind = "learned_range" if learned else "fixed_small"
    got = value_of(student.call("ddpm_step", x_t, Helper("prediction", (eps, v)), t, t_prev, ABAR, kind,
                                Helper("generator", (seed,))), "ddpm_step")  # fmt: skip
    want = denoise.ddpm_step(
        x_t, Prediction(eps, v), t, t_prev, ABAR, kind, torch.Generator().manual_seed(seed)
    )
    expect_close(got, want, f"for a {kind} step t={t} to t'={t_prev}, your x_t'", atol=1e-4,
                 hint="mean from x0_hat, then add exp(0.5 * log variance) * z, z drawn once from the generator")  # fmt: skip


@pytest.mark.points(2)
@given(
    shape=shapes,
    i_start=st.integers(0, 30),
    weight=st.floats(-0.5, 0.5),
    seed=st.integers(0, 2**16),
)
def test_iterative_denoise(student, shape, i_start, weight, seed) -> None:
    from fundiff.schedules import strided_timesteps

    ts, x = strided_timesteps(), _images(shape, seed)
    got = value_of(student.call("iterative_denoise", Helper("linear_predictor", (weight,)), x, ts, i_start, ABAR,
                                "fixed_small", Helper("generator", (seed,))), "iterative_denoise")  # fmt: skip
    want = denoise.iterative_denoise(lambda y, t: Prediction(weight * y + t / 1000), x, ts, i_start, ABAR,
                                     "fixed_small", torch.Generator().manual_seed(seed))  # fmt: skip
    expect_close(got, want, f"from i_start={i_start}, your final image", atol=1e-3,
                 hint="step from timesteps[i] to timesteps[i + 1] for i = i_start, ..., len - 2, one ddpm_step each")  # fmt: skip
