"""Does every Part A task run on DeepFloyd IF, loaded through the real loader from tiny random parts?"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fundiff import writeup
from fundiff.parta.backend import build_backend
from fundiff.parta.layouts import hybrid_figure, part0_figure
from fundiff.parta.options import TaskOptions
from fundiff.parta.sections import TASKS
from fundiff.parta.tasks import run_task
from fundiff.schedules import strided_timesteps
from tests.backends.conftest import STAGE1_SIZE, STAGE2_SIZE
from tests.conftest import run_cli
from tests.imagefiles import write_image

PART_A = writeup.PART_A

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def if_backend(stage1_dir: Path, stage2_dir: Path, embeds_file: Path):  # noqa: ANN201
    """The deepfloyd backend on the tiny stage I and II pipelines and the tiny T5's embeddings."""
    return build_backend(
        "deepfloyd",
        device="cpu",
        stage1=str(stage1_dir),
        stage2=str(stage2_dir),
        prompt_embeds=embeds_file,
    )


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 90x70 RGB photo, to be center-cropped and resized to the backend's size."""
    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    return write_image(
        path,
        torch.randint(
            0, 256, (3, 70, 90), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
        ),
    )


@pytest.mark.parametrize("task", TASKS)
def test_every_task_runs_on_the_deepfloyd_backend(
    task: str, if_backend, photo: Path, tmp_path: Path
) -> None:
    """Does each task write real PNGs on IF (3 channels, learned-range variance), write-up prompts and all?"""
    opts = TaskOptions(
        image=photo, timesteps=strided_timesteps(990, 330, 0), i_start=1, i_starts=(1, 2), num=2,
        part0_steps=(2,), prompts=None, factorization="frequency",
    )  # fmt: skip
    written = run_task(task, if_backend, tmp_path, opts)
    assert written
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_colour_factorization_runs_on_rgb(if_backend, tmp_path: Path) -> None:
    """Is the grayscale/colour hybrid available on a 3-channel backend?"""
    opts = TaskOptions(timesteps=strided_timesteps(990, 330, 0), factorization="colour")
    assert run_task("hybrid", if_backend, tmp_path, opts)[0].name == "1.9_hybrid_colour.png"


@pytest.fixture(scope="module")
def stage1_only(stage1_dir: Path, embeds_file: Path):  # noqa: ANN201
    """The deepfloyd backend without stage II."""
    return build_backend(
        "deepfloyd", device="cpu", stage1=str(stage1_dir), prompt_embeds=embeds_file
    )


def test_part0_draws_one_upsampled_figure_per_writeup_prompt(
    if_backend, tmp_path: Path, drawn: list[dict]
) -> None:
    """One figure per Part 0 prompt of the write-up, its step counts left to right, upsampled by stage II?"""
    notes: list[str] = []
    written = run_task(
        "part0", if_backend, tmp_path, TaskOptions(part0_steps=(2, 3), note=notes.append)
    )
    assert [p.name for p in written] == [
        part0_figure(i, p) for i, p in enumerate(PART_A.part0_prompts, 1)
    ]
    for figure, prompt in zip(drawn, PART_A.part0_prompts, strict=True):
        assert figure["col_labels"] == ["2 steps", "3 steps"]
        assert figure["shape"] == (1, 2, 3, STAGE2_SIZE, STAGE2_SIZE)
        assert repr(prompt) in figure["title"] and f"seed {PART_A.seed}" in figure["title"]
    assert notes == []
    assert TaskOptions().part0_steps == PART_A.part0_steps


def test_part0_without_stage2_notes_why_in_one_line(
    stage1_only, tmp_path: Path, drawn: list[dict]
) -> None:
    """Without stage II, are the figures stage I's size, with one note saying why and how to give it?"""
    notes: list[str] = []
    run_task("part0", stage1_only, tmp_path, TaskOptions(part0_steps=(2,), prompts=[PART_A.part0_prompts[0]],
                                                          note=notes.append))  # fmt: skip
    assert drawn[0]["shape"][-1] == STAGE1_SIZE
    (note,) = notes
    assert len(note.splitlines()) == 1 and "stage II" in note and "--stage2" in note


def test_part0_looks_for_stage2_but_goes_on_without_it(
    stage1_dir: Path, embeds_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """With no stage II named and none to be had (offline, empty cache), does the backend load without
    it and part0 draw at stage I's size, with one line on stderr saying why and how to give it?"""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    backend = build_backend("deepfloyd", device="cpu", stage1=str(stage1_dir), prompt_embeds=embeds_file,
                            upsample=True)  # fmt: skip
    assert backend.stage2 is None
    capsys.readouterr()  # the loaders' own progress bars
    opts = TaskOptions(part0_steps=(2,), prompts=[PART_A.part0_prompts[0]])
    assert len(run_task("part0", backend, tmp_path / "out", opts)) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("note: ") and "--stage2" in line


def test_hybrids_draw_both_writeup_pairs(if_backend, tmp_path: Path, drawn: list[dict]) -> None:
    """Does 1.9 on IF draw one figure per write-up pair, its prompts in the column labels?"""
    written = run_task(
        "hybrid", if_backend, tmp_path, TaskOptions(timesteps=strided_timesteps(990, 330, 0))
    )
    assert [p.name for p in written] == [
        hybrid_figure("frequency", i + 1) for i in range(len(PART_A.hybrid_prompts))
    ]
    for figure, (low, high) in zip(drawn, PART_A.hybrid_prompts, strict=True):
        assert repr(low) in figure["col_labels"][1] and repr(high) in figure["col_labels"][2]


def test_a_prompt_without_embedding_fails_by_name_in_one_line(
    stage1_dir: Path, embeds_file: Path, tmp_path: Path, capsys
) -> None:
    """Does `part-a sample --prompt` of a prompt not in the file end in one line saying how to add it?"""
    status, out, err = run_cli(
        ["part-a", "sample", "--backend", "deepfloyd", "--stage1", stage1_dir, "--prompt-embeds", embeds_file,
         "--prompt", "a photo of a horse", "--device", "cpu", "--out", tmp_path, "--no-progress"],
        capsys,
    )  # fmt: skip
    assert status == 2 and out == "" and "Traceback" not in err
    # the loaders' progress bars come first; the error is one line
    (line,) = [line for line in err.splitlines() if "error" in line]
    assert "'a photo of a horse'" in line
    assert f"fundiff embed-prompts --out {embeds_file} --prompt 'a photo of a horse'" in line
