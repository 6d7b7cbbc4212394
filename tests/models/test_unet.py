"""Do the three UNets keep the image shape, on every device, and use their conditioning?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.models import ClassConditionalUNet, TimeConditionalUNet, UnconditionalUNet
from tests.conftest import DEVICES


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=6, deadline=None)
@given(batch=st.integers(1, 6), hidden=st.sampled_from([4, 8]))
def test_every_unet_maps_images_to_images(device: str, batch: int, hidden: int) -> None:
    """Is the output (B, 1, 28, 28) for any batch size and width, on CPU and GPU?"""
    torch.manual_seed(0)
    x = torch.randn(batch, 1, 28, 28, device=device)
    t = torch.rand(batch, device=device)
    c = torch.nn.functional.one_hot(torch.arange(batch, device=device) % 10, 10).float()
    assert UnconditionalUNet(hidden=hidden).to(device)(x).shape == x.shape
    assert TimeConditionalUNet(hidden=hidden).to(device)(x, t).shape == x.shape
    assert ClassConditionalUNet(hidden=hidden).to(device)(x, t, c).shape == x.shape


def test_time_accepts_scalar_vector_and_column() -> None:
    """Do a scalar t, a (B,) t and a (B, 1) t give the same prediction?"""
    torch.manual_seed(0)
    model = TimeConditionalUNet(hidden=4).eval()
    x = torch.randn(3, 1, 28, 28)
    a = model(x, torch.tensor(0.3))
    b = model(x, torch.full((3,), 0.3))
    c = model(x, torch.full((3, 1), 0.3))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_conditioning_changes_the_output() -> None:
    """Does the prediction depend on t and on the class (the conditioning is wired in)?"""
    torch.manual_seed(0)
    # Train mode: BatchNorm normalises with batch statistics. In eval mode a fresh
    # network's running statistics (mean 0, var 1) let activations shrink layer by
    # layer, so differences at init are real but of order 1e-6.
    model = ClassConditionalUNet(hidden=4).train()
    x = torch.randn(2, 1, 28, 28)
    c0 = torch.nn.functional.one_hot(torch.tensor([0, 0]), 10).float()
    c1 = torch.nn.functional.one_hot(torch.tensor([1, 1]), 10).float()
    t = torch.full((2,), 0.5)
    assert not torch.allclose(model(x, t, c0), model(x, t, c1))
    assert not torch.allclose(model(x, t, c0), model(x, t * 0.1, c0))
    assert not torch.allclose(model(x, t, c0), model(x, t, torch.zeros_like(c0)))


def test_zero_time_embedding_silences_the_time_branch() -> None:
    """With the time FCBlocks' output forced to zero, is the bottleneck path zeroed (t scales it)?"""
    torch.manual_seed(0)
    model = TimeConditionalUNet(hidden=4).eval()
    for fc in (model.fc1_t, model.fc2_t):
        torch.nn.init.zeros_(fc[2].weight)
        torch.nn.init.zeros_(fc[2].bias)
    x = torch.randn(2, 1, 28, 28)
    trunk = model.trunk
    zero1 = torch.zeros(2, 8)
    zero2 = torch.zeros(2, 4)
    torch.testing.assert_close(model(x, torch.rand(2)), trunk(x, scale1=zero1, scale2=zero2))
