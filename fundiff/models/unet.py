"""The three Part B UNets: unconditional, time-conditioned and class-conditioned.

All three share one trunk (the write-up's diagram): a ConvBlock, two DownBlocks,
Flatten/Unflatten through a 1x1 bottleneck, two UpBlocks fed by skip
concatenations, a ConvBlock and a 3x3 output convolution. Conditioning enters
only at two places, as the write-up prescribes: the Unflatten output (2D
channels, 7x7) and the first UpBlock output (D channels, 14x14).

- ``UnconditionalUNet``: no conditioning.
- ``TimeConditionalUNet``: t in [0, 1] goes through two FCBlocks whose outputs
  *scale* those two activations.
- ``ClassConditionalUNet``: a one-hot class vector goes through two more FCBlocks;
  the class embedding scales and the time embedding shifts (``c * h + t``). A
  zero class vector means "no class" and is what classifier-free guidance uses
  for the unconditional prediction.
"""

from __future__ import annotations

import torch
from torch import nn

from fundiff.models.blocks import (
    ConvBlock,
    DownBlock,
    FCBlock,
    Flatten,
    Unflatten,
    UpBlock,
    as_feature_map,
)


class UNetTrunk(nn.Module):
    """The shared encoder-decoder with skip concatenations.

    Args:
        in_channels: image channels (1 for MNIST); the output has as many.
        hidden: D, the width of the first level; the bottleneck has 2D channels.
    """

    def __init__(self, in_channels: int = 1, hidden: int = 128) -> None:
        super().__init__()
        d = hidden
        self.in_block = ConvBlock(in_channels, d)
        self.down1 = DownBlock(d, d)
        self.down2 = DownBlock(d, 2 * d)
        self.flatten = Flatten()
        self.unflatten = Unflatten(2 * d)
        self.up1 = UpBlock(4 * d, d)
        self.up2 = UpBlock(2 * d, d)
        self.out_block = ConvBlock(2 * d, d)
        self.head = nn.Conv2d(d, in_channels, kernel_size=3, padding=1)

    def forward(
        self,
        x: torch.Tensor,
        scale1: torch.Tensor | None = None,
        shift1: torch.Tensor | None = None,
        scale2: torch.Tensor | None = None,
        shift2: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the trunk, modulating the two conditioned activations.

        Args:
            x: images, shape (B, C, 28, 28).
            scale1: (B, 2D), multiplies the Unflatten output h as ``h * scale1 + shift1``;
                None: no scale.
            shift1: (B, 2D), added to the Unflatten output; None: no shift.
            scale2: (B, D), multiplies the first UpBlock output likewise; None: no scale.
            shift2: (B, D), added to the first UpBlock output; None: no shift.

        Returns:
            (B, C, 28, 28).
        """
        e1 = self.in_block(x)  # (B, D, 28, 28)
        e2 = self.down1(e1)  # (B, D, 14, 14)
        e3 = self.down2(e2)  # (B, 2D, 7, 7)
        h = self.unflatten(self.flatten(e3))  # (B, 2D, 1, 1) -> (B, 2D, 7, 7)
        h = modulate(h, scale1, shift1)
        h = self.up1(torch.cat([e3, h], dim=1))  # (B, 4D, 7, 7) -> (B, D, 14, 14)
        h = modulate(h, scale2, shift2)
        h = self.up2(torch.cat([e2, h], dim=1))  # (B, 2D, 14, 14) -> (B, D, 28, 28)
        h = self.out_block(torch.cat([e1, h], dim=1))  # (B, 2D, 28, 28) -> (B, D, 28, 28)
        return self.head(h)  # (B, C, 28, 28)


def modulate(
    h: torch.Tensor, scale: torch.Tensor | None, shift: torch.Tensor | None
) -> torch.Tensor:
    """Condition a feature map: ``h * scale + shift``, each per channel.

    Args:
        h: the feature map, shape (B, C, H, W).
        scale: (B, C), multiplies every pixel of each channel; None: no scale.
        shift: (B, C), added to every pixel of each channel (after the scale); None: no shift.

    Returns:
        The modulated map, shape (B, C, H, W); ``h`` itself when both are None.
    """
    if scale is not None:
        h = h * as_feature_map(scale)
    if shift is not None:
        h = h + as_feature_map(shift)
    return h


class UnconditionalUNet(nn.Module):
    """The single-step denoiser's UNet: (B, C, 28, 28) -> (B, C, 28, 28)."""

    def __init__(self, in_channels: int = 1, hidden: int = 128) -> None:
        super().__init__()
        self.trunk = UNetTrunk(in_channels, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoise ``x`` of shape (B, C, 28, 28).

        Args:
            x: noisy images (or pure noise), shape (B, C, 28, 28).

        Returns:
            The denoised images, shape (B, C, 28, 28).
        """
        return self.trunk(x)


def time_column(t: torch.Tensor | float, batch: int) -> torch.Tensor:
    """Times as the column the time FCBlocks take: a scalar, (B,) or (B, 1) becomes (B, 1).

    Args:
        t: times in [0, 1]: a Python number or 0-d tensor (the same time for every
            image), or a tensor of shape (B,) or (B, 1).
        batch: B, the number of images.

    Returns:
        The times, shape (B, 1), on ``t``'s device (a number gives a CPU tensor).
    """
    t = torch.as_tensor(t)
    if t.ndim == 0:
        t = t.expand(batch)
    return t.reshape(batch, 1)


class TimeConditionalUNet(nn.Module):
    """UNet conditioned on t in [0, 1]: u(x_t, t), (B, C, 28, 28) -> (B, C, 28, 28)."""

    def __init__(self, in_channels: int = 1, hidden: int = 64) -> None:
        super().__init__()
        self.trunk = UNetTrunk(in_channels, hidden)
        self.fc1_t = FCBlock(1, 2 * hidden)
        self.fc2_t = FCBlock(1, hidden)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predict the flow at (x, t).

        Args:
            x: (B, C, 28, 28).
            t: times in [0, 1], a scalar or shape (B,) or (B, 1).
        """
        t = time_column(t, x.shape[0]).to(x.dtype)
        return self.trunk(x, scale1=self.fc1_t(t), scale2=self.fc2_t(t))


class ClassConditionalUNet(nn.Module):
    """UNet conditioned on t and on a class vector: u(x_t, t, c).

    Args:
        in_channels: image channels.
        hidden: D.
        num_classes: length of the one-hot class vector.
    """

    def __init__(self, in_channels: int = 1, hidden: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.trunk = UNetTrunk(in_channels, hidden)
        self.fc1_t = FCBlock(1, 2 * hidden)
        self.fc2_t = FCBlock(1, hidden)
        self.fc1_c = FCBlock(num_classes, 2 * hidden)
        self.fc2_c = FCBlock(num_classes, hidden)

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Predict the flow at (x, t) for class vector c.

        Args:
            x: (B, C, 28, 28).
            t: times in [0, 1], a scalar or shape (B,) or (B, 1).
            c: class vectors, shape (B, num_classes): one-hot, or all zeros for
                the unconditional prediction.
        """
        t = time_column(t, x.shape[0]).to(x.dtype)
        c = c.to(x.dtype)
        return self.trunk(
            x,
            scale1=self.fc1_c(c),
            shift1=self.fc1_t(t),
            scale2=self.fc2_c(c),
            shift2=self.fc2_t(t),
        )
