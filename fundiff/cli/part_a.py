"""``fundiff part-a TASK``: run one Part A section on a backend and write its figures (``fundiff.parta``).

The library's typed errors become lines that name this command's flags: a
backend with no default image asks for --image, a prompt without an embedding
gives the ``fundiff embed-prompts`` command that adds it."""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.cli.args import (
    UsageError,
    add_common,
    add_deepfloyd,
    add_rule,
    chosen_rule,
    finite_float,
    positive_int,
)
from fundiff.diffusion import rules
from fundiff.parta.sections import TASKS
from fundiff.writeup import PART_A


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    add_deepfloyd(part_a)
    add_rule(part_a)
    add_common(part_a)


def run(args: argparse.Namespace) -> int:
    """Run ``fundiff part-a`` with parsed ``args``; returns the exit status.

    Args:
        args: the parsed arguments of ``fundiff part-a``.

    Returns:
        The exit status, 0.

    Raises:
        rules.RuleError: ``FUNDIFF_RULE`` names no rule (and no --rule was given).
        UsageError: an i_start outside the schedule, DeepFloyd weights that are not
            available, an image or prompt embedding to give, or an ``--out`` that cannot
            be written.
    """
    import sys

    from fundiff.backends.hub import WeightsUnavailable
    from fundiff.backends.prompts import MissingPromptEmbedding
    from fundiff.cli.embed_prompts import missing_prompt_line
    from fundiff.device import resolve_device
    from fundiff.parta.backend import build_backend
    from fundiff.parta.options import NoDefaultImage, NoPipeline, TaskOptions
    from fundiff.parta.tasks import run_task
    from fundiff.schedules import strided_timesteps

    rule = chosen_rule(args)  # a bad FUNDIFF_RULE fails here, before any model loads
    ts = strided_timesteps()
    for i in [args.i_start, *(args.i_starts or [])]:
        if not 0 <= i < len(ts) - 1:
            raise UsageError(
                f"i_start {i} is outside the schedule: the {len(ts)} strided timesteps take indices 0 to {len(ts) - 2}"
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
    except NoDefaultImage as err:
        raise UsageError(
            f"the {err.backend} backend has no default image; pass --image PATH"
        ) from None
    except NoPipeline as err:
        raise UsageError(
            f"{err.task} samples DeepFloyd IF's own pipeline; the {err.backend} backend has none: "
            "use --backend deepfloyd"
        ) from None
    except MissingPromptEmbedding as err:
        raise UsageError(missing_prompt_line(err)) from None
    except OSError as err:
        raise UsageError(f"cannot write into --out {args.out} ({err.strerror})") from None
    return 0
