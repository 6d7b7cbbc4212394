"""``fundiff train KIND``: train a Part B model into a run directory (``fundiff.training``)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from fundiff.cli.args import (
    UsageError,
    add_common,
    finite_float,
    positive_float,
    positive_int,
)
from fundiff.training.config import KINDS, LR_SCHEDULES, RECIPES


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand to ``fundiff``'s subparsers.

    Args:
        sub: the subparsers of the ``fundiff`` parser.
    """
    train = sub.add_parser(
        "train",
        help="train a Part B model on MNIST",
        description="Train a Part B model with the write-up's recipe; every recipe value has a flag. "
        "Defaults per kind: "
        + "; ".join(
            f"{k}: " + ", ".join(f"{n}={v}" for n, v in r.items()) for k, r in RECIPES.items()
        ),
    )
    train.add_argument("kind", choices=KINDS, help="which model and objective")
    train.add_argument("--epochs", type=positive_int, help="passes over the training images")
    train.add_argument("--batch-size", type=positive_int, help="images per step")
    train.add_argument("--lr", type=positive_float, help="Adam learning rate")
    train.add_argument("--hidden", type=positive_int, help="UNet width D")
    train.add_argument(
        "--sigma", type=finite_float, help="denoiser: training noise level (default 0.5)"
    )
    train.add_argument(
        "--lr-schedule", choices=LR_SCHEDULES, help="exponential (per epoch) or constant"
    )
    train.add_argument(
        "--lr-final", type=positive_float, help="exponential: final lr as a fraction (default 0.1)"
    )
    train.add_argument(
        "--p-uncond", type=finite_float, help="flow-class: class dropout (default 0.1)"
    )
    train.add_argument(
        "--guidance", type=finite_float, help="flow-class: guidance of the grids (default 5)"
    )
    train.add_argument(
        "--sample-steps", type=positive_int, help="flow: Euler steps of the grids (default 50)"
    )
    train.add_argument(
        "--sample-epochs", type=positive_int, nargs="+", help="epochs that draw grids"
    )
    train.add_argument(
        "--ema-decay", type=finite_float, help="keep an EMA of the weights (e.g. 0.999); 0 = off"
    )
    train.add_argument("--limit", type=positive_int, help="use only the first N training images")
    train.add_argument(
        "--fast", action="store_true",
        help="the fast path (same recipe): bfloat16 autocast, channels_last, fused Adam and, on "
        "CUDA, each step replayed from a CUDA graph",
    )  # fmt: skip
    train.add_argument(
        "--data-dir", type=Path, help="folder with MNIST's IDX files (default $FUNDIFF_DATA)"
    )
    train.add_argument("--out", type=Path, help="run directory (default runs/KIND)")
    train.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoint"
    )
    add_common(train)


def recipe_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe values that ``fundiff train``'s flags set (flags left out are absent).

    Args:
        args: the parsed arguments of ``fundiff train``.

    Returns:
        A dict of ``TrainConfig`` field names to the values given on the command line.
    """
    overrides = dict(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, hidden=args.hidden,
        sigma=args.sigma, lr_schedule=args.lr_schedule, lr_final=args.lr_final,
        p_uncond=args.p_uncond, guidance=args.guidance, sample_steps=args.sample_steps,
        sample_epochs=args.sample_epochs, ema_decay=args.ema_decay, seed=args.seed, limit=args.limit,
        fast=args.fast or None,
    )  # fmt: skip
    return {k: v for k, v in overrides.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    """Run ``fundiff train`` with parsed ``args``; returns the exit status.

    Args:
        args: the parsed arguments of ``fundiff train``.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: --resume without a checkpoint in --out, or one of another kind.
    """
    from fundiff.training.config import recipe
    from fundiff.training.loop import train

    out = args.out or Path("runs") / args.kind
    given = recipe_overrides(args)
    if args.resume:
        from fundiff.training import checkpoint as ckpt
        from fundiff.training.run_dir import CHECKPOINT

        path = out / CHECKPOINT
        if not path.is_file():
            raise UsageError(
                f"{out}: nothing to resume (no {CHECKPOINT}); run without --resume to start it"
            )
        saved = ckpt.load(path).config
        if saved.kind != args.kind:
            raise UsageError(
                f"{out} holds a {saved.kind} run, not {args.kind}; resume it as 'fundiff train {saved.kind}'"
            )
        if "sample_epochs" in given:
            given["sample_epochs"] = tuple(given["sample_epochs"])
        config = dataclasses.replace(saved, **given) if given else None  # train() checks it matches
    else:
        config = recipe(args.kind, **given)
    result = train(
        config, out, device=args.device, data_dir=args.data_dir, resume=args.resume,
        progress=not args.no_progress,
    )  # fmt: skip
    loss = f"final loss {result.losses[-1]:.4f}" if result.losses else "no metrics.jsonl to report"
    print(f"trained {args.kind}: {loss}; run dir {result.run_dir}")
    return 0
