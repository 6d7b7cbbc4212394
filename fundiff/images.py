"""Images from files and package assets, as tensors a backend can denoise.

Files are decoded by torchvision (PNG, JPEG, GIF, WEBP), converted to the
backend's channels, resized so that the shorter side fits and center-cropped
to the backend's square resolution, and mapped to [-1, 1]. A one-channel
backend (MNIST: white strokes on black) gets dark-on-light drawings inverted,
so a digit drawn with a pen on paper works as it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF


class ImageError(Exception):
    """An image file is missing or cannot be decoded; the message names it and what to do."""


def load_image(
    path: str | os.PathLike[str],
    image_shape: tuple[int, int, int],
    *,
    invert: bool | None = None,
) -> torch.Tensor:
    """Read an image file for a backend.

    Args:
        path: the file.
        image_shape: the backend's (C, H, W); C is 1 or 3, H == W.
        invert: invert intensities; None inverts one-channel images whose mean is
            above one half (a dark drawing on a light background).

    Returns:
        (1, C, H, W) float32 in [-1, 1].

    Raises:
        ImageError: missing file, or not an image torchvision can decode.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(
            f"{path}: no such image file; give the path of a PNG, JPEG, GIF or WEBP image"
        )
    c, h, w = image_shape
    mode = ImageReadMode.GRAY if c == 1 else ImageReadMode.RGB
    try:
        raw = decode_image(str(path), mode=mode)  # (C, H0, W0) uint8
    except (RuntimeError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        first = re.sub(r"^\w+, \S+:\d+, ", "", first)  # drop the decoder's C++ source location
        raise ImageError(
            f"{path}: not an image torchvision can decode ({first}); use PNG, JPEG, GIF or WEBP"
        ) from None
    if raw.ndim == 4:  # an animated GIF: its first frame
        raw = raw[0]
    img = TF.resize(raw, [min(h, w)], antialias=True)
    img = TF.center_crop(img, [h, w]).float() / 255  # (C, H, W) in [0, 1]
    if invert is None:
        invert = c == 1 and img.mean().item() > 0.5
    if invert:
        img = 1 - img
    return (img * 2 - 1)[None]


def shipped_digits() -> torch.Tensor:
    """The ten shipped MNIST test digits, 0 to 9: (10, 1, 28, 28) float32 in [-1, 1]."""
    from fundiff.assets import asset_path

    path = asset_path("mnist_test_digits.png")
    row = decode_image(str(path), mode=ImageReadMode.GRAY).float() / 255  # (1, 28, 280)
    return (row.view(1, 28, 10, 28).permute(2, 0, 1, 3) * 2 - 1).contiguous()  # (10, 1, 28, 28)
