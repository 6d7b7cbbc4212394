"""Part A, 1.8-1.9: visual anagrams and hybrid images, as combined noise estimates.

Both replace the noise estimate at each step of the ordinary sampler.

- Visual anagrams (Geng, Park & Owens, 2024): prompt k is seen through view k.
  Each view's guided estimate is taken on the viewed image and mapped back by
  the view's inverse; the estimates are averaged. The image then reads as
  prompt k under view k (e.g. upright and upside down).
- Factorized diffusion (Geng et al., 2024), of which hybrid images are one case:
  linear components that sum to the identity (a low-pass and a high-pass
  filter; grayscale and colour residual); component k of the estimate comes
  from prompt k: ``eps = lowpass(eps_1) + highpass(eps_2)``.

Variance values (DeepFloyd IF) are mapped back by ``View.invert_values`` and
averaged, in both cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from fundiff.backends.base import Backend, Prediction
from fundiff.diffusion.cfg import DEFAULT_GUIDANCE, guided_prediction
from fundiff.diffusion.denoise import Predictor
from fundiff.diffusion.views import View
from fundiff.writeup import PART_A

Component = Callable[[torch.Tensor], torch.Tensor]

HYBRID_KERNEL_64 = PART_A.hybrid_kernel  # the write-up's low-pass at 64 px
HYBRID_SIGMA_64 = PART_A.hybrid_sigma


def mean_variance(variances: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    """The mean of the views' variance values, or None where a view has none (a fixed_small model).

    Args:
        variances: one per view, each shape (B, C, H, W) or None.

    Returns:
        Their mean, shape (B, C, H, W), or None.
    """
    if any(v is None for v in variances):
        return None
    return torch.stack(list(variances)).mean(0)  # type: ignore[arg-type]


def anagram(
    backend: Backend,
    conds: Sequence[torch.Tensor],
    views: Sequence[View],
    uncond: torch.Tensor,
    scale: float = DEFAULT_GUIDANCE,
) -> Predictor:
    """The visual-anagram predictor: prompt k under view k, estimates averaged.

    Args:
        backend: the model.
        conds: one conditioning per view.
        views: the views, e.g. (IDENTITY, FLIP).
        uncond: the "" conditioning.
        scale: guidance scale of each estimate.

    Returns:
        A predictor ``(x_t (B, C, H, W), t) -> Prediction``: the mean over k of view k's
        guided estimate for prompt k on ``views[k].apply(x_t)``, mapped back by
        ``views[k].invert``; variance values (where the backend gives them) mapped back
        by ``views[k].invert_values`` and averaged.
    """
    if len(conds) != len(views) or not views:
        raise ValueError(
            f"an anagram needs one prompt per view; got {len(conds)} prompts and {len(views)} views"
        )

    def predict(x: torch.Tensor, t: int) -> Prediction:
        eps, var = [], []
        for cond, view in zip(conds, views, strict=True):
            p = guided_prediction(backend, view.apply(x), t, cond, uncond, scale)
            eps.append(view.invert(p.eps))
            var.append(None if p.variance is None else view.invert_values(p.variance))
        return Prediction(torch.stack(eps).mean(0), mean_variance(var))

    return predict


def factorized(
    backend: Backend,
    conds: Sequence[torch.Tensor],
    components: Sequence[Component],
    uncond: torch.Tensor,
    scale: float | Sequence[float] = DEFAULT_GUIDANCE,
) -> Predictor:
    """Factorized diffusion: component k of the noise estimate comes from prompt k.

    Args:
        backend: the model.
        conds: one conditioning per component.
        components: linear maps that sum to the identity (e.g. ``frequency_split``).
        uncond: the "" conditioning.
        scale: guidance scale of every estimate, or one scale per component.

    Returns:
        A predictor ``(x_t (B, C, H, W), t) -> Prediction`` whose eps is the sum over k of
        ``components[k]`` applied to prompt k's guided estimate; variance values (where the
        backend gives them) averaged.
    """
    if len(conds) != len(components) or not components:
        raise ValueError(
            f"a factorization needs one prompt per component; got {len(conds)} prompts and {len(components)} components"
        )
    scales = [float(scale)] * len(conds) if isinstance(scale, (int, float)) else list(scale)
    if len(scales) != len(conds):
        raise ValueError(f"got {len(scales)} guidance scales for {len(conds)} components")

    def predict(x: torch.Tensor, t: int) -> Prediction:
        preds = [
            guided_prediction(backend, x, t, c, uncond, s)
            for c, s in zip(conds, scales, strict=True)
        ]
        eps = sum((f(p.eps) for f, p in zip(components, preds, strict=True)), torch.zeros_like(x))
        return Prediction(eps, mean_variance([p.variance for p in preds]))

    return predict


def hybrid_filter(size: int) -> tuple[int, float]:
    """Gaussian kernel width and sigma for images of ``size`` pixels: 33 and 2 at 64, scaled.

    Args:
        size: the image width in pixels.

    Returns:
        (kernel, sigma): an odd kernel width >= 3 and the standard deviation, both in pixels.
    """
    sigma = HYBRID_SIGMA_64 * size / 64
    kernel = max(3, round(HYBRID_KERNEL_64 * size / 64) | 1)  # odd
    return kernel, sigma


def frequency_split(size: int) -> tuple[Component, Component]:
    """(low-pass, high-pass) for ``size``-pixel images; they sum to the identity.

    Args:
        size: the image width in pixels; sets the Gaussian filter (``hybrid_filter``).

    Returns:
        Two maps of (B, C, H, W) tensors to tensors of the same shape: a Gaussian blur
        and the image minus that blur.
    """
    # torchvision loads where it is used, not when fundiff is imported
    from torchvision.transforms.functional import gaussian_blur

    kernel, sigma = hybrid_filter(size)

    def low(x: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(x, [kernel, kernel], [sigma, sigma])

    return low, lambda x: x - low(x)


def grayscale_colour_split() -> tuple[Component, Component]:
    """(grayscale, colour residual): the channel mean and what is left; they sum to the identity."""

    def gray(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=-3, keepdim=True).expand_as(x)

    return gray, lambda x: x - gray(x)


def hybrid(
    backend: Backend,
    cond_low: torch.Tensor,
    cond_high: torch.Tensor,
    uncond: torch.Tensor,
    scale: float = DEFAULT_GUIDANCE,
) -> Predictor:
    """Hybrid image: ``lowpass(eps(prompt_low)) + highpass(eps(prompt_high))``.

    Args:
        backend: the model; its image width sets the filter (``frequency_split``).
        cond_low: conditioning of the prompt seen from afar (low frequencies).
        cond_high: conditioning of the prompt seen up close (high frequencies).
        uncond: the "" conditioning.
        scale: guidance scale of each estimate.

    Returns:
        A predictor ``(x_t (B, C, H, W), t) -> Prediction``.
    """
    low, high = frequency_split(backend.image_shape[-1])
    return factorized(backend, [cond_low, cond_high], [low, high], uncond, scale)
