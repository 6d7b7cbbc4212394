"""What the command-line tests share: a subprocess runner, one-line-error checks, tiny runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fundiff.cli import main
from fundiff.training.run_dir import CHECKPOINT

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


@pytest.fixture(scope="package")
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


# The tiny random T5 of the backend tests, for ``fundiff embed-prompts``.
from tests.backends.conftest import t5_dir  # noqa: E402, F401
