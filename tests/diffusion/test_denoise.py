"""Are the two strided steps (the write-up's rule, the DDPM posterior) what they say, and do they agree
with diffusers' DDIM and DDPM schedulers?"""

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
    denoise_step,
    estimate_x0,
    iterative_denoise,
    posterior_log_variance,
    posterior_mean,
    sample,
    writeup_step,
)
from fundiff.diffusion.rules import using
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


def _ddim(gap: int):  # noqa: ANN202 (diffusers.DDIMScheduler; imported lazily)
    """diffusers' DDIMScheduler (eta 0 by default) stepping ``gap`` timesteps at a time on IF's schedule."""
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False, thresholding=False,
        prediction_type="epsilon",
    )  # fmt: skip
    # DDIM steps from t to t - T // num_inference_steps: pick the count that makes that the gap
    sched.num_inference_steps = 1000 // gap
    assert 1000 // sched.num_inference_steps == gap
    return sched


@settings(**FAST)
@given(pair=pairs, gap=st.sampled_from([30, 50, 90, 100]), seed=st.integers(0, 2**31 - 1))
def test_writeup_step_with_sigma_zero_is_diffusers_ddim_with_eta_zero(
    pair: tuple[int, int], gap: int, seed: int
) -> None:
    """With sigma = 0, is the write-up's step DDIMScheduler.step with eta 0, for any gap t - t'?"""
    t = max(pair[0], gap)
    sched = _ddim(gap)
    g = torch.Generator().manual_seed(seed)
    x_t, eps = torch.randn(2, 2, 3, 8, 8, generator=g).unbind(0)
    ours = writeup_step(x_t, Prediction(eps), t, t - gap, sched.alphas_cumprod, "fixed_small")
    theirs = sched.step(eps, t, x_t, eta=0.0).prev_sample
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_the_writeup_loop_is_the_ddim_loop_over_the_strided_timesteps(backend) -> None:
    """Does iterative denoising by the write-up's rule walk 990, 960, ..., 0 exactly as DDIM (eta 0) does?"""
    sched = _ddim(30)
    pred = conditional(backend, backend.encode("4"))
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    with torch.no_grad(), using("writeup"):
        ours = iterative_denoise(pred, x, TS, 0, sched.alphas_cumprod, backend.variance_type)
        theirs = x
        for t in TS[:-1]:
            theirs = sched.step(pred(theirs, t).eps, t, theirs).prev_sample
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


@settings(**FAST)
@given(pair=pairs, seed=st.integers(0, 2**31 - 1))
def test_writeup_step_keeps_the_forward_marginal_when_the_estimate_is_exact(
    pair: tuple[int, int], seed: int
) -> None:
    """Given the true noise of x_t, does the step land on the forward process at t' with that noise?"""
    t, tp = pair
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.randn(2, 1, 3, 8, 8, generator=g).unbind(0)
    x_t = ABAR[t].sqrt() * x0 + (1 - ABAR[t]).sqrt() * eps
    want = ABAR[tp].sqrt() * x0 + (1 - ABAR[tp]).sqrt() * eps
    torch.testing.assert_close(writeup_step(x_t, Prediction(eps), t, tp, ABAR, "fixed_small"), want,
                               rtol=1e-4, atol=1e-4)  # fmt: skip


def test_writeup_step_adds_sigma_times_the_generators_noise() -> None:
    """With sigma > 0, is the noise added sigma times the generator's first standard normal draw?"""
    t, tp = 600, 570
    x, eps = torch.randn(2, 2, 3, 8, 8, generator=torch.Generator().manual_seed(0)).unbind(0)
    quiet = writeup_step(x, Prediction(eps), t, tp, ABAR, "fixed_small")
    noisy = writeup_step(x, Prediction(eps), t, tp, ABAR, "fixed_small", torch.Generator().manual_seed(5),
                         sigma=0.3)  # fmt: skip
    z = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(noisy, quiet + 0.3 * z)


def test_the_step_in_force_follows_the_rule() -> None:
    """Does denoise_step take the write-up's rule by default and the DDPM posterior under using("ddpm")?"""
    t, tp = 600, 570
    x, eps = torch.randn(2, 2, 3, 8, 8, generator=torch.Generator().manual_seed(0)).unbind(0)

    def step(rule: str | None) -> torch.Tensor:
        with using(rule):  # type: ignore[arg-type]
            return denoise_step(
                x, Prediction(eps), t, tp, ABAR, "fixed_small", torch.Generator().manual_seed(1)
            )

    ddpm = ddpm_step(
        x, Prediction(eps), t, tp, ABAR, "fixed_small", torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(
        step("writeup"), writeup_step(x, Prediction(eps), t, tp, ABAR, "fixed_small")
    )
    torch.testing.assert_close(step("ddpm"), ddpm)
    assert not torch.allclose(step("writeup"), ddpm)
