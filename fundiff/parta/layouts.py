"""How Part A's figures are laid out and named: file names, shown timesteps, column labels, titles.

The figures follow the write-up's layouts, with its values (``fundiff.writeup``):
Part 0 one figure per prompt at 20, 50 and 100 steps; 1.4 the loop at t = 690,
540, 390, 240, 90; SDEdit the original first, then each i_start; one hybrid per
prompt pair. Figures drawn by the strided loop name the update rule in force
(``fundiff.diffusion.rules``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from fundiff.backends.hub import IF_STAGE2
from fundiff.diffusion import rules
from fundiff.writeup import PART_A, i_start_label, strided

RULE_TAGS: dict[str, str] = {"writeup": "writeup (sigma = 0)", "ddpm": "ddpm (posterior variance)"}


def rule_tag() -> str:
    """The rule in force, short, for figure titles: "rule: writeup (sigma = 0)"."""
    rule = rules.current_rule()
    return f"rule: {RULE_TAGS.get(rule, rule)}"


def part0_figure(index: int, prompt: str) -> str:
    """The file name of Part 0's figure of ``prompt``, its ``index``-th prompt (from 1).

    Args:
        index: the prompt's place in Part 0's list, from 1 ("Prompt 1" in the write-up).
        prompt: the prompt.

    Returns:
        e.g. "0_prompt1_a_lithograph_of_waterfalls.png".
    """
    slug = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")[:60] or "unconditional"
    return f"0_prompt{index}_{slug}.png"


def hybrid_figure(factorization: str, index: int) -> str:
    """The file name of the hybrid of the ``index``-th prompt pair (from 1): "1.9_hybrid_frequency.png", then "..._2.png".

    Args:
        factorization: "frequency" or "colour".
        index: the pair's place, from 1.
    """
    return f"1.9_hybrid_{factorization}{'' if index == 1 else f'_{index}'}.png"


def shown_timesteps(timesteps: Sequence[int], i_start: int) -> list[int]:
    """The timesteps of 1.4's figure: ``timesteps[i_start]``, then the write-up's shown ones below it.

    From the write-up's i_start = 10 (t = 690) these are its 690, 540, 390, 240, 90. On a
    schedule that passes none of those, every 5th step is shown instead (the final one excluded).

    Args:
        timesteps: the strided timesteps, decreasing.
        i_start: where the loop starts.

    Returns:
        The timesteps, decreasing, ``timesteps[i_start]`` first.
    """
    start, later = timesteps[i_start], list(timesteps[i_start + 1 : -1])
    shown = [t for t in PART_A.shown_timesteps if t < start and t in later]
    return [start, *(shown or later[4::5])]


def column_label(timesteps: Sequence[int], i: int) -> str:
    """An SDEdit column: ``fundiff.writeup.i_start_label`` ("i_start=10 (t=690)"), on any schedule.

    Args:
        timesteps: the strided timesteps.
        i: the column's i_start.
    """
    return i_start_label(i) if list(timesteps) == strided() else f"i_start={i} (t={timesteps[i]})"


def for_figure(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as a figure shows them: detached float on the CPU in [0, 1].

    Args:
        x: images (..., C, H, W) in [-1, 1].

    Returns:
        The same shape, float32 in [0, 1].
    """
    return ((x.detach().float().cpu() + 1) / 2).clamp(0, 1)


def noise_labels() -> list[str]:
    """The column labels of the write-up's noise levels: "t=250", "t=500", "t=750"."""
    return [f"t={t}" for t in PART_A.noise_levels]


def stage2_note(size: int) -> str:
    """Part 0's note when stage II is not loaded: why its figures are ``size`` px and how to upsample them.

    Args:
        size: the width of stage I's images in pixels.
    """
    return (
        f"Part 0's figures are {size} px, not upsampled to {PART_A.stage2_size} px: DeepFloyd IF stage II "
        f"weights were not found; give them with --stage2 PATH_OR_HUB_ID (e.g. {IF_STAGE2}, after "
        f"accepting its licence on https://huggingface.co/{IF_STAGE2} and `hf auth login`)"
    )
