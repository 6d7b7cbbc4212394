"""Do the MNIST backend's weights load from a run, an export and a program, and refuse what they cannot use?"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fundiff.backends.mnist_weights import BackendError, load_mnist_backend
from fundiff.models import ClassConditionalUNet
from fundiff.training.config import recipe
from fundiff.training.loop import train
from fundiff.training.weights import export_weights


def test_weights_round_trip_through_export(mnist_dir: Path, tmp_path: Path) -> None:
    """Does a trained run load as a backend, from its checkpoint and from exported fp16 weights alike?"""
    config = recipe(
        "diffusion-class", limit=128, epochs=1, hidden=4, batch_size=64, sample_epochs=()
    )
    train(config, tmp_path / "run", device="cpu", data_dir=mnist_dir, progress=False)
    export_weights(tmp_path / "run" / "checkpoint.safetensors", tmp_path / "w.safetensors")
    a = load_mnist_backend(tmp_path / "run" / "checkpoint.safetensors")
    b = load_mnist_backend(tmp_path / "w.safetensors")
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    pa, pb = a.predict(x, 500, a.encode("2")).eps, b.predict(x, 500, b.encode("2")).eps
    torch.testing.assert_close(pa, pb, rtol=2e-2, atol=2e-2)  # fp16 storage of the weights


def test_missing_or_wrong_weights_say_what_to_do(tmp_path: Path) -> None:
    """Is a missing file or a model of another kind a BackendError saying what to do?"""
    with pytest.raises(BackendError, match="fundiff train diffusion-class"):
        load_mnist_backend(tmp_path / "none.safetensors")
    from fundiff.training import checkpoint as ckpt

    cfg = recipe("flow-class", hidden=4)
    torch.manual_seed(0)
    ckpt.save(
        tmp_path / "flow.safetensors",
        ckpt.TrainingState(cfg, 1, 1, ClassConditionalUNet(hidden=4).state_dict()),
    )
    with pytest.raises(BackendError, match="not a diffusion-class"):
        load_mnist_backend(tmp_path / "flow.safetensors")


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)],
)
def test_the_exported_network_computes_what_the_model_does_on_each_device(
    tmp_path: Path, device: str
) -> None:
    """The student build ships the backend as a torch.export program; it must run where the student's tensors are."""
    from fundiff.backends.mnist_weights import export_network, load_exported_network

    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    model = load_mnist_backend().model
    export_network(model, tmp_path / "net.pt2")
    exported = load_exported_network(tmp_path / "net.pt2", device)
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(3, 1, 28, 28, generator=g), torch.rand(3, generator=g)
    c = torch.nn.functional.one_hot(torch.tensor([1, 4, 9]), 10).float()
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = (
        False  # full float32 convolutions on both sides, so 1e-4 is fair
    )
    try:
        with torch.no_grad():
            want = model.to(device)(x.to(device), t.to(device), c.to(device))
            got = exported(x.to(device), t.to(device), c.to(device))
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
        model.cpu()
    assert got.device.type == device
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
