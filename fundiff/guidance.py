"""Classifier-free guidance (Ho & Salimans, 2022), shared by Part A and Part B.

The guided estimate extrapolates from the unconditional prediction through the
conditional one: ``u + scale * (c - u)``. It is computed with ``torch.lerp``,
whose formula returns ``uncond`` exactly at scale 0 and ``cond`` exactly at
scale 1, so the two identities the course states hold bit for bit.
"""

from __future__ import annotations

import math

import torch


def classifier_free_guidance(
    cond: torch.Tensor, uncond: torch.Tensor, scale: float
) -> torch.Tensor:
    """Combine a conditional and an unconditional prediction.

    Args:
        cond: prediction with the condition (a noise estimate or a velocity), any shape.
        uncond: prediction without it, the same shape.
        scale: guidance scale gamma; 0 gives ``uncond``, 1 gives ``cond``, > 1
            pushes past ``cond``.

    Returns:
        ``uncond + scale * (cond - uncond)``, the shape and dtype of ``cond``.

    Raises:
        ValueError: if ``scale`` is not finite or the shapes differ.
    """
    if not math.isfinite(scale):
        raise ValueError(f"guidance scale must be a finite number, got {scale}")
    if cond.shape != uncond.shape:
        raise ValueError(
            f"conditional and unconditional predictions differ in shape: "
            f"{tuple(cond.shape)} vs {tuple(uncond.shape)}"
        )
    return torch.lerp(uncond, cond, scale)
