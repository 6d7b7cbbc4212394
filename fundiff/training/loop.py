"""The Part B training loop, shared by every kind (``fundiff.kinds``).

``train`` reads MNIST, builds the kind's model and its optimisation
(``fundiff.training.optim``), and runs epochs; after each it draws the kind's
figures, writes the metrics and, last, the checkpoint (``fundiff.training.run_dir``).

Resuming restarts from the checkpoint's epoch with the saved model, optimiser,
schedule, EMA and generator state, and so ends exactly where an uninterrupted run
ends (bit for bit on the CPU with the same seed).

The training images are moved to the device once, as uint8; a batch is an index
into them, so no per-batch host work or per-sample transform is done. On the fast
path on CUDA every full-batch step is replayed from a CUDA graph
(``fundiff.training.step``); ``benchmarks/fast_path.py`` measures both paths in one run.

Longer than 300 lines because the epoch loop is one sequence read top to bottom: the data
on the device, the choice of step (eager or graphed), the NaN checks and the end of each
epoch; what has its own concept (the run directory, the optimiser and schedule, the step
itself, the figures) is already in its own module.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from fundiff.data import load_mnist
from fundiff.device import resolve_device
from fundiff.kinds import LossFn, ModelFn, batch_loss, build_model, epoch_figures, start_figures
from fundiff.training import run_dir as rundir
from fundiff.training.checkpoint import TrainingState
from fundiff.training.config import TrainConfig
from fundiff.training.optim import Optimisation, optimise
from fundiff.training.run_dir import CHECKPOINT, Metric
from fundiff.training.step import GraphedStep, eager_step, gather

CHECK_EVERY = 50  # steps between NaN checks (each forces a device sync)
WARMUP_STEPS = 3  # fast path on CUDA: eager steps before the step is captured as a graph

__all__ = [
    "CHECKPOINT",
    "LossFn",
    "ModelFn",
    "TrainResult",
    "TrainingDiverged",
    "init_model",
    "train",
]


class TrainingDiverged(Exception):
    """The loss stopped being finite; the last good checkpoint is kept.

    Attributes:
        epoch: the epoch in which it happened.
        step: the optimiser step whose loss was not finite.
        loss: that loss (NaN or infinite).
        kept: the checkpoint kept (of epoch ``epoch - 1``), or None when no epoch completed.
    """

    def __init__(self, epoch: int, step: int, loss: float, kept: Path | None) -> None:
        self.epoch, self.step, self.loss, self.kept = epoch, step, loss, kept
        kept_note = (
            f"The last good checkpoint ({kept}, epoch {epoch - 1}) is kept"
            if kept is not None
            else "No epoch had completed, so there is no checkpoint"
        )
        super().__init__(
            f"loss became {loss} at epoch {epoch}, step {step}; stopped. {kept_note}; "
            "lower the learning rate or check the data."
        )


@dataclass
class TrainResult:
    """What a finished run returns.

    Attributes:
        run_dir: the run directory.
        losses: loss of every optimiser step, from the start of the run.
        figures: figures written by this call.
    """

    run_dir: Path
    losses: list[float]
    figures: list[Path]


@dataclass
class _Data:
    """The run's images, resident on its device.

    Attributes:
        images: (N, 28, 28) uint8 training digits.
        labels: (N,) their labels.
        test_images: (10000, 1, 28, 28) float test digits in [0, 1] (figures).
        test_labels: (10000,) their labels.
    """

    images: torch.Tensor
    labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    @property
    def train_mean(self) -> torch.Tensor:
        """(1, 28, 28): the mean training digit in [0, 1]."""
        return (self.images.float().mean(0) / 255)[None]


def init_model(config: TrainConfig, model_fn: ModelFn = build_model) -> nn.Module:
    """Build the kind's model with weights drawn from ``config.seed`` (on the CPU).

    The global RNG is forked, so building a model leaves it as it was.

    Args:
        config: the run's configuration (its seed, kind and sizes).
        model_fn: builds the model from the configuration.

    Returns:
        The freshly initialised model.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return model_fn(config)


