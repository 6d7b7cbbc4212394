"""The run directory: where a training run keeps its configuration, metrics and checkpoint.

A run directory holds:

- ``config.json``: the ``TrainConfig``;
- ``metrics.jsonl``: one line per optimiser step (epoch, step, loss, lr);
- ``loss.png``: the loss curve;
- the kind's figures (``noising.png``, ``denoised_epochNN.png``, ``samples_epochNN.png``, ...);
- ``checkpoint.safetensors``: written atomically at the end of every epoch, last,
  after the epoch's figures and metrics, so that it marks a complete epoch.

Errors are typed and carry the facts (the run, the difference); their messages name no
command-line flag, so that each front end can say what to do in its own words.
"""

from __future__ import annotations

import json
from pathlib import Path

from fundiff.atomic import remove_stale_temporaries, write_json, write_text
from fundiff.training import checkpoint as ckpt
from fundiff.training.config import TrainConfig
from fundiff.viz import save_loss_curve

CHECKPOINT = "checkpoint.safetensors"
METRICS = "metrics.jsonl"
CONFIG = "config.json"

Metric = dict[str, float | int]
"""One optimiser step's record: epoch, step, loss and lr."""


class RunDirError(Exception):
    """The run directory cannot be used as asked; the message says why.

    Attributes:
        run: the run directory.
    """

    def __init__(self, run: Path, message: str) -> None:
        self.run = run
        super().__init__(message)


class NothingToResume(RunDirError):
    """Resuming was asked for, but the run directory holds no checkpoint."""

    def __init__(self, run: Path) -> None:
        super().__init__(
            run, f"{run}: nothing to resume (no {CHECKPOINT}); start it as a new run instead"
        )


class ConfigMismatch(RunDirError):
    """A resumed run was given a configuration that differs from the one it was started with.

    Attributes:
        difference: the first differing value, as ``"name: run has A, asked B"``.
    """

    def __init__(self, run: Path, difference: str) -> None:
        self.difference = difference
        super().__init__(
            run,
            f"{run}: the run was started with a different configuration ({difference}); "
            "resume it with its own configuration, or start a new run elsewhere",
        )


class RunExists(RunDirError):
    """A fresh run was asked for in a directory that already holds one."""

    def __init__(self, run: Path) -> None:
        super().__init__(
            run, f"{run} already holds a run; resume it, or choose another run directory"
        )


class RunDirUnwritable(RunDirError):
    """The run directory cannot be created or written.

    Attributes:
        reason: the operating system's reason.
    """

    def __init__(self, run: Path, reason: str) -> None:
        self.reason = reason
        super().__init__(
            run, f"{run}: cannot write the run directory ({reason}); choose another run directory"
        )


def resumable_state(run: Path, config: TrainConfig | None) -> ckpt.TrainingState:
    """The checkpoint of a run to resume, checked against the configuration asked for.

    Args:
        run: the run directory.
        config: the configuration asked for; None: the run's own.

    Returns:
        The saved training state.

    Raises:
        NothingToResume: the directory holds no checkpoint.
        ConfigMismatch: ``config`` differs from the run's.
        fundiff.training.checkpoint.CheckpointError: the checkpoint cannot be read.
    """
    path = run / CHECKPOINT
    if not path.is_file():
        raise NothingToResume(run)
    remove_stale_temporaries(run)  # a kill mid-write leaves its temporary file
    state = ckpt.load(path)
    if config is not None and config != state.config:
        raise ConfigMismatch(run, first_difference(state.config, config))
    return state


def check_fresh(run: Path) -> None:
    """Check that a fresh run may start in ``run``.

    Args:
        run: the run directory (it may not exist yet).

    Raises:
        RunExists: it already holds a checkpoint.
    """
    if (run / CHECKPOINT).exists():
        raise RunExists(run)


def start(run: Path, config: TrainConfig) -> None:
    """Create the run directory and write its ``config.json``.

    Args:
        run: the run directory.
        config: the run's configuration.

    Raises:
        RunDirUnwritable: the directory cannot be created or written.
    """
    try:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / CONFIG, config.to_dict())
    except OSError as err:
        raise RunDirUnwritable(run, str(err.strerror)) from None


def read_metrics(run: Path, steps: int) -> list[Metric]:
    """The metrics of a run's first ``steps`` optimiser steps (fewer if the file is lost).

    Args:
        run: the run directory.
        steps: how many steps the checkpoint completed.

    Returns:
        One record per step, oldest first.
    """
    path = run / METRICS
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return records[:steps]


def write_metrics(
    run: Path, config: TrainConfig, metrics: list[Metric], steps_per_epoch: int
) -> None:
    """Write ``metrics.jsonl`` and the loss curve ``loss.png``.

    Args:
        run: the run directory.
        config: the run's configuration (the curve's title).
        metrics: one record per optimiser step, from the start of the run.
        steps_per_epoch: optimiser steps in one epoch (the curve marks epoch ends).
    """
    write_text(run / METRICS, "".join(json.dumps(m) + "\n" for m in metrics))
    save_loss_curve(
        run / "loss.png",
        [m["loss"] for m in metrics],
        title=f"{config.kind}: training loss (batch {config.batch_size}, lr {config.lr:g})",
        epoch_steps=[int(m["step"]) for m in metrics if m["step"] % steps_per_epoch == 0],
    )


def save_checkpoint(run: Path, state: ckpt.TrainingState) -> None:
    """Write the run's checkpoint atomically (last in an epoch: it marks the epoch complete).

    Args:
        run: the run directory.
        state: everything a resumed run needs.
    """
    ckpt.save(run / CHECKPOINT, state)


def first_difference(a: TrainConfig, b: TrainConfig) -> str:
    """The first value in which two configurations differ.

    Args:
        a: the run's configuration.
        b: the one asked for.

    Returns:
        ``"name: run has A, asked B"``, or ``"no difference"``.
    """
    da, db = a.to_dict(), b.to_dict()
    for key in da:
        if da[key] != db[key]:
            return f"{key}: run has {da[key]!r}, asked {db[key]!r}"
    return "no difference"
