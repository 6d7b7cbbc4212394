"""The inputs of Part A's tasks: the source image, the inpainting mask, the seeds of examples."""

from __future__ import annotations

import torch

from fundiff.backends.base import Backend
from fundiff.diffusion.edit import check_mask
from fundiff.images import ImageError, load_image, read_pixels, shipped_digits
from fundiff.parta.options import NoDefaultImage, TaskOptions


def source_image(backend: Backend, opts: TaskOptions) -> torch.Tensor:
    """The task's input image (1, C, H, W) in [-1, 1]: ``opts.image``, or MNIST's shipped 7.

    Args:
        backend: the backend; its ``image_shape`` is the image's (C, H, W).
        opts: the user's choices; ``opts.image`` is the file to read, if given.

    Returns:
        The image, shape (1, C, H, W), in [-1, 1], on the backend's device.

    Raises:
        NoDefaultImage: no ``opts.image`` and the backend is not MNIST, which has no default image.
        fundiff.images.ImageError: ``opts.image`` cannot be read.
    """
    if opts.image is not None:
        return load_image(opts.image, backend.image_shape).to(backend.device)
    if backend.name == "mnist":
        return shipped_digits()[7:8].to(backend.device)
    raise NoDefaultImage(backend.name)


def inpaint_mask(backend: Backend, opts: TaskOptions, image: torch.Tensor) -> torch.Tensor:
    """The inpainting mask (H, W), 1 where to regenerate: ``opts.mask``, else the top half.

    Args:
        backend: the backend; its ``image_shape`` is the mask's size.
        opts: the user's choices; ``opts.mask`` is the mask image, white = regenerate.
        image: the source image (1, C, H, W), which the mask must fit.

    Returns:
        The mask, shape (H, W), values 0 or 1, on the backend's device.

    Raises:
        fundiff.images.ImageError: ``opts.mask`` is missing, no image, or of another size.
    """
    _, h, w = backend.image_shape
    if opts.mask is None:  # regenerate the top half
        m = torch.zeros(h, w, device=backend.device)
        m[: h // 2] = 1
        return m
    if not opts.mask.is_file():
        raise ImageError(
            f"{opts.mask}: no such mask file; give a {w}x{h} image, white where to regenerate"
        )
    try:
        raw = read_pixels(opts.mask, 1)
    except ImageError:
        raise ImageError(
            f"{opts.mask}: not an image Pillow can decode; use a {w}x{h} PNG"
        ) from None
    m = (raw[0].float() / 255 > 0.5).float().to(backend.device)
    return check_mask(m, image)[0, 0]


def example_seeds(gen: torch.Generator, count: int) -> list[int]:
    """``count`` seeds drawn from the task's generator, one per example of a figure.

    Args:
        gen: the task's generator.
        count: how many.

    Returns:
        Seeds in [0, 2**31 - 1).
    """
    return torch.randint(0, 2**31 - 1, (count,), generator=gen, device=gen.device).tolist()
