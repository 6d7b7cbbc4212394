"""Do the UNet blocks have the shapes and layers the write-up gives them?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from fundiff.models.blocks import (
    Conv,
    ConvBlock,
    DownBlock,
    DownConv,
    FCBlock,
    Flatten,
    Unflatten,
    UpBlock,
    UpConv,
)

SMALL = dict(max_examples=15, deadline=None)


@settings(**SMALL)
@given(
    b=st.integers(1, 3),
    cin=st.integers(1, 5),
    cout=st.integers(1, 5),
    hw=st.sampled_from([4, 8, 14, 28]),
)
def test_resolution_of_each_conv_block(b: int, cin: int, cout: int, hw: int) -> None:
    """Do Conv/ConvBlock keep H, W; DownConv/DownBlock halve it; UpConv/UpBlock double it?"""
    x = torch.randn(b, cin, hw, hw)
    for block, size in [
        (Conv(cin, cout), hw),
        (ConvBlock(cin, cout), hw),
        (DownConv(cin, cout), hw // 2),
        (DownBlock(cin, cout), hw // 2),
        (UpConv(cin, cout), hw * 2),
        (UpBlock(cin, cout), hw * 2),
    ]:
        assert block(x).shape == (b, cout, size, size), type(block).__name__


def test_flatten_pools_seven_by_seven_to_one_and_unflatten_restores_it() -> None:
    """Does Flatten average a 7x7 map (then GELU) and Unflatten bring 1x1 back to 7x7?"""
    x = torch.randn(2, 6, 7, 7)
    flat = Flatten()(x)
    assert flat.shape == (2, 6, 1, 1)
    torch.testing.assert_close(flat, nn.functional.gelu(x.mean(dim=(2, 3), keepdim=True)))
    assert Unflatten(6)(flat).shape == (2, 6, 7, 7)


def test_layers_are_the_write_ups() -> None:
    """Are the kernel sizes, strides and paddings those of the write-up?"""
    conv = Conv(3, 4)[0]
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (1, 1), (1, 1))
    down = DownConv(3, 4)[0]
    assert (down.kernel_size, down.stride, down.padding) == ((3, 3), (2, 2), (1, 1))
    up = UpConv(3, 4)[0]
    assert isinstance(up, nn.ConvTranspose2d)
    assert (up.kernel_size, up.stride, up.padding) == ((4, 4), (2, 2), (1, 1))
    unflat = Unflatten(4)[0]
    assert isinstance(unflat, nn.ConvTranspose2d)
    assert (unflat.kernel_size, unflat.stride, unflat.padding) == ((7, 7), (7, 7), (0, 0))
    for block in (Conv(3, 4), DownConv(3, 4), UpConv(3, 4), Unflatten(4)):
        assert isinstance(block[1], nn.BatchNorm2d) and isinstance(block[2], nn.GELU)
    fc = FCBlock(1, 8)
    assert [type(m) for m in fc] == [nn.Linear, nn.GELU, nn.Linear]


@pytest.mark.parametrize("batch", [1, 5])
def test_fcblock_maps_features(batch: int) -> None:
    """Does FCBlock map (B, in) to (B, out)?"""
    assert FCBlock(10, 12)(torch.randn(batch, 10)).shape == (batch, 12)
