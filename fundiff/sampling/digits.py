"""Digits from the MNIST diffusion backend: the write-up's strided sampler with classifier-free guidance."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fundiff.backends.base import Backend


def sample_digits(
    backend: Backend,
    labels: torch.Tensor,
    guidance: float = 5.0,
    generator: torch.Generator | None = None,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """Draw one digit per label with the write-up's strided sampler and classifier-free guidance.

    Args:
        backend: the MNIST backend (``fundiff.backends.mnist.MNISTBackend``), or one like it
            with ``num_classes``, ``alphas_cumprod`` and ``device``.
        labels: digits to draw, shape (B,), on the backend's device.
        guidance: guidance scale (1: the conditional model alone).
        generator: source of every draw.
        progress: show a tqdm bar.

    Returns:
        (B, 1, 28, 28) in [0, 1] (clamped), the range of MNIST and of the classifier's input.
    """
    from fundiff.diffusion.cfg import guided
    from fundiff.diffusion.denoise import sample
    from fundiff.schedules import strided_timesteps

    conds = F.one_hot(labels, backend.num_classes).float()  # (B, 10)
    predictor = guided(backend, conds, torch.zeros_like(conds), guidance)
    images = sample(
        predictor, (labels.shape[0], *backend.image_shape), strided_timesteps(), backend.alphas_cumprod,
        backend.variance_type, generator, device=backend.device, progress=progress,
    )  # fmt: skip
    return ((images + 1) / 2).clamp(0, 1)
