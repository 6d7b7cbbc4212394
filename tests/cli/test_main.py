"""Tests for ``fundiff`` itself (``fundiff.cli``): help, the parser, usage errors, --device.

Bad input must end in exactly one line on stderr and exit status 2 (a diverged run:
one line and status 1), never in a traceback. Most cases call ``fundiff.cli.main``
in-process; a few run the real console entry point in a subprocess to prove that
nothing else reaches the user.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fundiff.training.run_dir import CHECKPOINT
from tests.cli.conftest import RECIPE_FLAGS, assert_one_line_error, cli
from tests.conftest import run_cli

# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--help"], ["train", "sample"]),
        (["train", "--help"], RECIPE_FLAGS),
        (
            ["sample", "--help"],
            ["--checkpoint", "--digits", "--per-digit", "--num", "--guidance", "--steps",
             "--no-ema", "--out", "--device", "--seed"],
        ),
    ],
    ids=["fundiff", "train", "sample"],
)  # fmt: skip
def test_help_works_and_lists_every_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    """Does --help exit 0 and list every subcommand or flag (for train: every recipe value)?"""
    status, out, err = run_cli(argv, capsys)
    assert status == 0
    assert err == ""
    for word in words:
        assert word in out


def test_the_parser_is_built_without_importing_torch(tmp_path: Path) -> None:
    """Do `fundiff --help` and every usage error come without importing torch (seconds on 2 cores)?"""
    code = "import sys; from fundiff.cli import build_parser; build_parser(); print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'matplotlib', 'numpy')))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "argv, words",
    [
        (["frobnicate"], ["frobnicate", "invalid choice"]),
        ([], ["required"]),
        (["train"], ["kind"]),
        (["train", "wavelets"], ["wavelets"]),
        (["train", "flow-class", "--epochs", "0"], ["--epochs", "positive", "0"]),
        (["train", "flow-class", "--epochs", "-3"], ["--epochs", "positive", "-3"]),
        (["train", "flow-class", "--epochs", "two"], ["--epochs", "two"]),
        (["train", "flow-class", "--batch-size", "0"], ["--batch-size", "positive", "0"]),
        (["train", "flow-class", "--lr", "0"], ["--lr", "positive"]),
        (["train", "flow-class", "--guidance", "nan"], ["--guidance", "finite", "nan"]),
        (["train", "flow-class", "--guidance", "inf"], ["--guidance", "finite", "inf"]),
        (["train", "flow-class", "--lr-schedule", "cosine"], ["--lr-schedule", "cosine"]),
        (["train", "flow-class", "--epochs", "2", "--sample-epochs", "5"], ["sample_epochs", "5"]),
        (["train", "flow-class", "--ema-decay", "1"], ["ema_decay", "1"]),
        (["train", "denoiser", "--sigma", "-1"], ["sigma", "-1"]),
        (["train", "flow-class", "--p-uncond", "1"], ["p_uncond", "1"]),
        (["sample"], ["--checkpoint", "required"]),
        (["sample", "--checkpoint", "c.safetensors", "--digits", "10"], ["--digits", "0-9", "10"]),
        (["sample", "--checkpoint", "c.safetensors", "--digits", "-1"], ["--digits", "0-9", "-1"]),
        (["sample", "--checkpoint", "c.safetensors", "--guidance", "nan"], ["--guidance", "nan"]),
        (["sample", "--checkpoint", "c.safetensors", "--guidance", "inf"], ["--guidance", "inf"]),
        (["sample", "--checkpoint", "c.safetensors", "--steps", "0"], ["--steps", "0"]),
        (["sample", "--checkpoint", "c.safetensors", "--num", "0"], ["--num", "0"]),
        (["demo", "--threads", "0"], ["--threads", "positive", "auto", "0"]),
        (["part-a", "iterative", "--threads", "two"], ["--threads", "auto", "two"]),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    argv: list[str], words: list[str],
) -> None:  # fmt: skip
    """Does every bad flag value end in status 2 and one stderr line that names what was wrong?"""
    monkeypatch.chdir(tmp_path)  # a default --out (runs/KIND) would land here
    status, out, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, *words)
    assert out == ""
    assert list(tmp_path.iterdir()) == []  # nothing was written


@pytest.mark.parametrize(
    "argv, words",
    [
        (["frobnicate"], ["frobnicate"]),
        (["train", "flow-class", "--epochs", "0"], ["--epochs", "0"]),
    ],
)
def test_bad_arguments_reach_the_user_without_a_traceback(
    tmp_path: Path, argv: list[str], words: list[str]
) -> None:
    """Does the real entry point (a subprocess) print one line and exit 2 for bad arguments?"""
    proc = cli(argv, tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, *words)
    assert proc.stdout == ""


def test_a_bad_thread_count_in_the_environment_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Is $FUNDIFF_THREADS read before any work, its bad value named in one line?"""
    monkeypatch.setenv("FUNDIFF_THREADS", "lots")
    status, out, err = run_cli(["part-a", "forward", "--out", tmp_path / "figures"], capsys)
    assert_one_line_error(status, err, "FUNDIFF_THREADS", "lots", "auto")
    assert out == "" and not (tmp_path / "figures").exists()


def test_threads_puts_the_count_in_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does --threads N set torch's count for the command, over $FUNDIFF_THREADS?"""
    before = torch.get_num_threads()
    monkeypatch.setenv("FUNDIFF_THREADS", "1")
    try:
        status, _, err = run_cli(["part-a", "forward", "--threads", "3", "--no-progress",
                                  "--device", "cpu", "--out", tmp_path], capsys)  # fmt: skip
        assert status == 0, err
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- where things run


@pytest.mark.parametrize("kind", ["train", "sample"])
def test_cuda_where_there_is_none_is_refused(
    runs, capsys, tmp_path: Path, mnist_dir: Path, kind: str
) -> None:
    """Does --device cuda on a machine without CUDA exit 2 and say CUDA is not available?"""
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    if kind == "train":
        out = tmp_path / "run"
        argv = ["train", "flow-time", "--device", "cuda", "--data-dir", mnist_dir, "--out", out]
    else:
        out = tmp_path / "grid.png"
        argv = ["sample", "--checkpoint", runs["flow-time"] / CHECKPOINT, "--device", "cuda",
                "--out", out]  # fmt: skip
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, "cuda", "not available")
    assert not out.exists()


def test_unknown_device_is_refused(runs, capsys, tmp_path: Path) -> None:
    """Does --device with a name torch does not know exit 2 and name the device?"""
    argv = ["sample", "--checkpoint", runs["flow-time"] / CHECKPOINT, "--device", "banana",
            "--out", tmp_path / "grid.png"]  # fmt: skip
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, "banana")
