"""``fundiff part-a``: the command line of the Part A tasks (``fundiff.parta``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.cli import UsageError, add_common, finite_float, positive_int
from fundiff.diffusion import rules
from fundiff.sections import TASKS
from fundiff.writeup import PART_A


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
        "--i-start", type=int, default=PART_A.i_start,
        help=f"iterative: start index into the timesteps (default {PART_A.i_start})",
    )  # fmt: skip
    part_a.add_argument(
        "--i-starts",
        type=int,
        nargs="+",
        help=f"sdedit/img2img noise levels (default {' '.join(map(str, PART_A.i_starts))})",
    )
    part_a.add_argument(
        "--guidance", type=finite_float, default=PART_A.cfg_scale,
        help=f"classifier-free guidance (default {PART_A.cfg_scale:g})",
    )  # fmt: skip
    part_a.add_argument(
        "--num", type=positive_int, default=PART_A.num_samples,
        help=f"sample/cfg: images to draw (default {PART_A.num_samples})",
    )  # fmt: skip
    part_a.add_argument(
        "--weights", type=Path, help="mnist: weights file (default: the shipped model)"
    )
    add_deepfloyd_arguments(part_a)
    add_rule_argument(part_a)
    add_common(part_a)


def add_rule_argument(p: argparse.ArgumentParser) -> None:
    """--rule: the update rule of the strided loop (``fundiff.diffusion.rules``).

    Args:
        p: the parser to add the option to.
    """
    p.add_argument(
        "--rule", choices=rules.RULES,
        help=f"the denoising update rule (default: the course's, ${rules.ENVIRONMENT} or {rules.COURSE_RULE}): "
        + "; ".join(f"{r}: {rules.describe(r)}" for r in rules.RULES),
    )  # fmt: skip


def chosen_rule(args: argparse.Namespace) -> rules.Rule:
    """The rule of a run: ``--rule``, else the course's (``rules.course_rule()``).

    Args:
        args: parsed arguments with ``rule``.

    Raises:
        rules.RuleError: no --rule and ``FUNDIFF_RULE`` names no rule (a ValueError: one line, status 2).
    """
    return rules.check_rule(args.rule, "--rule") if args.rule else rules.course_rule()


def add_deepfloyd_arguments(p: argparse.ArgumentParser) -> None:
    """--stage1, --stage2 and --prompt-embeds: where DeepFloyd IF's parts come from.

    Args:
        p: the parser to add the options to.
    """
    p.add_argument("--stage1", help="deepfloyd: stage I hub id or local folder")
    p.add_argument(
        "--stage2",
        help="deepfloyd: stage II hub id or local folder; Part 0 upsamples with it 64 -> 256 px "
        "(default: DeepFloyd/IF-II-L-v1.0 where its weights are there, else 64 px with a note)",
    )
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
        rules.RuleError: ``FUNDIFF_RULE`` names no rule (and no --rule was given).
        UsageError: an i_start outside the schedule, DeepFloyd weights that are not
            available, or an ``--out`` that cannot be written.
    """
    import sys

    from fundiff.device import resolve_device
    from fundiff.parta import TaskOptions, build_backend, run_task
    from fundiff.schedules import strided_timesteps

    rule = chosen_rule(args)  # a bad FUNDIFF_RULE fails here, before any model loads
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
            prompt_embeds=args.prompt_embeds, upsample=args.task == "part0",
        )  # fmt: skip
    except WeightsUnavailable as err:
        raise UsageError(str(err)) from None
    opts = TaskOptions(
        image=args.image, mask=args.mask, prompt=args.prompt, prompts=args.prompts, views=args.views,
        factorization=args.factorization, i_start=args.i_start, guidance=args.guidance, num=args.num,
        seed=args.seed, progress=not args.no_progress,
        note=lambda message: print(f"fundiff part-a: note: {message}", file=sys.stderr),
        **({"i_starts": tuple(args.i_starts)} if args.i_starts else {}),
    )  # fmt: skip
    try:
        with rules.using(rule):
            written = run_task(args.task, backend, args.out, opts)
        for path in written:
            print(f"wrote {path}")
    except OSError as err:
        raise UsageError(f"cannot write into --out {args.out} ({err.strerror})") from None
    return 0
