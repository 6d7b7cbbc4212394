"""Tests for the ``fundiff`` command line: help, sampling, and every way to get it wrong.

Bad input must end in exactly one line on stderr and exit status 2 (a diverged run:
one line and status 1), never in a traceback. Most cases call ``fundiff.cli.main``
in-process; a few run the real console entry point in a subprocess to prove that
nothing else reaches the user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fundiff.cli import main
from fundiff.training.loop import CHECKPOINT
from tests.conftest import run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = [
    "--limit", "144", "--hidden", "8", "--batch-size", "32", "--epochs", "2",
    "--sample-steps", "2", "--no-progress", "--device", "cpu",
]  # fmt: skip
RECIPE_FLAGS = [
    "--epochs", "--batch-size", "--lr", "--hidden", "--sigma", "--lr-schedule", "--lr-final",
    "--p-uncond", "--guidance", "--sample-steps", "--sample-epochs", "--ema-decay", "--limit",
    "--data-dir", "--out", "--resume", "--device", "--seed", "--no-progress",
]  # fmt: skip


# --------------------------------------------------------------------------- helpers


def cli(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fundiff.cli ARGV`` in a subprocess (no $FUNDIFF_DATA unless given)."""
    environ = {k: v for k, v in os.environ.items() if k != "FUNDIFF_DATA"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "fundiff.cli", *map(str, argv)],
        cwd=cwd, env=environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def assert_one_line_error(status: int, err: str, *words: str, code: int = 2) -> None:
    """Exit status ``code``, exactly one line on stderr, no traceback, mentioning ``words``."""
    assert status == code, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    for word in words:
        assert word.lower() in err.lower(), f"{word!r} not in {err!r}"


def assert_real_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as img:
        img.load()
        assert img.width > 0 and img.height > 0


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> dict[str, Path]:
    """One tiny finished run of every kind, trained through ``fundiff train`` in-process.

    The flow-class run keeps an EMA of its weights. Tests must not modify these runs.
    """
    root = tmp_path_factory.mktemp("cli-runs")
    extra = {"flow-class": ["--ema-decay", "0.9"]}
    dirs = {}
    for kind in ("denoiser", "pure-noise", "flow-time", "flow-class"):
        out = root / kind
        argv = ["train", kind, *TINY, *extra.get(kind, []), "--data-dir", mnist_dir, "--out", out]
        assert main([str(a) for a in argv]) == 0
        dirs[kind] = out
    return dirs


@pytest.fixture
def sample_args(runs: dict[str, Path], tmp_path: Path):
    """``fundiff sample`` arguments for a kind's checkpoint, drawing little, into tmp_path."""

    def make(kind: str, *more: str, out: str = "grid.png") -> list[str]:
        return [
            "sample", "--checkpoint", runs[kind] / CHECKPOINT, "--steps", "2", "--num", "4",
            "--per-digit", "1", "--no-progress", "--device", "cpu", "--out", tmp_path / out, *more,
        ]  # fmt: skip

    return make


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


def test_train_help_lists_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """Does `fundiff train --help` name all four model kinds?"""
    _, out, _ = run_cli(["train", "--help"], capsys)
    for kind in ("denoiser", "pure-noise", "flow-time", "flow-class"):
        assert kind in out


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


def test_resuming_a_run_as_the_wrong_kind_is_refused(runs, capsys, mnist_dir: Path) -> None:
    """Does `train flow-time --resume` on a flow-class run dir exit 2 and name the run's kind?"""
    before = (runs["flow-class"] / CHECKPOINT).read_bytes()
    argv = ["train", "flow-time", "--resume", "--out", runs["flow-class"], "--data-dir", mnist_dir]
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, "flow-class", "flow-time")
    assert (runs["flow-class"] / CHECKPOINT).read_bytes() == before


def test_resume_with_nothing_to_resume_is_refused(capsys, tmp_path: Path) -> None:
    """Does `train --resume` into a folder without a checkpoint exit 2 and say there is nothing to resume?"""
    out = tmp_path / "run"
    status, _, err = run_cli(["train", "flow-time", "--resume", "--out", out, *TINY], capsys)
    assert_one_line_error(status, err, "nothing to resume", str(out))
    assert not out.exists()


def test_fresh_train_into_an_existing_run_is_refused(runs, capsys, tmp_path: Path, mnist_dir):
    """Does `train` without --resume into a run dir that holds a checkpoint exit 2 and suggest --resume?"""
    run = shutil.copytree(runs["flow-time"], tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    argv = ["train", "flow-time", *TINY, "--data-dir", mnist_dir, "--out", run]
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, "--resume")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_resume_with_a_changed_flag_is_refused(runs, capsys, tmp_path: Path, mnist_dir) -> None:
    """Does `train --resume` with a flag that changes the run's config exit 2 and name that value?"""
    run = shutil.copytree(runs["flow-time"], tmp_path / "run")
    argv = ["train", "flow-time", "--resume", "--lr", "0.5", "--out", run, "--data-dir", mnist_dir]
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, "lr", "0.5")


