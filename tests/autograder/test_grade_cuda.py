"""On a GPU, fundiff-grade gives the verdicts it gives on the CPU, and names CPU tensors made in a GPU run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.autograder.corpus import CORRECT, WRONG
from tests.autograder.test_grade import apply, solution_code

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.gpu, pytest.mark.slow]
SAMPLE = ["a_estimate_x0_sign", "a_inpaint_mask_inverted", "a_cfg_swapped", "b_conv_no_padding", "b_dropout_unseeded",
          "b_uncond_ones", "a_guided_two_calls", "b_euler_linspace"]  # fmt: skip
CPU_TENSORS = {  # a CPU tensor made inside a GPU run: where it shows, and what the student is told
    "makes_a_cpu_tensor": ("    return (1 - t) * x0 + t * x1", "    out = torch.zeros(x1.shape)\n    return out + (1 - t) * x0 + t * x1"),
    "returns_a_cpu_tensor": ("    return (1 - t) * x0 + t * x1", "    return ((1 - t) * x0 + t * x1).cpu()"),
}  # fmt: skip


def _grade_all(folder: Path, out: Path, device: str) -> dict[str, dict]:
    subprocess.run([sys.executable, "-m", "autograder.cli", str(folder), "--out", str(out), "--device", device,
                    "--jobs", "2"], check=True, cwd=ROOT, capture_output=True, timeout=1800)  # fmt: skip
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def _verdicts(result: dict) -> dict[str, bool]:
    return {t["nodeid"]: t["score"] == t["max_score"] for t in result["tests"]}


def test_gpu_verdicts_equal_cpu_verdicts_and_cpu_tensors_are_named(tmp_path: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    subs = tmp_path / "subs"
    subs.mkdir()
    base = {part: solution_code(part) for part in ("part_a", "part_b")}
    for name in SAMPLE:
        case = {**WRONG, **CORRECT}[name]
        (subs / f"{name}.py").write_text(apply(case, base[case.part]))
    for name, (old, new) in CPU_TENSORS.items():
        (subs / f"{name}.py").write_text(base["part_b"].replace(old, new))
    for part in ("part_a", "part_b"):
        (subs / f"solutions_{part}.py").write_text(base[part])
    on_cpu, on_gpu = (
        _grade_all(subs, tmp_path / "cpu", "cpu"),
        _grade_all(subs, tmp_path / "gpu", "cuda"),
    )
    for name in SAMPLE + [f"solutions_{p}" for p in ("part_a", "part_b")]:
        assert _verdicts(on_gpu[name]) == _verdicts(on_cpu[name]), name
        assert "graded on cuda" in on_gpu[name]["output"]
    for name in CPU_TENSORS:
        assert all(_verdicts(on_cpu[name]).values()), name  # right on the CPU
        told = {
            t["nodeid"]: t["output"] for t in on_gpu[name]["tests"] if t["score"] < t["max_score"]
        }
        assert "test_interpolate" in told, name
        assert "CPU" in told["test_interpolate"] and "GPU run" in told["test_interpolate"], told[
            "test_interpolate"
        ]
