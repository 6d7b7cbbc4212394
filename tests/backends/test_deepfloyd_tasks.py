"""Does every Part A task run on DeepFloyd IF, loaded through the real loader from tiny random parts?"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fundiff.parta import TASKS, TaskOptions, build_backend, run_task
from fundiff.schedules import strided_timesteps

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
    from torchvision.io import write_jpeg

    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    write_jpeg(
        torch.randint(
            0, 256, (3, 70, 90), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
        ),
        str(path),
    )
    return path


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
