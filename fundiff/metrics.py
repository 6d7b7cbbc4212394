"""Sample-quality measures judged by the shipped MNIST classifier."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch
from torch import nn

CLASSIFIER_ASSET = "mnist_classifier.safetensors"


def shipped_classifier(device: torch.device | str = "cpu") -> nn.Module:
    """The MNIST classifier shipped in the package, in eval mode (test accuracy in its model card)."""
    from fundiff.weights import load_exported_model

    path = Path(str(resources.files("fundiff") / "assets" / CLASSIFIER_ASSET))
    return load_exported_model(path, device)[1]


@torch.no_grad()
def per_class_accuracy(
    classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, num_classes: int = 10
) -> torch.Tensor:
    """Fraction of images of each class that the classifier assigns to that class.

    Args:
        classifier: maps (N, 1, 28, 28) in [0, 1] to logits (N, num_classes).
        images: (N, 1, 28, 28) in [0, 1] (clamped).
        labels: the intended class of each image, (N,).
        num_classes: number of classes.

    Returns:
        (num_classes,) accuracies; NaN for a class with no images.
    """
    pred = torch.cat([classifier(x.clamp(0, 1)).argmax(1) for x in images.split(1000)])
    correct = torch.zeros(num_classes).index_add_(0, labels.cpu(), (pred == labels).float().cpu())
    count = torch.bincount(labels.cpu(), minlength=num_classes).float()
    return correct / count
