"""Part A, 1.2-1.5: classical, one-step and iterative denoising, and sampling.

One-step denoising inverts the forward process with the model's noise estimate::

    x0_hat = (x_t - sqrt(1 - abar_t) * eps_hat) / sqrt(abar_t)

Iterative denoising walks a strided list of timesteps t > t' (990, 960, ..., 0),
one ``denoise_step`` at a time, by the rule in force (``fundiff.diffusion.rules``):

- ``writeup_step``, the write-up's rule (section 1.4), with sigma = 0 (the
  rules module says why)::

      x_t' = sqrt(abar_t') * x0_hat + sqrt(1 - abar_t') * eps_hat + sigma * z

- ``ddpm_step``, the DDPM posterior q(x_t' | x_t, x0_hat) (Ho et al., 2020,
  eqs. 6-7, written for a stride), where alpha_t = abar_t / abar_t' and
  beta_t = 1 - alpha_t::

      mean = sqrt(abar_t') beta_t / (1 - abar_t) * x0_hat
           + sqrt(alpha_t) (1 - abar_t') / (1 - abar_t) * x_t
      x_t' = mean + sigma_t * z,   z ~ N(0, I)

  The variance sigma_t^2 is the posterior's, beta_tilde = (1 - abar_t') / (1 - abar_t) * beta_t,
  for "fixed_small" backends; for "learned_range" backends (DeepFloyd IF) the
  model's extra channels v in [-1, 1] interpolate the log-variance between
  beta_tilde and beta_t (Nichol & Dhariwal, 2021, eq. 15)::

      log sigma_t^2 = (v + 1) / 2 * log beta_t + (1 - v) / 2 * log beta_tilde

Longer than 300 lines because the two rules' formulas above and the five functions that
apply them (one step, the walk over the timesteps, one-step denoising, the blur baseline,
sampling) are the write-up's sections 1.2 to 1.5 read in order; each function is short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from fundiff.backends.base import Prediction, VarianceType
from fundiff.diffusion.rules import Rule, current_rule

Predictor = Callable[[torch.Tensor, int], Prediction]
"""A noise estimator with its conditioning bound: (x_t (B, C, H, W), t) -> Prediction."""

Step = Callable[..., torch.Tensor]
"""One strided step: (x_t, prediction, t, t', alphas_cumprod, variance_type, generator) -> x_t'."""

StepCallback = Callable[[int, int, torch.Tensor], None]
"""Called after each step with (index i of the new timestep, that timestep, x at it)."""

MIN_VARIANCE = 1e-20


def blur_denoise(x_t: torch.Tensor, kernel_size: int = 5, sigma: float = 2.0) -> torch.Tensor:
    """Classical denoising: a Gaussian low-pass filter (torchvision's gaussian_blur).

    Args:
        x_t: noisy images, shape (B, C, H, W).
        kernel_size: odd kernel width in pixels.
        sigma: standard deviation of the kernel in pixels.
    """
    # torchvision loads where it is used, not when fundiff is imported
    from torchvision.transforms.functional import gaussian_blur

    return gaussian_blur(x_t, kernel_size=[kernel_size, kernel_size], sigma=[sigma, sigma])


def estimate_x0(x_t: torch.Tensor, eps: torch.Tensor, abar_t: torch.Tensor) -> torch.Tensor:
    """Invert the forward process: ``(x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)``.

    Args:
        x_t: noisy images, shape (B, C, H, W).
        eps: the noise estimate, shape (B, C, H, W).
        abar_t: abar at the timestep of ``x_t``, a 0-d tensor (or one that broadcasts
            against ``x_t``).

    Returns:
        The estimate of x_0, shape (B, C, H, W), in ``x_t``'s dtype.
    """
    abar_t = abar_t.to(x_t.dtype)
    return (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()


def posterior_mean(
    x_t: torch.Tensor, x0_hat: torch.Tensor, abar_t: torch.Tensor, abar_prev: torch.Tensor
) -> torch.Tensor:
    """Mean of q(x_t' | x_t, x0_hat) for a strided step t -> t', shape of ``x_t``.

    Args:
        x_t: current images, shape (B, C, H, W).
        x0_hat: the estimate of x_0, shape (B, C, H, W).
        abar_t: abar at t, a 0-d tensor.
        abar_prev: abar at t' < t, a 0-d tensor.

    Returns:
        The posterior mean, shape (B, C, H, W), in ``x_t``'s dtype.
    """
    abar_t, abar_prev = abar_t.to(x_t.dtype), abar_prev.to(x_t.dtype)
    alpha = abar_t / abar_prev
    beta = 1 - alpha
    return (abar_prev.sqrt() * beta / (1 - abar_t)) * x0_hat + (
        alpha.sqrt() * (1 - abar_prev) / (1 - abar_t)
    ) * x_t


def posterior_log_variance(abar_t: torch.Tensor, abar_prev: torch.Tensor) -> torch.Tensor:
    """log beta_tilde, the log-variance of q(x_t' | x_t, x_0), clamped at 1e-20 before the log.

    Args:
        abar_t: abar at t, a 0-d tensor.
        abar_prev: abar at t' < t, a 0-d tensor.

    Returns:
        log beta_tilde, a 0-d tensor for 0-d arguments, in their dtype.
    """
    beta = 1 - abar_t / abar_prev
    return ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=MIN_VARIANCE).log()


def learned_range_log_variance(
    v: torch.Tensor, abar_t: torch.Tensor, abar_prev: torch.Tensor
) -> torch.Tensor:
    """Log-variance from the model's values v in [-1, 1]: v=-1 gives beta_tilde, v=1 gives beta_t.

    Args:
        v: the model's variance values in [-1, 1], shape (B, C, H, W).
        abar_t: abar at t, a 0-d tensor.
        abar_prev: abar at t' < t, a 0-d tensor.

    Returns:
        The log-variance, shape (B, C, H, W), in ``v``'s dtype.
    """
    beta = (1 - abar_t / abar_prev).to(v.dtype)
    frac = (v + 1) / 2
    return frac * beta.log() + (1 - frac) * posterior_log_variance(abar_t, abar_prev).to(v.dtype)


def ddpm_step(
    x_t: torch.Tensor,
    pred: Prediction,
    t: int,
    t_prev: int,
    alphas_cumprod: torch.Tensor,
    variance_type: VarianceType,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One strided DDPM step from timestep t to t' < t.

    Args:
        x_t: current images, shape (B, C, H, W).
        pred: the model's prediction at (x_t, t).
        t: current timestep.
        t_prev: next (smaller) timestep, >= 0.
        alphas_cumprod: (T,) schedule.
        variance_type: "fixed_small" or "learned_range" (then ``pred.variance`` is required).
        generator: source of the added noise.

    Returns:
        x_t', shape (B, C, H, W), in ``x_t``'s dtype: the posterior mean plus
        exp(0.5 * log variance) times standard normal noise drawn from ``generator``.
    """
    if not 0 <= t_prev < t:
        raise ValueError(f"a step goes from t to a smaller t' >= 0; got t={t}, t'={t_prev}")
    abar_t, abar_prev = alphas_cumprod[t], alphas_cumprod[t_prev]
    x0_hat = estimate_x0(x_t, pred.eps, abar_t)
    mean = posterior_mean(x_t, x0_hat, abar_t, abar_prev)
    if variance_type == "learned_range":
        if pred.variance is None:
            raise ValueError(
                "a learned_range backend must return variance values with its prediction"
            )
        log_var = learned_range_log_variance(pred.variance, abar_t, abar_prev)
    else:
        log_var = posterior_log_variance(abar_t, abar_prev).to(x_t.dtype)
    z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
    return mean + (0.5 * log_var).exp() * z


def writeup_step(
    x_t: torch.Tensor,
    pred: Prediction,
    t: int,
    t_prev: int,
    alphas_cumprod: torch.Tensor,
    variance_type: VarianceType,
    generator: torch.Generator | None = None,
    *,
    sigma: float = 0.0,
) -> torch.Tensor:
    """One strided step from t to t' < t by the write-up's rule (section 1.4).

    ``x_t' = sqrt(abar_t') x0_hat + sqrt(1 - abar_t') eps_hat + sigma z``, with
    ``x0_hat`` the one-step estimate at t. fundiff's loops use sigma = 0, which
    makes the step deterministic (DDIM with eta = 0); ``fundiff.diffusion.rules``
    says why.

    Args:
        x_t: current images, shape (B, C, H, W).
        pred: the model's prediction at (x_t, t); only ``pred.eps`` is used.
        t: current timestep.
        t_prev: next (smaller) timestep, >= 0.
        alphas_cumprod: (T,) schedule.
        variance_type: the backend's; this rule does not use the model's variance.
        generator: source of z when sigma > 0 (nothing is drawn when sigma is 0).
        sigma: the standard deviation of the added noise.

    Returns:
        x_t', shape (B, C, H, W), in ``x_t``'s dtype.
    """
    if not 0 <= t_prev < t:
        raise ValueError(f"a step goes from t to a smaller t' >= 0; got t={t}, t'={t_prev}")
    abar_t, abar_prev = alphas_cumprod[t], alphas_cumprod[t_prev].to(x_t.dtype)
    x0_hat = estimate_x0(x_t, pred.eps, abar_t)
    x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev).sqrt() * pred.eps
    if sigma == 0:
        return x_prev
    z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
    return x_prev + sigma * z


STEPS: dict[Rule, Step] = {"writeup": writeup_step, "ddpm": ddpm_step}
"""The step of each rule."""


def denoise_step(
    x_t: torch.Tensor,
    pred: Prediction,
    t: int,
    t_prev: int,
    alphas_cumprod: torch.Tensor,
    variance_type: VarianceType,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One strided step from t to t' < t by the rule in force (``rules.current_rule()``).

    Args:
        x_t: current images, shape (B, C, H, W).
        pred: the model's prediction at (x_t, t).
        t: current timestep.
        t_prev: next (smaller) timestep, >= 0.
        alphas_cumprod: (T,) schedule.
        variance_type: the backend's.
        generator: source of any noise the rule adds.

    Returns:
        x_t', shape (B, C, H, W), in ``x_t``'s dtype: ``writeup_step``'s or ``ddpm_step``'s.
    """
    return STEPS[current_rule()](x_t, pred, t, t_prev, alphas_cumprod, variance_type, generator)


def iterative_denoise(
    predictor: Predictor,
    x_t: torch.Tensor,
    timesteps: Sequence[int],
    i_start: int,
    alphas_cumprod: torch.Tensor,
    variance_type: VarianceType,
    generator: torch.Generator | None = None,
    *,
    on_step: StepCallback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Denoise ``x_t`` (at ``timesteps[i_start]``) down to ``timesteps[-1]`` (normally 0).

    Args:
        predictor: the noise estimator, conditioning bound (see ``fundiff.diffusion.cfg``).
        x_t: noisy images at timestep ``timesteps[i_start]``, shape (B, C, H, W).
        timesteps: strictly decreasing timesteps, e.g. ``strided_timesteps()``.
        i_start: index into ``timesteps`` where ``x_t`` is.
        alphas_cumprod: (T,) schedule.
        variance_type: the backend's.
        generator: source of any noise a step adds (``denoise_step``).
        on_step: called after each step with (i, timesteps[i], x).
        progress: show a tqdm bar.

    Returns:
        The image at ``timesteps[-1]``: the clean estimate when that is 0; shape and
        dtype of ``x_t``, which stays as it was.
    """
    check_i_start(i_start, timesteps)
    x = x_t
    for i in tqdm(
        range(i_start, len(timesteps) - 1), desc="denoising", disable=not progress, leave=False
    ):
        t, t_prev = timesteps[i], timesteps[i + 1]
        x = denoise_step(x, predictor(x, t), t, t_prev, alphas_cumprod, variance_type, generator)
        if on_step is not None:
            on_step(i + 1, t_prev, x)
    return x


def check_i_start(i_start: int, timesteps: Sequence[int]) -> int:
    """Return ``i_start`` if it indexes ``timesteps`` (all but the last), else raise ValueError.

    Args:
        i_start: the index to check.
        timesteps: the strided timesteps.

    Returns:
        ``i_start``, an int in [0, len(timesteps) - 2].

    Raises:
        ValueError: ``i_start`` is not an int in that range; the message names the range.
    """
    if (
        not isinstance(i_start, int)
        or isinstance(i_start, bool)
        or not 0 <= i_start < len(timesteps) - 1
    ):
        raise ValueError(
            f"i_start must be an index into the {len(timesteps)} timesteps, in [0, {len(timesteps) - 2}]; "
            f"got {i_start!r}"
        )
    return i_start


def sample(
    predictor: Predictor,
    shape: Sequence[int],
    timesteps: Sequence[int],
    alphas_cumprod: torch.Tensor,
    variance_type: VarianceType,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> torch.Tensor:
    """Draw images from pure noise: iterative denoising from ``timesteps[0]``.

    Args:
        predictor: the noise estimator, conditioning bound, as for ``iterative_denoise``.
        shape: (B, C, H, W) of the images to draw.
        timesteps: strictly decreasing timesteps, e.g. ``strided_timesteps()``.
        alphas_cumprod: (T,) schedule.
        variance_type: the backend's.
        generator: source of the initial noise and of the noise added at each step.
        device: where the initial noise is drawn.
        progress: show a tqdm bar.

    Returns:
        Images in about [-1, 1], shape ``shape``, float32, on ``device``.
    """
    x = torch.randn(tuple(shape), generator=generator, device=device)
    return iterative_denoise(
        predictor, x, timesteps, 0, alphas_cumprod, variance_type, generator, progress=progress
    )
