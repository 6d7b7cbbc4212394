"""Training tasks: which model and which loss each ``fundiff train`` kind uses.

A task is what differs between ``fundiff train`` subcommands; the loop itself
(``fundiff.train``) is shared, and so are the figures (``fundiff.figures``) and
the weight files (``fundiff.weights``).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from fundiff.backends.mnist import diffusion_loss
from fundiff.config import TrainConfig
from fundiff.denoiser import denoiser_loss, pure_noise_loss
from fundiff.flow import draw_flow_inputs, flow_matching_loss, one_hot_with_dropout
from fundiff.models import ClassConditionalUNet, TimeConditionalUNet, UnconditionalUNet
from fundiff.models.classifier import MNISTClassifier
from fundiff.schedules import cosine_alphas_cumprod


def build_model(config: TrainConfig) -> nn.Module:
    """The UNet that ``config.kind`` trains, freshly initialised from the global RNG.

    Args:
        config: the run's configuration; its kind, hidden and num_classes are used.

    Returns:
        An ``UnconditionalUNet`` (denoiser, pure-noise), ``TimeConditionalUNet``
        (flow-time), ``ClassConditionalUNet`` (flow-class, diffusion-class) or
        ``MNISTClassifier`` (classifier).

    Raises:
        ValueError: an unknown kind.
    """
    if config.kind in ("denoiser", "pure-noise"):
        return UnconditionalUNet(hidden=config.hidden)
    if config.kind == "flow-time":
        return TimeConditionalUNet(hidden=config.hidden)
    if config.kind in ("flow-class", "diffusion-class"):
        return ClassConditionalUNet(hidden=config.hidden, num_classes=config.num_classes)
    if config.kind == "classifier":
        return MNISTClassifier(hidden=config.hidden, num_classes=config.num_classes)
    raise ValueError(f"unknown model kind {config.kind!r}")


def batch_loss(
    model: nn.Module,
    config: TrainConfig,
    x: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The training loss of one batch.

    Args:
        model: the task's UNet.
        config: the run's configuration.
        x: images in [0, 1], shape (B, 1, 28, 28).
        labels: digit labels, shape (B,).
        generator: the run's training generator (noise, times, class dropout).

    Returns:
        Scalar loss.
    """
    if config.kind == "denoiser":
        return denoiser_loss(model, x, config.sigma, generator)
    if config.kind == "pure-noise":
        return pure_noise_loss(model, x, generator)
    if config.kind == "classifier":
        return torch.nn.functional.cross_entropy(model(x), labels)
    if config.kind == "diffusion-class":
        abar = _schedule(x.device)
        return diffusion_loss(
            model, x, labels, abar, config.p_uncond, generator, config.num_classes
        )
    draws = draw_flow_inputs(x, generator)
    if config.kind == "flow-time":
        return flow_matching_loss(model, x, draws.x0, draws.t)
    c = one_hot_with_dropout(labels, config.num_classes, config.p_uncond, generator)
    return flow_matching_loss(lambda xt, t: model(xt, t, c), x, draws.x0, draws.t)


@functools.cache
def _schedule(device: torch.device) -> torch.Tensor:
    return cosine_alphas_cumprod(1000).to(device)
