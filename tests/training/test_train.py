"""Tests for fundiff.training.loop: the run directory, learning, determinism, resume and divergence.

Every run is tiny (a few hundred MNIST images, UNet width 8, two or three epochs), so
the file runs in seconds on two CPU cores; only the real-kill test starts processes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

import fundiff.training.loop
from fundiff.training.config import KINDS, TrainConfig, recipe
from fundiff.training.loop import CHECKPOINT, TrainingDiverged, TrainResult, train
from fundiff.training.run_dir import RunDirError, RunExists

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# 144 images in batches of 32: the last batch of every epoch is partial (16 images).
TINY = dict(limit=144, hidden=8, batch_size=32, epochs=2, sample_steps=2)


# --------------------------------------------------------------------------- helpers


def tiny(kind: str, **overrides) -> TrainConfig:
    """A tiny recipe of ``kind``, with ``overrides``."""
    return recipe(kind, **{**TINY, **overrides})


def run_tiny(config: TrainConfig, run_dir: Path, data_dir: Path, **kwargs) -> TrainResult:
    return train(config, run_dir, device="cpu", data_dir=data_dir, progress=False, **kwargs)


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Every tensor of a checkpoint, and its metadata."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return load_file(str(path)), meta


def checkpoint_epoch(path: Path) -> int:
    return int(read_checkpoint(path)[1]["epoch"])


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """The two checkpoints hold the same tensors, bit for bit, and the same metadata."""
    ta, ma = read_checkpoint(a)
    tb, mb = read_checkpoint(b)
    assert ma == mb
    assert ta.keys() == tb.keys()
    different = [k for k in ta if ta[k].dtype != tb[k].dtype or not torch.equal(ta[k], tb[k])]
    assert not different, f"tensors differ: {different[:5]}"


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_real_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        img.load()
        assert img.width > 0 and img.height > 0


def expected_figures(config: TrainConfig) -> set[str]:
    """The figure names a finished run of ``config`` writes."""
    tags = [f"epoch{e:02d}" for e in config.sample_epochs]
    if config.kind == "denoiser":
        names = {"noising.png", *(f"denoised_{t}.png" for t in tags)}
        return names | ({"ood.png"} if config.epochs in config.sample_epochs else set())
    if config.kind == "classifier":
        return {f"accuracy_{t}.json" for t in tags}
    return {f"samples_{t}.png" for t in tags}


class StopAfter(Exception):
    """Raised by an ``on_epoch_end`` callback to interrupt a run."""


def stop_after(epoch: int):
    def callback(done: int) -> None:
        if done == epoch:
            raise StopAfter(done)

    return callback


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path
) -> dict[str, tuple[TrainConfig, TrainResult]]:
    """One finished tiny run of every kind, shared by the module (tests must not modify it)."""
    root = tmp_path_factory.mktemp("runs")
    return {kind: (tiny(kind), run_tiny(tiny(kind), root / kind, mnist_dir)) for kind in KINDS}


# --------------------------------------------------------------------------- the run directory


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_its_whole_run_directory(runs, kind: str) -> None:
    """Does a finished run of each kind hold its config, metrics, loss curve, figures and checkpoint, and nothing else?"""
    config, result = runs[kind]
    run = result.run_dir
    names = {p.name for p in run.iterdir()}
    expected = {"config.json", "metrics.jsonl", "loss.png", CHECKPOINT} | expected_figures(config)
    assert names == expected
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == config
    assert {p.name for p in result.figures} == expected_figures(config) - {"noising.png"}


@pytest.mark.parametrize("kind", KINDS)
def test_metrics_have_one_line_per_optimiser_step(runs, kind: str) -> None:
    """Does metrics.jsonl hold one finite line per step, epochs * ceil(n / batch) of them, in order?"""
    config, result = runs[kind]
    metrics = read_metrics(result.run_dir)
    steps_per_epoch = math.ceil(config.limit / config.batch_size)
    assert len(metrics) == config.epochs * steps_per_epoch
    assert [m["step"] for m in metrics] == list(range(1, len(metrics) + 1))
    assert [m["epoch"] for m in metrics] == [
        e for e in range(1, config.epochs + 1) for _ in range(steps_per_epoch)
    ]
    assert all(math.isfinite(m["loss"]) and m["loss"] >= 0 for m in metrics)
    assert result.losses == [m["loss"] for m in metrics]
    assert metrics[0]["lr"] == config.lr


@pytest.mark.parametrize("kind", KINDS)
def test_every_figure_is_a_real_png(runs, kind: str) -> None:
    """Is every PNG a run writes a real, openable PNG (signature and decoder)?"""
    _, result = runs[kind]
    pngs = sorted(result.run_dir.glob("*.png"))
    assert any(p.name == "loss.png" for p in pngs)
    for path in pngs:
        assert_real_png(path)


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_marks_the_last_completed_epoch(runs, kind: str) -> None:
    """Does the final checkpoint say it holds the last epoch and every step, and the run's config?"""
    config, result = runs[kind]
    tensors, meta = read_checkpoint(result.run_dir / CHECKPOINT)
    assert meta["kind"] == kind
    assert int(meta["epoch"]) == config.epochs
    assert int(meta["step"]) == len(result.losses)
    assert TrainConfig.from_dict(json.loads(meta["config"])) == config
    assert any(k.startswith("model.") for k in tensors)
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if t.is_floating_point())


