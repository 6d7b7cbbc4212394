"""Which update rule a strided denoising step uses, chosen in one place.

Two rules step from x_t to a less noisy x_t' (t' < t), both after the one-step
estimate ``x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)``:

- ``"writeup"`` (the default): the write-up's rule (section 1.4)::

      x_t' = sqrt(abar_t') x0_hat + sqrt(1 - abar_t') eps_hat + sigma z

  fundiff takes sigma = 0. With the write-up's coefficient sqrt(1 - abar_t') on
  eps_hat, x_t' has the variance the forward process gives timestep t' only when
  sigma is 0; any sigma > 0 adds sigma^2 of noise on top. (DDIM, Song et al. 2021,
  keeps the variance with sigma > 0 by shrinking that coefficient to
  sqrt(1 - abar_t' - sigma^2); the write-up does not.) With sigma = 0 the rule is
  deterministic and is exactly DDIM with eta = 0, which the tests check against
  diffusers' ``DDIMScheduler``. The model's learned variance (DeepFloyd IF's extra
  channels) is not used.
- ``"ddpm"``: the DDPM posterior q(x_t' | x_t, x0_hat) of the classic version of
  the course, with noise of the posterior's variance (or, for DeepFloyd IF, the
  model's learned variance); checked against diffusers' ``DDPMScheduler``.

The course's rule is ``COURSE_RULE`` below, or ``FUNDIFF_RULE`` in the environment
(``writeup`` or ``ddpm``): the notebooks are built with it (``autograder.course.build``),
``fundiff-grade`` grades with it, and ``fundiff part-a`` and ``fundiff demo`` draw with it
unless ``--rule`` says otherwise. ``using(rule)`` scopes another rule to a block.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, cast

Rule = Literal["writeup", "ddpm"]
RULES: tuple[Rule, ...] = ("writeup", "ddpm")
COURSE_RULE: Rule = "writeup"
"""The one place an instructor picks the course's rule (``FUNDIFF_RULE`` overrides it)."""
ENVIRONMENT = "FUNDIFF_RULE"

DESCRIPTIONS: dict[Rule, str] = {
    "writeup": "the write-up's rule (1.4), sigma = 0: x_t' = sqrt(abar_t') x0_hat + sqrt(1 - abar_t') eps_hat",
    "ddpm": "the DDPM posterior: x_t' = mean of q(x_t' | x_t, x0_hat) + sigma z, sigma^2 its variance",
}  # fmt: skip

_CURRENT: ContextVar[Rule | None] = ContextVar("fundiff_rule", default=None)


class RuleError(ValueError):
    """An unknown rule name; the message lists the rules."""


def check_rule(name: object, source: str = "rule") -> Rule:
    """``name`` as a ``Rule``, or RuleError naming ``source`` and the rules there are.

    Args:
        name: the rule asked for.
        source: where it came from, for the message (``FUNDIFF_RULE``, ``--rule``, ...).
    """
    if name not in RULES:
        raise RuleError(f"{source} must be one of {', '.join(RULES)}; got {name!r}")
    return cast(Rule, name)


def course_rule() -> Rule:
    """The course's rule: ``FUNDIFF_RULE`` if set (and not empty), else ``COURSE_RULE``."""
    chosen = os.environ.get(ENVIRONMENT, "")
    return check_rule(chosen, ENVIRONMENT) if chosen else COURSE_RULE


def current_rule() -> Rule:
    """The rule in force: the innermost ``using`` block's, else the course's."""
    return _CURRENT.get() or course_rule()


@contextmanager
def using(rule: Rule | None) -> Iterator[Rule]:
    """Within the block, every step (``fundiff.diffusion.denoise.denoise_step``) uses ``rule``.

    Args:
        rule: a rule name; None keeps the rule in force.

    Yields:
        The rule in force inside the block.
    """
    token = _CURRENT.set(check_rule(rule) if rule is not None else _CURRENT.get())
    try:
        yield current_rule()
    finally:
        _CURRENT.reset(token)


def describe(rule: Rule) -> str:
    """One line saying what ``rule`` computes, for captions and messages.

    Args:
        rule: the rule to describe.
    """
    return DESCRIPTIONS[rule]
