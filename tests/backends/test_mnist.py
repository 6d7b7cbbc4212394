"""Is the MNIST backend a Backend, with IF's schedule, digit prompts and loadable weights?"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fundiff.backends import Backend
from fundiff.backends.mnist import BackendError, MNISTBackend, load_mnist_backend
from fundiff.models import ClassConditionalUNet
from fundiff.objectives.diffusion import diffusion_loss
from fundiff.schedules import cosine_alphas_cumprod
from fundiff.training.config import recipe
from fundiff.training.loop import train
from fundiff.training.weights import export_weights


def test_backend_satisfies_the_protocol(backend: MNISTBackend) -> None:
    """Is it a Backend with IF's 1000-step cosine schedule and the fixed posterior variance?"""
    assert isinstance(backend, Backend)
    torch.testing.assert_close(backend.alphas_cumprod, cosine_alphas_cumprod(1000))
    assert backend.variance_type == "fixed_small" and backend.image_shape == (1, 28, 28)


def test_prompts_are_digits_and_empty(backend: MNISTBackend) -> None:
    """Is "3" the one-hot of 3, "" the zero vector, and anything else refused with the known prompts?"""
    assert torch.equal(backend.encode("3"), torch.eye(10)[3:4])
    assert torch.equal(backend.encode(""), torch.zeros(1, 10))
    with pytest.raises(ValueError, match="'0' to '9'"):
        backend.encode("a photo of a dog")


def test_prediction_has_the_image_shape(backend: MNISTBackend) -> None:
    """Does predict return an eps of the image's shape and no variance?"""
    pred = backend.predict(torch.zeros(3, 1, 28, 28), 990, backend.encode("1"))
    assert pred.eps.shape == (3, 1, 28, 28) and pred.variance is None


def test_loss_is_zero_for_a_model_that_returns_the_noise() -> None:
    """Does the epsilon loss vanish for an oracle that knows the noise (same generator draws)?"""
    abar = cosine_alphas_cumprod(1000)
    x = torch.rand(4, 1, 28, 28)
    labels = torch.arange(4)
    seed = 7
    g = torch.Generator().manual_seed(seed)
    torch.randint(0, 1000, (4,), generator=g)
    eps = torch.randn(x.shape, generator=g)
    loss = diffusion_loss(
        lambda x_t, t, c: eps, x, labels, abar, 0.1, torch.Generator().manual_seed(seed)
    )
    assert loss.item() == 0.0


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
    from fundiff.backends.mnist import export_network, load_exported_network

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
