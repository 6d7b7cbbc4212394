"""Part A, 1.1: the forward (noising) process of a DDPM.

    x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * eps,   eps ~ N(0, I)

(Ho, Jain & Abbeel, 2020, "Denoising Diffusion Probabilistic Models", eq. 4.)
"""

from __future__ import annotations

import torch


def check_timestep(t: int, alphas_cumprod: torch.Tensor) -> int:
    """Return ``t`` if it indexes the schedule, else raise ValueError naming the range.

    Args:
        t: the timestep to check.
        alphas_cumprod: (T,) schedule.

    Returns:
        ``t``, an int in [0, T).

    Raises:
        ValueError: ``t`` is not an int in [0, T).
    """
    n = alphas_cumprod.shape[0]
    if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < n:
        raise ValueError(f"timestep must be an integer in [0, {n - 1}], got {t!r}")
    return t


def forward(
    x0: torch.Tensor,
    t: int,
    alphas_cumprod: torch.Tensor,
    generator: torch.Generator | None = None,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """Noise a clean image to timestep ``t``.

    Args:
        x0: clean images in [-1, 1], shape (B, C, H, W).
        t: timestep in [0, T).
        alphas_cumprod: (T,) the schedule's cumulative products.
        generator: source of ``eps`` when it is not given.
        eps: the noise to use, shape of ``x0``; drawn from ``generator`` if None.

    Returns:
        x_t, shape (B, C, H, W), in ``x0``'s dtype; ``x0`` and ``eps`` stay as they were.
    """
    abar = alphas_cumprod[check_timestep(t, alphas_cumprod)].to(x0.dtype)
    if eps is None:
        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * eps
