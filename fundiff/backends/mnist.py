"""The MNIST diffusion backend: a small class-conditional pixel DDPM that fundiff trains and ships.

Design: epsilon prediction on DeepFloyd IF's own schedule (1000 steps,
cosine / ``squaredcos_cap_v2``), so that every Part A loop, the strided
timesteps 990, 960, ..., 0 and the i_start values of the write-up carry over
unchanged; only the images are smaller (1x28x28). The network is Part B's
``ClassConditionalUNet``: the time input is t / 1000, the class input a one-hot
vector of the digit, and the zero vector for the unconditional prompt "" (it is
trained with 10% class dropout, so classifier-free guidance works). Its
variance is the fixed posterior variance ("fixed_small").

Prompts are the digits "0" to "9" and "" (unconditional). Images are in [-1, 1]
(a [0, 1] MNIST digit x maps to 2x - 1).

Training: ``fundiff train diffusion-class`` (see ``fundiff.training.config.RECIPES``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from fundiff.backends.base import Prediction
from fundiff.schedules import cosine_alphas_cumprod

NUM_STEPS = 1000
PROMPTS: tuple[str, ...] = tuple(str(d) for d in range(10)) + ("",)
WEIGHTS_ASSET = "mnist_diffusion.safetensors"
EXPORTED_ASSET = "mnist_diffusion.pt2"
"""The same network as a ``torch.export`` program: shipped only in the student build
(``autograder.course.student``), whose UNet classes are the students' to write."""


class BackendError(Exception):
    """The backend cannot be built as asked; the message says why and what to do."""


class MNISTBackend:
    """The Part A ``Backend`` for a class-conditional MNIST epsilon model.

    Args:
        model: ``ClassConditionalUNet`` trained by ``fundiff.objectives.diffusion.diffusion_loss``.
        device: where it runs.
    """

    name = "mnist"
    image_shape = (1, 28, 28)
    variance_type = "fixed_small"
    prompts = PROMPTS

    def __init__(self, model: nn.Module, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.num_classes = getattr(model, "num_classes", 10)
        self.alphas_cumprod = cosine_alphas_cumprod(NUM_STEPS).to(self.device)

    def encode(self, prompt: str) -> torch.Tensor:
        """One-hot (1, 10) for "0".."9"; zeros for "".

        Args:
            prompt: a digit "0" to "9", or "" for the unconditional prompt.

        Returns:
            The class vector, shape (1, num_classes), on ``device``.

        Raises:
            ValueError: ``prompt`` is not a digit or "".
        """
        if prompt not in PROMPTS:
            raise ValueError(
                f"the MNIST backend knows the prompts '0' to '9' and '' (unconditional), not {prompt!r}"
            )
        c = torch.zeros(1, self.num_classes, device=self.device)
        if prompt:
            c[0, int(prompt)] = 1
        return c

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        """Noise estimate for ``x_t`` at timestep ``t`` under class vectors ``cond``.

        Args:
            x_t: noisy images, shape (B, 1, 28, 28).
            t: the timestep, an int in [0, 1000); the network sees t / 1000.
            cond: class vectors from ``encode``, shape (1, 10) (shared) or (B, 10).

        Returns:
            The noise estimate, shape (B, 1, 28, 28); no variance (``fixed_small``).
        """
        b = x_t.shape[0]
        c = cond.expand(b, -1) if cond.shape[0] == 1 else cond
        tt = torch.full((b,), t / NUM_STEPS, device=x_t.device, dtype=x_t.dtype)
        return Prediction(self.model(x_t, tt, c))


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
