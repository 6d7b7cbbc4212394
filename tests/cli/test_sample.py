"""Tests for ``fundiff sample`` (``fundiff.cli.sample``): drawing grids, and refusing what cannot be drawn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fundiff.training.run_dir import CHECKPOINT
from tests.cli.conftest import assert_one_line_error, assert_real_png, cli, tree
from tests.conftest import run_cli

# --------------------------------------------------------------------------- wrong or broken checkpoints


def test_sampling_a_denoiser_checkpoint_is_refused(sample_args, capsys, tmp_path: Path) -> None:
    """Does `fundiff sample` on a denoiser checkpoint exit 2 and say it cannot sample?"""
    status, _, err = run_cli(sample_args("denoiser"), capsys)
    assert_one_line_error(status, err, "denoiser", "does not sample")
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("kind", ["flow-time", "pure-noise"])
def test_digits_on_an_unconditional_checkpoint_are_refused(
    sample_args, capsys, tmp_path: Path, kind: str
) -> None:
    """Does --digits on a model without classes exit 2 and say to drop --digits?"""
    status, _, err = run_cli(sample_args(kind, "--digits", "3"), capsys)
    assert_one_line_error(status, err, kind, "--digits")
    assert not (tmp_path / "grid.png").exists()


def _truncated(runs, tmp_path: Path) -> Path:
    data = (runs["flow-class"] / CHECKPOINT).read_bytes()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[: len(data) // 2])
    return path


def _random_bytes(runs, tmp_path: Path) -> Path:
    path = tmp_path / "random.safetensors"
    path.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0))
                     .to(torch.uint8).numpy().tobytes())  # fmt: skip
    return path


def _empty(runs, tmp_path: Path) -> Path:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    return path


def _missing(runs, tmp_path: Path) -> Path:
    return tmp_path / "no-such.safetensors"


def _not_fundiff(runs, tmp_path: Path) -> Path:
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    return path


def _weights_of_another_kind(runs, tmp_path: Path) -> Path:
    """A flow-class checkpoint whose metadata claims flow-time: the weights don't fit."""
    src = runs["flow-class"] / CHECKPOINT
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    config = json.loads(meta["config"])
    config["kind"] = meta["kind"] = "flow-time"
    meta["config"] = json.dumps(config)
    path = tmp_path / "mislabelled.safetensors"
    save_file(load_file(str(src)), str(path), metadata=meta)
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (_truncated, ["truncated", "corrupted"]),
        (_random_bytes, ["corrupted"]),
        (_empty, ["corrupted"]),
        (_missing, ["no such checkpoint"]),
        (_not_fundiff, ["not a fundiff checkpoint"]),
        (_weights_of_another_kind, ["do not fit", "flow-time"]),
    ],
    ids=["truncated", "random-bytes", "empty", "missing", "not-fundiff", "wrong-weights"],
)
def test_broken_checkpoints_are_refused_by_sample(
    runs, capsys, tmp_path: Path, make, words: list[str]
) -> None:
    """Does `fundiff sample` on a broken, foreign or missing checkpoint exit 2 and name the file?"""
    path = make(runs, tmp_path)
    argv = ["sample", "--checkpoint", path, "--steps", "2", "--no-progress", "--device", "cpu",
            "--out", tmp_path / "grid.png"]  # fmt: skip
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, path.name, *words)
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.slow
def test_corrupted_checkpoint_reaches_the_user_without_a_traceback(runs, tmp_path: Path):
    """Does the real entry point (a subprocess) print one line and exit 2 for a corrupted checkpoint?"""
    path = _truncated(runs, tmp_path)
    proc = cli(["sample", "--checkpoint", path, "--steps", "2", "--device", "cpu"], tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, path.name, "corrupted")
    assert not (tmp_path / "samples.png").exists()


@pytest.mark.parametrize(
    "make_out, words",
    [
        (lambda tmp: tmp / "a-file" / "grid.png", ["a-file"]),
        (lambda tmp: tmp / "a-folder", ["a-folder", "folder"]),
        (lambda tmp: tmp / "no-extension", ["no-extension", "extension"]),
    ],
    ids=["parent-is-a-file", "out-is-a-folder", "no-extension"],
)
def test_an_unwritable_sample_out_is_refused(
    runs, capsys, tmp_path: Path, make_out, words: list[str]
) -> None:
    """Does `sample --out` that cannot be written as a PNG exit 2 with one line naming it?"""
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    before = tree(tmp_path)
    argv = ["sample", "--checkpoint", runs["pure-noise"] / CHECKPOINT, "--num", "2",
            "--no-progress", "--device", "cpu", "--out", make_out(tmp_path)]  # fmt: skip
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, *words)
    assert tree(tmp_path) == before


# --------------------------------------------------------------------------- sampling


def test_sample_writes_a_png_of_the_asked_digits(sample_args, capsys, tmp_path: Path) -> None:
    """Does `sample --digits 3 7 --per-digit 2` on a flow-class run write a real PNG (making its folder)?"""
    argv = sample_args("flow-class", "--digits", "3", "7", "--per-digit", "2", "--steps", "3",
                       out="sub/dir/x.png")  # fmt: skip
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    assert_real_png(tmp_path / "sub" / "dir" / "x.png")
    assert "x.png" in out


@pytest.mark.parametrize("kind", ["flow-time", "pure-noise"])
def test_unconditional_kinds_sample_with_num(sample_args, capsys, tmp_path: Path, kind) -> None:
    """Do flow-time and pure-noise checkpoints draw --num samples into a real PNG?"""
    status, _, err = run_cli(sample_args(kind, "--num", "5"), capsys)
    assert status == 0, err
    assert_real_png(tmp_path / "grid.png")


def test_same_seed_gives_the_same_png_and_another_seed_does_not(
    sample_args, capsys, tmp_path: Path
) -> None:
    """Does sampling twice with one seed write byte-identical PNGs, and another seed a different one?"""
    images = {}
    for name, seed in (("a.png", "3"), ("b.png", "3"), ("c.png", "4")):
        status, _, err = run_cli(sample_args("flow-class", "--seed", seed, out=name), capsys)
        assert status == 0, err
        images[name] = (tmp_path / name).read_bytes()
    assert images["a.png"] == images["b.png"]
    assert images["a.png"] != images["c.png"]


def test_no_ema_samples_with_the_raw_weights(sample_args, capsys, tmp_path: Path) -> None:
    """Does --no-ema on a run that kept an EMA draw different samples from the default (the average)?"""
    for name, more in (("ema.png", []), ("raw.png", ["--no-ema"])):
        status, _, err = run_cli(sample_args("flow-class", *more, out=name), capsys)
        assert status == 0, err
    assert (tmp_path / "ema.png").read_bytes() != (tmp_path / "raw.png").read_bytes()


def test_sample_draws_digits_from_the_shipped_diffusion_weights(tmp_path: Path, capsys) -> None:
    """Does `fundiff sample` accept exported weights (the shipped MNIST backend) and write a PNG?"""
    from fundiff.assets import asset_path

    out = tmp_path / "fours.png"
    argv = ["sample", "--checkpoint", asset_path("mnist_diffusion.safetensors"), "--digits", "4",
            "--per-digit", "1", "--out", out, "--no-progress"]  # fmt: skip
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
