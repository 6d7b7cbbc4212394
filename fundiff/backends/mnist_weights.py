"""Where the MNIST backend's network comes from: the shipped weights, a training run, or
the student build's ``torch.export`` program.

Apart from ``fundiff.backends.mnist`` (the backend itself) because loading a trained model
needs the registry of training kinds, which in turn names the backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from fundiff.backends.mnist import MNISTBackend

WEIGHTS_ASSET = "mnist_diffusion.safetensors"
EXPORTED_ASSET = "mnist_diffusion.pt2"
"""The same network as a ``torch.export`` program: shipped only in the student build
(``autograder.course.student``), whose UNet classes are the students' to write."""


class BackendError(Exception):
    """The backend cannot be built as asked; the message says why and what to do."""


def shipped_weights() -> Path:
    """Path of the weights shipped in the package, checked against their SHA-256.

    Raises:
        fundiff.assets.AssetError: the file is missing or corrupted.
    """
    from fundiff.assets import asset_path

    return asset_path(WEIGHTS_ASSET)


class ExportedNetwork(nn.Module):
    """A ``torch.export`` program of the backend's network, called as ``model(x, t, c)``.

    The program is fixed in eval mode, so ``train``/``eval`` change nothing.
    """

    def __init__(self, program: torch.export.ExportedProgram, num_classes: int = 10) -> None:
        super().__init__()
        self.net = program.module()
        self.num_classes = num_classes

    def train(self, mode: bool = True) -> ExportedNetwork:  # noqa: ARG002 (fixed in eval mode)
        """Nothing to switch: the program is fixed in eval mode.

        Args:
            mode: ignored.

        Returns:
            This module, unchanged.
        """
        return self

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Noise estimate for x (B, 1, 28, 28), t (B,) in [0, 1], c (B, 10).

        Args:
            x: noisy images, shape (B, 1, 28, 28).
            t: timesteps divided by 1000, shape (B,), in [0, 1].
            c: class vectors (one-hot, or zeros for unconditional), shape (B, 10).

        Returns:
            The noise estimate, shape (B, 1, 28, 28).
        """
        return self.net(x, t, c)


def load_exported_network(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> ExportedNetwork:
    """Load an ``export_network`` program, moved to ``device`` (constants and device checks too).

    Args:
        path: the ``.pt2`` file.
        device: where the program runs.

    Returns:
        The program as a module, called as ``model(x, t, c)``.
    """
    program = torch.export.load(str(path))
    if torch.device(device).type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, torch.device(device))
    return ExportedNetwork(program)


def export_network(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Save ``model`` as a ``torch.export`` program with a free batch size.

    Args:
        model: the network, called as ``model(x, t, c)`` with x (B, 1, 28, 28), t (B,) and
            c (B, 10); it is put in eval mode on the CPU.
        path: the ``.pt2`` file to write.
    """
    batch = torch.export.Dim("batch", min=1, max=65536)
    example = (torch.randn(2, 1, 28, 28), torch.rand(2), torch.zeros(2, 10))
    program = torch.export.export(
        model.eval().cpu(),
        example,
        dynamic_shapes={"x": {0: batch}, "t": {0: batch}, "c": {0: batch}},
    )
    torch.export.save(program, str(path))


def load_mnist_backend(
    weights: str | os.PathLike[str] | None = None, device: torch.device | str = "cpu"
) -> MNISTBackend:
    """Build the MNIST backend from a weights file (default: the shipped one).

    Args:
        weights: a ``.safetensors`` of model weights (fp16 or fp32) with the model's
            config in its metadata, as ``scripts/export_weights.py`` writes it, or a
            training run's ``checkpoint.safetensors``.
        device: where it runs.

    Raises:
        BackendError: the file is missing, unreadable or not a diffusion-class model.
    """
    from fundiff.assets import asset_path, assets_dir
    from fundiff.kinds import kind_of
    from fundiff.training.checkpoint import CheckpointError
    from fundiff.training.weights import load_model_file

    if weights is None and (assets_dir() / EXPORTED_ASSET).is_file():  # the student build
        return MNISTBackend(load_exported_network(asset_path(EXPORTED_ASSET), device), device)
    path = Path(weights) if weights is not None else shipped_weights()
    if not path.is_file():
        raise BackendError(
            f"{path}: no MNIST diffusion weights there; train them with 'fundiff train diffusion-class' "
            "and pass the run's checkpoint.safetensors"
        )
    try:
        config, model = load_model_file(path, "cpu")
    except CheckpointError as err:
        raise BackendError(str(err)) from None
    if kind_of(config).backend is not MNISTBackend:
        raise BackendError(
            f"{path} holds a {config.kind} model, not a diffusion-class one; pass a "
            "'fundiff train diffusion-class' checkpoint, or leave --weights out for the shipped model"
        )
    return MNISTBackend(model, device)
