"""Benchmark: the fast path beside the plain recipe and the plain sampling loop, on one card, in one run.

Training. ``fundiff.training.loop.train`` runs the write-up's flow-class recipe as the
plain trainer does it (float32, batch 64, Adam 1e-2, ExponentialLR, 10 epochs),
then the fast path (``--fast``: the same recipe with bfloat16 autocast,
channels_last, fused Adam and CUDA-graph steps), each from seed 0 into a fresh run directory, sample
grids off, timed from the call to its return (data loading and every epoch's
checkpoint included). Both are then judged alike by ``fundiff.evaluation.evaluate``: the
shipped classifier's accuracy and the Fréchet distance of its features to the
MNIST test digits, at guidance 5 and 1, 1,000 samples per digit, 50 Euler steps
of the plain sampler. Before anything is timed, each path trains 1,000 images
once, untimed, so that neither pays the process's one-time CUDA set-up.
``QUALITY_RULE`` says when a fast run has the same quality.

Steps (``--parts steps``). The fast path's cost per optimiser step at batches of
64 to 512: the second of two full epochs, timed from the trainer's epoch-end
callback, divided by its steps. A straight line through the two largest batches
splits a step into a fixed cost (kernel launches, which do not grow with the
batch) and a cost per image (the arithmetic); the cost per image times ten
epochs of training images (600,000 for MNIST) is the least time the recipe's
ten epochs can take on the card.

Sampling. From one generator seed, 10,000 digits (1,000 per class) at guidance 5
from the shipped flow-class model (``fundiff/assets/mnist_flow_class.safetensors``): the plain loop (``sample_class_conditional``, 300
Euler steps, two float32 passes per step) and the fast sampler
(``fundiff.sampling.fast``: Heun, one batched bfloat16 pass per evaluation).
Reported: seconds of each (CUDA synchronised), the speed-up, and the distance of
the fast samples (float32 and bfloat16) from the plain loop's: mean and largest
pixel difference and how often the classifier reads the same digit, beside the
plain loop's own discretisation error (its 150-step samples against its 300-step
ones). The fast samples are "the same within tolerance" when they differ by at
most 1% of the pixel range on average and the classifier reads the same digit in
at least 99% of them (``TOLERANCE``).

Prints one JSON object with the card, the torch version and the date; nothing
here asserts a time.

    python benchmarks/fast_path.py --device cuda --data-dir DIR [--parts training steps sampling]
        [--fast-variants 256:0.01:10 ...] [--fast-steps 16 24 32]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from machine import machine  # this script's folder, first on the path of ``python benchmarks/...``

from fundiff.assets import asset_path
from fundiff.data import load_mnist
from fundiff.device import resolve_device
from fundiff.evaluation.evaluate import evaluate
from fundiff.evaluation.metrics import shipped_classifier
from fundiff.sampling.fast import sample_class_conditional_fast
from fundiff.sampling.flow import sample_class_conditional
from fundiff.training.config import recipe, train_command
from fundiff.training.loop import train
from fundiff.training.weights import load_model_file

GUIDANCES = (5.0, 1.0)
# the same samples: under 1% of the pixel range apart on average, and read as the same digit
TOLERANCE = {"mean_abs_pixel": 0.01, "classifier_agreement": 0.99}


def timed(fn: Any, device: torch.device) -> tuple[float, Any]:
    """Seconds ``fn()`` took (CUDA synchronised before and after), and what it returned."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, out


def train_and_judge(config: Any, root: Path, name: str, device: torch.device, data_dir: Any,
                    per_class: int) -> dict[str, Any]:  # fmt: skip
    """Train ``config`` into ``root/name``, timed, then evaluate its checkpoint."""
    run = root / name
    seconds, result = timed(
        lambda: train(config, run, device=device, data_dir=data_dir, progress=False), device
    )
    report = evaluate(run / "checkpoint.safetensors", guidances=GUIDANCES, per_class=per_class,
                      steps=50, seed=0, device=device, data_dir=data_dir)  # fmt: skip
    return {
        "command": train_command(config),
        "seconds": round(seconds, 2),
        "steps": len(result.losses),
        "final_loss": round(result.losses[-1], 5),
        "quality": {
            str(r["guidance"]): {
                "classifier_accuracy": r["classifier_accuracy"],
                "frechet_distance": r["frechet_distance"],
            }
            for r in report["results"]
        },
        "frechet_floor": report["frechet_floor_train_vs_test"],
    }


