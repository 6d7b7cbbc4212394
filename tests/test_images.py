"""Do image files and the shipped digits come in as a backend's (1, C, H, W) tensors in [-1, 1]?

Files are written here with torchvision (PNG and JPEG) and read back through
``fundiff.images.load_image``; the shipped digits are checked against the
shipped classifier, so both assets are exercised.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

# ``shipped_digits`` is reached through the module: imported by name, pytest would collect it as a test.
from fundiff import images
from fundiff.images import ImageError, load_image
from tests.conftest import labels
from tests.imagefiles import write_image

FAST = dict(max_examples=20, deadline=None)
SHAPES = [pytest.param((1, 28, 28), id="mnist"), pytest.param((3, 64, 64), id="if")]
WHITE = 255


def to_ink(digit: torch.Tensor) -> torch.Tensor:
    """A (1, H, W) MNIST digit in [-1, 1] (white on black) as black-on-white uint8 pixels."""
    return ((1 - digit) / 2 * WHITE).round().to(torch.uint8)


# --------------------------------------------------------------------------- load_image


@settings(**FAST)
@given(
    width=st.integers(20, 120),
    height=st.integers(20, 120),
    channels=st.sampled_from([1, 3]),
    suffix=st.sampled_from([".png", ".jpg"]),
    image_shape=st.sampled_from([(1, 28, 28), (3, 64, 64)]),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_image_file_loads_at_the_backends_shape_in_range(
    tmp_path_factory: pytest.TempPathFactory,
    width: int,
    height: int,
    channels: int,
    suffix: str,
    image_shape: tuple[int, int, int],
    seed: int,
) -> None:
    """Does a PNG or JPEG of any size and either channel count load as (1, C, H, W) float32 in [-1, 1]?"""
    pixels = torch.randint(
        0, WHITE + 1, (channels, height, width), dtype=torch.uint8,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    path = write_image(tmp_path_factory.mktemp("any") / f"image{suffix}", pixels)
    x = load_image(path, image_shape)
    assert x.shape == (1, *image_shape)
    assert x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1


def test_grayscale_file_fills_all_three_channels(tmp_path: Path) -> None:
    """Does a grayscale file load on a 3-channel backend as three equal channels?"""
    pixels = torch.arange(64 * 64, dtype=torch.int64).remainder(WHITE + 1).to(torch.uint8)
    path = write_image(tmp_path / "gray.png", pixels.view(1, 64, 64))
    x = load_image(path, (3, 64, 64))
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert x.std() > 0, "the gray levels survive, not just a constant"


def test_rgb_file_of_gray_pixels_loads_as_that_gray_on_one_channel(tmp_path: Path) -> None:
    """Does an RGB file whose three channels are equal load on a 1-channel backend as that one channel?"""
    gray = torch.randint(
        0, WHITE + 1, (1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    rgb = write_image(tmp_path / "rgb.png", gray.expand(3, -1, -1).contiguous())
    one = write_image(tmp_path / "one.png", gray)
    torch.testing.assert_close(
        load_image(rgb, (1, 28, 28), invert=False), load_image(one, (1, 28, 28), invert=False)
    )


@pytest.mark.parametrize("image_shape", SHAPES)
@settings(**FAST)
@given(short=st.integers(20, 120), wide=st.booleans())
def test_non_square_image_keeps_its_middle(
    tmp_path_factory: pytest.TempPathFactory,
    image_shape: tuple[int, int, int],
    short: int,
    wide: bool,
) -> None:
    """Is a 3:1 image center-cropped: its white middle third kept, its black outer thirds cut off?"""
    c = image_shape[0]
    pixels = torch.zeros(c, short, 3 * short, dtype=torch.uint8)
    pixels[..., short : 2 * short] = WHITE
    if not wide:
        pixels = pixels.transpose(-1, -2).contiguous()
    path = write_image(tmp_path_factory.mktemp("crop") / "thirds.png", pixels)
    x = load_image(path, image_shape, invert=False)
    size = image_shape[-1]
    centre = x[..., size // 4 : 3 * size // 4] if wide else x[..., size // 4 : 3 * size // 4, :]
    assert torch.all(centre == 1), "the centre of the crop is the image's white middle"
    assert torch.all(x > 0), "no pixel is nearer the black outer thirds than the white middle"


def stroke_on_paper() -> torch.Tensor:
    """A (1, 28, 28) uint8 drawing: a black vertical stroke on white paper."""
    pixels = torch.full((1, 28, 28), WHITE, dtype=torch.uint8)
    pixels[:, 4:24, 12:16] = 0
    return pixels


def test_dark_drawing_is_inverted_for_one_channel_backends(tmp_path: Path) -> None:
    """Does a dark-on-light drawing become MNIST-like (light stroke on a black background) by default?"""
    x = load_image(write_image(tmp_path / "pen.png", stroke_on_paper()), (1, 28, 28))
    assert x[0, 0, 0, 0] == -1, "the paper becomes black"
    assert x[0, 0, 14, 14] == 1, "the ink becomes white"


def test_invert_false_keeps_a_dark_drawing_as_it_is(tmp_path: Path) -> None:
    """With invert=False, does the paper stay white and the ink black?"""
    x = load_image(write_image(tmp_path / "pen.png", stroke_on_paper()), (1, 28, 28), invert=False)
    assert x[0, 0, 0, 0] == 1 and x[0, 0, 14, 14] == -1


@pytest.mark.parametrize("image_shape", SHAPES)
def test_light_on_dark_or_rgb_is_not_inverted_by_default(
    tmp_path: Path, image_shape: tuple[int, int, int]
) -> None:
    """Is an MNIST-like (light on dark) image left alone, and an RGB backend never auto-inverted?"""
    path = write_image(tmp_path / "pen.png", stroke_on_paper())
    negative = write_image(tmp_path / "negative.png", WHITE - stroke_on_paper())
    torch.testing.assert_close(
        load_image(negative, image_shape), load_image(negative, image_shape, invert=False)
    )
    if image_shape[0] == 3:
        torch.testing.assert_close(
            load_image(path, image_shape), load_image(path, image_shape, invert=False)
        )


@settings(max_examples=5, deadline=None)
@given(scale=st.integers(2, 8))
def test_shipped_digit_drawn_large_on_paper_reloads_as_itself(
    tmp_path_factory: pytest.TempPathFactory, classifier: torch.nn.Module, scale: int
) -> None:
    """Does each shipped digit, written black-on-white at ``scale`` times its size, reload close to itself?"""
    digits = images.shipped_digits()
    folder = tmp_path_factory.mktemp("large")
    back = []
    for k, digit in enumerate(digits):
        big = to_ink(digit).repeat_interleave(scale, -1).repeat_interleave(scale, -2)
        back.append(load_image(write_image(folder / f"{k}.png", big), (1, 28, 28)))
    reloaded = torch.cat(back)
    assert (reloaded - digits).abs().mean() < 0.1
    assert labels(classifier, reloaded) == list(range(10))


def test_missing_file_raises_image_error_naming_it(tmp_path: Path) -> None:
    """Does a missing file raise ImageError whose one-line message names the path?"""
    path = tmp_path / "nowhere" / "seven.png"
    with pytest.raises(ImageError) as info:
        load_image(path, (1, 28, 28))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"a digit, honestly\n", b""], ids=["text", "empty"])
def test_non_image_file_raises_image_error_naming_it(tmp_path: Path, content: bytes) -> None:
    """Does a text (or empty) file raise ImageError whose one-line message names the path?"""
    path = tmp_path / "digit.png"
    path.write_bytes(content)
    with pytest.raises(ImageError) as info:
        load_image(path, (1, 28, 28))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- the shipped digits


def test_shipped_digits_are_ten_mnist_images_in_range() -> None:
    """Are the shipped test digits (10, 1, 28, 28) float32 in [-1, 1], white strokes on black?"""
    digits = images.shipped_digits()
    assert digits.shape == (10, 1, 28, 28) and digits.dtype == torch.float32
    assert digits.min() == -1 and digits.max() == 1
    assert torch.all(digits[..., 0, 0] == -1), "the background is black, as in MNIST"


def test_shipped_classifier_reads_each_shipped_digit_as_itself(classifier: torch.nn.Module) -> None:
    """Does the shipped classifier label shipped digit k as k, for all ten?"""
    assert labels(classifier, images.shipped_digits()) == list(range(10))
