"""What a training run draws: the write-up's Part B figures, one function per kind.

Each function takes an ``EpochFigures`` (what a run has at the end of an epoch) and
returns the paths it wrote; ``fundiff.kinds`` says which function a kind draws. The
figures that show samples take them from the kind's own sampler, handed in as
``EpochFigures.sample``, so this module knows no sampler.

Figures use their own generator, seeded from the run's seed and the epoch, so
drawing them never changes the training draws (and a resumed run draws the
same figures as an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fundiff.atomic import write_json
from fundiff.models.classifier import accuracy
from fundiff.objectives.denoiser import add_noise
from fundiff.training.config import TrainConfig
from fundiff.viz import save_grid, save_table
from fundiff.writeup import PART_B

SIGMAS: tuple[float, ...] = PART_B.noising_sigmas
"""Noise levels of the write-up's noising figure (1.2), from ``fundiff.writeup.PART_B``."""
OOD_SIGMAS: tuple[float, ...] = PART_B.ood_sigmas
"""Noise levels of the write-up's out-of-distribution figure (1.2.2), from ``fundiff.writeup.PART_B``."""

Sampler = Callable[..., torch.Tensor]
"""A kind's sampler, as ``fundiff.kinds.Sampler`` describes it."""


@dataclass
class EpochFigures:
    """What the figures after an epoch are drawn from.

    Attributes:
        run_dir: where the PNGs go.
        config: the run's configuration.
        model: the model to draw with (in eval mode).
        epoch: the epoch just completed (1-based).
        test_images: (N, 1, 28, 28) in [0, 1], on the model's device, N >= 8.
        sample: the kind's sampler (None for kinds that do not sample).
        train_mean: (1, 28, 28), the mean training digit; the pure-noise figure
            shows it beside the model's outputs, which should match it.
        progress: show a tqdm bar while sampling.
        test_labels: (N,) labels of ``test_images``; the classifier reports its accuracy on them.
    """

    run_dir: Path
    config: TrainConfig
    model: nn.Module
    epoch: int
    test_images: torch.Tensor
    sample: Sampler | None = None
    train_mean: torch.Tensor | None = None
    progress: bool = False
    test_labels: torch.Tensor | None = None

    @property
    def generator(self) -> torch.Generator:
        """A fresh generator for this epoch's figures (see ``figure_generator``)."""
        return figure_generator(self.config, self.epoch, self.test_images.device)

    @property
    def tag(self) -> str:
        """The epoch as figure names show it: ``epochNN``."""
        return f"epoch{self.epoch:02d}"


def figure_generator(config: TrainConfig, epoch: int, device: torch.device) -> torch.Generator:
    """A generator for an epoch's figures, independent of the training draws.

    Args:
        config: the run's configuration; its seed is used.
        epoch: the epoch the figures are drawn after (0: before training).
        device: where the generator draws.

    Returns:
        A generator seeded with ``config.seed * 1000 + epoch``.
    """
    return torch.Generator(device).manual_seed(config.seed * 1000 + epoch)


@torch.no_grad()
def noising_figure(run_dir: Path, config: TrainConfig, test_images: torch.Tensor) -> list[Path]:
    """The denoiser's figure drawn before training: the noising process at ``SIGMAS``.

    Args:
        run_dir: where the PNG goes.
        config: the run's configuration.
        test_images: (N, 1, 28, 28) in [0, 1], N >= 5.

    Returns:
        The path written (``noising.png``).
    """
    gen = figure_generator(config, 0, test_images.device)
    x = test_images[:5]
    table = torch.stack(
        [add_noise(x, s, gen) for s in SIGMAS], dim=1
    )  # (5, len(SIGMAS), 1, 28, 28)
    path = run_dir / "noising.png"
    save_table(
        path,
        table,
        col_labels=[f"σ={s}" for s in SIGMAS],
        title="Noising process z = x + σε",
    )
    return [path]


@torch.no_grad()
def classifier_figures(f: EpochFigures) -> list[Path]:
    """The classifier's test accuracy after the epoch, as ``accuracy_epochNN.json``.

    Args:
        f: what the epoch's figures are drawn from; without test labels nothing is written.

    Returns:
        The paths written.
    """
    if f.test_labels is None:
        return []
    path = f.run_dir / f"accuracy_{f.tag}.json"
    acc = accuracy(f.model, f.test_images, f.test_labels)
    write_json(
        path,
        {"epoch": f.epoch, "test_images": int(f.test_labels.shape[0]), "test_accuracy": acc},
    )
    return [path]


@torch.no_grad()
def denoiser_figures(f: EpochFigures) -> list[Path]:
    """Denoised test digits after the epoch; after the last, the out-of-distribution figure too.

    Args:
        f: what the epoch's figures are drawn from.

    Returns:
        The paths written.
    """
    config, gen = f.config, f.generator
    x = f.test_images[:8]
    z = add_noise(x, config.sigma, gen)
    table = torch.stack([x, z, f.model(z)], dim=1)  # (8, 3, 1, 28, 28)
    path = f.run_dir / f"denoised_{f.tag}.png"
    save_table(
        path, table, col_labels=["input", f"noisy σ={config.sigma}", "output"],
        title=f"Denoiser after epoch {f.epoch}",
    )  # fmt: skip
    written = [path]
    if f.epoch == config.epochs:
        written.append(_ood_figure(f.run_dir, config, f.model, f.test_images, gen))
    return written


