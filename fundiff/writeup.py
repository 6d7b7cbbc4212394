"""The write-up's values, in one table: what "Fun With Diffusion Models" names, section by section.

The write-up (``shared/writeup/fun_with_diffusion_models.txt`` in the course
materials) is fundiff's specification. Every default that it fixes (prompts,
seeds, timesteps, i_start values, kernels, noise levels, epochs, guidance
scales) is read from here by the library, the CLI, the notebooks and the demo,
and ``tests/test_writeup.py`` holds each of them to this table, so none can drift.

This module imports nothing from fundiff: anything may import it.
"""

from __future__ import annotations

from dataclasses import dataclass

UNCONDITIONAL = ""
"""The unconditional prompt of classifier-free guidance (1.6)."""

PROMPTS: tuple[str, ...] = (
    "a high quality picture",
    "an oil painting of a snowy mountain village",
    "a photo of the amalfi coast",
    "a photo of a man",
    "a photo of a hipster barista",
    "a photo of a dog",
    "an oil painting of people around a campfire",
    "an oil painting of an old man",
    "a lithograph of waterfalls",
    "a lithograph of a skull",
    "a man wearing a hat",
    "a high quality photo",
    "a rocket ship",
    "a pencil",
    "long-stemmed flowers strewn on the hood of a classic Porsche",
    "a family of four sitting in a ski lift",
    "a green tennis court",
)
"""Part 0: the 17 prompts the write-up embeds, verbatim and in its order (its last three are the
author's own)."""


@dataclass(frozen=True)
class PartA:
    """Part A's values (DeepFloyd IF, 64 px stage I, 256 px stage II)."""

    # Part 0
    seed: int = 101
    part0_prompts: tuple[str, ...] = (
        "a lithograph of waterfalls",
        "long-stemmed flowers strewn on the hood of a classic Porsche",
        "a family of four sitting in a ski lift",
        "a green tennis court",
    )
    part0_steps: tuple[int, ...] = (20, 50, 100)  # left to right in each prompt's figure
    stage1_size: int = 64
    stage2_size: int = 256
    # 1.1-1.3
    noise_levels: tuple[int, ...] = (250, 500, 750)
    # 1.4: T = 1000, strided timesteps 990, 960, ..., 0; i_start = 10 (t = 690)
    num_timesteps: int = 1000
    first_timestep: int = 990
    stride: int = 30
    i_start: int = 10
    shown_timesteps: tuple[int, ...] = (690, 540, 390, 240, 90)
    compare_columns: tuple[str, ...] = ("original", "iterative", "one-step", "blur")
    # 1.5, 1.6
    sample_prompt: str = "a high quality photo"
    num_samples: int = 5
    cfg_scale: float = 7.0
    # 1.7, 1.7.1, 1.7.3
    i_starts: tuple[int, ...] = (1, 3, 5, 7, 10, 20)
    sdedit_examples: int = 3  # the test image and two more
    drawn_examples: int = 3  # an image from the web and two hand drawings
    inpaint_examples: int = 3
    img2img_prompt: str = "long-stemmed flowers strewn on the hood of a classic Porsche"
    img2img_examples: int = 3
    # 1.8
    anagram_prompts: tuple[str, str] = (
        "an oil painting of an old man",
        "an oil painting of people around a campfire",
    )
    anagram_examples: int = 2
    # 1.9: (low frequencies, high frequencies) per example; the low-pass filter at 64 px
    hybrid_prompts: tuple[tuple[str, str], ...] = (
        ("a photo of a man", "a photo of the amalfi coast"),
        ("a lithograph of waterfalls", "a man wearing a hat"),
    )
    hybrid_kernel: int = 33
    hybrid_sigma: float = 2.0


@dataclass(frozen=True)
class PartB:
    """Part B's values (MNIST)."""

    noising_sigmas: tuple[float, ...] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)  # 1.2
    ood_sigmas: tuple[float, ...] = (0.0, 0.2, 0.5, 0.8, 1.0)  # 1.2.2
    denoiser_hidden: int = 128
    denoiser_lr: float = 1e-4
    denoiser_epochs: int = 5
    denoiser_figure_epochs: tuple[int, ...] = (1, 5)  # 1.2.1 and 1.2.3
    flow_lr: float = 1e-2
    flow_epochs: int = 10
    flow_figure_epochs: tuple[int, ...] = (1, 5, 10)  # 2.3 and 2.6
    p_uncond: float = 0.1  # 2.4
    samples_per_digit: int = 4  # 2.6
    guidance: float = 5.0  # 2.6


PART_A = PartA()
PART_B = PartB()


def strided(part: PartA = PART_A) -> list[int]:
    """The write-up's strided timesteps: ``first_timestep`` down to 0 by ``stride`` (990, 960, ..., 0).

    Args:
        part: the Part A values to read them from.
    """
    return list(range(part.first_timestep, -1, -part.stride))


def i_start_label(i_start: int, part: PartA = PART_A) -> str:
    """The write-up's label of an SDEdit column: ``"i_start=10 (t=690)"``.

    Args:
        i_start: an index into the strided timesteps.
        part: the Part A values the timesteps come from.
    """
    return f"i_start={i_start} (t={strided(part)[i_start]})"
