"""What the ``fundiff`` commands share: the parser, number types, option groups, usage errors.

Every command module builds its subparser from these pieces, so a flag that two
commands take (``--device``, ``--rule``, ``--stage1`` ...) is written once.
Importing this module imports neither torch nor numpy: ``fundiff --help`` and
every usage error stay fast.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from fundiff import threads
from fundiff.diffusion import rules

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the command line; the message names the flag and what to do instead."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line and exit with status 2.

        Args:
            message: what is wrong with the command line.
        """
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def number(
    kind: type[int] | type[float],
    *,
    low: float | None = None,
    high: float | None = None,
    name: str | None = None,
) -> Callable[[str], int | float]:
    """An argparse type that reads a number of ``kind`` within bounds.

    ``number(int, low=1)`` reads an integer >= 1 ("expected a positive integer,
    got '0'"); ``number(float)`` a finite number; ``number(float, low=0)`` a
    finite number > 0 (a float's ``low`` is exclusive: a learning rate of 0 is
    no rate); ``number(int, low=0, high=9, name="a digit is 0-9")`` a digit.

    Args:
        kind: int or float.
        low: the least value taken (exclusive for floats); None: no bound.
        high: the largest value taken (inclusive); None: no bound.
        name: the message's wording for a value out of bounds; None: "expected a
            positive integer", "expected a positive number", ...

    Returns:
        A function of the command-line word that returns the number or raises
        ``argparse.ArgumentTypeError`` with one line naming the word.
    """
    wanted = name or _wording(kind, low, high)

    def read(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            what = wanted if kind is int else "expected a number"
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = low is not None and (value < low if kind is int else value <= low)
        if too_low or (high is not None and value > high):
            shown = value if kind is int else repr(text)
            raise argparse.ArgumentTypeError(f"{wanted}, got {shown}")
        return value

    return read


def _wording(kind: type[int] | type[float], low: float | None, high: float | None) -> str:
    """ "expected a positive integer", "expected a number > 0.5", ... for ``number``'s messages."""
    noun = "an integer" if kind is int else "a number"
    if low == (1 if kind is int else 0) and high is None:
        return f"expected a positive {noun.split()[-1]}"
    if kind is int and low is not None and high is not None:
        return f"expected {noun} from {low} to {high}"
    bounds = [f">= {low}" if kind is int else f"> {low:g}"] if low is not None else []
    bounds += [f"<= {high:g}"] if high is not None else []
    return " ".join([f"expected {noun}", " and ".join(bounds)]).strip()


positive_int = number(int, low=1)
finite_float = number(float)
positive_float = number(float, low=0.0)
digit = number(int, low=0, high=9, name="a digit is 0-9")


def thread_count(text: str) -> int | None:
    """The argparse type of ``--threads``: a positive integer, or ``auto`` (None).

    Args:
        text: the command-line word.

    Returns:
        The count, or None for fundiff's policy.

    Raises:
        argparse.ArgumentTypeError: anything else, in one line naming the word.
    """
    try:
        return threads.parse_threads(text, "--threads")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or {threads.AUTO}, got {text!r}"
        ) from None


def add_common(p: argparse.ArgumentParser) -> None:
    """Add the options every subcommand takes (--device, --seed, ...) to ``p``.

    Args:
        p: the subcommand's parser.
    """
    add_device(p)
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of every random draw (default: 0; part-a part0: 101)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_device(p: argparse.ArgumentParser) -> None:
    """--device and --threads: where the models run, and on how many CPU threads.

    Args:
        p: the parser to add the option to.
    """
    p.add_argument(
        "--device", default="auto", help="auto (default: cuda if available), cpu, cuda or cuda:N"
    )
    p.add_argument(
        "--threads", type=thread_count, default=None, metavar="N",
        help=f"CPU threads for torch, or {threads.AUTO} (default: ${threads.ENV_VAR}, else "
        f"{threads.AUTO}: fundiff's policy, which the docs' Performance page measures)",
    )  # fmt: skip


def add_rule(p: argparse.ArgumentParser) -> None:
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

    Returns:
        The rule's name.

    Raises:
        rules.RuleError: no --rule and ``FUNDIFF_RULE`` names no rule (a ValueError: one line, status 2).
    """
    return rules.check_rule(args.rule, "--rule") if args.rule else rules.course_rule()


def add_deepfloyd(p: argparse.ArgumentParser) -> None:
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
