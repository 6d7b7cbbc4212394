"""Does `fundiff demo --backend deepfloyd` run every Part A section, Part 0 included, on IF's
components (tiny random ones built locally, loaded by the real loader)?"""

from __future__ import annotations

from pathlib import Path

import pytest

from fundiff.parta.layouts import hybrid_figure, part0_figure
from fundiff.writeup import PART_A
from tests.conftest import run_cli


@pytest.mark.slow
def test_demo_on_deepfloyd_holds_part0_and_every_loop(
    stage1_dir: Path, stage2_dir: Path, embeds_file: Path, tmp_path: Path, capsys
) -> None:
    """Does the page hold Part 0's figure of each write-up prompt, both hybrid pairs, and the loops' figures?"""
    out = tmp_path / "site"
    status, _, err = run_cli(
        ["demo", "--backend", "deepfloyd", "--stage1", stage1_dir, "--stage2", stage2_dir,
         "--prompt-embeds", embeds_file, "--out", out, "--device", "cpu", "--no-progress"],
        capsys,
    )  # fmt: skip
    assert status == 0, err
    page = (out / "index.html").read_text()
    for i, prompt in enumerate(PART_A.part0_prompts, 1):
        assert f"part_a/{part0_figure(i, prompt)}" in page
    assert "Upsampled" in page  # stage II was given
    hybrids = [hybrid_figure("frequency", i + 1) for i in range(len(PART_A.hybrid_prompts))]
    for name in (
        "1.1_forward.png",
        "1.7_sdedit.png",
        "1.7.2_inpaint.png",
        "1.8_anagram.png",
        *hybrids,
    ):
        assert f"part_a/{name}" in page
        assert (out / "part_a" / name).is_file()
    # IF has no image of its own: its edits start from the demo's drawing, and say so
    assert (out / "inputs" / "drawing.png").is_file()
    assert f"part-a sdedit --backend deepfloyd --image {out}/inputs/drawing.png" in page
    assert "<b>deepfloyd</b> backend" in page


def test_demo_without_if_weights_exits_2_in_one_line(tmp_path: Path, capsys) -> None:
    """Without IF's weights, does the demo stop at once, saying how to get them, and write nothing?"""
    status, _, err = run_cli(
        ["demo", "--backend", "deepfloyd", "--stage1", tmp_path / "no-such-folder", "--out",
         tmp_path / "site", "--device", "cpu", "--no-progress"],
        capsys,
    )  # fmt: skip
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "site").exists()
