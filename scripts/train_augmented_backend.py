"""Train the MNIST diffusion backend with blur and intensity augmentation, to test why hybrids fail.

An experiment, not a shipped model. The hypothesis it tested: MNIST hybrids do not
read as two digits because the backend only knows crisp, full-intensity strokes, so
it cannot draw the faint, smooth glow of the low-frequency digit. Here each
training digit is, with probability 1/2 each and independently, blurred (a
Gaussian of sigma drawn from U[0.3, 2.5]) and dimmed (scaled by U[0.3, 1]). All
draws come from the run's generator and are tensor operations, so ``--fast``
(CUDA graphs) applies.

Outcome (one NVIDIA H100, seed 0; ``docs/results/part_a_mnist/hybrid_sweep/augmented/``):
hybrids read as both digits no more often than with the shipped backend (16 of 64
at best, as before), the high digit still takes the image, and unguided samples got
worse (58% classifier accuracy at guidance 1, against 96.5%). The hypothesis is
refuted; the shipped backend is unchanged.

    python scripts/train_augmented_backend.py OUT [--fast] [--data-dir DIR]
    python scripts/hybrid_sweep.py --weights OUT/augmented.safetensors --out DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fundiff.kinds import batch_loss
from fundiff.training.config import TrainConfig, recipe
from fundiff.training.loop import train
from fundiff.training.weights import export_weights

RADIUS = 7  # blur kernel of 15 taps: enough for sigma 2.5


def augment(x: torch.Tensor, generator: torch.Generator, p: float = 0.5,
            sigma_max: float = 2.5, dim_min: float = 0.3) -> torch.Tensor:  # fmt: skip
    """Blur and dim digits at random, each digit on its own draws.

    Args:
        x: digits in [0, 1], shape (B, 1, 28, 28).
        generator: source of every draw, on ``x``'s device.
        p: probability of the blur, and (independently) of the dimming.
        sigma_max: largest blur sigma, in pixels (the smallest is 0.3).
        dim_min: smallest intensity factor.

    Returns:
        The augmented digits, shape (B, 1, 28, 28), in [0, 1].
    """
    b, dev = x.shape[0], x.device
    sigma = 0.3 + (sigma_max - 0.3) * torch.rand(b, generator=generator, device=dev)
    taps = torch.arange(-RADIUS, RADIUS + 1, device=dev, dtype=x.dtype)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # (B, 15), one separable Gaussian per digit
    y = x.reshape(1, b, *x.shape[-2:])
    y = F.conv2d(F.pad(y, (RADIUS, RADIUS, 0, 0)), kernel.view(b, 1, 1, -1), groups=b)
    y = F.conv2d(F.pad(y, (0, 0, RADIUS, RADIUS)), kernel.view(b, 1, -1, 1), groups=b)
    blur = torch.rand(b, 1, 1, 1, generator=generator, device=dev) < p
    x = torch.where(blur, y.view_as(x), x)
    dim = torch.rand(b, 1, 1, 1, generator=generator, device=dev) < p
    scale = dim_min + (1 - dim_min) * torch.rand(b, 1, 1, 1, generator=generator, device=dev)
    return torch.where(dim, x * scale, x)


def augmented_loss(model: nn.Module, config: TrainConfig, x: torch.Tensor, labels: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:  # fmt: skip
    """The backend's epsilon loss on augmented digits (a ``fundiff.training.loop.LossFn``)."""
    return batch_loss(model, config, augment(x, generator), labels, generator)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--fast", action="store_true", help="fundiff's fast path (bf16, CUDA graphs)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    config = recipe("diffusion-class", seed=0, fast=args.fast, sample_epochs=())
    start = time.perf_counter()
    train(
        config, args.out / "run", device=args.device, data_dir=args.data_dir, loss_fn=augmented_loss
    )
    print(f"trained in {time.perf_counter() - start:.1f} s")
    export_weights(args.out / "run" / "checkpoint.safetensors", args.out / "augmented.safetensors")


if __name__ == "__main__":
    main()