QUALITY_RULE = (
    "the demo's two quality targets, held against the plain run: classifier accuracy at "
    "guidance 5 at most one point lower, and Fréchet distance at guidance 1 no higher. The "
    "distance at guidance 5 and the accuracy at guidance 1 are reported, not judged: guided "
    "digits are prototypes, so their distance to the test digits grows as a model learns "
    "to draw them."
)


def same_quality(fast: dict[str, Any], plain: dict[str, Any]) -> bool:
    """Whether a fast run meets ``QUALITY_RULE`` against the plain run."""
    return (
        fast["quality"]["5.0"]["classifier_accuracy"]
        >= plain["quality"]["5.0"]["classifier_accuracy"] - 0.01
        and fast["quality"]["1.0"]["frechet_distance"]
        <= plain["quality"]["1.0"]["frechet_distance"]
    )


def warm_up(config: Any, run: Path, device: torch.device, data_dir: Any) -> None:
    """Train ``config`` on 1,000 images into ``run``, untimed: the process's one-time CUDA set-up."""
    small = dataclasses.replace(config, limit=1000, epochs=1, sample_epochs=())
    train(small, run, device=device, data_dir=data_dir, progress=False)


def epoch_ends(
    config: Any, run: Path, device: torch.device, data_dir: Any
) -> tuple[list[float], int]:
    """Seconds from the start of training ``config`` to the end of each epoch, and its step count."""
    ends: list[float] = []
    start = time.perf_counter()
    result = train(config, run, device=device, data_dir=data_dir, progress=False,
                   on_epoch_end=lambda _: ends.append(time.perf_counter() - start))  # fmt: skip
    return ends, len(result.losses)


