"""Checkpoints: model, optimiser, schedule, EMA and RNG state in one safetensors file.

safetensors holds tensors and a str -> str metadata map. Tensors are stored
under prefixes (``model.``, ``ema.``, ``optim.``, ``rng``); everything that is
not a tensor (the run's config, the optimiser's param groups, the schedule's
state, epoch and step) is JSON in the metadata. Files are written atomically,
so a run killed mid-write keeps its previous checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from fundiff.atomic import atomic_path
from fundiff.training.config import ConfigError, TrainConfig

FORMAT = "fundiff-checkpoint/1"


class CheckpointError(Exception):
    """A checkpoint is missing, corrupted or of the wrong kind; one line says which and what to do."""


@dataclass
class TrainingState:
    """What a checkpoint holds.

    Attributes:
        config: the run's configuration.
        epoch: epochs completed.
        step: optimiser steps completed.
        model: the model's state_dict.
        optimizer: the optimiser's state_dict, or None.
        scheduler: the LR scheduler's state_dict, or None.
        ema: the averaged model's state_dict, or None.
        rng: the training generator's state (uint8 tensor), or None.
    """

    config: TrainConfig
    epoch: int
    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    ema: dict[str, torch.Tensor] | None = None
    rng: torch.Tensor | None = None


def save(path: str | os.PathLike[str], state: TrainingState) -> None:
    """Write ``state`` to ``path`` atomically.

    Args:
        path: the ``.safetensors`` file to write.
        state: what to save; its tensors are copied to the CPU.
    """
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, str] = {
        "format": FORMAT,
        "kind": state.config.kind,
        "config": json.dumps(state.config.to_dict()),
        "epoch": str(state.epoch),
        "step": str(state.step),
    }
    tensors.update(_prefixed("model.", state.model))
    if state.ema is not None:
        tensors.update(_prefixed("ema.", state.ema))
    if state.optimizer is not None:
        for idx, slots in state.optimizer["state"].items():
            for key, value in slots.items():
                tensors[f"optim.{idx}.{key}"] = torch.as_tensor(value)
        meta["optim_groups"] = json.dumps(state.optimizer["param_groups"])
    if state.scheduler is not None:
        meta["scheduler"] = json.dumps(state.scheduler)
    if state.rng is not None:
        tensors["rng"] = state.rng
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load(path: str | os.PathLike[str]) -> TrainingState:
    """Read a checkpoint written by ``save``.

    Args:
        path: the checkpoint file.

    Returns:
        The saved state, its tensors on the CPU.

    Raises:
        CheckpointError: if the file is missing, not a safetensors file, truncated,
            or not a fundiff checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no such checkpoint file; pass the checkpoint.safetensors of a run dir"
        )
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: not a readable safetensors checkpoint ({_first_line(err)}); it may be "
            "truncated or corrupted: re-copy it or retrain"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a fundiff checkpoint (format {meta.get('format')!r}, expected {FORMAT!r})"
        )
    try:
        config = TrainConfig.from_dict(json.loads(meta["config"]))
        epoch, step = int(meta["epoch"]), int(meta["step"])
    except (KeyError, ValueError, TypeError, ConfigError) as err:
        raise CheckpointError(
            f"{path}: damaged checkpoint metadata ({_first_line(err)}); retrain"
        ) from None
    optimizer = None
    if "optim_groups" in meta:
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, name = key.split(".", 2)
                slots.setdefault(int(idx), {})[name] = value
        optimizer = {"state": slots, "param_groups": json.loads(meta["optim_groups"])}
    return TrainingState(
        config=config,
        epoch=epoch,
        step=step,
        model=_unprefixed("model.", tensors),
        optimizer=optimizer,
        scheduler=json.loads(meta["scheduler"]) if "scheduler" in meta else None,
        ema=_unprefixed("ema.", tensors) or None,
        rng=tensors.get("rng"),
    )


def _prefixed(prefix: str, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in sd.items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
