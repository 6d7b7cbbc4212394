"""Tests for ``fundiff.parta.inputs``: the source image of a task."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from fundiff import images
from fundiff.parta.inputs import source_image
from fundiff.parta.options import NoDefaultImage, TaskError, TaskOptions
from tests.imagefiles import write_image


def test_backend_without_default_image_asks_for_one(tmp_path: Path) -> None:
    """Does a non-MNIST backend (an RGB stand-in) need an image, saying so with the facts (the command
    line words it as --image), and load a given one at its own size?"""
    stand_in = SimpleNamespace(
        name="deepfloyd", image_shape=(3, 64, 64), device=torch.device("cpu")
    )
    with pytest.raises(NoDefaultImage, match="deepfloyd backend has no default image") as info:
        source_image(stand_in, TaskOptions())
    assert isinstance(info.value, TaskError) and info.value.backend == "deepfloyd"
    photo = tmp_path / "photo.png"
    write_image(photo, torch.randint(0, 256, (3, 70, 90), dtype=torch.uint8))
    x = source_image(stand_in, TaskOptions(image=photo))
    assert x.shape == (1, 3, 64, 64) and x.min() >= -1 and x.max() <= 1


def test_mnist_default_image_is_the_shipped_seven(mnist) -> None:
    """Without --image, is the MNIST source image the shipped test 7?"""
    assert torch.equal(source_image(mnist, TaskOptions()), images.shipped_digits()[7:8])
