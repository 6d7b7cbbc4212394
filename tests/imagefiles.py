"""Image files for tests, through Pillow (the library fundiff reads images with)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def write_image(path: Path, pixels: torch.Tensor) -> Path:
    """Write (C, H, W) uint8 ``pixels`` (C is 1 or 3) in the format ``path``'s suffix names; return
    ``path``."""
    array = pixels.permute(1, 2, 0).numpy()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)
    return path


def read_image(path: Path) -> torch.Tensor:
    """The pixels of an image file as Pillow decodes them: (C, H, W) uint8."""
    with Image.open(path) as image:
        array = np.array(image)
    return torch.from_numpy(array[..., None] if array.ndim == 2 else array).permute(2, 0, 1)
