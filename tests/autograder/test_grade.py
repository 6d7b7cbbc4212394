"""Does fundiff-grade give full marks to right code, take points where code is wrong, and survive
hostile code, always writing a results file?"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# A correct Part B module written differently from fundiff's (float64, explicit loops).
CORRECT_B = """
import torch

def add_noise(x, sigma, generator=None):
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return (x.double() + sigma * eps.double()).to(x.dtype)

def interpolate(x0, x1, t):
    out = torch.empty_like(x1)
    for i in range(x1.shape[0]):
        out[i] = (1 - t[i]) * x0[i] + t[i] * x1[i]
    return out

def flow_matching_loss(velocity, x1, x0, t):
    return ((velocity(interpolate(x0, x1, t), t) - (x1 - x0)) ** 2).mean()

def euler_integrate(velocity, x0, steps, *, progress=False):
    x = x0
    for i in range(steps):
        x = x + velocity(x, torch.full((x.shape[0],), i / steps)) / steps
    return x

def classifier_free_guidance(cond, uncond, scale):
    return (1 - scale) * uncond + scale * cond
"""

STEAL = f"""try:
    _REF = open({str(ROOT / "fundiff" / "flow.py")!r}).read()
except OSError:
    _REF = None

def interpolate(x0, x1, t):
    if _REF is not None:
        ns = {{}}
        exec(_REF, ns)
        return ns["interpolate"](x0, x1, t)
    return x0

def _unused_interpolate(x0, x1, t):
"""

ALL = (
    "add noise",
    "interpolate",
    "flow matching loss",
    "euler integrate",
    "classifier free guidance",
)

# name -> (source, the checks it must fail; None: full marks)
CASES: dict[str, tuple[str, set[str] | None]] = {
    "correct_float64_loops": (CORRECT_B, None),
    "wrong_target_sign": (CORRECT_B.replace("- (x1 - x0)) ** 2", "- (x0 - x1)) ** 2"), {"flow matching loss"}),
    "wrong_interpolation_ends": (CORRECT_B.replace("(1 - t[i]) * x0[i] + t[i] * x1[i]", "t[i] * x0[i] + (1 - t[i]) * x1[i]"),
                                 {"interpolate", "flow matching loss"}),
    "wrong_euler_time": (CORRECT_B.replace("torch.full((x.shape[0],), i / steps)", "torch.full((x.shape[0],), (i + 1) / steps)"),
                         {"euler integrate"}),
    "wrong_guidance_swapped": (CORRECT_B.replace("(1 - scale) * uncond + scale * cond", "(1 - scale) * cond + scale * uncond"),
                               {"classifier free guidance"}),
    "wrong_noise_not_from_generator": (CORRECT_B.replace("generator=generator, dtype", "dtype"), {"add noise"}),
    "hostile_endless_loop": (CORRECT_B.replace("    for i in range(steps):", "    while True:\n        pass\n    for i in range(steps):"),
                             {"euler integrate"}),
    "hostile_exit_in_a_call": (CORRECT_B.replace("def interpolate(x0, x1, t):\n", "def interpolate(x0, x1, t):\n    import os; os._exit(0)\n"),
                               {"interpolate", "flow matching loss"}),
    "hostile_sys_exit_before_its_code": ("import sys\nsys.exit(0)\n" + CORRECT_B, set(ALL)),
    "hostile_sys_exit_after_its_code": (CORRECT_B + "\nimport sys\nsys.exit(0)\n", None),
    # copies fundiff's interpolate if it can read it; in the sandbox it cannot, and its own is wrong
    "hostile_reads_the_reference": (CORRECT_B.replace("def interpolate(x0, x1, t):\n", STEAL), {"interpolate", "flow matching loss"}),
    # tries to leave a forged results file beside the submissions (hidden from it in the sandbox)
    "hostile_writes_results": (CORRECT_B.replace("def add_noise(x, sigma, generator=None):\n",
                               "def add_noise(x, sigma, generator=None):\n    open('{SUBS}/forged.json', 'w').write('{{\"score\": 100}}')\n"),
                               None),  # its code is right; its write must not land
    "hostile_nan": (CORRECT_B.replace("return (1 - scale) * uncond + scale * cond", "return cond * float('nan')"),
                    {"classifier free guidance"}),
}  # fmt: skip


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every case and both notebooks of each kind, graded by one fundiff-grade run per folder."""
    subs = tmp_path_factory.mktemp("subs")
    for name, (source, _) in CASES.items():
        (subs / f"{name}.py").write_text(source.replace("{SUBS}", str(subs)))
    for top in ("solutions", "course"):
        for part in ("part_a", "part_b"):
            (subs / f"{top}_{part}.ipynb").write_bytes(
                (ROOT / top / part / f"{part}.ipynb").read_bytes()
            )
    out = tmp_path_factory.mktemp("results")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", str(subs), "--out", str(out), "--timeout", "10"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    results["forged file written"] = (subs / "forged.json").exists()  # type: ignore[assignment]
    return results


def _failed(result: dict) -> set[str]:
    return {t["name"] for t in result["tests"] if t["score"] < t["max_score"]}


@pytest.mark.parametrize("part", ["part_a", "part_b"])
def test_the_solutions_score_full_marks(graded, part) -> None:
    result = graded[f"solutions_{part}"]
    assert result["tests"] and _failed(result) == set()


@pytest.mark.parametrize("part", ["part_a", "part_b"])
def test_the_untouched_release_scores_zero_with_a_message_per_check(graded, part) -> None:
    result = graded[f"course_{part}"]
    assert result["tests"] and result["score"] == 0
    assert all("not implemented yet" in t["output"] for t in result["tests"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_submission_loses_points_exactly_where_it_is_wrong(graded, name) -> None:
    """Right code scores full marks; wrong or hostile code fails its checks only, with a message."""
    from autograder.sandbox import bwrap_works

    result = graded[name]
    expected = CASES[name][1]
    hidden = name in ("hostile_reads_the_reference", "hostile_writes_results")
    if hidden and not bwrap_works():  # rlimits alone do not hide files
        pytest.skip(
            "bubblewrap does not work here: the repository and submissions are visible to the sandbox"
        )
    names = {t["name"] for t in result["tests"]}
    assert names == set(ALL)
    assert _failed(result) == (expected or set())
    assert all(t["output"] for t in result["tests"])
    if name == "hostile_writes_results":
        assert graded["forged file written"] is False
