"""What a training run draws: the write-up's Part B figures, per kind and epoch.

Figures use their own generator, seeded from the run's seed and the epoch, so
drawing them never changes the training draws (and a resumed run draws the
same figures as an uninterrupted one).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fundiff.backends.mnist import MNISTBackend, sample_digits
from fundiff.config import TrainConfig
from fundiff.denoiser import add_noise
from fundiff.models.classifier import accuracy
from fundiff.sampling import sample_class_conditional, sample_time_conditional
from fundiff.viz import save_grid, save_table
from fundiff.writeup import PART_B

SIGMAS: tuple[float, ...] = PART_B.noising_sigmas
"""Noise levels of the write-up's noising figure (1.2), from ``fundiff.writeup.PART_B``."""
OOD_SIGMAS: tuple[float, ...] = PART_B.ood_sigmas
"""Noise levels of the write-up's out-of-distribution figure (1.2.2), from ``fundiff.writeup.PART_B``."""


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
def start_figures(run_dir: Path, config: TrainConfig, test_images: torch.Tensor) -> None:
    """Figures drawn before training: the noising process for the denoiser.

    Args:
        run_dir: where the PNGs go.
        config: the run's configuration.
        test_images: (N, 1, 28, 28) in [0, 1], N >= 5.
    """
    if config.kind != "denoiser":
        return
    gen = figure_generator(config, 0, test_images.device)
    x = test_images[:5]
    table = torch.stack(
        [add_noise(x, s, gen) for s in SIGMAS], dim=1
    )  # (5, len(SIGMAS), 1, 28, 28)
    save_table(
        run_dir / "noising.png",
        table,
        col_labels=[f"σ={s}" for s in SIGMAS],
        title="Noising process z = x + σε",
    )


@torch.no_grad()
def epoch_figures(
    run_dir: Path,
    config: TrainConfig,
    model: nn.Module,
    epoch: int,
    test_images: torch.Tensor,
    train_mean: torch.Tensor | None = None,
    progress: bool = False,
    test_labels: torch.Tensor | None = None,
) -> list[Path]:
    """Figures after ``epoch``: denoised test digits, or samples; returns the paths written.

    Args:
        run_dir: where the PNGs go.
        config: the run's configuration.
        model: the model to draw with (in eval mode).
        epoch: the epoch just completed (1-based).
        test_images: (N, 1, 28, 28) in [0, 1], on the model's device, N >= 8.
        train_mean: (1, 28, 28), the mean training digit; the pure-noise figure
            shows it beside the model's outputs, which should match it.
        progress: show a tqdm bar while sampling.
        test_labels: (N,) labels of ``test_images``; the classifier reports its accuracy on them.
    """
    device = test_images.device
    gen = figure_generator(config, epoch, device)
    tag = f"epoch{epoch:02d}"
    written: list[Path] = []
    if config.kind == "classifier":
        if test_labels is not None:
            from fundiff.atomic import write_json

            path = run_dir / f"accuracy_{tag}.json"
            acc = accuracy(model, test_images, test_labels)
            write_json(
                path,
                {"epoch": epoch, "test_images": int(test_labels.shape[0]), "test_accuracy": acc},
            )
            written.append(path)
    elif config.kind == "denoiser":
        x = test_images[:8]
        z = add_noise(x, config.sigma, gen)
        table = torch.stack([x, z, model(z)], dim=1)  # (8, 3, 1, 28, 28)
        path = run_dir / f"denoised_{tag}.png"
        save_table(
            path, table, col_labels=["input", f"noisy σ={config.sigma}", "output"],
            title=f"Denoiser after epoch {epoch}",
        )  # fmt: skip
        written.append(path)
        if epoch == config.epochs:
            written.append(_ood_figure(run_dir, config, model, test_images, gen))
    elif config.kind == "pure-noise":
        eps = torch.randn((9, 1, 28, 28), generator=gen, device=device)
        outputs = model(eps)  # (9, 1, 28, 28)
        if train_mean is not None:
            outputs = torch.cat([outputs, train_mean[None].to(outputs)])
        path = run_dir / f"samples_{tag}.png"
        title = f"Pure-noise denoiser, epoch {epoch}: outputs for 9 noise inputs"
        save_grid(
            path,
            outputs,
            nrow=10,
            title=title + (" | mean training digit" if train_mean is not None else ""),
        )
        written.append(path)
    elif config.kind == "flow-time":
        samples = sample_time_conditional(
            model, 40, config.sample_steps, gen, device=device, progress=progress
        )
        path = run_dir / f"samples_{tag}.png"
        save_grid(
            path,
            samples,
            nrow=10,
            title=f"Time-conditioned flow, epoch {epoch}, {config.sample_steps} Euler steps",
        )
        written.append(path)
    elif config.kind == "diffusion-class":
        labels = torch.arange(config.num_classes, device=device).repeat(4)  # 4 rows of 0..9
        images = sample_digits(
            MNISTBackend(model, device), labels, config.guidance, gen, progress=progress
        )
        path = run_dir / f"samples_{tag}.png"
        save_grid(
            path, images, nrow=config.num_classes,
            title=f"MNIST diffusion backend, epoch {epoch}: digits 0-9, CFG {config.guidance}, strided 990..0 by 30",
        )  # fmt: skip
        written.append(path)
    else:
        labels = torch.arange(config.num_classes, device=device).repeat(4)  # 4 rows of 0..9
        samples = sample_class_conditional(
            model, labels, config.sample_steps, config.guidance, gen,
            num_classes=config.num_classes, progress=progress,
        )  # fmt: skip
        path = run_dir / f"samples_{tag}.png"
        save_grid(
            path, samples, nrow=config.num_classes,
            title=f"Class-conditioned flow, epoch {epoch}: columns are digits 0-9, guidance {config.guidance}, {config.sample_steps} steps",
        )  # fmt: skip
        written.append(path)
    return written


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