@torch.no_grad()
def pure_noise_figures(f: EpochFigures) -> list[Path]:
    """The pure-noise denoiser's outputs for 9 noise inputs, beside the mean training digit.

    Args:
        f: what the epoch's figures are drawn from; ``sample`` is the kind's sampler.

    Returns:
        The paths written.
    """
    device = f.test_images.device
    outputs = _sample(f, torch.zeros(9, dtype=torch.long, device=device))  # (9, 1, 28, 28)
    if f.train_mean is not None:
        outputs = torch.cat([outputs, f.train_mean[None].to(outputs)])
    path = f.run_dir / f"samples_{f.tag}.png"
    title = f"Pure-noise denoiser, epoch {f.epoch}: outputs for 9 noise inputs"
    save_grid(
        path,
        outputs,
        nrow=10,
        title=title + (" | mean training digit" if f.train_mean is not None else ""),
    )
    return [path]


@torch.no_grad()
def flow_time_figures(f: EpochFigures) -> list[Path]:
    """40 samples of the time-conditioned flow.

    Args:
        f: what the epoch's figures are drawn from; ``sample`` is the kind's sampler.

    Returns:
        The paths written.
    """
    device = f.test_images.device
    samples = _sample(f, torch.zeros(40, dtype=torch.long, device=device))
    path = f.run_dir / f"samples_{f.tag}.png"
    save_grid(
        path,
        samples,
        nrow=10,
        title=f"Time-conditioned flow, epoch {f.epoch}, {f.config.sample_steps} Euler steps",
    )
    return [path]


@torch.no_grad()
def flow_class_figures(f: EpochFigures) -> list[Path]:
    """Four rows of the digits 0 to 9 from the class-conditioned flow, with guidance.

    Args:
        f: what the epoch's figures are drawn from; ``sample`` is the kind's sampler.

    Returns:
        The paths written.
    """
    config = f.config
    title = f"Class-conditioned flow, epoch {f.epoch}: columns are digits 0-9, guidance {config.guidance}, {config.sample_steps} steps"
    return _digit_grid(f, title)


@torch.no_grad()
def diffusion_class_figures(f: EpochFigures) -> list[Path]:
    """Four rows of the digits 0 to 9 from the MNIST diffusion backend, with guidance.

    Args:
        f: what the epoch's figures are drawn from; ``sample`` is the kind's sampler.

    Returns:
        The paths written.
    """
    title = f"MNIST diffusion backend, epoch {f.epoch}: digits 0-9, CFG {f.config.guidance}, strided 990..0 by 30"
    return _digit_grid(f, title)


def _digit_grid(f: EpochFigures, title: str) -> list[Path]:
    """Four rows of the digits 0 to 9 from the kind's sampler, saved with ``title``."""
    samples = _sample(f, _digit_rows(f.config, f.test_images.device))
    path = f.run_dir / f"samples_{f.tag}.png"
    save_grid(path, samples, nrow=f.config.num_classes, title=title)
    return [path]


def _digit_rows(config: TrainConfig, device: torch.device) -> torch.Tensor:
    """(4 * num_classes,) labels: four rows of 0..num_classes-1."""
    return torch.arange(config.num_classes, device=device).repeat(4)


def _sample(f: EpochFigures, labels: torch.Tensor) -> torch.Tensor:
    """The kind's samples for ``labels`` (B,), drawn from the epoch's figure generator."""
    if f.sample is None:
        raise ValueError(f"a {f.config.kind} figure needs the kind's sampler; none was given")
    config = f.config
    return f.sample(
        f.model, labels, guidance=config.guidance, steps=config.sample_steps,
        generator=f.generator, num_classes=config.num_classes, progress=f.progress,
    )  # fmt: skip


def _ood_figure(
    run_dir: Path,
    config: TrainConfig,
    model: nn.Module,
    test_images: torch.Tensor,
    gen: torch.Generator,
) -> Path:
    """Out-of-distribution test: the denoiser at noise levels it was not trained on."""
    x = test_images[:3]
    noisy = torch.stack([add_noise(x, s, gen) for s in OOD_SIGMAS], dim=1)  # (3, S, 1, 28, 28)
    flat = noisy.flatten(0, 1)  # (3S, 1, 28, 28)
    denoised = model(flat).view_as(noisy)
    rows = torch.stack([noisy, denoised], dim=1).flatten(
        0, 1
    )  # (6, S, 1, 28, 28): noisy, output, ...
    path = run_dir / "ood.png"
    save_table(
        path, rows, row_labels=["noisy", "denoised"] * 3, col_labels=[f"σ={s}" for s in OOD_SIGMAS],
        title=f"Denoiser trained at σ={config.sigma}, tested at other σ",
    )  # fmt: skip
    return path
