"""Images from files and package assets, as tensors a backend can denoise.

Files are decoded by Pillow (PNG, JPEG, GIF, WEBP and the rest it reads; an
animated image gives its first frame), converted to the backend's channels,
resized so that the shorter side fits and center-cropped
to the backend's square resolution, and mapped to [-1, 1]. A one-channel
backend (MNIST: white strokes on black) gets dark-on-light drawings inverted,
so a digit drawn with a pen on paper works as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError


class ImageError(Exception):
    """An image file is missing or cannot be decoded; the message names it and what to do."""


def read_pixels(path: str | os.PathLike[str], channels: int) -> torch.Tensor:
    """Decode an image file with Pillow into 8-bit pixels.

    Args:
        path: the file (PNG, JPEG, GIF, WEBP, ...); of an animated image, the first frame.
        channels: 1 (luma, ITU-R 601-2) or 3 (RGB; an alpha channel is dropped).

    Returns:
        (channels, H, W) uint8.

    Raises:
        ImageError: the file is missing or Pillow cannot decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(
            f"{path}: no such image file; give the path of a PNG, JPEG, GIF or WEBP image"
        )
    try:
        with Image.open(path) as image:
            pixels = torch.frombuffer(
                bytearray(image.convert("L" if channels == 1 else "RGB").tobytes()),
                dtype=torch.uint8,
            )
            height, width = image.height, image.width
    except UnidentifiedImageError:
        reason = "not a format it reads"
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        reason = str(err).replace(str(path), "file").strip().split("\n")[0] or type(err).__name__
    else:
        return pixels.view(height, width, channels).permute(2, 0, 1).contiguous()
    raise ImageError(
        f"{path}: not an image Pillow can decode ({reason}); use PNG, JPEG, GIF or WEBP"
    )


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
        ImageError: missing file, or not an image Pillow can decode.
    """
    # torchvision loads where it is used, not when fundiff is imported
    from torchvision.transforms.v2 import functional as TF

    c, h, w = image_shape
    raw = read_pixels(path, c)
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
    row = read_pixels(path, 1).float() / 255  # (1, 28, 280)
    return (row.view(1, 28, 10, 28).permute(2, 0, 1, 3) * 2 - 1).contiguous()  # (10, 1, 28, 28)
