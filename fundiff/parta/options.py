"""What a Part A task is asked for: the user's choices, each backend's defaults, and refusals.

``TaskOptions`` holds what the user chose; None means the backend's default,
which is the write-up's (``fundiff.writeup``) on DeepFloyd IF and a digit on
MNIST (``DEFAULTS``). A task that cannot do what was asked raises a
``TaskError``; the subclasses carry the facts, so that the command line can
name its own flags and a notebook its own arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fundiff.backends.base import Backend
from fundiff.schedules import strided_timesteps
from fundiff.writeup import PART_A

# Per-backend defaults: the write-up's prompts for DeepFloyd IF (``fundiff.writeup``), digits for MNIST.
# "prompt" serves 1.3-1.5, 1.7 and 1.7.2; "hybrids" holds every (low, high) pair, "hybrid" the first.
DEFAULTS: dict[str, dict[str, object]] = {
    "mnist": dict(
        prompt="", cfg_prompt="3", edit_prompt="8", anagram=("6", "9"), views=("identity", "rotate180"),
        hybrid=("0", "1"), hybrids=(("0", "1"),),
    ),
    "deepfloyd": dict(
        prompt=PART_A.sample_prompt, cfg_prompt=PART_A.sample_prompt, edit_prompt=PART_A.img2img_prompt,
        anagram=PART_A.anagram_prompts, views=("identity", "flip"),
        hybrid=PART_A.hybrid_prompts[0], hybrids=PART_A.hybrid_prompts, part0=PART_A.part0_prompts,
    ),
}  # fmt: skip


class TaskError(ValueError):
    """A task was asked for something it cannot do; the message says what to do instead."""


class NoDefaultImage(TaskError):
    """The task needs a source image and the backend has none of its own (only MNIST has one).

    Attributes:
        backend: the backend's name.
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        super().__init__(
            f"the {backend} backend has no default image; give one (TaskOptions(image=PATH))"
        )


class NoPipeline(TaskError):
    """The task samples DeepFloyd IF's own pipeline, which the backend does not have.

    Attributes:
        task: the task asked for ("part0").
        backend: the backend's name.
    """

    def __init__(self, task: str, backend: str) -> None:
        self.task, self.backend = task, backend
        super().__init__(
            f"{task} samples DeepFloyd IF's own pipeline; the {backend} backend has none: "
            "use the deepfloyd backend"
        )


def print_note(message: str) -> None:
    """Print a note about a task's figures (not an error) as one line on stderr.

    Args:
        message: the note, one line.
    """
    print(f"note: {message}", file=sys.stderr)


@dataclass
class TaskOptions:
    """What the user chose; None means the backend's default (the write-up's, ``fundiff.writeup``).

    Attributes:
        image: source image file (SDEdit, inpainting, ...); MNIST defaults to a shipped test digit.
        mask: mask image file for inpainting (white = regenerate), the backend's size.
        prompt: the prompt of single-prompt tasks.
        prompts: the prompts of anagrams (one per view), hybrids (low, high) and Part 0.
        views: view names for anagrams, one per prompt (default identity and flip on
            IF; identity and rotate180 on MNIST, where a 6 turned upside down is a 9).
        factorization: "frequency" (hybrid images) or "colour" (grayscale / colour).
        i_start: start index into the strided timesteps (iterative denoising).
        i_starts: SDEdit noise levels.
        guidance: classifier-free guidance scale.
        num: images to draw in sampling tasks.
        seed: seeds the one generator of the task (default 0; Part 0 uses the write-up's 101).
        part0_steps: Part 0's numbers of denoising steps, left to right in each figure.
        progress: show progress bars.
        timesteps: the strided timesteps (990, 960, ..., 0).
        note: receives notes about the figures (e.g. Part 0 without stage II); default: stderr.
    """

    image: Path | None = None
    mask: Path | None = None
    prompt: str | None = None
    prompts: list[str] | None = None
    views: list[str] | None = None
    factorization: str = "frequency"
    i_start: int = PART_A.i_start
    i_starts: Sequence[int] = PART_A.i_starts
    guidance: float = PART_A.cfg_scale
    num: int = PART_A.num_samples
    seed: int | None = None
    part0_steps: Sequence[int] = PART_A.part0_steps
    progress: bool = False
    timesteps: list[int] = field(default_factory=strided_timesteps)
    note: Callable[[str], None] = field(default_factory=lambda: print_note)


def backend_default(backend: Backend, key: str) -> object:
    """The backend's default for ``key`` (``DEFAULTS``; MNIST's for a backend not listed).

    Args:
        backend: the backend; its ``name`` picks the defaults.
        key: e.g. "prompt", "anagram", "hybrids".

    Returns:
        The default: a prompt, or a tuple of prompts or view names.
    """
    return DEFAULTS.get(backend.name, DEFAULTS["mnist"])[key]


def task_prompt(backend: Backend, opts: TaskOptions, key: str) -> str:
    """The prompt of a single-prompt task: ``opts.prompt``, else the backend's default for ``key``.

    Args:
        backend: the backend.
        opts: the user's choices.
        key: the default to fall back on, e.g. "cfg_prompt".

    Returns:
        The prompt ("" is the unconditional one).
    """
    return opts.prompt if opts.prompt is not None else str(backend_default(backend, key))
