"""The registry of training kinds: what each ``fundiff train`` kind is, declared once.

A kind (``fundiff.training.config.KINDS``) names a model, the loss it is trained on,
how it samples (if it does), the figures a run draws, and what evaluation needs to
know of it. Everything that varies between kinds is here: the training loop, the
figures, evaluation, the CLI and the demo ask ``kind_of`` rather than compare names.

Samplers share one signature, ``Sampler``: class-conditional kinds draw one image per
label, the others draw as many images as there are labels and ignore their values.

Longer than 300 lines because the registry is one table: each kind's small adapters
(its model, its batch loss, its sampler) sit just above the entry that names them, so a
kind is read, and a new one added, in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from fundiff.backends.base import Backend
from fundiff.backends.mnist import MNISTBackend
from fundiff.models import ClassConditionalUNet, TimeConditionalUNet, UnconditionalUNet
from fundiff.models.classifier import MNISTClassifier
from fundiff.objectives.denoiser import denoiser_loss, pure_noise_loss
from fundiff.objectives.diffusion import diffusion_loss
from fundiff.objectives.flow import draw_flow_inputs, flow_matching_loss, one_hot_with_dropout
from fundiff.sampling.digits import sample_digits
from fundiff.sampling.flow import sample_class_conditional, sample_time_conditional
from fundiff.schedules import cosine_alphas_cumprod
from fundiff.training import figures
from fundiff.training.config import KINDS, ConfigError, TrainConfig

ModelFn = Callable[[TrainConfig], nn.Module]
"""Builds the model a config trains, freshly initialised from the global RNG."""
LossFn = Callable[
    [nn.Module, TrainConfig, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor
]
"""(model, config, images (B, 1, 28, 28) in [0, 1], labels (B,), generator) -> scalar loss."""
FigureFn = Callable[[figures.EpochFigures], list[Path]]
"""Draws a kind's figures after an epoch; returns the paths written."""
StartFigureFn = Callable[[Path, TrainConfig, torch.Tensor], list[Path]]
"""(run_dir, config, test images (N, 1, 28, 28) in [0, 1]) -> paths of the figures drawn
before training."""


class Sampler(Protocol):
    """Draws images from a trained model of one kind."""

    def __call__(
        self,
        model: nn.Module,
        labels: torch.Tensor,
        *,
        guidance: float,
        steps: int,
        generator: torch.Generator,
        num_classes: int = 10,
        progress: bool = False,
    ) -> torch.Tensor:
        """Images (B, 1, 28, 28), roughly in [0, 1] (not clamped).

        Args:
            model: the trained network, in eval mode, on ``labels``'s device.
            labels: (B,) digits to draw (class-conditional kinds); other kinds draw B images.
            guidance: classifier-free guidance scale (class-conditional kinds).
            steps: integration steps (kinds whose sampler has its own schedule ignore it).
            generator: source of every draw, on ``labels``'s device.
            num_classes: length of the class vector.
            progress: show a tqdm bar.
        """
        ...


@dataclass(frozen=True)
class Kind:
    """One training kind, as the loop, the figures, evaluation and the CLI need it.

    Attributes:
        name: the kind's name, one of ``fundiff.training.config.KINDS``.
        build_model: its freshly initialised model.
        loss: the training loss of one batch.
        figures: the figures drawn after an epoch.
        start_figures: the figures drawn before training, if any.
        sample: its sampler; None for kinds that do not generate images.
        class_conditional: its samples are drawn for given digits, with a guidance scale.
        evaluated: its samples are digits that ``fundiff.evaluation`` judges.
        schedule: the sampler's own timesteps, for a sampler that takes no step count.
        caption: how a grid of its samples is described; a format string with the fields
            ``digits``, ``guidance`` and ``num``.
        backend: the Part A backend that a trained model of this kind serves as, built as
            ``backend(model, device)``; None for kinds that are no Part A backend.
    """

    name: str
    build_model: ModelFn
    loss: LossFn
    figures: FigureFn
    start_figures: StartFigureFn | None = None
    sample: Sampler | None = None
    class_conditional: bool = False
    evaluated: bool = False
    schedule: str | None = None
    caption: str = ""
    backend: Callable[[nn.Module, torch.device | str], Backend] | None = None


# ----------------------------------------------------------------------------- models