def train(
    config: TrainConfig | None,
    run_dir: str | os.PathLike[str],
    *,
    device: str | torch.device = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int], None] | None = None,
    model_fn: ModelFn | None = None,
    loss_fn: LossFn | None = None,
) -> TrainResult:
    """Train a Part B model, writing everything into ``run_dir``.

    Args:
        config: what to train; with ``resume`` it may be None (the run's own config
            is used) and otherwise must equal it.
        run_dir: the run directory; created if absent.
        device: "auto", "cpu", "cuda" or "cuda:N".
        data_dir: folder holding MNIST (see ``fundiff.data``).
        resume: continue from ``run_dir``'s checkpoint.
        progress: show tqdm bars.
        on_epoch_end: called with the epoch number once its checkpoint is written.
        model_fn: builds the model instead of fundiff's (the notebooks pass the student's UNet).
        loss_fn: the loss of one batch instead of fundiff's (the notebooks pass the student's).
            With either, the run draws no figures: those use fundiff's own samplers.

    Returns:
        A ``TrainResult``.

    Raises:
        fundiff.training.run_dir.RunDirError: resuming without a checkpoint, a config that
            differs from the run's, a fresh run into a directory that already holds one,
            or a directory that cannot be written.
        TrainingDiverged: the loss became NaN or infinite.
        fundiff.data.DataError: MNIST could not be found or read.
    """
    run = Path(run_dir)
    dev = resolve_device(device)
    state: TrainingState | None = None
    if resume:
        state = rundir.resumable_state(run, config)
        config = state.config
    elif config is None:
        raise ValueError("config is required unless resume=True")
    else:
        rundir.check_fresh(run)
    data = _load_data(config, data_dir, dev)  # before run_dir is touched: bad data leaves nothing

    draw = model_fn is None and loss_fn is None
    loss_of = loss_fn or batch_loss
    model, opt = optimise(init_model(config, model_fn or build_model).to(dev), config, dev)
    generator = torch.Generator(dev).manual_seed(config.seed)
    metrics: list[Metric] = []
    if state is not None:
        model.load_state_dict(state.model)
        opt.restore(state)
        if state.rng is not None:
            generator.set_state(state.rng)
        metrics = rundir.read_metrics(run, state.step)
    else:
        rundir.start(run, config)
        if draw:
            start_figures(run, config, data.test_images)

    def batch_loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with opt.autocast:
            return loss_of(model, config, x, y, generator)

    steps = _Steps(batch_loss_of, opt, data, config.batch_size, generator)
    figures: list[Path] = []
    steps_per_epoch = math.ceil(data.images.shape[0] / config.batch_size)
    step = state.step if state is not None else 0  # not len(metrics): metrics.jsonl may be lost
    for epoch in range(state.epoch + 1 if state is not None else 1, config.epochs + 1):
        model.train()
        step = _run_epoch(steps, model, opt, config, epoch, step, metrics, run, progress)
        if opt.scheduler is not None:
            opt.scheduler.step()
        if draw and epoch in config.sample_epochs:
            eval_model = opt.averaged(model)
            eval_model.eval()
            figures += epoch_figures(
                run, config, eval_model, epoch, data.test_images, data.train_mean,
                progress=progress, test_labels=data.test_labels,
            )  # fmt: skip
        rundir.write_metrics(run, config, metrics, steps_per_epoch)
        rundir.save_checkpoint(run, _training_state(config, epoch, step, model, opt, generator))
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    return TrainResult(run_dir=run, losses=[float(m["loss"]) for m in metrics], figures=figures)


def _load_data(
    config: TrainConfig, data_dir: str | os.PathLike[str] | None, device: torch.device
) -> _Data:
    """MNIST's training digits (the first ``config.limit``) and test digits, on ``device``."""
    images, labels = load_mnist("train", data_dir)
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    test_u8, test_labels = load_mnist("test", data_dir)
    test_images = test_u8.to(device).unsqueeze(1).float() / 255  # (10000, 1, 28, 28)
    # resident for the whole run
    return _Data(images.to(device), labels.to(device), test_images, test_labels.to(device))


