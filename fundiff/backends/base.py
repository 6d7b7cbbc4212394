"""The backend contract shared by every Part A loop.

A backend is a noise-predicting diffusion model with its schedule and its
prompt encoder. Loops in ``fundiff.diffusion`` only ever call ``encode`` and
``predict`` and read ``alphas_cumprod``, ``image_shape`` and ``variance_type``,
so the same loop drives DeepFloyd IF on a GPU and the MNIST model on a laptop.

Images live in [-1, 1], shape (B, C, H, W), on ``device``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch

VarianceType = Literal["learned_range", "fixed_small"]


@dataclass(frozen=True)
class Prediction:
    """One model evaluation at (x_t, t).

    Attributes:
        eps: the noise estimate, shape (B, C, H, W).
        variance: for ``learned_range`` backends, the model's variance values
            v in [-1, 1] that interpolate the log-variance between the
            posterior's (v=-1) and beta_t's (v=1), shape (B, C, H, W); None for
            ``fixed_small`` backends.
    """

    eps: torch.Tensor
    variance: torch.Tensor | None = None


@runtime_checkable
class Backend(Protocol):
    """A diffusion model the Part A loops can drive.

    Attributes:
        name: short name shown in figures ("mnist", "deepfloyd").
        image_shape: (C, H, W) of the images it denoises.
        alphas_cumprod: (T,) cumulative products of the schedule, on ``device``.
        variance_type: "learned_range" (IF: the model predicts it) or
            "fixed_small" (the posterior variance).
        device: where ``predict`` runs.
        prompts: the prompts ``encode`` accepts, or None if it accepts any text.
    """

    name: str
    image_shape: tuple[int, int, int]
    alphas_cumprod: torch.Tensor
    variance_type: VarianceType
    device: torch.device
    prompts: tuple[str, ...] | None

    def encode(self, prompt: str) -> torch.Tensor:
        """The conditioning of ``prompt``; "" is the unconditional prompt.

        Args:
            prompt: the text prompt, one of ``prompts`` where that is not None.

        Returns:
            The conditioning tensor ``predict`` takes, with batch size 1: (1, 10) one-hot
            for MNIST, (1, 77, D) T5 embeddings for DeepFloyd IF.

        Raises:
            ValueError: for a prompt the backend does not know, naming the known ones.
        """
        ...

    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        """Predict the noise in ``x_t`` (B, C, H, W) at timestep ``t`` under ``cond``.

        Args:
            x_t: noisy images, shape (B, C, H, W) with (C, H, W) = ``image_shape``.
            t: the timestep, an int in [0, T).
            cond: conditioning from ``encode``, batch size 1 (shared) or B.

        Returns:
            The noise estimate (and, for ``learned_range``, the variance values), each of
            shape (B, C, H, W).
        """
        ...
