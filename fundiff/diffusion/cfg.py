"""Part A, 1.6: predictors, with and without classifier-free guidance.

A predictor binds a backend to its conditioning, so every loop can take one
``(x_t, t) -> Prediction`` function. The guided predictor evaluates the
conditional and the unconditional ("" prompt) estimates in one batched call and
combines the noise estimates with ``fundiff.guidance.classifier_free_guidance``:

    eps = eps_uncond + scale * (eps_cond - eps_uncond)

The variance values, where the backend predicts them, are the conditional ones.
"""

from __future__ import annotations

import torch

from fundiff.backends.base import Backend, Prediction
from fundiff.diffusion.denoise import Predictor
from fundiff.guidance import classifier_free_guidance
from fundiff.writeup import PART_A

DEFAULT_GUIDANCE = PART_A.cfg_scale
"""The write-up's guidance scale (1.6 onwards)."""


def conditional(backend: Backend, cond: torch.Tensor) -> Predictor:
    """The backend's estimate under one conditioning, no guidance.

    Args:
        backend: the model.
        cond: conditioning from ``backend.encode``, batch 1 (shared) or B.

    Returns:
        A predictor ``(x_t (B, C, H, W), t) -> Prediction``.
    """
    return lambda x, t: backend.predict(x, t, cond)


def guided_prediction(
    backend: Backend,
    x_t: torch.Tensor,
    t: int,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    scale: float,
) -> Prediction:
    """One guided evaluation: both estimates in a single batched call.

    Args:
        backend: the model.
        x_t: (B, C, H, W).
        t: timestep.
        cond: conditioning for the prompt, batch 1 or B.
        uncond: conditioning for "", batch 1 or B.
        scale: guidance scale; 1 is ``cond`` alone, 0 is ``uncond`` alone.

    Returns:
        The guided prediction: its eps is ``classifier_free_guidance`` of the prompt's and
        the empty prompt's estimates, shape (B, C, H, W); its variance values, where the
        backend predicts them, are the prompt's (conditional) ones, unguided; else None.
    """
    b = x_t.shape[0]
    both = torch.cat([broadcast_batch(cond, b), broadcast_batch(uncond, b)])  # (2B, ...)
    pred = backend.predict(torch.cat([x_t, x_t]), t, both)
    eps_c, eps_u = pred.eps.chunk(2)
    variance = None if pred.variance is None else pred.variance[:b]
    return Prediction(classifier_free_guidance(eps_c, eps_u, scale), variance)


def guided(
    backend: Backend, cond: torch.Tensor, uncond: torch.Tensor, scale: float = DEFAULT_GUIDANCE
) -> Predictor:
    """The classifier-free-guided predictor for one prompt.

    Args:
        backend: the model.
        cond: conditioning for the prompt, batch 1 or B.
        uncond: conditioning for "", batch 1 or B.
        scale: guidance scale; 1 is ``cond`` alone, 0 is ``uncond`` alone.

    Returns:
        A predictor ``(x_t (B, C, H, W), t) -> Prediction`` that calls ``guided_prediction``.
    """
    return lambda x, t: guided_prediction(backend, x, t, cond, uncond, scale)


def broadcast_batch(c: torch.Tensor, b: int) -> torch.Tensor:
    """Broadcast a conditioning of batch 1 to batch b (a batch-b one passes through).

    Args:
        c: a conditioning, shape (1, ...) or (b, ...).
        b: the images' batch size.

    Returns:
        ``c`` as shape (b, ...) (a view where it was batch 1).

    Raises:
        ValueError: ``c``'s batch is neither 1 nor b.
    """
    if c.shape[0] == b:
        return c
    if c.shape[0] != 1:
        raise ValueError(
            f"conditioning has batch {c.shape[0]}, images have batch {b}; give batch 1 or {b}"
        )
    return c.expand(b, *c.shape[1:])
