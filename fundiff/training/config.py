"""Training configuration: one frozen dataclass, and the write-up's recipes.

Configuration is data: the CLI fills a ``TrainConfig`` from a recipe and its
flags, the trainer reads it, and the run directory stores it as config.json.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from fundiff.writeup import PART_B

KINDS: tuple[str, ...] = (
    "denoiser",
    "pure-noise",
    "flow-time",
    "flow-class",
    "diffusion-class",
    "classifier",
)
LR_SCHEDULES: tuple[str, ...] = ("exponential", "constant")


class ConfigError(ValueError):
    """A configuration value is out of range; the message names it and the allowed range."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes.

    Device and data folder are not here: they change where a run happens, not what it computes.
    """

    kind: str  # one of KINDS: which UNet and which objective
    epochs: int  # passes over the training images
    batch_size: int  # images per optimiser step
    lr: float  # Adam learning rate at the start
    hidden: int  # D, the UNet's base width
    lr_schedule: str = "constant"  # "exponential" (stepped once per epoch) or "constant"
    lr_final: float = 0.1  # exponential: lr after the last epoch is lr * lr_final
    sigma: float = 0.5  # denoiser: training noise level in z = x + sigma * eps
    p_uncond: float = PART_B.p_uncond  # flow-class: probability that the class vector is zeroed
    guidance: float = PART_B.guidance  # flow-class, diffusion-class: sample grids' guidance scale
    sample_steps: int = 50  # flow: Euler steps of the sample grids
    sample_epochs: tuple[int, ...] = ()  # epochs after which sample grids are drawn
    ema_decay: float = (
        0.0  # > 0: keep an exponential moving average of the weights and sample with it
    )
    seed: int = 0  # seeds every random draw of the run
    limit: int | None = None  # use only the first N training images (quick runs)
    num_classes: int = field(default=10)  # flow-class: length of the one-hot class vector
    # the fast path (fundiff.training.loop): bfloat16 autocast, channels_last, fused Adam, CUDA graphs;
    # it changes the arithmetic, not the objective, so it is part of what a run computes
    fast: bool = False

    @property
    def gamma(self) -> float:
        """Per-epoch decay factor of the exponential schedule: ``lr_final ** (1 / epochs)``."""
        return self.lr_final ** (1.0 / self.epochs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["sample_epochs"] = list(self.sample_epochs)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict``; unknown keys are an error.

        Args:
            d: a dict as ``to_dict`` makes it.

        Returns:
            The validated configuration.

        Raises:
            ConfigError: an unknown key or a value out of range.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown configuration keys {unknown}")
        d = dict(d)
        d["sample_epochs"] = tuple(d.get("sample_epochs", ()))
        return validate(cls(**d))


_DENOISER: dict[str, Any] = dict(
    epochs=PART_B.denoiser_epochs,
    batch_size=256,
    lr=PART_B.denoiser_lr,
    hidden=PART_B.denoiser_hidden,
    sample_epochs=PART_B.denoiser_figure_epochs,
)
_FLOW: dict[str, Any] = dict(
    epochs=PART_B.flow_epochs,
    batch_size=64,
    lr=PART_B.flow_lr,
    hidden=64,
    lr_schedule="exponential",
    sample_epochs=PART_B.flow_figure_epochs,
)

RECIPES: dict[str, dict[str, Any]] = {
    # The write-up's values (epochs, learning rates, D, the epochs its figures show) come from
    # fundiff.writeup.PART_B.
    # Single-step denoiser: sigma 0.5, D=128, batch 256, Adam 1e-4, 5 epochs, figures after 1 and 5.
    "denoiser": dict(_DENOISER),
    # Same recipe, pure noise in, clean digit out.
    "pure-noise": dict(_DENOISER),
    # Flow matching: D=64, batch 64, Adam 1e-2, ExponentialLR to 0.1x over 10 epochs,
    # samples after 1, 5 and 10.
    "flow-time": dict(_FLOW),
    "flow-class": dict(_FLOW),
    # Part A's MNIST backend (not in the write-up): epsilon prediction on IF's
    # cosine schedule, class-conditional with dropout, weights averaged (EMA).
    "diffusion-class": dict(
        epochs=20, batch_size=128, lr=2e-3, hidden=64, lr_schedule="exponential",
        ema_decay=0.999, sample_epochs=(1, 10, 20),
    ),
    # The judge of generated digits (demo and evaluation; not in the write-up).
    "classifier": dict(
        epochs=15, batch_size=128, lr=2e-3, hidden=32, lr_schedule="exponential", lr_final=0.02,
        sample_epochs=(5, 10, 15),
    ),
}  # fmt: skip


def recipe(kind: str, **overrides: Any) -> TrainConfig:
    """The write-up's recipe for ``kind``, with ``overrides`` (None values ignored), validated.

    Args:
        kind: one of ``KINDS``.
        **overrides: ``TrainConfig`` fields to set instead of the recipe's; None values are
            ignored. Without ``sample_epochs``, the recipe's sample epochs that the run
            reaches are kept and the last epoch is added.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: an unknown kind or a value out of range.
    """
    if kind not in RECIPES:
        raise ConfigError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
    values = {**RECIPES[kind], **{k: v for k, v in overrides.items() if v is not None}}
    if "sample_epochs" in overrides and overrides["sample_epochs"] is not None:
        values["sample_epochs"] = tuple(overrides["sample_epochs"])
    else:  # keep the recipe's epochs that the run reaches, and always the last
        ep = values["epochs"]
        values["sample_epochs"] = tuple(
            sorted({e for e in values["sample_epochs"] if e <= ep} | {ep})
        )
    return validate(TrainConfig(kind=kind, **values))


def validate(c: TrainConfig) -> TrainConfig:
    """Check every value; raise ConfigError naming the first bad one.

    Args:
        c: the configuration to check.

    Returns:
        ``c`` itself.

    Raises:
        ConfigError: a value is out of range; the message names it and the allowed range.
    """

    def bad(name: str, rule: str) -> ConfigError:
        return ConfigError(f"{name} must be {rule}, got {getattr(c, name)!r}")

    if c.kind not in KINDS:
        raise bad("kind", f"one of {', '.join(KINDS)}")
    for name in ("epochs", "batch_size", "hidden", "sample_steps"):
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad(name, "a positive integer")
    if not (math.isfinite(c.lr) and c.lr > 0):
        raise bad("lr", "a positive number")
    if c.lr_schedule not in LR_SCHEDULES:
        raise bad("lr_schedule", f"one of {', '.join(LR_SCHEDULES)}")
    if not (math.isfinite(c.lr_final) and 0 < c.lr_final <= 1):
        raise bad("lr_final", "in (0, 1]")
    if not (math.isfinite(c.sigma) and c.sigma >= 0):
        raise bad("sigma", "a finite number >= 0")
    if not (0 <= c.p_uncond < 1):
        raise bad("p_uncond", "in [0, 1)")
    if not math.isfinite(c.guidance):
        raise bad("guidance", "a finite number")
    if not (0 <= c.ema_decay < 1):
        raise bad("ema_decay", "in [0, 1) (0 turns the average off)")
    if c.limit is not None and c.limit < 1:
        raise bad("limit", "a positive integer")
    if any(e < 1 or e > c.epochs for e in c.sample_epochs):
        raise bad("sample_epochs", f"epochs between 1 and {c.epochs}")
    if not isinstance(c.fast, bool):
        raise bad("fast", "true or false")
    return c


def train_command(config: TrainConfig) -> str:
    """The shortest ``fundiff train`` command that trains ``config``.

    Its kind, seed and every value that differs from the recipe, as flags
    (``recipe(kind, **flags) == config``).

    Args:
        config: the run's configuration.

    Returns:
        The command, words joined by spaces.
    """
    default = recipe(config.kind, epochs=config.epochs)
    words = [
        "fundiff",
        "train",
        config.kind,
        *(["--fast"] if config.fast else []),
        "--seed",
        str(config.seed),
    ]
    if config.epochs != RECIPES[config.kind]["epochs"]:
        words += ["--epochs", str(config.epochs)]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name in ("kind", "fast", "seed", "epochs", "num_classes") or value == getattr(
            default, f.name
        ):
            continue
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(value, bool) or value == ():  # a flag, or no grids (which no flag says)
            words += [flag] if value is True else []
            continue
        shown = " ".join(map(str, value)) if isinstance(value, tuple) else str(value)
        words += [flag, shown]
    return " ".join(words)
