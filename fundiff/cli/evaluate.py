"""``fundiff evaluate``: sample quality of a Part B model, judged by the shipped classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.cli.args import UsageError, add_common, finite_float, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to ``fundiff``'s subparsers.

    Args:
        sub: the subparsers of the ``fundiff`` parser.
    """
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


def run(args: argparse.Namespace) -> int:
    """Run ``fundiff evaluate`` with parsed ``args``; print the JSON report; return the exit status.

    Args:
        args: the parsed arguments of ``fundiff evaluate``.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: the report cannot be written to --out.
    """
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
