"""Part A, 1.7: image-to-image translation (SDEdit), inpainting and text-conditional editing.

- SDEdit (Meng et al., 2022): noise a real image to ``timesteps[i_start]`` with the
  forward process, then denoise it; a small ``i_start`` (much noise) invents more,
  a large one stays close to the input. With a prompt other than the image's own
  subject this is text-conditional image-to-image translation (1.7.3).
- Inpainting (RePaint, Lugmayr et al., 2022): denoise from pure noise and, after
  every step, put back the known region: ``x_t' <- m * x_t' + (1 - m) * forward(x_orig, t')``.
  At the last timestep (0, the clean end) the known region is the original
  itself, so the result equals the original wherever the mask is 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from fundiff.backends.base import VarianceType
from fundiff.diffusion.denoise import Predictor, check_i_start, denoise_step, iterative_denoise
from fundiff.diffusion.forward import forward
from fundiff.writeup import PART_A

SDEDIT_I_STARTS: tuple[int, ...] = PART_A.i_starts
"""The write-up's noise levels for SDEdit, as indices into the strided timesteps."""


def sdedit(
    predictor: Predictor,
    image: torch.Tensor,
    i_start: int,
    timesteps: Sequence[int],
    alphas_cumprod: torch.Tensor,
    variance_type: VarianceType,
    generator: torch.Generator | None = None,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """Project ``image`` back onto the image manifold from ``timesteps[i_start]``.

    Args:
        predictor: the noise estimator, conditioning bound (usually guided).
        image: the images to edit, shape (B, C, H, W), in [-1, 1].
        i_start: index into ``timesteps`` of the noise level to start from; small: much
            noise, a new image; large: close to ``image``.
        timesteps: strictly decreasing timesteps, e.g. ``strided_timesteps()``.
        alphas_cumprod: (T,) schedule.
        variance_type: the backend's.
        generator: source of the forward noise and of the noise added at each step.
        progress: show a tqdm bar.

    Returns:
        The edited images, shape (B, C, H, W), in ``image``'s dtype, at ``timesteps[-1]``
        (clean when that is 0).

    Raises:
        ValueError: ``i_start`` does not index ``timesteps`` (all but the last).
    """
    check_i_start(i_start, timesteps)
    x_t = forward(image, timesteps[i_start], alphas_cumprod, generator)
    return iterative_denoise(
        predictor,
        x_t,
        timesteps,
        i_start,
        alphas_cumprod,
        variance_type,
        generator,
        progress=progress,
    )


def inpaint(
    predictor: Predictor,
    original: torch.Tensor,
    mask: torch.Tensor,
    timesteps: Sequence[int],
    alphas_cumprod: torch.Tensor,
    variance_type: VarianceType,
    generator: torch.Generator | None = None,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """Regenerate where ``mask`` is 1 and keep ``original`` where it is 0.

    Args:
        predictor: the noise estimator (usually guided).
        original: (B, C, H, W) in [-1, 1].
        mask: 1 where new content goes, 0 where the original stays; shape (H, W),
            (1, 1, H, W), (B, 1, H, W) or that of ``original``.
        timesteps: strictly decreasing, ending at 0.
        alphas_cumprod: (T,) schedule.
        variance_type: the backend's.
        generator: source of all noise (start, steps, re-noised original).
        progress: show a tqdm bar.

    Returns:
        (B, C, H, W), in ``original``'s dtype: equal to ``original`` wherever ``mask`` is 0.
        ``original`` and ``mask`` stay as they were.
    """
    mask = check_mask(mask, original)
    x = torch.randn(
        original.shape, generator=generator, device=original.device, dtype=original.dtype
    )
    for i in tqdm(range(len(timesteps) - 1), desc="inpainting", disable=not progress, leave=False):
        t, t_prev = timesteps[i], timesteps[i + 1]
        x = denoise_step(x, predictor(x, t), t, t_prev, alphas_cumprod, variance_type, generator)
        known = original if t_prev == 0 else forward(original, t_prev, alphas_cumprod, generator)
        x = mask * x + (1 - mask) * known
    return x


def check_mask(mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Return ``mask`` as a float tensor broadcastable to ``image``, or raise ValueError.

    Args:
        mask: 1 where new content goes, 0 where the original stays; shape (H, W),
            (1, 1, H, W), (B, 1, H, W) or that of ``image``.
        image: the images, shape (B, C, H, W).

    Returns:
        The mask in ``image``'s dtype and on its device; an (H, W) mask as (1, 1, H, W).

    Raises:
        ValueError: the mask's size differs from the image's or does not broadcast to it;
            the message says why.
    """
    h, w = image.shape[-2:]
    if mask.shape[-2:] != (h, w):
        raise ValueError(
            f"mask is {tuple(mask.shape[-2:])} pixels but the image is {(h, w)}; make the mask the image's size"
        )
    if mask.ndim == 2:
        mask = mask[None, None]
    try:
        torch.broadcast_shapes(mask.shape, image.shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not fit images of shape {tuple(image.shape)}"
        ) from None
    return mask.to(device=image.device, dtype=image.dtype)
