"""Is the per-class accuracy right, and is the shipped classifier the one its card describes?"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fundiff.evaluation.metrics import per_class_accuracy, shipped_classifier
from fundiff.models.classifier import accuracy


class Fixed(torch.nn.Module):
    """A classifier whose answer is the first pixel's value as a class index (for exact counts)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot((x[:, 0, 0, 0] * 10).long().clamp(0, 9), 10).float()


def test_per_class_accuracy_counts_each_class_separately() -> None:
    """With 2 of 4 "3"s and 1 of 1 "5" right, is it 0.5 for 3, 1.0 for 5 and NaN for unseen classes?"""
    labels = torch.tensor([3, 3, 3, 3, 5])
    answers = torch.tensor([3, 3, 1, 2, 5])
    images = torch.zeros(5, 1, 28, 28)
    images[:, 0, 0, 0] = (answers.float() + 0.5) / 10
    acc = per_class_accuracy(Fixed(), images, labels)
    assert acc[3] == 0.5 and acc[5] == 1.0 and torch.isnan(acc[0])


@pytest.mark.slow
def test_shipped_classifier_scores_its_card_on_the_test_set(mnist_dir: Path) -> None:
    """Does the shipped fp16 classifier reach at least 99.3% on the 10,000 MNIST test digits?"""
    from fundiff.data import load_mnist

    images, labels = load_mnist("test", mnist_dir)
    assert accuracy(shipped_classifier(), images[:, None].float() / 255, labels) >= 0.993
