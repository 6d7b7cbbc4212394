"""A small MNIST classifier, the judge of generated digits.

Two convolution stages (3x3, BatchNorm, GELU; twice per stage, then 2x2 max
pooling), a fully connected feature layer and a linear head. ``features``
returns the penultimate activations, which the Fréchet distance of generated
digits is computed on.
"""

from __future__ import annotations

import torch
from torch import nn

from fundiff.models.blocks import Conv


class MNISTClassifier(nn.Module):
    """Digits in [0, 1], (B, 1, 28, 28) -> logits (B, num_classes).

    Args:
        hidden: channels of the first stage (the second has twice as many).
        feature_dim: width of the feature layer.
        num_classes: number of digits.
    """

    def __init__(self, hidden: int = 32, feature_dim: int = 128, num_classes: int = 10) -> None:
        super().__init__()
        self.stages = nn.Sequential(
            Conv(1, hidden), Conv(hidden, hidden), nn.MaxPool2d(2),  # (B, h, 14, 14)
            Conv(hidden, 2 * hidden), Conv(2 * hidden, 2 * hidden), nn.MaxPool2d(2),  # (B, 2h, 7, 7)
        )  # fmt: skip
        # No dropout: it would draw from the global RNG, outside the run's seeded generator.
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(2 * hidden * 49, feature_dim), nn.GELU())
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations, (B, feature_dim).

        Args:
            x: digits in [0, 1], shape (B, 1, 28, 28).

        Returns:
            The features, shape (B, feature_dim).
        """
        return self.embed(self.stages(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, (B, num_classes).

        Args:
            x: digits in [0, 1], shape (B, 1, 28, 28).

        Returns:
            The logits, shape (B, num_classes).
        """
        return self.head(self.features(x))


@torch.no_grad()
def accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> float:
    """Fraction of ``images`` (N, 1, 28, 28) in [0, 1] classified as ``labels`` (N,).

    The model is evaluated in eval mode and left in the mode it was in.

    Args:
        model: the classifier, mapping (B, 1, 28, 28) to logits (B, num_classes).
        images: digits in [0, 1], shape (N, 1, 28, 28), on the model's device.
        labels: the true digits, shape (N,), on the model's device.
        batch_size: images per forward pass.

    Returns:
        The accuracy in [0, 1].
    """
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch_size):
        correct += (
            (model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum().item()
        )
    model.train(was_training)
    return correct / images.shape[0]
