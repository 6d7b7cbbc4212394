"""Part B, section 1: the single-step denoiser and its pure-noise variant.

The noising process is ``z = x + sigma * eps`` with ``eps ~ N(0, I)``; a UNet
``D_theta`` is trained with the L2 loss ``|D_theta(z) - x|^2``. The noise is
drawn afresh for every batch, so the model never sees the same noisy image twice.

In the pure-noise variant the input is ``eps`` alone and the target a clean
digit. The input then carries no information about the target, so the
L2-optimal output is the mean of the training digits: the model learns to draw
the average digit, whatever noise it is given.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def add_noise(
    x: torch.Tensor, sigma: float | torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Noise images: ``z = x + sigma * eps``.

    Args:
        x: clean images in [0, 1], shape (B, C, H, W).
        sigma: noise level, a float or a tensor broadcastable to ``x``.
        generator: source of ``eps``; on the device of ``x``.

    Returns:
        z, the shape and dtype of ``x``, which stays as it was.
    """
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + sigma * eps


def denoiser_loss(
    model: nn.Module, x: torch.Tensor, sigma: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mean squared error between ``model(x + sigma * eps)`` and ``x``.

    Args:
        model: maps (B, C, H, W) to (B, C, H, W).
        x: clean images in [0, 1], shape (B, C, H, W).
        sigma: noise level used in training.
        generator: source of the noise.

    Returns:
        Scalar loss, a 0-d tensor in ``x``'s dtype.
    """
    return F.mse_loss(model(add_noise(x, sigma, generator)), x)


def pure_noise_loss(
    model: nn.Module, x: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mean squared error between ``model(eps)`` and a clean digit ``x``.

    Args:
        model: maps (B, C, H, W) to (B, C, H, W).
        x: clean images in [0, 1], shape (B, C, H, W); the targets.
        generator: source of the input noise.

    Returns:
        Scalar loss, a 0-d tensor in ``x``'s dtype.
    """
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return F.mse_loss(model(eps), x)
