"""``fundiff demo``: every figure of the write-up on one HTML page (``fundiff.demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.cli.args import UsageError, add_common, add_deepfloyd, add_rule, chosen_rule
from fundiff.diffusion import rules


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand to ``fundiff``'s subparsers.

    Args:
        sub: the subparsers of the ``fundiff`` parser.
    """
    demo = sub.add_parser(
        "demo",
        help="write every figure of the write-up, from the shipped models, to DIR/index.html",
        description="Reproduce the write-up's figures from the models shipped in the package and write them, "
        "with captions and the command behind each, to DIR/index.html (open it in a browser; no server needed). "
        "About 1-2 minutes on 2 CPU cores with the mnist backend; no network and no data folder.",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("demo"), help="folder of the page (default demo)"
    )
    demo.add_argument(
        "--backend", choices=("mnist", "deepfloyd"), default="mnist",
        help="Part A's backend (default mnist; deepfloyd needs IF's weights and prompt embeddings)",
    )  # fmt: skip
    add_deepfloyd(demo)
    add_rule(demo)
    add_common(demo)


def run(args: argparse.Namespace) -> int:
    """Run ``fundiff demo`` with parsed ``args``; returns the exit status.

    Args:
        args: the parsed arguments of ``fundiff demo``.

    Returns:
        The exit status, 0.

    Raises:
        UsageError: ``--seed`` was given, DeepFloyd options without ``--backend deepfloyd``,
            an ``--out`` that cannot hold the page, or a prompt without an embedding.
        rules.RuleError: ``FUNDIFF_RULE`` names no rule (and no --rule was given).
    """
    from fundiff.backends.prompts import MissingPromptEmbedding
    from fundiff.cli.embed_prompts import missing_prompt_line
    from fundiff.demo.build import OutUnusable, run_demo
    from fundiff.device import resolve_device

    if args.seed is not None:
        raise UsageError("the demo draws with each figure's own seed; --seed is not taken here")
    options = {k: v for k, v in (("stage1", args.stage1), ("stage2", args.stage2),
                                 ("prompt_embeds", args.prompt_embeds)) if v is not None}  # fmt: skip
    if options and args.backend != "deepfloyd":
        raise UsageError(
            f"{', '.join('--' + k.replace('_', '-') for k in options)} only go with --backend deepfloyd"
        )
    try:
        with rules.using(chosen_rule(args)):
            index = run_demo(
                args.out, backend=args.backend, device=resolve_device(args.device),
                progress=not args.no_progress, **options,
            )  # fmt: skip
    except OutUnusable as err:
        raise UsageError(f"--out {err}") from None
    except MissingPromptEmbedding as err:
        raise UsageError(missing_prompt_line(err)) from None
    print(f"wrote {index}; open it in a browser")
    return 0
