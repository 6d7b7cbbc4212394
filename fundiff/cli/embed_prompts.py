"""``fundiff embed-prompts``: embed prompts with IF's T5 encoder into a ``.pth`` file.

The command has its own parser (``fundiff embed-prompts --help`` shows it) and is
dispatched before ``fundiff``'s. It also turns a prompt that has no embedding
(``fundiff.backends.prompts.MissingPromptEmbedding``) into the command line
that adds it, for ``fundiff part-a`` and ``fundiff demo``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fundiff import writeup
from fundiff.cli.args import EXIT_USAGE, OneLineParser, UsageError, add_device
from fundiff.threads import sleep_while_waiting, use_threads

if TYPE_CHECKING:
    import torch

    from fundiff.backends.prompts import MissingPromptEmbedding

PROG = "fundiff embed-prompts"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """List ``embed-prompts`` among ``fundiff``'s subcommands (``main`` parses its arguments).

    Args:
        sub: the subparsers of the ``fundiff`` parser.
    """
    sub.add_parser(
        "embed-prompts",
        help="turn prompts into DeepFloyd IF's T5 embeddings (.pth)",
        add_help=False,
    )


def build_parser() -> OneLineParser:
    """The argument parser of ``fundiff embed-prompts`` (which imports torch, unlike ``fundiff``'s)."""
    from fundiff.backends.hub import IF_STAGE1

    parser = OneLineParser(
        prog=PROG,
        description="Embed prompts with IF's T5 encoder into the .pth file that "
        "load_deepfloyd(prompt_embeds=...) reads. With no --prompt or --prompts-file: the write-up's "
        f"{len(writeup.PROMPTS)} prompts. Prompts already in --out are kept unless --replace is given; "
        "'' (unconditional) is always included.",
    )
    parser.add_argument(
        "--prompt", action="append", default=[], metavar="TEXT", help="a prompt (repeatable)"
    )
    parser.add_argument("--prompts-file", type=Path, metavar="FILE", help="prompts, one a line")
    parser.add_argument(
        "--text-encoder",
        default=IF_STAGE1,
        metavar="PATH_OR_REPO",
        help=f"hub id or local folder of the T5 encoder (default: {IF_STAGE1})",
    )
    add_device(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.pth", help="file to write")
    parser.add_argument("--replace", action="store_true", help="drop what --out already holds")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fundiff embed-prompts``; returns the exit status.

    Bad input (a missing prompts file, an unwritable --out, unavailable weights)
    ends in one line on stderr and status 2.

    Args:
        argv: the command-line arguments after ``embed-prompts``; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success (or ``--help``), 2 on bad input.
    """
    sleep_while_waiting()  # before anything loads torch (fundiff.threads: why)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from fundiff.backends.hub import WeightsUnavailable
    from fundiff.backends.prompts import (
        UNCONDITIONAL,
        check_prompt_embeds,
        embed_prompts,
        load_t5,
        save_prompt_embeds,
    )

    try:
        use_threads(args.threads)
        prompts = _gather_prompts(args.prompt, args.prompts_file)
        kept = _writable_out(args.out, keep=not args.replace)
        tokenizer, encoder = load_t5(args.text_encoder, device=args.device)
        fresh = embed_prompts(prompts, tokenizer, encoder)
        merged = check_prompt_embeds({**kept, **fresh}, f"{args.out} with the new prompts")
        save_prompt_embeds(merged, args.out)
    except (UsageError, ValueError, OSError, WeightsUnavailable) as err:
        message = str(err).replace("\n", " ")
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    _, length, width = merged[UNCONDITIONAL].shape
    print(
        f"wrote {len(merged)} prompt embeddings of shape (1, {length}, {width}) to {args.out} "
        f"({len(fresh)} embedded now, {len(merged.keys() - fresh.keys())} kept)"
    )
    return 0


def add_command(prompt: str, embeds_file: Path | None) -> str:
    """The ``fundiff embed-prompts`` command line that adds ``prompt`` to ``embeds_file``.

    Args:
        prompt: the prompt to embed.
        embeds_file: the embeddings file to add it to; None: a placeholder, FILE.pth.

    Returns:
        e.g. "fundiff embed-prompts --out p.pth --prompt 'a horse'", quoted for a POSIX shell.
    """
    out = shlex.quote(str(embeds_file)) if embeds_file is not None else "FILE.pth"
    return f"{PROG} --out {out} --prompt {shlex.quote(prompt)}"


def missing_prompt_line(err: MissingPromptEmbedding) -> str:
    """One line for a prompt without an embedding: what is there, and the command that adds it.

    Args:
        err: the backend's error, carrying the prompt, the prompts there are and their file.

    Returns:
        The line, without newlines (a prompt's own are shown escaped).
    """
    add = add_command(err.prompt, err.embeds_file)
    line = (
        f"{err.summary()}; add it with `{add}` (keeps the prompts already there; needs the T5 "
        "encoder) and load the backend again"
    )
    return line.replace("\n", "\\n")


def _gather_prompts(given: list[str], prompts_file: Path | None) -> list[str]:
    """--prompt values, then the non-blank lines of --prompts-file; the write-up's if neither."""
    from fundiff.backends.prompts import WRITEUP_PROMPTS

    prompts = list(given)
    if prompts_file is not None:
        try:
            lines = prompts_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or type(err).__name__
            raise UsageError(
                f"cannot read --prompts-file {prompts_file} ({reason}); "
                "give a UTF-8 text file with one prompt a line"
            ) from None
        from_file = [line.strip() for line in lines if line.strip()]
        if not from_file:
            raise UsageError(f"--prompts-file {prompts_file} holds no prompts")
        prompts += from_file
    return prompts if (given or prompts_file is not None) else list(WRITEUP_PROMPTS)


def _writable_out(out: Path, *, keep: bool) -> dict[str, torch.Tensor]:
    """Check --out before the (slow) encoder loads; return the embeddings it holds if ``keep``."""
    from fundiff.backends.prompts import PromptEmbedsError, load_prompt_embeds

    folder = out.parent
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file such as {out / 'prompts.pth'}")
    if not folder.is_dir():
        raise UsageError(f"--out {out}: folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise UsageError(f"--out {out} is not writable here; choose another path")
    if not (keep and out.exists()):
        return {}
    try:
        return load_prompt_embeds(out)
    except PromptEmbedsError as err:
        raise UsageError(f"{err}; or pass --replace to overwrite {out}") from err
