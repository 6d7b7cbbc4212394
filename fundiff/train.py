"""The Part B training loop, shared by all four tasks.

A run directory holds:

- ``config.json``: the ``TrainConfig``;
- ``metrics.jsonl``: one line per optimiser step (epoch, step, loss, lr);
- ``loss.png``: the loss curve;
- the task's figures (``noising.png``, ``denoised_epochNN.png``, ``samples_epochNN.png``, ...);
- ``checkpoint.safetensors``: written atomically at the end of every epoch, last,
  after the epoch's figures and metrics, so that it marks a complete epoch.

``--resume`` restarts from the checkpoint's epoch with the saved model,
optimiser, schedule, EMA and generator state, and so ends exactly where an
uninterrupted run ends (bit for bit on the CPU with the same seed).

The training images are moved to the device once, as uint8; a batch is an index
into them, so no per-batch host work or per-sample transform is done.

``config.fast`` turns on the fast path: the loss and its gradient computed under
bfloat16 autocast (weights, optimiser state and the loss stay float32), the
UNet's tensors in channels_last layout, Adam's fused single-kernel update, and on
CUDA every full-batch step replayed from a CUDA graph (``fundiff.step``). The
recipe is unchanged; ``benchmarks/fast_path.py`` measures both paths in one run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from fundiff import checkpoint as ckpt
from fundiff.atomic import remove_stale_temporaries, write_json, write_text
from fundiff.config import TrainConfig
from fundiff.data import load_mnist
from fundiff.figures import epoch_figures, start_figures
from fundiff.step import GraphedStep, eager_step, gather
from fundiff.tasks import batch_loss, build_model
from fundiff.viz import save_loss_curve

CHECKPOINT = "checkpoint.safetensors"
CHECK_EVERY = 50  # steps between NaN checks (each forces a device sync)
WARMUP_STEPS = 3  # fast path on CUDA: eager steps before the step is captured as a graph


class RunDirError(Exception):
    """The run directory cannot be used as asked; the message says why and what to do."""


class TrainingDiverged(Exception):
    """The loss stopped being finite; the last good checkpoint is kept."""


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


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The device to train on: "auto" is cuda where there is one, else cpu.

    Args:
        device: "auto", "cpu", "cuda", "cuda:N" or a ``torch.device``.

    Returns:
        The checked ``torch.device``.

    Raises:
        ValueError: for an unknown device name or CUDA where there is none.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but CUDA is not available here; use --device cpu"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use auto, cpu or cuda")
    return dev


ModelFn = Callable[[TrainConfig], nn.Module]
"""Builds the model a config trains (default: ``fundiff.tasks.build_model``)."""
LossFn = Callable[
    [nn.Module, TrainConfig, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor
]
"""(model, config, images (B, 1, 28, 28) in [0, 1], labels (B,), generator) -> scalar loss
(default: ``fundiff.tasks.batch_loss``)."""


def init_model(config: TrainConfig, model_fn: ModelFn = build_model) -> nn.Module:
    """Build the task's model with weights drawn from ``config.seed`` (on the CPU).

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
        RunDirError: resuming without a checkpoint, a config that differs from the
            run's, or a fresh run into a directory that already holds one.
        TrainingDiverged: the loss became NaN or infinite.
        fundiff.data.DataError: MNIST could not be found or read.
    """
    run = Path(run_dir)
    ckpt_path = run / CHECKPOINT
    dev = resolve_device(device)
    state: ckpt.TrainingState | None = None
    if resume:
        if not ckpt_path.is_file():
            raise RunDirError(
                f"{run}: nothing to resume (no {CHECKPOINT}); run without --resume to start it"
            )
        remove_stale_temporaries(run)  # a kill mid-write leaves its temporary file
        state = ckpt.load(ckpt_path)
        if config is not None and config != state.config:
            raise RunDirError(
                f"{run}: the run was started with a different configuration "
                f"({_first_difference(state.config, config)}); resume without changing flags, or use a new --out"
            )
        config = state.config
    else:
        if config is None:
            raise ValueError("config is required unless resume=True")
        if ckpt_path.exists():
            raise RunDirError(
                f"{run} already holds a run; pass --resume to continue it, or choose another --out"
            )

    images, labels = load_mnist(
        "train", data_dir
    )  # before run_dir is touched: bad data leaves nothing
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    test_u8, test_labels = load_mnist("test", data_dir)
    test_images = test_u8.to(dev).unsqueeze(1).float() / 255  # (10000, 1, 28, 28)
    test_labels = test_labels.to(dev)
    images, labels = images.to(dev), labels.to(dev)  # resident for the whole run
    n = images.shape[0]
    train_mean = (images.float().mean(0) / 255)[None] if config.kind == "pure-noise" else None

    draw = model_fn is None and loss_fn is None
    loss_of = loss_fn or batch_loss
    model = init_model(config, model_fn or build_model).to(dev)
    graphed = config.fast and dev.type == "cuda"  # steps replayed from a CUDA graph (fundiff.step)
    layout = torch.channels_last if config.fast else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, fused=config.fast or None, capturable=graphed
    )
    autocast = torch.autocast(
        dev.type, dtype=torch.bfloat16, enabled=config.fast, cache_enabled=not graphed
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
    generator = torch.Generator(dev).manual_seed(config.seed)
    metrics: list[dict[str, float | int]] = []
    start_epoch = 0
    if state is not None:
        model.load_state_dict(state.model)
        if state.optimizer is not None:
            optimizer.load_state_dict(state.optimizer)
            _match_layouts(optimizer)
        if scheduler is not None and state.scheduler is not None:
            scheduler.load_state_dict(state.scheduler)
        if ema is not None and state.ema is not None:
            ema.load_state_dict(state.ema)
        if state.rng is not None:
            generator.set_state(state.rng)
        metrics = _read_metrics(run / "metrics.jsonl")[: state.step]
        start_epoch = state.epoch
    else:
        try:
            run.mkdir(parents=True, exist_ok=True)
            write_json(run / "config.json", config.to_dict())
        except OSError as err:
            raise RunDirError(
                f"{run}: cannot write the run directory ({err.strerror}); choose another --out"
            ) from None
        if draw:
            start_figures(run, config, test_images)

    def batch_loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with autocast:
            return loss_of(model, config, x, y, generator)

    graph = (GraphedStep(batch_loss_of, optimizer, images, labels, config.batch_size, generator, layout)
             if graphed else None)  # fmt: skip
    warmed = 0  # eager steps run before the first capture

    figures: list[Path] = []
    steps_per_epoch = math.ceil(n / config.batch_size)
    step = state.step if state is not None else 0  # not len(metrics): metrics.jsonl may be lost
    for epoch in range(start_epoch + 1, config.epochs + 1):
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        perm = torch.randperm(n, generator=generator, device=dev)
        pending: list[torch.Tensor] = []
        bar = tqdm(
            range(steps_per_epoch), desc=f"{config.kind} epoch {epoch}/{config.epochs}",
            disable=not progress, leave=False,
        )  # fmt: skip
        captured = False  # captured again each epoch: the learning rate is a constant of a graph
        for i in bar:
            idx = perm[i * config.batch_size : (i + 1) * config.batch_size]
            if graph is not None and idx.shape[0] == config.batch_size:
                if warmed < WARMUP_STEPS:
                    loss = graph.warm_up(idx)
                    warmed += 1
                else:
                    if not captured:
                        graph.capture()
                        captured = True
                    loss = graph(idx)
            else:
                loss = eager_step(batch_loss_of, optimizer, *gather(images, labels, idx, layout))
            if ema is not None:
                ema.update_parameters(model)
            pending.append(loss)
            if len(pending) == CHECK_EVERY or i == steps_per_epoch - 1:
                values = torch.stack(pending).tolist()
                pending.clear()
                for v in values:
                    step += 1
                    if not math.isfinite(v):
                        raise TrainingDiverged(
                            f"loss became {v} at epoch {epoch}, step {step}; stopped. "
                            + (
                                f"The last good checkpoint ({ckpt_path}, epoch {epoch - 1}) is kept"
                                if ckpt_path.exists()
                                else "No epoch had completed, so there is no checkpoint"
                            )
                            + "; lower --lr or check the data."
                        )
                    metrics.append({"epoch": epoch, "step": step, "loss": v, "lr": lr})
                bar.set_postfix(loss=f"{values[-1]:.4f}")
        if scheduler is not None:
            scheduler.step()

        if draw and epoch in config.sample_epochs:
            eval_model = ema.module if ema is not None else model
            eval_model.eval()
            figures += epoch_figures(
                run,
                config,
                eval_model,
                epoch,
                test_images,
                train_mean,
                progress=progress,
                test_labels=test_labels,
            )
        write_text(run / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in metrics))
        save_loss_curve(
            run / "loss.png",
            [m["loss"] for m in metrics],
            title=f"{config.kind}: training loss (batch {config.batch_size}, lr {config.lr:g})",
            epoch_steps=[int(m["step"]) for m in metrics if m["step"] % steps_per_epoch == 0],
        )
        ckpt.save(
            ckpt_path,
            ckpt.TrainingState(
                config=config,
                epoch=epoch,
                step=step,
                model=model.state_dict(),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict() if scheduler is not None else None,
                ema=ema.state_dict() if ema is not None else None,
                rng=generator.get_state(),
            ),
        )
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    return TrainResult(run_dir=run, losses=[float(m["loss"]) for m in metrics], figures=figures)


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each parameter's saved moments its memory layout (channels_last on the fast path): a
    checkpoint stores them contiguous, and a fused update pairs elements by memory position."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            slots = optimizer.state.get(p, {})
            for key, value in slots.items():
                if isinstance(value, torch.Tensor) and value.shape == p.shape:
                    slots[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def _read_metrics(path: Path) -> list[dict[str, float | int]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _first_difference(a: TrainConfig, b: TrainConfig) -> str:
    da, db = a.to_dict(), b.to_dict()
    for key in da:
        if da[key] != db[key]:
            return f"{key}: run has {da[key]!r}, asked {db[key]!r}"
    return "no difference"