def test_resume_repeating_the_original_flags_is_accepted(runs, capsys, tmp_path: Path, mnist_dir):
    """Does `train --resume` with the very flags the run was started with succeed (here: nothing left to do)?"""
    run = shutil.copytree(runs["flow-time"], tmp_path / "run")
    before = (run / CHECKPOINT).read_bytes()
    status, out, err = run_cli(
        ["train", "flow-time", *TINY, "--resume", "--out", run, "--data-dir", mnist_dir], capsys
    )
    assert status == 0, err
    assert "trained flow-time" in out
    assert (run / CHECKPOINT).read_bytes() == before


def test_resume_of_a_finished_run_without_metrics_succeeds(runs, capsys, tmp_path, mnist_dir):
    """Does `train --resume` on a finished run whose metrics.jsonl was deleted exit 0 (no traceback)?"""
    run = shutil.copytree(runs["flow-time"], tmp_path / "run")
    (run / "metrics.jsonl").unlink()
    status, out, err = run_cli(
        ["train", "flow-time", "--resume", "--out", run, "--data-dir", mnist_dir], capsys
    )
    assert status == 0, err
    assert "Traceback" not in err
    assert "trained flow-time" in out


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


def test_truncated_checkpoint_is_refused_by_resume(runs, capsys, tmp_path: Path, mnist_dir):
    """Does `train --resume` on a run whose checkpoint was truncated exit 2 and say so?"""
    run = shutil.copytree(runs["flow-class"], tmp_path / "run")
    data = (run / CHECKPOINT).read_bytes()
    (run / CHECKPOINT).write_bytes(data[: len(data) - 100])
    argv = ["train", "flow-class", "--resume", "--out", run, "--data-dir", mnist_dir]
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, CHECKPOINT, "truncated")


def test_corrupted_checkpoint_reaches_the_user_without_a_traceback(runs, tmp_path: Path):
    """Does the real entry point (a subprocess) print one line and exit 2 for a corrupted checkpoint?"""
    path = _truncated(runs, tmp_path)
    proc = cli(["sample", "--checkpoint", path, "--steps", "2", "--device", "cpu"], tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, path.name, "corrupted")
    assert not (tmp_path / "samples.png").exists()


# --------------------------------------------------------------------------- where things go


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


def test_missing_data_folder_is_named_and_nothing_is_left_behind(tmp_path: Path) -> None:
    """Does `train` with a nonexistent --data-dir exit 2, name the folder, and create neither run dir nor data folder?"""
    data = tmp_path / "nowhere" / "mnist"
    out = tmp_path / "run"
    proc = cli(["train", "flow-time", *TINY, "--data-dir", data, "--out", out], tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, str(data))
    assert not out.exists()
    assert not (tmp_path / "nowhere").exists()
    assert tree(tmp_path) == set()


def test_fundiff_data_names_the_data_folder(tmp_path: Path, mnist_dir: Path) -> None:
    """Does $FUNDIFF_DATA stand in for --data-dir (a subprocess trains with it alone)?"""
    out = tmp_path / "run"
    proc = cli(["train", "pure-noise", *TINY, "--out", out], tmp_path, FUNDIFF_DATA=str(mnist_dir))
    assert proc.returncode == 0, proc.stderr
    assert "trained pure-noise" in proc.stdout
    assert (out / CHECKPOINT).is_file()


def test_a_wrong_fundiff_data_is_named_in_the_error(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Is the folder that $FUNDIFF_DATA names, when it holds no MNIST, the one the error names?"""
    data = tmp_path / "env-data"
    monkeypatch.setenv("FUNDIFF_DATA", str(data))
    out = tmp_path / "run"
    status, _, err = run_cli(["train", "flow-time", *TINY, "--out", out], capsys)
    assert_one_line_error(status, err, str(data))
    assert not out.exists()
    assert not data.exists()


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


# --------------------------------------------------------------------------- divergence


def test_a_diverged_run_exits_1_with_one_line(tmp_path: Path, mnist_dir: Path) -> None:
    """Does a run whose loss turns NaN (lr 1e30) exit 1 with one line that says what to do, and no checkpoint?"""
    out = tmp_path / "run"
    argv = ["train", "flow-class", *TINY, "--lr", "1e30", "--data-dir", mnist_dir, "--out", out]
    proc = cli(argv, tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, "epoch 1", "checkpoint", "--lr", code=1)
    assert not (out / CHECKPOINT).exists()


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
