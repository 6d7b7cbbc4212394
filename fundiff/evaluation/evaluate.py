"""Sample quality of a class-conditional (or unconditional) digit model, judged by the shipped classifier.

For each guidance scale: draw ``per_class`` digits of every class, and report

- the classifier's accuracy on them, overall and per class (class-conditional models);
- the Fréchet distance between the classifier's features of the samples and of
  the 10,000 MNIST test digits;
- beside it, the floor: the same distance for as many MNIST *training* digits,
  i.e. what a perfect generator would score at this sample size.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from fundiff.data import load_mnist
from fundiff.evaluation.metrics import (
    classifier_features,
    frechet_distance,
    per_class_accuracy,
    shipped_classifier,
)
from fundiff.kinds import kind_of, kinds_that
from fundiff.training.config import TrainConfig
from fundiff.training.weights import load_model_file

EVALUATED_KINDS = kinds_that(lambda k: k.evaluated)
"""The kinds whose samples are digits to judge (``fundiff.kinds.Kind.evaluated``)."""


class EvaluationError(ValueError):
    """The checkpoint cannot be evaluated; the message says why."""


@torch.no_grad()
def draw(
    config: TrainConfig,
    model: torch.nn.Module,
    labels: torch.Tensor,
    guidance: float,
    steps: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Digits for ``labels`` (B,) from ``model``: (B, 1, 28, 28) in [0, 1].

    Args:
        config: the model's configuration; its kind's sampler (``fundiff.kinds``) draws.
        model: the trained network, on ``labels``'s device.
        labels: the digit to draw for each sample, shape (B,); unconditional kinds
            (flow-time) draw B samples.
        guidance: classifier-free guidance scale (ignored by unconditional kinds).
        steps: Euler steps of flow models (diffusion-class uses the strided schedule).
        generator: source of every draw, on ``labels``'s device.

    Returns:
        The samples, shape (B, 1, 28, 28), clamped to [0, 1].

    Raises:
        EvaluationError: ``config.kind`` does not generate digits.
    """
    kind = kind_of(config)
    if not kind.evaluated or kind.sample is None:
        raise EvaluationError(
            f"a {config.kind} model does not generate digits; evaluate one of {', '.join(EVALUATED_KINDS)}"
        )
    images = kind.sample(model, labels, guidance=guidance, steps=steps, generator=generator)
    return images.clamp(0, 1)


def evaluate(
    checkpoint: str | os.PathLike[str],
    *,
    guidances: Sequence[float] = (5.0, 1.0),
    per_class: int = 100,
    steps: int = 50,
    seed: int = 0,
    device: torch.device | str = "cpu",
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Evaluate the model in ``checkpoint``; returns a JSON-ready report (see the module docstring).

    Args:
        checkpoint: a training checkpoint or an exported weights file.
        guidances: guidance scales to measure, each in one pass (ignored for flow-time).
        per_class: samples per digit (flow-time: 10 * per_class samples in all).
        steps: Euler steps for flow models (diffusion-class uses the strided schedule).
        seed: seeds every draw (samples and the training subset of the floor).
        device: where sampling runs.
        data_dir: MNIST folder (see ``fundiff.data``).

    Returns:
        The report: the checkpoint, kind, sample count, steps, seed, the Fréchet floor,
        one result per guidance scale (Fréchet distance, and the classifier's accuracy
        overall and per class for class-conditional models), the device, torch version
        and date.

    Raises:
        EvaluationError: the checkpoint holds a model that does not generate digits, or its
            samples are not finite.
    """
    device = torch.device(device)
    config, model = load_model_file(checkpoint, device)
    kind = kind_of(config)
    if not kind.evaluated:
        raise EvaluationError(
            f"{checkpoint} holds a {config.kind} model; evaluate one of {', '.join(EVALUATED_KINDS)}"
        )
    classifier = shipped_classifier(device)
    test_x, _ = load_mnist("test", data_dir)
    train_x, _ = load_mnist("train", data_dir)
    n = 10 * per_class
    test_feats = classifier_features(classifier, test_x[:, None].float().div(255).to(device))
    pick = torch.randperm(train_x.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    floor = frechet_distance(
        classifier_features(classifier, train_x[pick, None].float().div(255).to(device)), test_feats
    )
    labels = torch.arange(10, device=device).repeat_interleave(per_class)
    results = []
    for g in guidances if kind.class_conditional else [1.0]:
        images = draw(config, model, labels, g, steps, torch.Generator(device).manual_seed(seed))
        if not torch.isfinite(images).all():
            at = f" at guidance {g:g}" if kind.class_conditional else ""
            raise EvaluationError(
                f"{checkpoint}: its samples{at} are not finite (NaN or infinite); the model is "
                "untrained or has diverged, so evaluate a later checkpoint"
            )
        entry: dict[str, Any] = {
            "guidance": g if kind.class_conditional else None,
            "frechet_distance": round(
                frechet_distance(classifier_features(classifier, images), test_feats), 4
            ),
        }
        if kind.class_conditional:
            acc = per_class_accuracy(classifier, images, labels)
            entry["classifier_accuracy"] = round(acc.mean().item(), 4)
            entry["per_class_accuracy"] = [round(a, 3) for a in acc.tolist()]
        results.append(entry)
    return {
        "checkpoint": str(Path(checkpoint)),
        "kind": config.kind,
        "samples": n,
        "steps": kind.schedule or steps,
        "seed": seed,
        "frechet_floor_train_vs_test": round(floor, 4),
        "results": results,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
    }
