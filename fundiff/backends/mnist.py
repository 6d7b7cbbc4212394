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

Training: ``fundiff train diffusion-class`` (see ``fundiff.config.RECIPES``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fundiff.backends.base import Prediction
from fundiff.flow import one_hot_with_dropout
from fundiff.schedules import cosine_alphas_cumprod

NUM_STEPS = 1000
PROMPTS: tuple[str, ...] = tuple(str(d) for d in range(10)) + ("",)
WEIGHTS_ASSET = "mnist_diffusion.safetensors"
EXPORTED_ASSET = "mnist_diffusion.pt2"
"""The same network as a ``torch.export`` program: shipped only in the student build
(``autograder.course.student``), whose UNet classes are the students' to write."""


class BackendError(Exception):
    """The backend cannot be built as asked; the message says why and what to do."""


def diffusion_loss(
    model: nn.Module,
    x01: torch.Tensor,
    labels: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    p_uncond: float,
    generator: torch.Generator | None = None,
    num_classes: int = 10,
) -> torch.Tensor:
    """Epsilon-prediction loss: ``|eps_theta(x_t, t, c) - eps|^2``.

    Args:
        model: ``ClassConditionalUNet``-like, called as ``model(x_t, t / T, c)``.
        x01: digits in [0, 1], shape (B, 1, 28, 28); mapped to [-1, 1].
        labels: digit labels, shape (B,).
        alphas_cumprod: (T,) schedule, on the data's device.
        p_uncond: class-dropout probability.
        generator: source of t, eps and the dropout mask.
        num_classes: length of the one-hot vector.

    Returns:
        Scalar loss.
    """
    x0 = 2 * x01 - 1
    b = x0.shape[0]
    n = alphas_cumprod.shape[0]
    t = torch.randint(0, n, (b,), generator=generator, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    abar = alphas_cumprod[t].to(x0.dtype).view(b, 1, 1, 1)
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    c = one_hot_with_dropout(labels, num_classes, p_uncond, generator)
    return F.mse_loss(model(x_t, t.to(x0.dtype) / n, c), eps)


class MNISTBackend:
    """The Part A ``Backend`` for a class-conditional MNIST epsilon model.

    Args:
        model: ``ClassConditionalUNet`` trained by ``diffusion_loss``.
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
    from fundiff.checkpoint import CheckpointError
    from fundiff.weights import load_model_file

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
    if config.kind != "diffusion-class":
        raise BackendError(
            f"{path} holds a {config.kind} model, not a diffusion-class one; pass a "
            "'fundiff train diffusion-class' checkpoint, or leave --weights out for the shipped model"
        )
    return MNISTBackend(model, device)


def sample_digits(
    backend: MNISTBackend,
    labels: torch.Tensor,
    guidance: float = 5.0,
    generator: torch.Generator | None = None,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """Draw one digit per label with the write-up's strided sampler and classifier-free guidance.

    Args:
        backend: the MNIST backend.
        labels: digits to draw, shape (B,), on the backend's device.
        guidance: guidance scale (1: the conditional model alone).
        generator: source of every draw.
        progress: show a tqdm bar.

    Returns:
        (B, 1, 28, 28) in [0, 1] (clamped), the range of MNIST and of the classifier's input.
    """
    from fundiff.diffusion.cfg import guided
    from fundiff.diffusion.denoise import sample
    from fundiff.schedules import strided_timesteps

    conds = F.one_hot(labels, backend.num_classes).float()  # (B, 10)
    predictor = guided(backend, conds, torch.zeros_like(conds), guidance)
    images = sample(
        predictor, (labels.shape[0], *backend.image_shape), strided_timesteps(), backend.alphas_cumprod,
        backend.variance_type, generator, device=backend.device, progress=progress,
    )  # fmt: skip
    return ((images + 1) / 2).clamp(0, 1)
