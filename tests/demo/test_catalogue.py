"""Tests for ``fundiff.demo.catalogue``: the captions name the rule in force and the write-up's prompts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fundiff import writeup
from fundiff.demo.catalogue import part_a_caption
from fundiff.diffusion import rules
from fundiff.parta.layouts import hybrid_figure, part0_figure
from fundiff.parta.options import DEFAULTS


@pytest.mark.parametrize("rule", rules.RULES)
def test_a_caption_names_the_rule_in_force(rule: str) -> None:
    """Under each rule, does a loop figure's caption describe it, and a forward-process one not?"""
    mnist = SimpleNamespace(name="mnist")
    with rules.using(rule):
        _, loop = part_a_caption(mnist, "1.5_sample.png", "sample")
        _, forward = part_a_caption(mnist, "1.1_forward.png", "forward")
    assert rules.describe(rule) in loop
    assert not any(rules.describe(r) in forward for r in rules.RULES)


def test_deepfloyd_captions_use_the_writeups_prompts() -> None:
    """On IF, do the captions name the write-up's prompts: Part 0's, the hybrid pairs', 1.7.3's?"""
    floyd = SimpleNamespace(name="deepfloyd")
    a = writeup.PART_A
    for i, prompt in enumerate(a.part0_prompts, 1):
        section, caption = part_a_caption(floyd, part0_figure(i, prompt), "part0")
        assert section.startswith("0 ") and repr(prompt) in caption and str(a.seed) in caption
    _, no_stage2 = part_a_caption(
        floyd, part0_figure(1, a.part0_prompts[0]), "part0", ["64 px only"]
    )
    assert "64 px only" in no_stage2 and "stage II." not in no_stage2
    for i, (low, high) in enumerate(DEFAULTS["deepfloyd"]["hybrids"], 1):
        _, caption = part_a_caption(floyd, hybrid_figure("frequency", i), "hybrid")
        assert repr(low) in caption and repr(high) in caption
    assert repr(a.img2img_prompt) in part_a_caption(floyd, "1.7.3_img2img.png", "img2img")[1]
