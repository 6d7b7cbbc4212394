"""Does training run on a GPU, and does its checkpoint load on a CPU? (Run on the device machine.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fundiff.training.config import KINDS, recipe
from fundiff.training.loop import train
from fundiff.training.weights import load_trained_model


@pytest.mark.gpu
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_trains_on_cuda_and_loads_on_cpu(
    kind: str, mnist_dir: Path, tmp_path: Path
) -> None:
    """Does each kind train on CUDA with finite losses, and its checkpoint sample on the CPU?"""
    config = recipe(kind, limit=512, epochs=2, hidden=8, batch_size=64, sample_steps=3)
    result = train(config, tmp_path / kind, device="cuda", data_dir=mnist_dir, progress=False)
    assert all(torch.isfinite(torch.tensor(result.losses)))
    loaded, model = load_trained_model(tmp_path / kind / "checkpoint.safetensors", "cpu")
    assert loaded == config
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.gpu
def test_cuda_runs_repeat_under_a_seed(mnist_dir: Path, tmp_path: Path) -> None:
    """Do two CUDA runs with one seed draw the same data order and noise (losses close)?

    cuDNN may pick different convolution algorithms between runs, so the check is
    closeness, not bit equality; the draws themselves come from one seeded generator.
    """
    config = recipe("flow-class", limit=256, epochs=1, hidden=8, batch_size=64, sample_epochs=())
    a = train(config, tmp_path / "a", device="cuda", data_dir=mnist_dir, progress=False)
    b = train(config, tmp_path / "b", device="cuda", data_dir=mnist_dir, progress=False)
    torch.testing.assert_close(torch.tensor(a.losses), torch.tensor(b.losses), rtol=1e-3, atol=1e-4)


@pytest.mark.gpu
def test_the_fast_path_replays_captured_steps_and_repeats_under_a_seed(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Are the fast path's full-batch steps replayed from a CUDA graph (all but the warm-up), with
    finite losses that fall, and do two runs with one seed agree?"""
    from fundiff.training import step
    from fundiff.training.loop import WARMUP_STEPS

    replays = []
    replay = step.GraphedStep.__call__
    monkeypatch.setattr(
        step.GraphedStep, "__call__", lambda self, idx: replays.append(1) or replay(self, idx)
    )
    config = recipe("flow-class", limit=1000, epochs=2, hidden=16, batch_size=64, sample_epochs=(),
                    lr_schedule="exponential", fast=True)  # fmt: skip
    a = train(config, tmp_path / "a", device="cuda", data_dir=mnist_dir, progress=False)
    full = 1000 // 64  # the last, partial batch of each epoch runs eagerly
    assert len(replays) == 2 * full - WARMUP_STEPS
    assert len(a.losses) == 2 * 16 and all(torch.isfinite(torch.tensor(a.losses)))
    assert sum(a.losses[-5:]) < sum(a.losses[:5])
    b = train(config, tmp_path / "b", device="cuda", data_dir=mnist_dir, progress=False)
    torch.testing.assert_close(torch.tensor(a.losses), torch.tensor(b.losses), rtol=1e-2, atol=1e-3)