def step_costs(device: torch.device, data_dir: Any, batches: list[int],
               limit: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The fast path's seconds per step at each batch size, and the compute floor of ten epochs."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for batch in batches:
            config = recipe("flow-class", fast=True, batch_size=batch, epochs=2, sample_epochs=(),
                            limit=limit)  # fmt: skip
            ends, steps = epoch_ends(config, Path(scratch) / str(batch), device, data_dir)
            steps //= config.epochs
            rows.append({"batch": batch, "epoch_seconds": round(ends[1] - ends[0], 3),
                         "ms_per_step": round((ends[1] - ends[0]) / steps * 1e3, 3)})  # fmt: skip
    (b1, t1), (b2, t2) = [(r["batch"], r["ms_per_step"]) for r in rows[-2:]]
    per_image_us = (t2 - t1) / (b2 - b1) * 1e3
    images = limit if limit is not None else load_mnist("train", data_dir)[1].shape[0]
    return {
        "rows": rows,
        "fixed_ms_per_step": round(t1 - per_image_us * b1 / 1e3, 3),
        "us_per_image": round(per_image_us, 2),
        "ten_epoch_floor_seconds": round(per_image_us * 10 * images / 1e6, 2),
    }


def distance(a: torch.Tensor, b: torch.Tensor, classifier: torch.nn.Module) -> dict[str, float]:
    """How far two sample sets of the same noise are: pixel differences and classifier agreement."""
    diff = (a - b).abs()
    read_a = classifier(a.clamp(0, 1)).argmax(1)
    read_b = classifier(b.clamp(0, 1)).argmax(1)
    return {
        "mean_abs_pixel": round(diff.mean().item(), 5),
        "max_abs_pixel": round(diff.max().item(), 4),
        "classifier_agreement": round((read_a == read_b).float().mean().item(), 4),
    }


def sampling(
    model: torch.nn.Module, device: torch.device, count: int, fast_steps: list[int]
) -> dict:
    """The plain loop (300 and 150 Euler steps) and the fast sampler at each of ``fast_steps``,
    in float32 and in bfloat16."""
    labels = torch.arange(10, device=device).repeat_interleave(count // 10)
    classifier = shipped_classifier(device)

    def plain(steps: int) -> torch.Tensor:
        return sample_class_conditional(
            model, labels, steps, 5.0, torch.Generator(device).manual_seed(0)
        )

    warm = torch.Generator(device).manual_seed(1)
    (
        plain(2),
        sample_class_conditional_fast(model, labels, 2, 5.0, warm),
    )  # first-call set-up, untimed
    plain_seconds, reference = timed(lambda: plain(300), device)
    _, coarse = timed(lambda: plain(150), device)
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for steps in fast_steps:
            seconds, fast = timed(lambda s=steps, d=dtype: sample_class_conditional_fast(
                model, labels, s, 5.0, torch.Generator(device).manual_seed(0), dtype=d), device)  # fmt: skip
            away = distance(fast, reference, classifier)
            rows.append({"solver": "heun", "steps": steps, "evaluations": 2 * steps, "dtype": str(dtype),
                         "seconds": round(seconds, 3), "speedup": round(plain_seconds / seconds, 2),
                         "distance_to_plain_300": away, "within_tolerance": within(away)})  # fmt: skip
    return {
        "digits": count,
        "guidance": 5.0,
        "tolerance": TOLERANCE,
        "plain": {
            "solver": "euler",
            "steps": 300,
            "passes_per_step": 2,
            "dtype": "float32",
            "seconds": round(plain_seconds, 3),
        },  # fmt: skip
        "plain_150_vs_300": distance(coarse, reference, classifier),
        "fast": rows,
    }


def within(away: dict[str, float]) -> bool:
    """Whether samples are the plain loop's within ``TOLERANCE``."""
    return (away["mean_abs_pixel"] <= TOLERANCE["mean_abs_pixel"]
            and away["classifier_agreement"] >= TOLERANCE["classifier_agreement"])  # fmt: skip


def variant(text: str) -> dict[str, Any]:
    """``BATCH:LR:EPOCHS[:EMA]`` -> recipe overrides."""
    try:
        batch, lr, epochs, *ema = text.split(":")
        return {"batch_size": int(batch), "lr": float(lr), "epochs": int(epochs),
                "ema_decay": float(ema[0]) if ema else 0.0}  # fmt: skip
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give BATCH:LR:EPOCHS[:EMA], e.g. 256:0.01:10:0.999"
        ) from None


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--fast-variants", nargs="*", type=variant, default=None,
                   help="fast runs to train as BATCH:LR:EPOCHS[:EMA] (default: the recipe's)")  # fmt: skip
    p.add_argument("--per-class", type=int, default=1000, help="evaluation samples per digit")
    p.add_argument("--sample-count", type=int, default=10000)
    p.add_argument("--fast-steps", type=int, nargs="+", default=[16, 24, 32])
    p.add_argument("--limit", type=int, default=None, help="first N training images (quick checks)")
    p.add_argument("--epochs", type=int, default=None, help="plain recipe's epochs (default 10)")
    p.add_argument(
        "--parts",
        nargs="+",
        choices=("training", "steps", "sampling"),
        default=["training", "steps", "sampling"],
    )
    p.add_argument("--step-batches", type=int, nargs="+", default=[64, 128, 256, 512])
    args = p.parse_args()
    device = resolve_device(args.device)
    plain_config = recipe(
        "flow-class", sample_epochs=(), seed=0, limit=args.limit, epochs=args.epochs
    )
    fast_configs = (
        [recipe("flow-class", fast=True, sample_epochs=(), seed=0, limit=args.limit)]
        if args.fast_variants is None
        else [recipe("flow-class", fast=True, sample_epochs=(), seed=0, limit=args.limit, **overrides)
              for overrides in args.fast_variants]
    )  # fmt: skip
    report: dict[str, Any] = {**machine(device.type), "date": dt.date.today().isoformat(),
                              "invocation": " ".join(["python", *sys.argv])}  # fmt: skip
    if "training" in args.parts:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            for i, config in enumerate((plain_config, *fast_configs)):
                warm_up(config, root / f"warm{i}", device, args.data_dir)
            plain = train_and_judge(
                plain_config, root, "plain", device, args.data_dir, args.per_class
            )
            fast = []
            for i, config in enumerate(fast_configs):
                row = train_and_judge(
                    config, root, f"fast{i}", device, args.data_dir, args.per_class
                )
                row["speedup"] = round(plain["seconds"] / row["seconds"], 2)
                row["same_quality"] = same_quality(row, plain)
                fast.append(row)
                print(json.dumps(row), file=sys.stderr)
            report["training"] = {"quality_rule": QUALITY_RULE, "plain": plain, "fast": fast}
    if "steps" in args.parts:
        report["steps"] = step_costs(device, args.data_dir, args.step_batches, args.limit)
    if "sampling" in args.parts:
        _, model = load_model_file(asset_path("mnist_flow_class.safetensors"), device)
        report["sampling"] = sampling(model.eval(), device, args.sample_count, args.fast_steps)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
