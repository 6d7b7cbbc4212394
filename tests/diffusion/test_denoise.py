"""Is the strided DDPM step the posterior of the write-up, and does it agree with diffusers?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.backends.base import Prediction
from fundiff.diffusion.cfg import conditional
from fundiff.diffusion.denoise import (
    blur_denoise,
    ddpm_step,
    estimate_x0,
    iterative_denoise,
    posterior_log_variance,
    posterior_mean,
    sample,
)
from fundiff.schedules import cosine_alphas_cumprod, strided_timesteps

TS = strided_timesteps()
ABAR = cosine_alphas_cumprod(1000)
FAST = dict(max_examples=25, deadline=None)
pairs = st.integers(0, len(TS) - 2).map(lambda i: (TS[i], TS[i + 1]))


@settings(**FAST)
@given(pair=pairs, seed=st.integers(0, 2**31 - 1))
def test_posterior_mean_is_the_closed_form_ddpm_mean(pair: tuple[int, int], seed: int) -> None:
    """Does the mean equal the DDPM posterior mean of q(x_t' | x_t, x0), computed in float64 from betas?"""
    t, tp = pair
    abar = ABAR.double()
    g = torch.Generator().manual_seed(seed)
    x0, x_t = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64).unbind(0)
    # Reference: the posterior of the two-step chain x0 -> x_t' -> x_t, by Bayes on Gaussians.
    a_tp, a_t = abar[tp], abar[t]
    alpha = a_t / a_tp  # x_t | x_t' ~ N(sqrt(alpha) x_t', 1 - alpha)
    prior_mean, prior_var = a_tp.sqrt() * x0, 1 - a_tp  # x_t' | x0
    lik_prec = alpha / (1 - alpha)
    post_var = 1 / (1 / prior_var + lik_prec)
    reference = post_var * (prior_mean / prior_var + alpha.sqrt() * x_t / (1 - alpha))
    torch.testing.assert_close(posterior_mean(x_t, x0, a_t, a_tp), reference)
    torch.testing.assert_close(posterior_log_variance(a_t, a_tp).exp(), post_var)


@pytest.mark.parametrize("variance_type", ["learned_range", "fixed_small"])
@settings(**FAST)
@given(pair=pairs, seed=st.integers(0, 2**31 - 1))
def test_step_agrees_with_diffusers_ddpm_scheduler(
    variance_type: str, pair: tuple[int, int], seed: int
) -> None:
    """On the same strided timesteps and generator, is our step diffusers' DDPMScheduler.step?"""
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", variance_type=variance_type,
        clip_sample=False, thresholding=False,
    )  # fmt: skip
    sched.set_timesteps(timesteps=TS)
    t, tp = pair
    g = torch.Generator().manual_seed(seed)
    x_t, eps = torch.randn(2, 2, 3, 8, 8, generator=g).unbind(0)
    v = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    learned = variance_type == "learned_range"
    pred = Prediction(eps, v if learned else None)
    ours = ddpm_step(
        x_t, pred, t, tp, sched.alphas_cumprod, variance_type, torch.Generator().manual_seed(seed)
    )
    output = torch.cat([eps, v], 1) if learned else eps
    theirs = sched.step(output, t, x_t, generator=torch.Generator().manual_seed(seed)).prev_sample
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_learned_range_endpoints_are_posterior_and_beta() -> None:
    """Does v=-1 give the posterior variance and v=1 beta_t (seen through the added noise)?"""
    t, tp = 510, 480
    x = torch.zeros(1, 1, 64, 64)
    eps = torch.zeros_like(x)
    abar_t, abar_p = ABAR[t], ABAR[tp]
    mean = posterior_mean(x, estimate_x0(x, eps, abar_t), abar_t, abar_p)
    for v, var in (
        (-1.0, posterior_log_variance(abar_t, abar_p).exp()),
        (1.0, 1 - abar_t / abar_p),
    ):
        g = torch.Generator().manual_seed(0)
        step = ddpm_step(x, Prediction(eps, torch.full_like(x, v)), t, tp, ABAR, "learned_range", g)
        z = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(step, mean + var.sqrt() * z)


def test_blur_is_torchvisions_gaussian_blur_and_smooths() -> None:
    """Does blurring lower the variance of white noise and keep a constant image?"""
    noise = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    assert blur_denoise(noise).var() < 0.5 * noise.var()
    const = torch.full((1, 3, 16, 16), 0.25)
    torch.testing.assert_close(blur_denoise(const), const)


def test_iterative_denoise_visits_every_strided_step(backend) -> None:
    """From i_start, are the steps those of the strided list, ending at t=0 with the image's shape?"""
    seen: list[int] = []
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    out = iterative_denoise(
        conditional(backend, backend.encode("3")), x, TS, 10, backend.alphas_cumprod, backend.variance_type,
        torch.Generator().manual_seed(0), on_step=lambda i, t, x: seen.append(t),
    )  # fmt: skip
    assert seen == TS[11:] and out.shape == x.shape


@pytest.mark.parametrize("i_start", [-1, len(TS) - 1, 100])
def test_i_start_outside_the_schedule_is_refused(backend, i_start: int) -> None:
    """Is an i_start that does not index the strided timesteps refused with the range?"""
    with pytest.raises(ValueError, match="i_start"):
        iterative_denoise(
            conditional(backend, backend.encode("")), torch.zeros(1, 1, 28, 28), TS, i_start,
            backend.alphas_cumprod, backend.variance_type,
        )  # fmt: skip


def test_sampling_reproduces_under_a_seed(backend) -> None:
    """Do equal generators give equal samples and different ones differ?"""
    pred = conditional(backend, backend.encode("7"))

    def draw(seed: int) -> torch.Tensor:
        return sample(pred, (2, 1, 28, 28), TS[-6:], backend.alphas_cumprod, backend.variance_type,
                      torch.Generator().manual_seed(seed))  # fmt: skip

    assert torch.equal(draw(1), draw(1)) and not torch.equal(draw(1), draw(2))