class _Steps:
    """One optimiser step per batch of indices: eager, or replayed from a CUDA graph.

    On the graphed path, full batches run eagerly for ``WARMUP_STEPS`` steps, then are
    captured once per epoch (the learning rate is a constant of a graph) and replayed.
    """

    def __init__(
        self,
        loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        opt: Optimisation,
        data: _Data,
        batch_size: int,
        generator: torch.Generator,
    ) -> None:
        self.loss_of, self.opt, self.data, self.batch_size = loss_of, opt, data, batch_size
        self.generator = generator
        self.graph = (
            GraphedStep(loss_of, opt.optimizer, data.images, data.labels, batch_size, generator, opt.layout)
            if opt.graphed
            else None
        )  # fmt: skip
        self.warmed = 0  # eager steps run before the first capture
        self.captured = False

    def new_epoch(self) -> None:
        """Capture the graph again at the next full batch: the learning rate may have changed."""
        self.captured = False

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        """Run one step on the images ``idx`` (B,); returns the loss, a 0-d tensor."""
        graph = self.graph
        if graph is None or idx.shape[0] != self.batch_size:
            batch = gather(self.data.images, self.data.labels, idx, self.opt.layout)
            return eager_step(self.loss_of, self.opt.optimizer, *batch)
        if self.warmed < WARMUP_STEPS:
            self.warmed += 1
            return graph.warm_up(idx)
        if not self.captured:
            graph.capture()
            self.captured = True
        return graph(idx)


def _run_epoch(
    steps: _Steps,
    model: nn.Module,
    opt: Optimisation,
    config: TrainConfig,
    epoch: int,
    step: int,
    metrics: list[Metric],
    run: Path,
    progress: bool,
) -> int:
    """Run one epoch's optimiser steps, appending one metric per step; returns the last step.

    Losses are read back from the device every ``CHECK_EVERY`` steps and at the epoch's
    end, and checked to be finite.

    Raises:
        TrainingDiverged: a loss was NaN or infinite.
    """
    n = steps.data.images.shape[0]
    steps_per_epoch = math.ceil(n / config.batch_size)
    lr = opt.lr
    perm = torch.randperm(n, generator=steps.generator, device=steps.data.images.device)
    pending: list[torch.Tensor] = []
    bar = tqdm(
        range(steps_per_epoch), desc=f"{config.kind} epoch {epoch}/{config.epochs}",
        disable=not progress, leave=False,
    )  # fmt: skip
    steps.new_epoch()
    for i in bar:
        loss = steps(perm[i * config.batch_size : (i + 1) * config.batch_size])
        if opt.ema is not None:
            opt.ema.update_parameters(model)
        pending.append(loss)
        if len(pending) == CHECK_EVERY or i == steps_per_epoch - 1:
            values = torch.stack(pending).tolist()
            pending.clear()
            for v in values:
                step += 1
                if not math.isfinite(v):
                    kept = run / CHECKPOINT
                    raise TrainingDiverged(epoch, step, v, kept if kept.exists() else None)
                metrics.append({"epoch": epoch, "step": step, "loss": v, "lr": lr})
            bar.set_postfix(loss=f"{values[-1]:.4f}")
    return step


def _training_state(
    config: TrainConfig,
    epoch: int,
    step: int,
    model: nn.Module,
    opt: Optimisation,
    generator: torch.Generator,
) -> TrainingState:
    """Everything a resumed run needs, at the end of ``epoch``."""
    return TrainingState(
        config=config,
        epoch=epoch,
        step=step,
        model=model.state_dict(),
        optimizer=opt.optimizer.state_dict(),
        scheduler=opt.scheduler.state_dict() if opt.scheduler is not None else None,
        ema=opt.ema.state_dict() if opt.ema is not None else None,
        rng=generator.get_state(),
    )
