"""Model weights on disk: loading a training checkpoint's model, and exporting
and loading the fp16 weight files the package ships.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from fundiff.kinds import build_model
from fundiff.training.config import TrainConfig


def load_trained_model(
    path: str | Path, device: torch.device | str = "cpu", *, use_ema: bool = True
) -> tuple[TrainConfig, nn.Module]:
    """Load a model from a training checkpoint, in eval mode.

    Args:
        path: a ``checkpoint.safetensors`` written by ``fundiff train``.
        device: where to put the model.
        use_ema: use the weight average when the run kept one.

    Returns:
        The run's config and its model.

    Raises:
        fundiff.training.checkpoint.CheckpointError: unreadable, corrupted or mismatched checkpoint.
    """
    from fundiff.training.checkpoint import CheckpointError, load

    state = load(path)
    model = build_model(state.config)
    weights = state.model
    if use_ema and state.ema is not None:
        weights = {
            k.removeprefix("module."): v for k, v in state.ema.items() if k.startswith("module.")
        }
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not fit a {state.config.kind} model ({first})"
        ) from None
    return state.config, model.to(device).eval()


def export_weights(checkpoint: str | Path, out: str | Path) -> int:
    """Write a run's model weights alone (EMA if kept) as fp16 safetensors, config in the metadata.

    Args:
        checkpoint: a ``checkpoint.safetensors`` written by ``fundiff train``.
        out: the ``.safetensors`` file to write (atomically).

    Returns:
        The number of values written.

    Raises:
        fundiff.training.checkpoint.CheckpointError: unreadable, corrupted or mismatched checkpoint.
    """
    from safetensors.torch import save_file

    from fundiff.atomic import atomic_path

    config, model = load_trained_model(checkpoint, "cpu")
    weights = {
        k: (v.half() if v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }
    with atomic_path(out) as tmp:
        save_file(
            weights,
            str(tmp),
            metadata={"format": EXPORT_FORMAT, "config": json.dumps(config.to_dict())},
        )
    return sum(v.numel() for v in weights.values())


EXPORT_FORMAT = "fundiff-weights/1"


def load_exported_model(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[TrainConfig, nn.Module]:
    """Load weights written by ``export_weights`` (as float32), in eval mode.

    Args:
        path: a weights file written by ``export_weights``.
        device: where to put the model.

    Returns:
        The model's config and the model.

    Raises:
        fundiff.training.checkpoint.CheckpointError: unreadable file, or weights that do not fit.
    """
    from safetensors import SafetensorError, safe_open

    from fundiff.training.checkpoint import CheckpointError
    from fundiff.training.config import ConfigError

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        if meta.get("format") != EXPORT_FORMAT:
            raise CheckpointError(
                f"{path}: not fundiff model weights (format {meta.get('format')!r})"
            )
        config = TrainConfig.from_dict(json.loads(meta["config"]))
    except (SafetensorError, OSError, ValueError, KeyError, ConfigError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(
            f"{path}: unreadable model weights ({first}); re-copy or re-export them"
        ) from None
    model = build_model(config)
    try:
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
        )
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not fit a {config.kind} model ({first})"
        ) from None
    return config, model.to(device).eval()


def load_model_file(
    path: str | Path, device: torch.device | str = "cpu", *, use_ema: bool = True
) -> tuple[TrainConfig, nn.Module]:
    """A model from either kind of file: a training checkpoint or exported weights.

    Args:
        path: a training checkpoint, or exported weights (as the package ships).
        device: where to put the model.
        use_ema: for a checkpoint, use the weight average when the run kept one.

    Returns:
        The model's config and the model, in eval mode.

    Raises:
        fundiff.training.checkpoint.CheckpointError: the checkpoint's error if the file is neither.
    """
    from fundiff.training.checkpoint import CheckpointError

    try:
        return load_trained_model(path, device, use_ema=use_ema)
    except CheckpointError as first:
        try:
            return load_exported_model(path, device)
        except CheckpointError:
            raise first from None
