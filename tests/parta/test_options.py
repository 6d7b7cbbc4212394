"""Tests for ``fundiff.parta.options``: the backends' defaults and the options' are the write-up's."""

from __future__ import annotations

from fundiff import writeup
from fundiff.parta.options import DEFAULTS, TaskOptions

PART_A = writeup.PART_A


def test_deepfloyd_defaults_are_the_writeups() -> None:
    """Is every default prompt of the deepfloyd backend the write-up's, and one the write-up embeds?"""
    d = DEFAULTS["deepfloyd"]
    assert d["prompt"] == d["cfg_prompt"] == PART_A.sample_prompt
    assert d["edit_prompt"] == PART_A.img2img_prompt
    assert tuple(d["anagram"]) == PART_A.anagram_prompts
    assert (
        tuple(d["hybrids"]) == PART_A.hybrid_prompts
        and tuple(d["hybrid"]) == PART_A.hybrid_prompts[0]
    )
    assert tuple(d["part0"]) == PART_A.part0_prompts
    used = [
        d["prompt"],
        d["edit_prompt"],
        *d["anagram"],
        *d["part0"],
        *(p for pair in d["hybrids"] for p in pair),
    ]
    assert set(used) <= set(writeup.PROMPTS)


def test_task_options_default_to_the_writeups_values() -> None:
    """Are the options' defaults the write-up's: i_start, i_starts, guidance, samples, Part 0's steps?"""
    opts = TaskOptions()
    assert (opts.i_start, tuple(opts.i_starts), opts.guidance, opts.num, tuple(opts.part0_steps)) == (
        PART_A.i_start, PART_A.i_starts, PART_A.cfg_scale, PART_A.num_samples, PART_A.part0_steps,
    )  # fmt: skip
    assert opts.timesteps == writeup.strided()
