"""The ``fundiff`` command line.

``fundiff train KIND`` trains a Part B model into a run directory;
``fundiff sample`` draws digit grids from a checkpoint. Bad input ends in one
line on stderr and exit status 2; a diverged run in one line and status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from fundiff.training.config import KINDS, LR_SCHEDULES, RECIPES

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the command line."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line and exit with status 2.

        Args:
            message: what is wrong with the command line.
        """
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1.

    Args:
        text: the command-line word.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not an integer >= 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number.

    Args:
        text: the command-line word.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not a finite number.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0.

    Args:
        text: the command-line word.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not a finite number > 0.
    """
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def digit(text: str) -> int:
    """argparse type: a digit 0-9.

    Args:
        text: the command-line word.

    Returns:
        The digit as an int.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not an integer from 0 to 9.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a digit is 0-9, got {text!r}") from None
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"a digit is 0-9, got {value}")
    return value


def add_common(p: argparse.ArgumentParser) -> None:
    """Add the options every subcommand takes (--device, --seed, ...) to ``p``.

    Args:
        p: the subcommand's parser.
    """
    p.add_argument(
        "--device", default="auto", help="auto (default: cuda if available), cpu, cuda or cuda:N"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of every random draw (default: 0; part-a part0: 101)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fundiff``."""
    parser = OneLineParser(
        prog="fundiff", description="Fun With Diffusion Models: the course's command line."
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )

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

    sample = sub.add_parser(
        "sample",
        help="draw digit grids from a flow checkpoint",
        description="Draw samples from a flow-time or flow-class checkpoint (or pure-noise outputs).",
    )
    sample.add_argument(
        "--checkpoint", type=Path, required=True, help="a run's checkpoint.safetensors"
    )
    sample.add_argument(
        "--digits", type=digit, nargs="+", help="flow-class: digits to draw (default 0-9)"
    )
    sample.add_argument(
        "--per-digit", type=positive_int, default=4, help="flow-class: samples per digit"
    )
    sample.add_argument(
        "--num", type=positive_int, default=40, help="unconditional models: samples to draw"
    )
    sample.add_argument(
        "--guidance", type=finite_float, default=5.0, help="flow-class: guidance scale"
    )
    sample.add_argument(
        "--steps",
        type=positive_int,
        default=50,
        help="flow models: Euler steps (diffusion-class samples on the strided 990..0 schedule)",
    )
    sample.add_argument(
        "--no-ema", action="store_true", help="use the raw weights even if the run kept an EMA"
    )
    sample.add_argument("--out", type=Path, default=Path("samples.png"), help="PNG to write")
    add_common(sample)

    evaluate = sub.add_parser(
        "evaluate",
        help="measure sample quality with the shipped classifier",
        description="Draw digits from a flow-class, diffusion-class or flow-time model and report the shipped "
        "classifier's accuracy on them and the Fréchet distance of its features to MNIST's test digits, "
        "beside the train-vs-test floor. Prints JSON.",
    )
    evaluate.add_argument(
        "--checkpoint", type=Path, required=True, help="a checkpoint or exported weights"
    )
    evaluate.add_argument(
        "--guidance", type=finite_float, nargs="+", default=[5.0, 1.0], help="scales (default 5 1)"
    )
    evaluate.add_argument(
        "--per-class", type=positive_int, default=100, help="samples per digit (default 100)"
    )
    evaluate.add_argument("--steps", type=positive_int, default=50, help="flow models: Euler steps")
    evaluate.add_argument(
        "--data-dir", type=Path, help="folder with MNIST's IDX files (default $FUNDIFF_DATA)"
    )
    evaluate.add_argument("--out", type=Path, help="also write the JSON report here")
    add_common(evaluate)

    from fundiff.cli_parta import add_part_a_parser

    add_part_a_parser(sub)

    from fundiff.cli_demo import add_demo_parser

    add_demo_parser(sub)

    sub.add_parser(
        "embed-prompts",
        help="turn prompts into DeepFloyd IF's T5 embeddings (.pth)",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status.

    Args:
        argv: the command-line arguments after ``fundiff``; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 1 for a diverged run, 2 for bad input, 130 when
        interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["embed-prompts"]:
        from fundiff.backends.prompts import embed_prompts_main

        return embed_prompts_main(argv[1:])
    args = build_parser().parse_args(argv)
    from fundiff.assets import AssetError
    from fundiff.backends.mnist import BackendError
    from fundiff.data import DataError
    from fundiff.images import ImageError
    from fundiff.training.checkpoint import CheckpointError
    from fundiff.training.config import ConfigError
    from fundiff.training.loop import TrainingDiverged
    from fundiff.training.run_dir import RunDirError

    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "demo":
            from fundiff.cli_demo import run_demo_command

            return run_demo_command(args)
        if args.command == "part-a":
            from fundiff.cli_parta import run_part_a

            return run_part_a(args)
        return _sample(args)
    except (
        UsageError, ConfigError, DataError, CheckpointError, RunDirError, ValueError, ImageError, BackendError,
        AssetError,
    ) as err:  # fmt: skip
        print(f"fundiff {args.command}: error: {_in_flags(err)}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as err:
        print(f"fundiff {args.command}: {_in_flags(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = "; the run continues with --resume" if args.command == "train" else ""
        print(f"fundiff {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


def _in_flags(err: Exception) -> str:
    """A library error's message, its advice said in this command's flags.

    Args:
        err: an error raised by the library.

    Returns:
        One line: for the typed errors of training and devices, what to do in flags; for
        any other error, its own message.
    """
    from fundiff.device import DeviceUnavailable
    from fundiff.training import run_dir as rd
    from fundiff.training.loop import TrainingDiverged

    if isinstance(err, rd.NothingToResume):
        return (
            f"{err.run}: nothing to resume (no {rd.CHECKPOINT}); run without --resume to start it"
        )
    if isinstance(err, rd.ConfigMismatch):
        return (
            f"{err.run}: the run was started with a different configuration ({err.difference}); "
            "resume without changing flags, or use a new --out"
        )
    if isinstance(err, rd.RunExists):
        return (
            f"{err.run} already holds a run; pass --resume to continue it, or choose another --out"
        )
    if isinstance(err, rd.RunDirUnwritable):
        return f"{err.run}: cannot write the run directory ({err.reason}); choose another --out"
    if isinstance(err, DeviceUnavailable):
        return f"device {err.device!r} asked for, but CUDA is not available here; use --device cpu"
    if isinstance(err, TrainingDiverged):
        return str(err).replace("lower the learning rate", "lower --lr")
    return str(err)


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


def _train(args: argparse.Namespace) -> int:
    from fundiff.training.config import recipe
    from fundiff.training.loop import train

    out = args.out or Path("runs") / args.kind
    given = recipe_overrides(args)
    if args.resume:
        from fundiff.training import checkpoint as ckpt
        from fundiff.training.loop import CHECKPOINT

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


def _sample(args: argparse.Namespace) -> int:
    import torch

    from fundiff.device import resolve_device
    from fundiff.kinds import kind_of, kinds_that
    from fundiff.training.weights import load_model_file
    from fundiff.viz import save_grid

    if args.out.is_dir():
        raise UsageError(
            f"--out {args.out} is a folder; name the PNG to write, e.g. {args.out / 'samples.png'}"
        )
    if not args.out.suffix:
        raise UsageError(f"--out {args.out} has no file extension; name a PNG, e.g. {args.out}.png")
    device = resolve_device(args.device)
    config, model = load_model_file(args.checkpoint, device, use_ema=not args.no_ema)
    seed = 0 if args.seed is None else args.seed
    gen = torch.Generator(device).manual_seed(seed)
    kind = kind_of(config)
    if kind.sample is not None and kind.class_conditional:
        digits = args.digits if args.digits is not None else list(range(10))
        labels = torch.tensor(digits, device=device).repeat(args.per_digit)  # one row per repeat
        nrow = len(digits)
    elif args.digits is not None:
        raise UsageError(
            f"{args.checkpoint} is a {config.kind} model, which has no classes; drop --digits"
        )
    elif kind.sample is not None:
        digits, labels, nrow = None, torch.zeros(args.num, dtype=torch.long, device=device), 10
    else:
        sampling = kinds_that(lambda k: k.sample is not None)
        raise UsageError(
            f"{args.checkpoint} is a {config.kind} model, which does not sample; "
            f"pass a {', '.join(sampling[:-1])} or {sampling[-1]} checkpoint"
        )
    images = kind.sample(
        model, labels, guidance=args.guidance, steps=args.steps, generator=gen,
        num_classes=config.num_classes, progress=not args.no_progress,
    )  # fmt: skip
    what = kind.caption.format(digits=digits, guidance=args.guidance, num=args.num)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_grid(
            args.out,
            images,
            nrow=nrow,
            title=f"{config.kind}: {what}, {args.steps} steps, seed {seed}",
        )
    except OSError as err:
        raise UsageError(
            f"cannot write --out {args.out} ({err.strerror or err}); choose another path"
        ) from None
    print(f"wrote {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from fundiff.atomic import write_json
    from fundiff.device import resolve_device
    from fundiff.evaluation.evaluate import evaluate

    report = evaluate(
        args.checkpoint, guidances=args.guidance, per_class=args.per_class, steps=args.steps,
        seed=0 if args.seed is None else args.seed, device=resolve_device(args.device), data_dir=args.data_dir,
    )  # fmt: skip
    print(json.dumps(report, indent=2))
    if args.out is not None:
        try:
            write_json(args.out, report)
        except OSError as err:
            raise UsageError(f"cannot write --out {args.out} ({err.strerror})") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
