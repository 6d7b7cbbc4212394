"""The MNIST diffusion backend's training objective: epsilon prediction with class dropout.

The forward process is DeepFloyd IF's (``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``
on the cosine schedule of ``fundiff.schedules``); the network sees t / T and a one-hot
class vector, zeroed with probability ``p_uncond`` so that classifier-free guidance works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fundiff.objectives.flow import one_hot_with_dropout


def diffusion_loss(
    model: nn.Module,
    x01: torch.Tensor,
    labels: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    p_uncond: float,
    generator: torch.Generator | None = None,
    num_classes: int = 10,
) -> torch.Tensor:
    """Epsilon-prediction loss: ``|eps_theta(x_t, t, c) - eps|^2``.

    Args:
        model: ``ClassConditionalUNet``-like, called as ``model(x_t, t / T, c)``.
        x01: digits in [0, 1], shape (B, 1, 28, 28); mapped to [-1, 1].
        labels: digit labels, shape (B,).
        alphas_cumprod: (T,) schedule, on the data's device.
        p_uncond: class-dropout probability.
        generator: source of t, eps and the dropout mask.
        num_classes: length of the one-hot vector.

    Returns:
        Scalar loss.
    """
    x0 = 2 * x01 - 1
    b = x0.shape[0]
    n = alphas_cumprod.shape[0]
    t = torch.randint(0, n, (b,), generator=generator, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    abar = alphas_cumprod[t].to(x0.dtype).view(b, 1, 1, 1)
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    c = one_hot_with_dropout(labels, num_classes, p_uncond, generator)
    return F.mse_loss(model(x_t, t.to(x0.dtype) / n, c), eps)