def _unconditional(config: TrainConfig) -> nn.Module:
    return UnconditionalUNet(hidden=config.hidden)


def _time_conditional(config: TrainConfig) -> nn.Module:
    return TimeConditionalUNet(hidden=config.hidden)


def _class_conditional(config: TrainConfig) -> nn.Module:
    return ClassConditionalUNet(hidden=config.hidden, num_classes=config.num_classes)


def _classifier(config: TrainConfig) -> nn.Module:
    return MNISTClassifier(hidden=config.hidden, num_classes=config.num_classes)


# ----------------------------------------------------------------------------- losses


def _denoiser_loss(
    model: nn.Module, config: TrainConfig, x: torch.Tensor, labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:  # fmt: skip
    return denoiser_loss(model, x, config.sigma, generator)


def _pure_noise_loss(
    model: nn.Module, config: TrainConfig, x: torch.Tensor, labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:  # fmt: skip
    return pure_noise_loss(model, x, generator)


def _flow_time_loss(
    model: nn.Module, config: TrainConfig, x: torch.Tensor, labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:  # fmt: skip
    draws = draw_flow_inputs(x, generator)
    return flow_matching_loss(model, x, draws.x0, draws.t)


def _flow_class_loss(
    model: nn.Module, config: TrainConfig, x: torch.Tensor, labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:  # fmt: skip
    draws = draw_flow_inputs(x, generator)
    c = one_hot_with_dropout(labels, config.num_classes, config.p_uncond, generator)
    return flow_matching_loss(lambda xt, t: model(xt, t, c), x, draws.x0, draws.t)


def _diffusion_class_loss(
    model: nn.Module, config: TrainConfig, x: torch.Tensor, labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:  # fmt: skip
    abar = _schedule(x.device)
    return diffusion_loss(model, x, labels, abar, config.p_uncond, generator, config.num_classes)


def _classifier_loss(
    model: nn.Module, config: TrainConfig, x: torch.Tensor, labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:  # fmt: skip
    return F.cross_entropy(model(x), labels)


@functools.cache
def _schedule(device: torch.device) -> torch.Tensor:
    """IF's cosine schedule (1000 steps) on ``device``, built once per device."""
    return cosine_alphas_cumprod(1000).to(device)


# ----------------------------------------------------------------------------- samplers


@torch.no_grad()
def _pure_noise_sample(
    model: nn.Module, labels: torch.Tensor, *, guidance: float, steps: int,
    generator: torch.Generator, num_classes: int = 10, progress: bool = False,
) -> torch.Tensor:  # fmt: skip
    """One pass of the denoiser over pure noise: (B, 1, 28, 28)."""
    noise = torch.randn((labels.shape[0], 1, 28, 28), generator=generator, device=labels.device)
    return model(noise)


def _flow_time_sample(
    model: nn.Module, labels: torch.Tensor, *, guidance: float, steps: int,
    generator: torch.Generator, num_classes: int = 10, progress: bool = False,
) -> torch.Tensor:  # fmt: skip
    return sample_time_conditional(
        model, labels.shape[0], steps, generator, device=labels.device, progress=progress
    )


def _flow_class_sample(
    model: nn.Module, labels: torch.Tensor, *, guidance: float, steps: int,
    generator: torch.Generator, num_classes: int = 10, progress: bool = False,
) -> torch.Tensor:  # fmt: skip
    return sample_class_conditional(
        model, labels, steps, guidance, generator, num_classes=num_classes, progress=progress
    )


def _diffusion_class_sample(
    model: nn.Module, labels: torch.Tensor, *, guidance: float, steps: int,
    generator: torch.Generator, num_classes: int = 10, progress: bool = False,
) -> torch.Tensor:  # fmt: skip
    backend = MNISTBackend(model, labels.device)
    return sample_digits(backend, labels, guidance, generator, progress=progress)


# ----------------------------------------------------------------------------- the registry

REGISTRY: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "denoiser", _unconditional, _denoiser_loss, figures.denoiser_figures,
            start_figures=figures.noising_figure,
        ),
        Kind(
            "pure-noise", _unconditional, _pure_noise_loss, figures.pure_noise_figures,
            sample=_pure_noise_sample, caption="outputs for {num} noise inputs",
        ),
        Kind(
            "flow-time", _time_conditional, _flow_time_loss, figures.flow_time_figures,
            sample=_flow_time_sample, evaluated=True, caption="{num} samples",
        ),
        Kind(
            "flow-class", _class_conditional, _flow_class_loss, figures.flow_class_figures,
            sample=_flow_class_sample, class_conditional=True, evaluated=True,
            caption="digits {digits}, guidance {guidance}",
        ),
        Kind(
            "diffusion-class", _class_conditional, _diffusion_class_loss,
            figures.diffusion_class_figures, sample=_diffusion_class_sample,
            class_conditional=True, evaluated=True, schedule="strided 990..0 by 30",
            caption="digits {digits}, guidance {guidance}, strided DDPM", backend=MNISTBackend,
        ),
        Kind("classifier", _classifier, _classifier_loss, figures.classifier_figures),
    )
}  # fmt: skip
"""Every kind of ``fundiff.training.config.KINDS``, by name."""


def kind_of(kind: str | TrainConfig) -> Kind:
    """The registry entry of a kind.

    Args:
        kind: a kind's name, or a configuration whose kind is wanted.

    Returns:
        Its ``Kind``.

    Raises:
        ConfigError: an unknown kind (a ``ValueError``).
    """
    name = kind.kind if isinstance(kind, TrainConfig) else kind
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model kind {name!r}; choose one of {', '.join(KINDS)}"
        ) from None


def kinds_that(predicate: Callable[[Kind], bool]) -> tuple[str, ...]:
    """The names of the kinds for which ``predicate`` holds, in the order of ``KINDS``.

    Args:
        predicate: a test of a ``Kind``, e.g. ``lambda k: k.evaluated``.

    Returns:
        The names, e.g. ``("flow-time", "flow-class", "diffusion-class")``.
    """
    return tuple(name for name in KINDS if predicate(REGISTRY[name]))


def build_model(config: TrainConfig) -> nn.Module:
    """The model that ``config.kind`` trains, freshly initialised from the global RNG.

    Args:
        config: the run's configuration; its kind, hidden and num_classes are used.

    Returns:
        An ``UnconditionalUNet`` (denoiser, pure-noise), ``TimeConditionalUNet``
        (flow-time), ``ClassConditionalUNet`` (flow-class, diffusion-class) or
        ``MNISTClassifier`` (classifier).

    Raises:
        ConfigError: an unknown kind (a ``ValueError``).
    """
    return kind_of(config).build_model(config)


def batch_loss(
    model: nn.Module,
    config: TrainConfig,
    x: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The training loss of one batch, as ``config.kind`` defines it.

    Args:
        model: the kind's model.
        config: the run's configuration.
        x: images in [0, 1], shape (B, 1, 28, 28).
        labels: digit labels, shape (B,).
        generator: the run's training generator (noise, times, class dropout).

    Returns:
        Scalar loss.

    Raises:
        ConfigError: an unknown kind (a ``ValueError``).
    """
    return kind_of(config).loss(model, config, x, labels, generator)


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
    """Draw the figures of ``config.kind`` after ``epoch``; returns the paths written.

    Args:
        run_dir: where the PNGs go.
        config: the run's configuration.
        model: the model to draw with (in eval mode).
        epoch: the epoch just completed (1-based).
        test_images: (N, 1, 28, 28) in [0, 1], on the model's device, N >= 8.
        train_mean: (1, 28, 28), the mean training digit (the pure-noise figure shows it).
        progress: show a tqdm bar while sampling.
        test_labels: (N,) labels of ``test_images`` (the classifier reports its accuracy).

    Returns:
        The paths written.
    """
    kind = kind_of(config)
    inputs = figures.EpochFigures(
        run_dir, config, model, epoch, test_images, sample=kind.sample, train_mean=train_mean,
        progress=progress, test_labels=test_labels,
    )  # fmt: skip
    return kind.figures(inputs)


def start_figures(run_dir: Path, config: TrainConfig, test_images: torch.Tensor) -> list[Path]:
    """Draw the figures of ``config.kind`` before training (the denoiser's noising process).

    Args:
        run_dir: where the PNGs go.
        config: the run's configuration.
        test_images: (N, 1, 28, 28) in [0, 1], N >= 5.

    Returns:
        The paths written (none for most kinds).
    """
    draw = kind_of(config).start_figures
    return draw(run_dir, config, test_images) if draw is not None else []
