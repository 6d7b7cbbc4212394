"""Building blocks of the Part B UNets.

Each block is the one the write-up draws, with BatchNorm and GELU after every
convolution. Spatial sizes assume MNIST (28x28): two DownBlocks bring 28 to 7,
``Flatten`` pools 7x7 to 1x1 and ``Unflatten`` brings 1x1 back to 7x7.

Shapes use B for the batch, C for channels, H and W for height and width.
"""

from __future__ import annotations

import torch
from torch import nn


class Conv(nn.Sequential):
    """3x3 convolution that keeps the resolution, then BatchNorm and GELU.

    (B, in_channels, H, W) -> (B, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.GELU(),
        )


class DownConv(nn.Sequential):
    """3x3 convolution with stride 2, then BatchNorm and GELU.

    (B, in_channels, H, W) -> (B, out_channels, H/2, W/2).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.GELU(),
        )


class UpConv(nn.Sequential):
    """Transposed convolution (kernel 4, stride 2, padding 1), then BatchNorm and GELU.

    (B, in_channels, H, W) -> (B, out_channels, 2H, 2W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.GELU(),
        )


class Flatten(nn.Sequential):
    """Average pool of a 7x7 map to 1x1, then GELU.

    (B, C, 7, 7) -> (B, C, 1, 1).
    """

    def __init__(self) -> None:
        super().__init__(nn.AvgPool2d(kernel_size=7), nn.GELU())


class Unflatten(nn.Sequential):
    """Transposed convolution with a 7x7 kernel and stride 7, then BatchNorm and GELU.

    (B, in_channels, 1, 1) -> (B, in_channels, 7, 7).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, in_channels, kernel_size=7, stride=7, padding=0),
            nn.BatchNorm2d(in_channels),
            nn.GELU(),
        )


class ConvBlock(nn.Sequential):
    """Two ``Conv`` layers: (B, in_channels, H, W) -> (B, out_channels, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(Conv(in_channels, out_channels), Conv(out_channels, out_channels))


class DownBlock(nn.Sequential):
    """``DownConv`` then ``ConvBlock``: (B, in_channels, H, W) -> (B, out_channels, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(DownConv(in_channels, out_channels), ConvBlock(out_channels, out_channels))


class UpBlock(nn.Sequential):
    """``UpConv`` then ``ConvBlock``: (B, in_channels, H, W) -> (B, out_channels, 2H, 2W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(UpConv(in_channels, out_channels), ConvBlock(out_channels, out_channels))


class FCBlock(nn.Sequential):
    """Linear, GELU, Linear: embeds a conditioning vector.

    (B, in_features) -> (B, out_features).
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(
            nn.Linear(in_features, out_features),
            nn.GELU(),
            nn.Linear(out_features, out_features),
        )


def as_feature_map(v: torch.Tensor) -> torch.Tensor:
    """View a (B, C) embedding as (B, C, 1, 1), to broadcast over a feature map.

    Args:
        v: the embedding, shape (B, C).

    Returns:
        A view of ``v``, shape (B, C, 1, 1).
    """
    return v[:, :, None, None]
