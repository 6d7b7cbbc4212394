"""Noise schedules as small pure functions of tensors.

DeepFloyd IF is trained with 1000 steps of the cosine schedule of Nichol &
Dhariwal (2021), "Improved Denoising Diffusion Probabilistic Models", which
diffusers calls ``squaredcos_cap_v2``:

    alpha_bar(s) = cos^2(((s + 0.008) / 1.008) * pi / 2),  s in [0, 1]
    beta_t = min(1 - alpha_bar((t + 1) / T) / alpha_bar(t / T), 0.999)
    alphas_cumprod[t] = prod_{k <= t} (1 - beta_k)

The course samples on a strided subset of the T timesteps: 990, 960, ..., 0.
"""

from __future__ import annotations

import math

import torch

from fundiff.writeup import PART_A

MAX_BETA = 0.999


def cosine_alphas_cumprod(
    num_steps: int = 1000, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """alphas_cumprod of the cosine ("squaredcos_cap_v2") schedule.

    Args:
        num_steps: T, the number of diffusion steps.
        dtype: dtype of the result (computed in float64 first).

    Returns:
        (T,) decreasing from about 1 at t=0 towards 0 at t=T-1.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")

    def alpha_bar(s: float) -> float:
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = torch.tensor(
        [
            min(1 - alpha_bar((t + 1) / num_steps) / alpha_bar(t / num_steps), MAX_BETA)
            for t in range(num_steps)
        ],
        dtype=torch.float64,
    )
    return torch.cumprod(1 - betas, dim=0).to(dtype)


def strided_timesteps(
    start: int = PART_A.first_timestep, stride: int = PART_A.stride, end: int = 0
) -> list[int]:
    """Timesteps from ``start`` down to ``end`` by ``stride``: [990, 960, ..., 0] by default.

    Args:
        start: the first (largest) timestep.
        stride: the step between timesteps, >= 1.
        end: the last (smallest) timestep.

    Returns:
        The timesteps, strictly decreasing from ``start`` to ``end``.

    Raises:
        ValueError: if the range is empty or does not land on ``end``.
    """
    if stride < 1 or start < end or (start - end) % stride:
        raise ValueError(
            f"strided timesteps need start >= end and (start - end) divisible by stride; "
            f"got start={start}, stride={stride}, end={end}"
        )
    return list(range(start, end - 1, -stride))
