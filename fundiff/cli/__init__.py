"""The ``fundiff`` command line: one module per command, assembled here.

``fundiff train KIND`` trains a Part B model into a run directory; ``fundiff
sample`` and ``fundiff evaluate`` draw from a checkpoint; ``fundiff part-a``
runs a Part A section; ``fundiff demo`` writes every figure on one page;
``fundiff embed-prompts`` makes DeepFloyd IF's prompt embeddings. Each command's
module (``fundiff.cli.train``, ...) adds its subparser and runs it; the shared
argument types and option groups are in ``fundiff.cli.args``.

Bad input ends in one line on stderr and exit status 2: the library's errors
(and :class:`fundiff.cli.args.UsageError`, which the command modules raise with
the flag to change)
are caught here; a diverged run ends in one line and status 1. Nothing in the
library imports this package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fundiff.cli import demo, embed_prompts, evaluate, part_a, sample, train
from fundiff.cli.args import EXIT_USAGE, OneLineParser, UsageError
from fundiff.threads import sleep_while_waiting, use_threads

COMMANDS = {
    "train": train, "sample": sample, "evaluate": evaluate, "part-a": part_a, "demo": demo,
    "embed-prompts": embed_prompts,
}  # fmt: skip
"""Each subcommand's module, in the order of ``fundiff --help``."""

__all__ = ["COMMANDS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fundiff``, built without importing torch.

    Returns:
        The parser; its ``command`` is the subcommand's name.
    """
    parser = OneLineParser(
        prog="fundiff", description="Fun With Diffusion Models: the course's command line."
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status.

    Args:
        argv: the command-line arguments after ``fundiff``; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 1 for a diverged run, 2 for bad input, 130 when
        interrupted.
    """
    sleep_while_waiting()  # before anything loads torch (fundiff.threads: why)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["embed-prompts"]:  # its own parser: its --help lists its flags
        return embed_prompts.main(argv[1:])
    args = build_parser().parse_args(argv)
    from fundiff.assets import AssetError
    from fundiff.backends.mnist_weights import BackendError
    from fundiff.data import DataError, pin_data_env
    from fundiff.images import ImageError
    from fundiff.training.checkpoint import CheckpointError
    from fundiff.training.config import ConfigError
    from fundiff.training.loop import TrainingDiverged
    from fundiff.training.run_dir import RunDirError

    pin_data_env()  # a relative $FUNDIFF_DATA means this folder, in every process started below
    try:
        use_threads(args.threads)
        return COMMANDS[args.command].run(args)
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
