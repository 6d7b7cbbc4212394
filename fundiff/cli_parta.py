"""``fundiff part-a``: the command line of the Part A tasks (``fundiff.parta``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.cli import UsageError, add_common, finite_float, positive_int
from fundiff.sections import TASKS


def add_part_a_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``part-a`` subcommand to ``fundiff``'s subparsers.

    Args:
        sub: the subparsers of the ``fundiff`` parser.
    """
    part_a = sub.add_parser(
        "part-a",
        help="run a Part A loop and write its figure",
        description="Run one section of Part A on a backend and write the write-up's figure as PNG into --out. "
        "The mnist backend (shipped, CPU) takes the digits '0'-'9' and '' as prompts; deepfloyd needs IF's "
        "weights and a prompt-embeddings file from 'fundiff embed-prompts'.",
    )
    part_a.add_argument("task", choices=TASKS, help="which section's loop")
    part_a.add_argument(
        "--backend", choices=("mnist", "deepfloyd"), default="mnist", help="default: mnist"
    )
    part_a.add_argument(
        "--out", type=Path, default=Path("part_a"), help="folder for the figures (default part_a)"
    )
    part_a.add_argument(
        "--image", type=Path, help="input image file (default on mnist: a shipped test 7)"
    )
    part_a.add_argument(
        "--mask", type=Path, help="inpaint: mask image of the backend's size, white = regenerate"
    )
    part_a.add_argument("--prompt", help="the prompt (mnist: a digit 0-9, or '' for none)")
    part_a.add_argument(
        "--prompts", nargs="+", help="anagram: one prompt per view; hybrid: low then high"
    )
    part_a.add_argument(
        "--views",
        nargs="+",
        help="anagram views: identity flip rotate90 rotate180 transpose negate",
    )
    part_a.add_argument(
        "--factorization", choices=("frequency", "colour"), default="frequency", help="hybrid"
    )
    part_a.add_argument(
        "--i-start", type=int, default=10, help="iterative: start index into the timesteps"
    )
    part_a.add_argument(
        "--i-starts",
        type=int,
        nargs="+",
        help="sdedit/img2img noise levels (default 1 3 5 7 10 20)",
    )
    part_a.add_argument(
        "--guidance", type=finite_float, default=7.0, help="classifier-free guidance (default 7)"
    )
    part_a.add_argument("--num", type=positive_int, default=5, help="sample/cfg: images to draw")
    part_a.add_argument(
        "--weights", type=Path, help="mnist: weights file (default: the shipped model)"
    )
    add_deepfloyd_arguments(part_a)
    add_common(part_a)


def add_deepfloyd_arguments(p: argparse.ArgumentParser) -> None:
    """--stage1, --stage2 and --prompt-embeds: where DeepFloyd IF's parts come from.

    Args:
        p: the parser to add the options to.
    """
    p.add_argument("--stage1", help="deepfloyd: stage I hub id or local folder")
    p.add_argument("--stage2", help="deepfloyd: stage II hub id or local folder (upsampling)")
    p.add_argument(
        "--prompt-embeds", type=Path, help="deepfloyd: .pth from 'fundiff embed-prompts'"
    )


def run_part_a(args: argparse.Namespace) -> int:
    """Run ``fundiff part-a`` with parsed ``args``; returns the exit status.

    Args:
        args: the parsed arguments of ``fundiff part-a``.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: an i_start outside the schedule, DeepFloyd weights that are not
            available, or an ``--out`` that cannot be written.
    """
    from fundiff.parta import TaskOptions, build_backend, run_task
    from fundiff.schedules import strided_timesteps
    from fundiff.train import resolve_device

    ts = strided_timesteps()
    for i in [args.i_start, *(args.i_starts or [])]:
        if not 0 <= i < len(ts) - 1:
            raise UsageError(
                f"i_start {i} is outside the schedule: the {len(ts)} strided timesteps take indices 0 to {len(ts) - 2}"
            )
    from fundiff.backends.deepfloyd import (
        WeightsUnavailable,  # light: diffusers loads inside its functions
    )

    device = resolve_device(args.device)
    try:
        backend = build_backend(
            args.backend, device=device, weights=args.weights, stage1=args.stage1, stage2=args.stage2,
            prompt_embeds=args.prompt_embeds,
        )  # fmt: skip
    except WeightsUnavailable as err:
        raise UsageError(str(err)) from None
    opts = TaskOptions(
        image=args.image, mask=args.mask, prompt=args.prompt, prompts=args.prompts, views=args.views,
        factorization=args.factorization, i_start=args.i_start, guidance=args.guidance, num=args.num,
        seed=args.seed, progress=not args.no_progress,
        **({"i_starts": tuple(args.i_starts)} if args.i_starts else {}),
    )  # fmt: skip
    try:
        for path in run_task(args.task, backend, args.out, opts):
            print(f"wrote {path}")
    except OSError as err:
        raise UsageError(f"cannot write into --out {args.out} ({err.strerror})") from None
    return 0
