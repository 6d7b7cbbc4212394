"""``fundiff sample``: draw digit grids from a Part B checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.cli.args import UsageError, add_common, digit, finite_float, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``sample`` subcommand to ``fundiff``'s subparsers.

    Args:
        sub: the subparsers of the ``fundiff`` parser.
    """
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


def run(args: argparse.Namespace) -> int:
    """Run ``fundiff sample`` with parsed ``args``; returns the exit status.

    Args:
        args: the parsed arguments of ``fundiff sample``.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: an --out that is no PNG path or cannot be written, --digits for a
            model without classes, or a checkpoint of a kind that does not sample.
    """
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
