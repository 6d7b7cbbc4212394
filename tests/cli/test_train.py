"""Tests for ``fundiff train`` (``fundiff.cli.train``): resuming, the data folder, divergence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fundiff.training.run_dir import CHECKPOINT
from tests.cli.conftest import TINY, assert_one_line_error, cli, tree
from tests.conftest import run_cli

# --------------------------------------------------------------------------- help


def test_train_help_lists_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """Does `fundiff train --help` name all four model kinds?"""
    _, out, _ = run_cli(["train", "--help"], capsys)
    for kind in ("denoiser", "pure-noise", "flow-time", "flow-class"):
        assert kind in out


# --------------------------------------------------------------------------- resuming


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


def test_truncated_checkpoint_is_refused_by_resume(runs, capsys, tmp_path: Path, mnist_dir):
    """Does `train --resume` on a run whose checkpoint was truncated exit 2 and say so?"""
    run = shutil.copytree(runs["flow-class"], tmp_path / "run")
    data = (run / CHECKPOINT).read_bytes()
    (run / CHECKPOINT).write_bytes(data[: len(data) - 100])
    argv = ["train", "flow-class", "--resume", "--out", run, "--data-dir", mnist_dir]
    status, _, err = run_cli(argv, capsys)
    assert_one_line_error(status, err, CHECKPOINT, "truncated")


# --------------------------------------------------------------------------- the data folder


@pytest.mark.slow
def test_missing_data_folder_is_named_and_nothing_is_left_behind(tmp_path: Path) -> None:
    """Does `train` with a nonexistent --data-dir exit 2, name the folder, and create neither run dir nor data folder?"""
    data = tmp_path / "nowhere" / "mnist"
    out = tmp_path / "run"
    proc = cli(["train", "flow-time", *TINY, "--data-dir", data, "--out", out], tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, str(data))
    assert not out.exists()
    assert not (tmp_path / "nowhere").exists()
    assert tree(tmp_path) == set()


@pytest.mark.slow
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


# --------------------------------------------------------------------------- divergence


@pytest.mark.slow
def test_a_diverged_run_exits_1_with_one_line(tmp_path: Path, mnist_dir: Path) -> None:
    """Does a run whose loss turns NaN (lr 1e30) exit 1 with one line that says what to do, and no checkpoint?"""
    out = tmp_path / "run"
    argv = ["train", "flow-class", *TINY, "--lr", "1e30", "--data-dir", mnist_dir, "--out", out]
    proc = cli(argv, tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, "epoch 1", "checkpoint", "--lr", code=1)
    assert not (out / CHECKPOINT).exists()
