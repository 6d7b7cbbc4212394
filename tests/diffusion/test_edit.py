"""Do SDEdit and inpainting start and end where the write-up says?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.diffusion.cfg import guided
from fundiff.diffusion.edit import SDEDIT_I_STARTS, check_mask, inpaint, sdedit
from fundiff.schedules import strided_timesteps

TS = strided_timesteps()


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), b=st.integers(1, 2))
def test_inpainting_keeps_the_unmasked_pixels_exactly(backend, seed: int, b: int) -> None:
    """At the end, is every pixel where the mask is 0 equal to the original?"""
    g = torch.Generator().manual_seed(seed)
    original = torch.rand(b, 1, 28, 28, generator=g) * 2 - 1
    mask = (torch.rand(28, 28, generator=g) > 0.5).float()
    pred = guided(backend, backend.encode("2"), backend.encode(""), 3.0)
    out = inpaint(pred, original, mask, TS[-8:], backend.alphas_cumprod, backend.variance_type, g)
    keep = mask.expand_as(out) == 0
    assert torch.equal(out[keep], original[keep])
    assert not torch.equal(out[~keep], original[~keep])


@pytest.mark.parametrize("shape", [(27, 28), (1, 1, 14, 14)])
def test_mask_of_the_wrong_shape_is_refused(shape: tuple[int, ...]) -> None:
    """Is a mask that is not the image's size refused, naming both sizes?"""
    with pytest.raises(ValueError, match="mask"):
        check_mask(torch.ones(shape), torch.zeros(1, 1, 28, 28))


def test_sdedit_starts_from_the_noised_image(backend) -> None:
    """Does SDEdit at i_start denoise from forward(image, timesteps[i_start]) with the same generator draws?"""
    from fundiff.diffusion.denoise import iterative_denoise
    from fundiff.diffusion.forward import forward

    image = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    pred = guided(backend, backend.encode("5"), backend.encode(""), 5.0)
    ours = sdedit(
        pred,
        image,
        30,
        TS,
        backend.alphas_cumprod,
        backend.variance_type,
        torch.Generator().manual_seed(0),
    )
    g = torch.Generator().manual_seed(0)
    x_t = forward(image, TS[30], backend.alphas_cumprod, g)
    ref = iterative_denoise(pred, x_t, TS, 30, backend.alphas_cumprod, backend.variance_type, g)
    assert torch.equal(ours, ref)


def test_sdedit_noise_levels_are_the_write_ups() -> None:
    """Are the default i_start values 1, 3, 5, 7, 10, 20, all inside the strided schedule?"""
    assert SDEDIT_I_STARTS == (1, 3, 5, 7, 10, 20)
    assert all(0 <= i < len(TS) - 1 for i in SDEDIT_I_STARTS)
