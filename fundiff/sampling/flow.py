"""Part B samplers: Euler integration of a learned flow, with optional guidance.

Starting from noise x0 ~ N(0, I) at t = 0, the ODE dx/dt = u(x, t) is integrated
to t = 1 with ``steps`` equal Euler steps: ``x <- x + u(x, t_i) / steps`` with
``t_i = i / steps``. Euler is exact whenever trajectories are straight lines
run at constant speed: for a constant field, and for the field linear in x,
``u(x, t) = (x1 - x) / (1 - t)``, that carries every point to one data point x1
(the flow-matching optimum for a one-image data set). The tests check both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from fundiff.guidance import classifier_free_guidance
from fundiff.objectives.flow import VelocityFn


def euler_integrate(
    velocity: VelocityFn,
    x0: torch.Tensor,
    steps: int,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t=0 to t=1 with Euler steps.

    Args:
        velocity: u(x, t) with x (B, C, H, W) and t (B,).
        x0: the starting point (noise), shape (B, C, H, W).
        steps: number of Euler steps, >= 1.
        progress: show a tqdm bar.

    Returns:
        x at t=1, shape and dtype of ``x0``, which stays as it was.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x = x0
    dt = 1.0 / steps
    for i in tqdm(range(steps), desc="sampling (Euler)", disable=not progress, leave=False):
        t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=x.dtype)
        x = x + dt * velocity(x, t)
    return x


def class_velocity(
    model: nn.Module, labels: torch.Tensor, num_classes: int, guidance: float
) -> VelocityFn:
    """The guided velocity of a class-conditioned UNet for fixed labels.

    Args:
        model: ``ClassConditionalUNet``-like, called as ``model(x, t, c)``.
        labels: integer classes, shape (B,).
        num_classes: length of the one-hot vector.
        guidance: classifier-free guidance scale; 1 is the conditional model alone.

    Returns:
        u(x, t) = uncond + guidance * (cond - uncond), with uncond at the zero class vector.
    """
    c = torch.nn.functional.one_hot(labels, num_classes).float()  # (B, num_classes)
    null = torch.zeros_like(c)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return classifier_free_guidance(model(x, t, c), model(x, t, null), guidance)

    return velocity


@torch.no_grad()
def sample_time_conditional(
    model: nn.Module,
    num: int,
    steps: int,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str = "cpu",
    image_shape: Sequence[int] = (1, 28, 28),
    progress: bool = False,
) -> torch.Tensor:
    """Draw ``num`` images from a time-conditioned flow UNet.

    Args:
        model: called as ``model(x, t)`` with x (num, C, H, W) and t (num,).
        num: how many images.
        steps: Euler steps.
        generator: source of the starting noise, on ``device``.
        device: where the noise is drawn (the model's device).
        image_shape: (C, H, W).
        progress: show a tqdm bar.

    Returns:
        Images, shape (num, C, H, W), float32, on ``device``, roughly in [0, 1].
    """
    x0 = torch.randn((num, *image_shape), generator=generator, device=device)
    return euler_integrate(lambda x, t: model(x, t), x0, steps, progress=progress)


@torch.no_grad()
def sample_class_conditional(
    model: nn.Module,
    labels: torch.Tensor,
    steps: int,
    guidance: float = 5.0,
    generator: torch.Generator | None = None,
    *,
    num_classes: int = 10,
    image_shape: Sequence[int] = (1, 28, 28),
    progress: bool = False,
) -> torch.Tensor:
    """Draw one image per label from a class-conditioned flow UNet with guidance.

    Args:
        model: called as ``model(x, t, c)``.
        labels: integer classes, shape (B,), on the model's device.
        steps: Euler steps.
        guidance: classifier-free guidance scale.
        generator: source of the starting noise, on the labels' device.
        num_classes: length of the one-hot vector.
        image_shape: (C, H, W).
        progress: show a tqdm bar.

    Returns:
        Images, shape (B, C, H, W), float32, on the labels' device, roughly in [0, 1].
    """
    x0 = torch.randn((labels.shape[0], *image_shape), generator=generator, device=labels.device)
    velocity = class_velocity(model, labels, num_classes, guidance)
    return euler_integrate(velocity, x0, steps, progress=progress)
