"""The optimiser side of a run: Adam, the learning-rate schedule, the weight average, autocast.

``config.fast`` turns on the fast path: the loss and its gradient computed under
bfloat16 autocast (weights, optimiser state and the loss stay float32), the
UNet's tensors in channels_last layout, and Adam's fused single-kernel update; on
CUDA the step is also replayed from a CUDA graph (``fundiff.training.step``), which
needs a capturable optimiser and an autocast without weight cache.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fundiff.training.checkpoint import TrainingState
from fundiff.training.config import TrainConfig


@dataclass
class Optimisation:
    """What updates a model's weights, and how its loss is computed.

    Attributes:
        optimizer: Adam over the model's parameters.
        scheduler: the exponential schedule, stepped once per epoch; None for a constant rate.
        ema: the exponential moving average of the weights; None when the run keeps none.
        autocast: the context the loss is computed in (bfloat16 on the fast path).
        layout: the memory layout of the model's tensors and of every batch.
        graphed: steps are replayed from a CUDA graph.
    """

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    ema: AveragedModel | None
    autocast: AbstractContextManager[Any]
    layout: torch.memory_format
    graphed: bool

    @property
    def lr(self) -> float:
        """The learning rate of the current epoch."""
        return float(self.optimizer.param_groups[0]["lr"])

    def averaged(self, model: nn.Module) -> nn.Module:
        """The model to draw figures with: the weight average if kept, else ``model``.

        Args:
            model: the trained model.

        Returns:
            The module to evaluate.
        """
        return self.ema.module if self.ema is not None else model

    def restore(self, state: TrainingState) -> None:
        """Load the optimiser, schedule and average saved in a checkpoint.

        Args:
            state: the checkpoint's training state.
        """
        if state.optimizer is not None:
            self.optimizer.load_state_dict(state.optimizer)
            match_layouts(self.optimizer)
        if self.scheduler is not None and state.scheduler is not None:
            self.scheduler.load_state_dict(state.scheduler)
        if self.ema is not None and state.ema is not None:
            self.ema.load_state_dict(state.ema)


def optimise(
    model: nn.Module, config: TrainConfig, device: torch.device
) -> tuple[nn.Module, Optimisation]:
    """Set up the optimisation of ``model`` as ``config`` asks.

    Args:
        model: the freshly built model, on ``device``.
        config: the run's configuration (lr, schedule, EMA decay, fast path).
        device: where the run trains.

    Returns:
        The model in the run's memory layout, and its ``Optimisation``.
    """
    graphed = config.fast and device.type == "cuda"
    layout = torch.channels_last if config.fast else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, fused=config.fast or None, capturable=graphed
    )
    autocast = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=config.fast, cache_enabled=not graphed
    )
    scheduler = (
        torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.gamma)
        if config.lr_schedule == "exponential"
        else None
    )
    ema = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        if config.ema_decay > 0
        else None
    )
    return model, Optimisation(optimizer, scheduler, ema, autocast, layout, graphed)


def match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each parameter's saved moments its memory layout (channels_last on the fast path).

    A checkpoint stores them contiguous, and a fused update pairs elements by memory position.

    Args:
        optimizer: an optimiser whose state was just loaded.
    """
    for group in optimizer.param_groups:
        for p in group["params"]:
            slots = optimizer.state.get(p, {})
            for key, value in slots.items():
                if isinstance(value, torch.Tensor) and value.shape == p.shape:
                    slots[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
