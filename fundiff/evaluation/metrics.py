"""Sample-quality measures judged by the shipped MNIST classifier."""

from __future__ import annotations

import torch
from torch import nn

CLASSIFIER_ASSET = "mnist_classifier.safetensors"


def shipped_classifier(device: torch.device | str = "cpu") -> nn.Module:
    """The MNIST classifier shipped in the package, in eval mode (test accuracy in its model card).

    Args:
        device: where to put it.

    Returns:
        An ``MNISTClassifier`` mapping (N, 1, 28, 28) in [0, 1] to logits (N, 10); its
        ``features`` are (N, 128).

    Raises:
        fundiff.assets.AssetError: the shipped file is missing or corrupted.
    """
    from fundiff.assets import asset_path
    from fundiff.training.weights import load_exported_model

    return load_exported_model(asset_path(CLASSIFIER_ASSET), device)[1]


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


@torch.no_grad()
def classifier_features(
    classifier: nn.Module, images: torch.Tensor, batch_size: int = 1000
) -> torch.Tensor:
    """The classifier's penultimate features of ``images``, in float64 on the CPU.

    Args:
        classifier: a model with a ``features`` method, e.g. ``shipped_classifier()``.
        images: (N, 1, 28, 28) in [0, 1] (clamped).
        batch_size: images per forward pass.

    Returns:
        (N, F) float64 on the CPU (F = 128 for the shipped classifier).
    """
    return torch.cat(
        [classifier.features(x.clamp(0, 1)).double().cpu() for x in images.split(batch_size)]
    )


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``|mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^1/2 S_b S_a^1/2)^1/2)``
    (Heusel et al., 2017), computed in float64 with symmetric eigendecompositions,
    so that it is exact for equal sets (0) and symmetric in its arguments.

    Args:
        a: features, shape (N, F), N >= 2.
        b: features, shape (M, F), M >= 2.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(a.shape[0], b.shape[0]) < 2:
        raise ValueError(
            f"need two (N, F) feature sets with N >= 2 and one F; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("the features hold NaN or infinite values: are the samples finite?")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = (
        torch.atleast_2d(torch.cov(a.T)),
        torch.atleast_2d(torch.cov(b.T)),
    )  # (F, F), also for F = 1
    root_a = _psd_sqrt(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross)


def _psd_sqrt(m: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix."""
    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T
