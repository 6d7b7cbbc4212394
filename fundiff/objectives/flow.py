"""Part B, sections 2 and 3: the flow-matching objective.

The probability path interpolates linearly between noise and data:

    x_t = (1 - t) * x0 + t * x1,   x0 ~ N(0, I) (noise),  x1 ~ data,  t ~ U[0, 1]

Its velocity ``d x_t / dt = x1 - x0`` is the regression target of a UNet
``u_theta(x_t, t)`` (Lipman et al., 2023, "Flow Matching for Generative
Modeling"; Liu et al., 2023, "Flow Straight and Fast"). The loss is
``|u_theta(x_t, t) - (x1 - x0)|^2``, averaged over pixels and batch.

The draws (``x0``, ``t`` and the class-dropout mask) are separated from the loss
so that the loss is a pure function of its tensors: that is what lets tests and
the autograder compare a student's loss with this one exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""u(x, t): images (B, C, H, W) and times (B,) to velocities (B, C, H, W)."""


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Point on the straight path from noise to data.

    Args:
        x0: noise, shape (B, C, H, W).
        x1: data, shape (B, C, H, W).
        t: times in [0, 1], shape (B,).

    Returns:
        ``(1 - t) * x0 + t * x1``, shape (B, C, H, W), in ``x1``'s dtype; equals ``x0`` at
        t=0 and ``x1`` at t=1.
    """
    t = t.reshape(-1, *([1] * (x1.ndim - 1))).to(x1.dtype)  # (B, 1, 1, 1)
    return (1 - t) * x0 + t * x1


def target_velocity(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The path's velocity ``x1 - x0``, shape (B, C, H, W).

    Args:
        x0: noise, shape (B, C, H, W).
        x1: data, shape (B, C, H, W).

    Returns:
        ``x1 - x0``, shape (B, C, H, W).
    """
    return x1 - x0


@dataclass(frozen=True)
class FlowDraws:
    """The random inputs of one flow-matching step.

    Attributes:
        x0: noise, shape (B, C, H, W).
        t: times, shape (B,), uniform on [0, 1).
    """

    x0: torch.Tensor
    t: torch.Tensor


def draw_flow_inputs(x1: torch.Tensor, generator: torch.Generator | None = None) -> FlowDraws:
    """Draw noise and times for a batch of data ``x1`` (B, C, H, W).

    Args:
        x1: data, shape (B, C, H, W); the draws take its device and dtype.
        generator: source of the noise and the times.

    Returns:
        The noise x0 (B, C, H, W), drawn first, and the times t (B,), uniform on [0, 1).
    """
    x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    t = torch.rand(x1.shape[0], generator=generator, device=x1.device, dtype=x1.dtype)
    return FlowDraws(x0=x0, t=t)


def flow_matching_loss(
    velocity: VelocityFn, x1: torch.Tensor, x0: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """The flow-matching loss for given draws.

    Args:
        velocity: the model u(x_t, t), conditioning already bound.
        x1: data, shape (B, C, H, W).
        x0: noise, shape (B, C, H, W).
        t: times, shape (B,).

    Returns:
        Scalar ``mean |u(x_t, t) - (x1 - x0)|^2``, a 0-d tensor; zero when ``u`` returns
        ``x1 - x0``.
    """
    x_t = interpolate(x0, x1, t)
    return F.mse_loss(velocity(x_t, t), target_velocity(x0, x1))


def one_hot_with_dropout(
    labels: torch.Tensor,
    num_classes: int,
    p_uncond: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One-hot class vectors, zeroed with probability ``p_uncond`` per example.

    The zero vector is the "no class" input that classifier-free guidance uses
    for its unconditional prediction, so training with dropout teaches both.

    Args:
        labels: integer classes, shape (B,).
        num_classes: length of each vector.
        p_uncond: probability in [0, 1] that an example's vector is zeroed.
        generator: source of the dropout mask.

    Returns:
        float32 tensor (B, num_classes), on the labels' device.
    """
    c = F.one_hot(labels, num_classes).float()  # (B, num_classes)
    keep = torch.rand(labels.shape[0], generator=generator, device=labels.device) >= p_uncond
    return c * keep[:, None]
