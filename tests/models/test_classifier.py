"""Does the classifier map digits to logits and features, and score its accuracy honestly?"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.models.classifier import MNISTClassifier, accuracy


@settings(max_examples=5, deadline=None)
@given(b=st.integers(1, 5))
def test_shapes(b: int) -> None:
    """Are logits (B, 10) and features (B, feature_dim) for any batch?"""
    m = MNISTClassifier(hidden=4, feature_dim=16).eval()
    x = torch.rand(b, 1, 28, 28)
    assert m(x).shape == (b, 10) and m.features(x).shape == (b, 16)


def test_accuracy_counts_argmax_matches_and_restores_mode() -> None:
    """Is accuracy the fraction of argmax hits (labels = predictions -> 1, shifted -> 0), mode kept?"""
    torch.manual_seed(0)
    m = MNISTClassifier(hidden=4).train()
    x = torch.rand(30, 1, 28, 28)
    with torch.no_grad():
        pred = m.eval()(x).argmax(1)
    m.train()
    assert accuracy(m, x, pred, batch_size=7) == 1.0
    assert accuracy(m, x, (pred + 1) % 10) == 0.0
    assert m.training
