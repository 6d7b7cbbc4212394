"""The backend a Part A task runs on, by name: the shipped MNIST model or DeepFloyd IF."""

from __future__ import annotations

from pathlib import Path

import torch

from fundiff.backends.base import Backend
from fundiff.backends.hub import IF_STAGE2
from fundiff.parta.options import TaskError


def build_backend(
    name: str,
    *,
    device: str | torch.device = "cpu",
    weights: Path | None = None,
    stage1: str | None = None,
    stage2: str | None = None,
    prompt_embeds: Path | None = None,
    upsample: bool = False,
) -> Backend:
    """The named backend: "mnist" (shipped or given weights) or "deepfloyd" (diffusers).

    Args:
        name: "mnist" or "deepfloyd".
        device: where the model runs.
        weights: mnist: a weights file; None: the shipped model.
        stage1: deepfloyd: hub id or local folder of stage I; None: ``IF_STAGE1``.
        stage2: deepfloyd: hub id or local folder of stage II (upsampling), which must load;
            None: ``IF_STAGE2`` if ``upsample`` and its weights are there, else no stage II.
        prompt_embeds: deepfloyd: the prompt-embeddings ``.pth`` file; None: the course's
            ``prompt_embeds_dict.pth`` in the current folder.
        upsample: deepfloyd: also look for stage II without ``stage2`` (Part 0 upsamples with it).

    Returns:
        The backend, on ``device``.

    Raises:
        TaskError: an unknown name, or deepfloyd without diffusers and transformers installed.
        fundiff.backends.mnist_weights.BackendError: the MNIST weights cannot be used.
        fundiff.backends.hub.WeightsUnavailable: IF's weights are not available.
    """
    if name == "mnist":
        from fundiff.backends.mnist_weights import load_mnist_backend

        return load_mnist_backend(weights, device)
    if name == "deepfloyd":
        import importlib.util

        if (
            importlib.util.find_spec("diffusers") is None
            or importlib.util.find_spec("transformers") is None
        ):
            raise TaskError(
                "the deepfloyd backend needs diffusers and transformers: pip install 'fundiff[parta]'"
            )
        from fundiff.backends.deepfloyd import load_deepfloyd

        kwargs: dict[str, object] = {"device": device}
        if stage1 is not None:
            kwargs["stage1"] = stage1
        if prompt_embeds is not None:
            kwargs["prompt_embeds"] = prompt_embeds
        if stage2 is None and upsample:
            return load_deepfloyd(stage2=IF_STAGE2, stage2_optional=True, **kwargs)  # type: ignore[arg-type]
        return load_deepfloyd(stage2=stage2, **kwargs)  # type: ignore[arg-type]
    raise TaskError(f"unknown backend {name!r}; choose mnist or deepfloyd")
