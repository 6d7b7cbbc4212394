"""Views for visual anagrams: invertible pixel transforms of an image.

A view maps an image to another image; its inverse maps it back. Geometric
views (flips, rotations, transposes, pixel permutations) move pixels, so they
apply equally to noise estimates and to per-pixel variance values. Negation
changes the sign of the image and so of the noise, but not of a variance:
``invert_values`` says how a view's inverse treats unsigned per-pixel values.
(Geng, Park & Owens, 2024, "Visual Anagrams".)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Transform = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class View:
    """An invertible transform of (..., H, W) images.

    Attributes:
        name: shown in figures and errors.
        apply: image -> viewed image.
        invert: viewed image (or noise estimate) -> image frame.
        invert_values: the inverse for unsigned per-pixel values (variances).
    """

    name: str
    apply: Transform
    invert: Transform
    invert_values: Transform


def _geometric(name: str, apply: Transform, invert: Transform) -> View:
    return View(name, apply, invert, invert)


IDENTITY = _geometric("identity", lambda x: x, lambda x: x)
FLIP = _geometric("flip", lambda x: x.flip(-2), lambda x: x.flip(-2))  # upside down
ROTATE_90 = _geometric("rotate90", lambda x: x.rot90(1, (-2, -1)), lambda x: x.rot90(-1, (-2, -1)))
ROTATE_180 = _geometric(
    "rotate180", lambda x: x.rot90(2, (-2, -1)), lambda x: x.rot90(-2, (-2, -1))
)
TRANSPOSE = _geometric("transpose", lambda x: x.transpose(-1, -2), lambda x: x.transpose(-1, -2))
NEGATE = View("negate", lambda x: -x, lambda x: -x, lambda x: x)

VIEWS: dict[str, View] = {
    v.name: v for v in (IDENTITY, FLIP, ROTATE_90, ROTATE_180, TRANSPOSE, NEGATE)
}


def permutation_view(perm: torch.Tensor, name: str = "permute") -> View:
    """A view that shuffles pixels: pixel k of the view is pixel ``perm[k]`` of the image.

    Args:
        perm: a permutation of range(H * W), shape (H * W,), int64.
        name: shown in figures.
    """
    n = perm.numel()
    if not torch.equal(perm.sort().values, torch.arange(n, device=perm.device)):
        raise ValueError(f"perm must be a permutation of range({n}), e.g. torch.randperm({n})")
    inverse = perm.argsort()

    def shuffle(p: torch.Tensor) -> Transform:
        def f(x: torch.Tensor) -> torch.Tensor:
            if x.shape[-2] * x.shape[-1] != n:
                raise ValueError(
                    f"permutation of {n} pixels applied to a {tuple(x.shape[-2:])} image"
                )
            flat = x.flatten(-2)  # (..., H*W)
            return flat[..., p.to(x.device)].view_as(x)

        return f

    return _geometric(name, shuffle(perm), shuffle(inverse))


def get_view(name: str) -> View:
    """The named view; ValueError listing the names for an unknown one.

    Args:
        name: a key of ``VIEWS``: identity, flip, rotate90, rotate180, transpose or negate.

    Returns:
        The view.

    Raises:
        ValueError: an unknown name; the message lists the known ones.
    """
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}; choose from {', '.join(VIEWS)}")
    return VIEWS[name]