@pytest.mark.parametrize("kind", KINDS)
def test_no_temporary_files_remain_after_a_run(runs, kind: str) -> None:
    """Does an atomic write leave no temporary (dot) file behind in the run directory?"""
    _, result = runs[kind]
    assert [p.name for p in result.run_dir.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------- learning


@pytest.mark.slow
def test_training_on_two_thousand_images_lowers_the_loss(tmp_path: Path, mnist_dir: Path) -> None:
    """Does training flow-class on 2,000 MNIST images bring the loss down (last 10 steps vs first 10)?"""
    config = recipe(
        "flow-class", limit=2000, hidden=16, batch_size=64, epochs=2, sample_steps=2,
        sample_epochs=(2,),
    )  # fmt: skip
    losses = run_tiny(config, tmp_path / "run", mnist_dir).losses
    first, last = losses[:10], losses[-10:]
    assert sum(last) / len(last) < sum(first) / len(first)
    assert max(last) < min(first), f"first 10: {first}, last 10: {last}"


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_bitwise_equal_runs(runs, tmp_path: Path, mnist_dir: Path) -> None:
    """Do two fresh runs with the same config end in bitwise-equal checkpoints and identical metrics?"""
    config, first = runs["flow-class"]
    again = run_tiny(config, tmp_path / "again", mnist_dir)
    assert_same_checkpoint(first.run_dir / CHECKPOINT, again.run_dir / CHECKPOINT)
    assert (first.run_dir / "metrics.jsonl").read_bytes() == (
        again.run_dir / "metrics.jsonl"
    ).read_bytes()


def test_different_seed_gives_different_weights(runs, tmp_path: Path, mnist_dir: Path) -> None:
    """Does changing only the seed change the trained weights?"""
    config, first = runs["flow-class"]
    other = run_tiny(dataclasses.replace(config, seed=config.seed + 1), tmp_path / "o", mnist_dir)
    a, _ = read_checkpoint(first.run_dir / CHECKPOINT)
    b, _ = read_checkpoint(other.run_dir / CHECKPOINT)
    model_keys = [k for k in a if k.startswith("model.") and a[k].is_floating_point()]
    assert any(not torch.equal(a[k], b[k]) for k in model_keys)


# --------------------------------------------------------------------------- resume


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_resume_after_an_interruption_ends_where_an_uninterrupted_run_ends(
    tmp_path: Path, mnist_dir: Path, kind: str
) -> None:
    """Does --resume after epoch 1 of 3 end bit for bit where an uninterrupted run ends (EMA and exponential lr on)?"""
    config = tiny(kind, epochs=3, ema_decay=0.9, lr_schedule="exponential", sample_epochs=(3,))
    whole = run_tiny(config, tmp_path / "whole", mnist_dir)

    part = tmp_path / "part"
    with pytest.raises(StopAfter):
        run_tiny(config, part, mnist_dir, on_epoch_end=stop_after(1))
    assert checkpoint_epoch(part / CHECKPOINT) == 1  # the interruption happened mid-run
    resumed = train(None, part, resume=True, device="cpu", data_dir=mnist_dir, progress=False)

    assert_same_checkpoint(whole.run_dir / CHECKPOINT, part / CHECKPOINT)
    assert (whole.run_dir / "metrics.jsonl").read_bytes() == (part / "metrics.jsonl").read_bytes()
    assert resumed.losses == whole.losses
    lrs = [m["lr"] for m in read_metrics(part)]
    assert lrs[0] > lrs[-1]  # the schedule did decay, so its state was exercised
    assert [p.name for p in part.iterdir() if p.name.startswith(".")] == []


def test_resuming_a_finished_run_changes_nothing(runs, tmp_path: Path, mnist_dir: Path) -> None:
    """Does resuming a run that already reached its last epoch leave its checkpoint and metrics as they were?"""
    config, result = runs["flow-time"]
    run = shutil.copytree(result.run_dir, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    again = train(config, run, resume=True, device="cpu", data_dir=mnist_dir, progress=False)
    assert again.losses == result.losses
    assert again.figures == []
    assert {p.name: p.read_bytes() for p in run.iterdir()}.keys() == before.keys()
    assert (run / CHECKPOINT).read_bytes() == before[CHECKPOINT]
    assert (run / "metrics.jsonl").read_bytes() == before["metrics.jsonl"]


def test_resume_counts_steps_from_the_checkpoint_when_metrics_are_lost(
    tmp_path: Path, mnist_dir: Path
) -> None:
    """Does a run resumed without its metrics.jsonl still number its steps from the checkpoint, ending as an uninterrupted run?"""
    config = tiny("flow-time", epochs=3, sample_epochs=(3,))
    whole = run_tiny(config, tmp_path / "whole", mnist_dir)
    part = tmp_path / "part"
    with pytest.raises(StopAfter):
        run_tiny(config, part, mnist_dir, on_epoch_end=stop_after(1))
    (part / "metrics.jsonl").unlink()
    train(None, part, resume=True, device="cpu", data_dir=mnist_dir, progress=False)

    assert_same_checkpoint(whole.run_dir / CHECKPOINT, part / CHECKPOINT)  # step count included
    assert read_metrics(part) == read_metrics(whole.run_dir)[len(whole.losses) // 3 :]


def _interpreter_env() -> dict[str, str]:
    """The environment of a CLI run: no $FUNDIFF_DATA, one thread (two runs share the CPU)."""
    env = {k: v for k, v in os.environ.items() if k != "FUNDIFF_DATA"}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fundiff.cli", *args]


@pytest.mark.slow
def test_resume_after_sigkill_ends_where_an_uninterrupted_cli_run_ends(
    tmp_path: Path, mnist_dir: Path
) -> None:
    """Does `fundiff train --resume` after a SIGKILL mid-run end where an uninterrupted run ends?"""
    env = _interpreter_env()
    epochs = 4

    def flags(limit: int, out: Path) -> list[str]:
        return [
            "train", "flow-class", "--limit", str(limit), "--epochs", str(epochs),
            "--hidden", "8", "--batch-size", "32", "--sample-steps", "2", "--ema-decay", "0.9",
            "--no-progress", "--device", "cpu", "--data-dir", str(mnist_dir), "--out", str(out),
        ]  # fmt: skip

    for attempt, limit in enumerate((2048, 8192, 32768)):
        killed = tmp_path / f"killed{attempt}"
        whole = tmp_path / f"whole{attempt}"
        # The uninterrupted run goes alongside; sharing the CPU only slows the victim down.
        reference = subprocess.Popen(
            _cli(*flags(limit, whole)), cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        victim = subprocess.Popen(
            _cli(*flags(limit, killed)), cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 240
            while not (killed / CHECKPOINT).exists() and victim.poll() is None:
                assert time.monotonic() < deadline, "no checkpoint appeared"
                time.sleep(0.005)
            victim.send_signal(signal.SIGKILL)
        finally:
            victim.kill()
            victim.wait()
        _, err = reference.communicate(timeout=300)
        assert reference.returncode == 0, err
        epoch_at_kill = checkpoint_epoch(killed / CHECKPOINT)
        if epoch_at_kill < epochs:
            break
    else:
        pytest.skip("every victim run finished before it could be killed")

    resumed = subprocess.run(
        _cli(*flags(limit, killed)[:2], "--out", str(killed), "--resume", "--no-progress",
             "--device", "cpu", "--data-dir", str(mnist_dir)),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert 1 <= epoch_at_kill < epochs
    assert checkpoint_epoch(killed / CHECKPOINT) == epochs
    assert_same_checkpoint(whole / CHECKPOINT, killed / CHECKPOINT)
    assert (whole / "metrics.jsonl").read_bytes() == (killed / "metrics.jsonl").read_bytes()


# --------------------------------------------------------------------------- divergence


def test_nan_in_the_first_epoch_raises_and_leaves_no_checkpoint(
    tmp_path: Path, mnist_dir: Path
) -> None:
    """Does a loss that turns NaN in epoch 1 (lr 1e30) raise TrainingDiverged and leave no checkpoint?"""
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as info:
        run_tiny(tiny("flow-class", lr=1e30), run, mnist_dir)
    message = str(info.value)
    assert "epoch 1" in message
    assert "checkpoint" in message
    assert "\n" not in message
    assert not (run / CHECKPOINT).exists()


def test_nan_after_resume_keeps_the_good_checkpoint(
    tmp_path: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does a run resumed from a good epoch-1 checkpoint, whose loss then turns NaN, keep that checkpoint unchanged?"""
    run = tmp_path / "run"
    config = tiny("flow-time", epochs=3, ema_decay=0.9)
    with pytest.raises(StopAfter):
        run_tiny(config, run, mnist_dir, on_epoch_end=stop_after(1))
    good = {name: (run / name).read_bytes() for name in (CHECKPOINT, "metrics.jsonl")}

    real_loss = fundiff.training.loop.batch_loss
    calls = 0

    def loss_turning_nan(*args, **kwargs):
        nonlocal calls
        calls += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls > 2 else loss

    monkeypatch.setattr(fundiff.training.loop, "batch_loss", loss_turning_nan)
    with pytest.raises(TrainingDiverged) as info:
        train(None, run, resume=True, device="cpu", data_dir=mnist_dir, progress=False)
    message = str(info.value)
    assert "epoch 2" in message
    assert str(run / CHECKPOINT) in message
    assert "epoch 1" in message  # the checkpoint that is kept
    assert calls > 2
    for name, content in good.items():
        assert (run / name).read_bytes() == content, f"{name} changed"
    assert checkpoint_epoch(run / CHECKPOINT) == 1


# --------------------------------------------------------------------------- run-directory errors


def test_resume_without_a_checkpoint_is_refused(tmp_path: Path, mnist_dir: Path) -> None:
    """Does resuming from a folder with no checkpoint raise RunDirError (and create nothing)?"""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunDirError, match="nothing to resume"):
        train(None, empty, resume=True, device="cpu", data_dir=mnist_dir, progress=False)
    absent = tmp_path / "absent"
    with pytest.raises(RunDirError, match="nothing to resume"):
        train(tiny("flow-time"), absent, resume=True, device="cpu", data_dir=mnist_dir)
    assert list(empty.iterdir()) == []
    assert not absent.exists()


def test_fresh_run_into_a_directory_with_a_checkpoint_is_refused(
    runs, tmp_path: Path, mnist_dir: Path
) -> None:
    """Does a fresh run into a directory that already holds a checkpoint raise RunDirError and leave it alone?"""
    config, result = runs["pure-noise"]
    run = shutil.copytree(result.run_dir, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(RunExists, match="already holds a run") as info:
        run_tiny(config, run, mnist_dir)
    assert isinstance(info.value, RunDirError) and info.value.run == run
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_resume_with_a_different_config_is_refused(runs, tmp_path: Path, mnist_dir: Path) -> None:
    """Does resuming with a config that differs from the run's raise RunDirError naming the difference?"""
    config, result = runs["flow-class"]
    run = shutil.copytree(result.run_dir, tmp_path / "run")
    before = (run / CHECKPOINT).read_bytes()
    changed = dataclasses.replace(config, lr=config.lr * 2)
    with pytest.raises(RunDirError, match="lr") as info:
        train(changed, run, resume=True, device="cpu", data_dir=mnist_dir, progress=False)
    assert "different configuration" in str(info.value)
    assert (run / CHECKPOINT).read_bytes() == before


def test_a_given_model_and_loss_are_the_ones_trained(tmp_path: Path, mnist_dir: Path) -> None:
    """With model_fn and loss_fn (as the notebooks pass a student's), are they built and called,
    with no figures drawn by fundiff's own samplers?"""
    from torch import nn

    built, calls = [], []

    def model_fn(config):
        built.append(config.kind)
        return nn.Conv2d(1, 1, 3, padding=1)

    def loss_fn(model, config, x, labels, generator):
        calls.append(tuple(x.shape))
        return (model(x) - x).pow(2).mean()

    config = recipe("denoiser", **{**TINY, "sample_epochs": (1, 2), "lr": 0.05})
    result = train(config, tmp_path / "run", device="cpu", data_dir=mnist_dir, progress=False,
                   model_fn=model_fn, loss_fn=loss_fn)  # fmt: skip
    steps = config.epochs * math.ceil(config.limit / config.batch_size)
    assert built == ["denoiser"] and len(calls) == steps == len(result.losses)
    assert result.figures == [] and not list((tmp_path / "run").glob("denoised_*.png"))
    assert result.losses[-1] < result.losses[0]


# --------------------------------------------------------------------------- the fast path


def test_the_fast_path_resumes_bit_for_bit_on_the_cpu(tmp_path: Path, mnist_dir: Path) -> None:
    """With --fast (bfloat16 autocast, channels_last, fused Adam), does a resumed run end where a whole one ends?"""
    config = tiny("flow-class", epochs=2, lr_schedule="exponential", sample_epochs=(), fast=True)
    whole = run_tiny(config, tmp_path / "whole", mnist_dir)
    part = tmp_path / "part"
    with pytest.raises(StopAfter):
        run_tiny(config, part, mnist_dir, on_epoch_end=stop_after(1))
    resumed = train(None, part, resume=True, device="cpu", data_dir=mnist_dir, progress=False)
    assert_same_checkpoint(whole.run_dir / CHECKPOINT, part / CHECKPOINT)
    assert resumed.losses == whole.losses


def test_the_fast_path_computes_the_plain_loss_to_bfloat16_precision(
    tmp_path: Path, mnist_dir: Path
) -> None:
    """Is the first step's loss (same weights, same draws) the plain path's, to bfloat16's precision?"""
    plain = run_tiny(tiny("flow-class", epochs=1, sample_epochs=()), tmp_path / "plain", mnist_dir)
    fast = run_tiny(
        tiny("flow-class", epochs=1, sample_epochs=(), fast=True), tmp_path / "fast", mnist_dir
    )
    assert fast.losses[0] == pytest.approx(plain.losses[0], rel=2e-2)
    assert fast.losses[0] != plain.losses[0]  # the arithmetic did change
